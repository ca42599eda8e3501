"""Waiting for a condition in tests: short polls in the test, never in the daemon."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import time
from typing import Any, Callable

_F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)  # Python < 3.10 lacks the name


def wait_until(
    predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition", interval: float = 0.02
) -> Any:
    """Return the first truthy value of ``predicate()``; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def process_state(pid: int) -> str:
    """The state letter of ``/proc/<pid>/stat`` (``R``, ``S``, ``T`` for
    stopped, ``Z``...), or ``""`` once the pid is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return ""
    return stat[stat.rindex(")") + 2]


def pipe_fill(pid: int, fd: int) -> tuple[int, int]:
    """(bytes waiting in, capacity of) the pipe that is ``pid``'s ``fd``,
    read through /proc without taking anything out of it."""
    probe = os.open(f"/proc/{pid}/fd/{fd}", os.O_RDONLY | os.O_NONBLOCK)
    try:
        waiting = struct.unpack("i", fcntl.ioctl(probe, termios.FIONREAD, b"\0" * 4))[0]
        return waiting, fcntl.fcntl(probe, _F_GETPIPE_SZ)
    finally:
        os.close(probe)
