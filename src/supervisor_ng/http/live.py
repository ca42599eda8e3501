"""Waking the web page's status streams when something changes.

A stream (``GET /api/events``) sleeps on an :class:`asyncio.Event` until the
daemon reports a change: a process state change (an observer on the
current :class:`~..runtime.supervisor.Supervisor`, hooked only while at
least one stream is open), an API call that may have changed something
(add/remove group, reread), or a new configuration generation.  The
observer is used rather than an event-bus subscription because the bus
numbers the events its subscribers accept, and listeners must see stock's
serials whether a browser is open or not.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from ..runtime.supervisor import Supervisor

# API methods that only read: calling them cannot change what the page shows.
_READ_ONLY_PREFIXES = ("get", "read", "tail", "list", "method")


class StreamWake(asyncio.Event):
    """One stream's wake-up, and what it is woken for: the processes whose
    state changed, and whether programs may have come or gone (``rescan``)."""

    def __init__(self) -> None:
        super().__init__()
        self.procs: set[Any] = set()
        self.rescan = True  # a new stream looks at everything once

    def take(self) -> tuple[set[Any], bool]:
        """What happened since the last take; the stream sleeps again after."""
        self.clear()
        procs, rescan = self.procs, self.rescan
        self.procs, self.rescan = set(), False
        return procs, rescan


def may_change_state(method: object) -> bool:
    if not isinstance(method, str):
        return False
    _ns, _, name = method.partition(".")
    return not name.startswith(_READ_ONLY_PREFIXES)


class StatusHub:
    def __init__(self, get_supervisor: Callable[[], Supervisor]) -> None:
        self._get = get_supervisor
        self._wakers: set[StreamWake] = set()
        self._observed: Optional[Any] = None  # the Supervisor our observer sits on
        self.closing = False

    def open(self) -> StreamWake:
        wake = StreamWake()
        self._wakers.add(wake)
        self._follow_generation()
        return wake

    def release(self, wake: StreamWake) -> None:
        self._wakers.discard(wake)
        if not self._wakers:
            self._unhook()

    def poke(self) -> None:
        """Something may have changed: every stream looks again."""
        if not self._wakers:
            return
        self._follow_generation()
        for wake in self._wakers:
            wake.rescan = True
            wake.set()

    def close(self) -> None:
        self.closing = True
        for wake in self._wakers:
            wake.set()
        self._unhook()

    def _on_change(self, proc: Any, _change: Any) -> None:
        for wake in self._wakers:
            wake.procs.add(proc)
            wake.set()

    def _follow_generation(self) -> None:
        current = self._get()
        if current is self._observed or current is None:
            return
        self._unhook()
        current.dispatch.watch("live", self._on_change)
        self._observed = current

    def _unhook(self) -> None:
        if self._observed is not None:
            self._observed.dispatch.unwatch("live", self._on_change)
            self._observed = None
