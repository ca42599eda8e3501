"""Event listener pools: how the events on the bus reach listeners.

The events come from process state changes (runtime/dispatch.py), process
output (runtime/destinations.py) and the daemon itself (groups added and
removed, start and stop, sendRemoteCommEvent, ticks), all through the bus,
``supervisor.events``.

One :class:`ListenerPool` per ``[eventlistener:x]`` group keeps the pool's
event buffer and, for each of its processes, a :class:`Listener`: the
protocol machine (events/protocol.py) fed from the process's stdout.  Events
are written to the listener's stdin through the process's own stdin writer,
which never blocks the loop (runtime/stdin_writer.py).
"""

from __future__ import annotations

import errno
import importlib
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..config.programs import DEFAULT_RESULT_HANDLER
from ..core.process import StateChanged
from ..core.states import ProcessState
from ..events.bus import EventBus
from ..events.pool import EventBuffer, Queued, envelope, restored_item, saved_item
from ..events.protocol import (
    Answered,
    BecameReady,
    Broke,
    Judge,
    ListenerProtocol,
    ListenerState,
    Log,
    Verdict,
    default_judge,
)
from ..events.types import (
    Event,
)

if TYPE_CHECKING:

    from .child import Process
    from .supervisor import ProcessGroup

DEBUG = 10

# The states a process is in right after it died.
_EXIT_STATES = frozenset({ProcessState.EXITED, ProcessState.BACKOFF, ProcessState.STOPPED})


# -- sinks ----------------------------------------------------------------------------------


class Listener:
    """One process of a pool, as the pool sees it."""

    def __init__(self, pool: ListenerPool, proc: Process) -> None:
        self.pool = pool
        self.proc = proc
        self.protocol = ListenerProtocol(proc.name, pool.judge_for(self))
        self.current: Optional[Queued] = None  # the event it is busy with
        proc.listener = self  # its stdout and state changes come here (runtime/child.py)

    def live_state(self) -> dict:
        return {
            "protocol": self.protocol.state.name,
            "in_flight": self.current.event.serial if self.current is not None else None,
        }

    @property
    def ready(self) -> bool:
        return self.proc.state == ProcessState.RUNNING and self.protocol.state == ListenerState.READY

    def feed(self, data: bytes) -> None:
        for out in self.protocol.feed(data):
            if isinstance(out, Log):
                self.pool.log.log(out.level, out.text)
            elif isinstance(out, BecameReady):
                self.pool.dispatch()
            elif isinstance(out, Answered):
                item, self.current = self.current, None
                if not out.accepted and item is not None:
                    self.pool.give_back(item)
            elif isinstance(out, Broke):
                item, self.current = self.current, None
                if item is not None:
                    self.pool.give_back(item)

    def send(self, item: Queued, data: bytes) -> None:
        if self.proc.machine.killing:
            raise BrokenPipeError(errno.EPIPE, "the listener is being stopped")
        self.proc.stdin.write(data)
        self.protocol.sent()
        self.current = item

    def state_changed(self, change: StateChanged) -> None:
        # The process's stdin writer starts empty with each spawn and drops
        # what waited at the exit (runtime/stdin_writer.py).
        if change.new == ProcessState.STARTING:
            # A new process: it has to say READY before it gets anything.
            self.protocol.reset()
        elif change.new in _EXIT_STATES:
            item, self.current = self.current, None
            if item is not None:
                self.pool.give_back(item)
        elif change.new == ProcessState.RUNNING:
            self.pool.dispatch()

    def close(self) -> None:
        if self.proc.listener is self:
            self.proc.listener = None


