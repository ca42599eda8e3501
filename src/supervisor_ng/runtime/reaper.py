"""Reaping children the moment they exit.

SIGCHLD wakes the event loop (asyncio turns the signal into a read on its
self-pipe); we then collect every exited child with waitpid(-1, WNOHANG).
Pids nobody asked for (orphans adopted as subreaper, or everything when we are
PID 1 in a container) are reaped too, so no zombie is ever left behind.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
from typing import Callable, Optional

from . import signals
from .faults import Faults

ExitCallback = Callable[[int, int], None]  # (pid, wait status)
WaitPid = Callable[[int, int], "tuple[int, int]"]

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Orphaned descendants of our children get reparented to us, not PID 1."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class Reaper:
    def __init__(
        self,
        on_unknown: Optional[ExitCallback] = None,
        waitpid: WaitPid = os.waitpid,
        before_sweep: Optional[Callable[[], None]] = None,
    ) -> None:
        self._watched: dict[int, ExitCallback] = {}
        # Run before exits are handled: the daemon reads the sd_notify datagrams
        # already queued, so a MAINPID= sent before its sender exited counts.
        self._before_sweep = before_sweep
        self.on_unknown = on_unknown  # pids nobody watches
        self.faults = Faults()  # the supervisor gives it the daemon's
        self._waitpid = waitpid  # tests inject exits without forking
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._scheduled = False
        self._signalled = False

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._scheduled = False
        signals.add(loop, signal.SIGCHLD, self._wake)
        # A child may have exited before the handler existed.
        self._wake(signalled=False)

    def _wake(self, signalled: bool = True) -> None:
        # Reaping (and respawning) once per SIGCHLD let a program that dies
        # as fast as it starts queue thousands of reaps in one loop iteration,
        # each forking more children: the loop never reached its selector
        # again.  One waitpid sweep per loop iteration serves them all.
        self._signalled = self._signalled or signalled
        if not self._scheduled and self._loop is not None:
            self._scheduled = True
            self._loop.call_soon(self._sweep)

    def _sweep(self) -> None:
        self._scheduled = False
        signalled, self._signalled = self._signalled, False
        if self._before_sweep is not None:
            self.faults.run("reading what programs notified before they exited", self._before_sweep)
        self.reap()
        if signalled:
            self._log_signal()

    def _log_signal(self) -> None:
        # Stock's debug line, once per loop turn that saw SIGCHLD, after the
        # exits it reaped were logged.  The daemon's log is the one its
        # faults go to.
        debug = getattr(self.faults.log, "debug", None)
        if debug is not None:
            debug("received SIGCHLD indicating a child quit")

    def uninstall(self) -> None:
        if self._loop is not None:
            signals.remove(self._loop, signal.SIGCHLD)
            self._loop = None

    def watch(self, pid: int, callback: ExitCallback) -> None:
        self._watched[pid] = callback

    @property
    def watched(self) -> list[int]:
        """The pids whose exit someone waits for (part of the live state)."""
        return list(self._watched)

    def reap(self) -> None:
        # Collect first, act after: acting may spawn replacements, and a
        # program that dies as fast as it is restarted would otherwise keep
        # this loop going forever while nothing else on the loop runs.
        exited: list[tuple[int, int]] = []
        while True:
            try:
                pid, status = self._waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if pid == 0:
                break
            exited.append((pid, status))
        # Each exit on its own: one that fails must not drop the others
        # collected in the same sweep (their programs would stay RUNNING).
        for pid, status in exited:
            callback = self._watched.pop(pid, None) or self.on_unknown
            if callback is not None:
                self.faults.run(f"handling the exit of pid {pid}", callback, pid, status)
