"""Who hears a process state change, and in which order: declared here.

A state change of a process (what the state machine returns as
:class:`~..core.process.StateChanged`) goes, in this order, to:

1. the PROCESS_STATE_* event on the bus (stock emits it before anything else
   reacts, so a listener's buffer sees the events in the order they happened);
2. the process's own hooks, which it declares itself
   (:meth:`~.child.Process.state_changed`: the journal's partial line flushed
   at exit, its event listener protocol reset or given its event back, its
   readiness and health checks started or stopped);
2b. the generation's start and stop order (runtime/dependencies.py): a spawn
   that waited for this process goes ahead or gives up, a stop that waited
   for it goes ahead;
3. the watchers that outlive a configuration generation, in the order of
   :data:`WATCHERS`: systemd readiness (READY/STATUS), then the web page's
   live status streams;
4. the API calls waiting for a state (``startProcess`` waiting for RUNNING).

Each step runs contained: one that raises is logged with its traceback and
the others still run (runtime/faults.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Callable, Optional

from ..core.process import StateChanged
from ..core.states import ProcessState
from ..events.bus import EventBus
from ..events.types import process_state_event, state_event_class
from . import cgroup
from .faults import Faults

if TYPE_CHECKING:
    from .child import Process
    from .dependencies import Dependencies

StateWatcher = Callable[["Process", StateChanged], None]
Predicate = Callable[["Process"], bool]

# The watchers from outside the runtime, by role, in the order they hear a change.
WATCHERS = ("readiness", "live")


class StateDispatch:
    def __init__(self, bus: EventBus, faults: Faults, dependencies: Dependencies) -> None:
        self._bus = bus
        self._faults = faults
        self._dependencies = dependencies
        self._watchers: dict[str, StateWatcher] = {}
        self._waiters: dict[Process, list[tuple[Predicate, asyncio.Future[None]]]] = {}

    # -- who listens -------------------------------------------------------------

    def watch(self, role: str, watcher: StateWatcher) -> None:
        """Set the watcher for ``role`` (one of :data:`WATCHERS`)."""
        if role not in WATCHERS:
            raise ValueError(f"unknown state watcher role {role!r}")
        self._watchers[role] = watcher

    def unwatch(self, role: str, watcher: Optional[StateWatcher] = None) -> None:
        """Remove the watcher for ``role`` (only if it is ``watcher``, when given)."""
        if watcher is None or self._watchers.get(role) == watcher:  # bound methods: equal, not identical
            self._watchers.pop(role, None)

    def wait_for(self, proc: Process, predicate: Predicate, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """A future resolved the moment ``predicate(proc)`` holds after a state
        change (or at once if it holds now)."""
        fut: asyncio.Future[None] = loop.create_future()
        if predicate(proc):
            fut.set_result(None)
        else:
            self._waiters.setdefault(proc, []).append((predicate, fut))
        return fut

    def waiting(self) -> Iterable[tuple[Process, int]]:
        """(process, number of pending waiters): part of the live state."""
        for proc, waiters in self._waiters.items():
            yield proc, sum(1 for _, fut in waiters if not fut.done())

    # -- a change -------------------------------------------------------------------

    def changed(self, proc: Process, change: StateChanged) -> None:
        run = self._faults.run
        what = f"the state change of {proc.name} to {change.new.name}"
        run(what + " (events)", self._emit, proc, change)
        run(what + " (the process's own hooks)", proc.state_changed, change)
        run(what + " (start and stop order)", self._dependencies.changed, proc)
        for role in WATCHERS:
            watcher = self._watchers.get(role)
            if watcher is not None:
                run(f"{what} ({role})", watcher, proc, change)
        run(what + " (waiting calls)", self._wake_waiters, proc)

    def _emit(self, proc: Process, change: StateChanged) -> None:
        if self._bus.wants(state_event_class(change.new)):
            event = process_state_event(proc.name, proc.config.group, change)
            if change.new == ProcessState.EXITED:
                # oom_kills:N only after an OOM kill (issue 17): stock's body otherwise.
                event.extras += cgroup.exit_event_extras(proc.config.group, proc.name)
            self._bus.notify(event)

    def _wake_waiters(self, proc: Process) -> None:
        waiters = self._waiters.get(proc)
        if not waiters:
            return
        keep = []
        for predicate, fut in waiters:
            if fut.done():
                continue
            if predicate(proc):
                fut.set_result(None)
            else:
                keep.append((predicate, fut))
        if keep:
            self._waiters[proc] = keep
        else:
            del self._waiters[proc]