class ListenerPool:
    """The event side of one ``[eventlistener:x]`` group."""

    def __init__(self, group: ProcessGroup) -> None:
        self.group = group
        self.supervisor = group.supervisor
        self.log = self.supervisor.log
        self.bus: EventBus = self.supervisor.events
        config = group.config
        self.buffer = EventBuffer(config.name, config.buffer_size, self.log)
        self._handler = _result_handler(config.result_handler)
        self.listeners = [Listener(self, proc) for proc in group.processes.values()]
        self._dispatching = False
        self.bus.subscribe(self, config.events)

    @property
    def name(self) -> str:
        return self.group.config.name

    # -- the bus side --------------------------------------------------------------

    def accept(self, event: Event) -> None:
        self.buffer.accept(event)
        self.dispatch()

    def buffered(self) -> int:
        """Events waiting in the pool's buffer (part of the live state)."""
        return len(self.buffer)

    def give_back(self, item: Queued) -> None:
        """An event a listener did not process: to the head of the buffer."""
        self.buffer.rebuffer(item)
        self.dispatch()

    def dispatch(self) -> None:
        """Send buffered events, oldest first, to the first ready listener
        (in the pool's process order), until none is ready."""
        if self._dispatching:
            return  # a nested call (an EPIPE that gives an event back) lands here
        self._dispatching = True
        try:
            while True:
                item = self.buffer.peek()
                if item is None or not self._send(item):
                    return
        finally:
            self._dispatching = False

    def _send(self, item: Queued) -> bool:
        data: Optional[bytes] = None
        for listener in self.listeners:
            if not listener.ready:
                continue
            if data is None:
                data = envelope(self.bus.identifier, self.name, item)
            try:
                listener.send(item, data)
            except OSError as exc:
                if exc.errno == errno.EPIPE:
                    self.log.log(
                        DEBUG,
                        f"epipe occurred while sending event {item.event.serial} to listener "
                        f"{listener.proc.name}, listener state unchanged",
                    )
                else:
                    self.log.error(f"couldn't send event {item.event.serial} to {listener.proc.name}: {exc}")
                continue
            self.buffer.pop()
            self.log.log(DEBUG, f"event {item.event.serial} sent to listener {listener.proc.name}")
            return True
        return False

    # -- the process side ------------------------------------------------------------------

    def judge_for(self, listener: Listener) -> Judge:
        handler = self._handler
        if handler is None:
            return default_judge

        def judge(result: bytes) -> Verdict:
            event = listener.current.event if listener.current is not None else None
            try:
                handler(event, result)
            except Exception as exc:
                # A handler rejects with supervisor.dispatchers.RejectEvent;
                # matching by name spares the daemon importing the stock package.
                if type(exc).__name__ == "RejectEvent":
                    return Verdict.REJECTED
                return Verdict.ERROR
            return Verdict.ACCEPTED

        return judge

    def hand_over(self) -> dict:
        """Hand-over by exec (issue 16): buffer, and each listener's protocol
        state and in-flight event, by process name."""
        return {
            "buffer": self.buffer.hand_over(),
            "listeners": {
                listener.proc.name: {
                    "protocol": listener.protocol.snapshot(),
                    "current": saved_item(listener.current) if listener.current is not None else None,
                }
                for listener in self.listeners
            },
        }

    def take_over(self, saved: dict) -> None:
        self.buffer.take_over(saved["buffer"])
        for listener in self.listeners:
            mine = saved["listeners"].get(listener.proc.name)
            if mine is not None:
                listener.protocol.restore(mine["protocol"])
                listener.current = restored_item(mine["current"]) if mine["current"] is not None else None

    def close(self) -> None:
        self.bus.unsubscribe(self)
        for listener in self.listeners:
            listener.close()


def _result_handler(spec: str) -> Optional[Callable[[Any, bytes], Any]]:
    """None for the stock default (``OK`` or rejected); else the imported callable."""
    spec = spec.strip()
    if spec == DEFAULT_RESULT_HANDLER:
        return None
    module_name, _, attrs = spec.partition(":")
    obj: Any = importlib.import_module(module_name.strip())
    for attr in filter(None, attrs.strip().split(".")):
        obj = getattr(obj, attr)
    return obj
