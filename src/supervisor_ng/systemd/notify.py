"""Telling systemd how we are: readiness, status, reloads, stopping, watchdog.

Under ``Type=notify`` systemd hands us ``NOTIFY_SOCKET``; with
``WatchdogSec=`` also ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``).  Messages go
through systemd-python's ``sd_notify`` binding, imported only when systemd
asked for them, so the daemon runs the same where it is not installed.

The watchdog ping is a timer on the event loop itself: a loop that is wedged
stops pinging, which is exactly what systemd needs to notice.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable
from typing import Callable, Optional

from ..core.states import ProcessState

Sender = Callable[[str], object]

# The order states are listed in the STATUS= line.
_SUMMARY_ORDER = (
    ProcessState.RUNNING,
    ProcessState.STARTING,
    ProcessState.BACKOFF,
    ProcessState.STOPPING,
    ProcessState.EXITED,
    ProcessState.FATAL,
    ProcessState.STOPPED,
    ProcessState.UNKNOWN,
)


def summary(states: Iterable[ProcessState]) -> str:
    """``"14 running, 1 fatal, 2 stopped"`` (or ``"no programs"``)."""
    counts: dict[ProcessState, int] = {}
    for state in states:
        counts[state] = counts.get(state, 0) + 1
    parts = [f"{counts[s]} {s.name.lower()}" for s in _SUMMARY_ORDER if counts.get(s)]
    return ", ".join(parts) or "no programs"


def _systemd_sender() -> Optional[Sender]:
    try:
        from systemd import daemon  # type: ignore[import-not-found]
    except ImportError:
        return None
    return daemon.notify


class Notifier:
    """sd_notify for one daemon.  Does nothing when systemd did not ask."""

    def __init__(self, sender: Optional[Sender] = None) -> None:
        # sd_notify reads the process environment itself, so only it counts.
        env = os.environ
        self.enabled = bool(env.get("NOTIFY_SOCKET"))
        self._send = sender if sender is not None else (_systemd_sender() if self.enabled else None)
        if self._send is None:
            self.enabled = False
        self.watchdog_interval: Optional[float] = None
        usec = env.get("WATCHDOG_USEC")
        watchdog_pid = env.get("WATCHDOG_PID")
        if self.enabled and usec and usec.isdigit() and int(usec) > 0:
            if not watchdog_pid or watchdog_pid == str(os.getpid()):
                self.watchdog_interval = int(usec) / 1_000_000
        self._last_status: Optional[str] = None
        self._status_pending = False
        self._watchdog: Optional[asyncio.TimerHandle] = None

    def send(self, *fields: str) -> None:
        if self.enabled and self._send is not None:
            try:
                self._send("\n".join(fields))
            except OSError:
                # systemd gone or the socket full: the daemon goes on
                # supervising; a missed ping is systemd's to judge.
                pass

    def ready(self, status: Optional[str] = None) -> None:
        fields = ["READY=1"]
        if status is not None:
            fields.append(f"STATUS={status}")
            self._last_status = status
        self.send(*fields)

    def reloading(self) -> None:
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def status(self, text: str) -> None:
        if text != self._last_status:
            self._last_status = text
            self.send(f"STATUS={text}")

    def status_soon(self, loop: asyncio.AbstractEventLoop, make_text: Callable[[], str]) -> None:
        """Coalesce a burst of changes (hundreds of programs starting) into
        one STATUS= message per loop iteration."""
        if not self.enabled or self._status_pending:
            return
        self._status_pending = True

        def flush() -> None:
            self._status_pending = False
            self.status(make_text())

        loop.call_soon(flush)

    def start_watchdog(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.watchdog_interval is None or self._watchdog is not None:
            return
        half = self.watchdog_interval / 2

        def ping() -> None:
            self.send("WATCHDOG=1")
            self._watchdog = loop.call_later(half, ping)

        ping()

    def stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
