"""Events in the running daemon: where they come from and how listeners get them.

Sources: process state changes (a :class:`Supervisor` observer), process
output (hooks on each :class:`OutputChannel`), and the daemon itself (groups
added and removed, start and stop, sendRemoteCommEvent, ticks).  They all go
to the bus, ``supervisor.events``.

Sinks: one :class:`ListenerPool` per ``[eventlistener:x]`` group.  It keeps the
pool's event buffer and, for each of its processes, the protocol machine
(events/protocol.py) fed from the process's stdout, and a writer for its
stdin.  A listener that reads slowly or not at all never blocks the daemon:
its stdin is written without blocking and what does not fit waits in our own
buffer until the pipe drains.
"""

from __future__ import annotations

import errno
import importlib
import os
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..config.programs import DEFAULT_RESULT_HANDLER
from ..core.process import StateChanged
from ..core.states import ProcessState
from ..events.bus import EventBus
from ..events.capture import Capture
from ..events.pool import EventBuffer, Queued, envelope
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
    COMMUNICATION_EVENTS,
    LOG_EVENTS,
    Event,
    process_state_event,
    state_event_class,
)

if TYPE_CHECKING:
    import asyncio

    from .child import Process
    from .supervisor import ProcessGroup

DEBUG = 10

# The states a process is in right after it died.
_EXIT_STATES = frozenset({ProcessState.EXITED, ProcessState.BACKOFF, ProcessState.STOPPED})


# -- sources ----------------------------------------------------------------------------


def process_state_observer(bus: EventBus) -> Callable[[Process, StateChanged], None]:
    """A Supervisor observer that turns state changes into PROCESS_STATE_* events."""

    def observe(proc: Process, change: StateChanged) -> None:
        if bus.wants(state_event_class(change.new)):
            bus.notify(process_state_event(proc.name, proc.config.group, change))

    return observe


def wire_output_events(proc: Process) -> None:
    """Set the event hooks of a process's output channels from its config:
    PROCESS_LOG_* with ``*_events_enabled``, capture mode with
    ``*_capture_maxbytes``.  An event listener's stdout carries the protocol,
    so it gets neither (as in stock)."""
    listener = proc.group.config.kind == "eventlistener"
    for name, channel, log in (
        ("stdout", proc.stdout, proc.config.stdout),
        ("stderr", proc.stderr, proc.config.stderr),
    ):
        if listener and name == "stdout":
            continue
        if log.events_enabled:
            channel.log_events = _emitter(proc, LOG_EVENTS[name])
        if log.capture_maxbytes > 0:
            channel.capture = Capture(log.capture_maxbytes)
            channel.on_message = _emitter(proc, COMMUNICATION_EVENTS[name])


def _emitter(proc: Process, cls: Any) -> Callable[[bytes], None]:
    def emit(data: bytes) -> None:
        bus = proc.supervisor.events
        if bus.wants(cls):
            bus.notify(cls(proc.name, proc.config.group, proc.pid, data))

    return emit


# -- sinks ----------------------------------------------------------------------------------


class _StdinWriter:
    """Writes to one listener's stdin without ever blocking the loop.

    The pending data is written through our own duplicate of the pipe's fd:
    the runtime closes its fd when the child exits, and a watched fd number
    that is closed and reused would send our bytes somewhere else.
    """

    def __init__(self, loop_getter: Callable[[], asyncio.AbstractEventLoop]) -> None:
        self._loop_getter = loop_getter
        self._fd: Optional[int] = None
        self._pending = bytearray()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def write(self, fd: int, data: bytes) -> None:
        """Raises BrokenPipeError if nobody reads the pipe any more."""
        if self._fd is not None:
            self._pending += data  # keep the order: behind what waits
            return
        try:
            written = os.write(fd, data)
        except BlockingIOError:
            written = 0
        if written < len(data):
            self._pending += data[written:]
            self._fd = os.dup(fd)
            self._loop_getter().add_writer(self._fd, self._writable)

    def reset(self) -> None:
        if self._fd is not None:
            self._loop_getter().remove_writer(self._fd)
            os.close(self._fd)
            self._fd = None
        self._pending.clear()

    def _writable(self) -> None:
        if self._fd is None:
            return
        try:
            written = os.write(self._fd, self._pending)
        except BlockingIOError:
            return
        except OSError:
            # The listener is gone; its death gives the event back.
            self.reset()
            return
        del self._pending[:written]
        if not self._pending:
            self.reset()


class Listener:
    """One process of a pool, as the pool sees it."""

    def __init__(self, pool: ListenerPool, proc: Process) -> None:
        self.pool = pool
        self.proc = proc
        self.protocol = ListenerProtocol(proc.name, pool.judge_for(self))
        self.current: Optional[Queued] = None  # the event it is busy with
        self.writer = _StdinWriter(lambda: proc.supervisor.loop)
        proc.stdout.protocol = self.feed

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
        pipes = self.proc.pipes
        fd = pipes.stdin if pipes is not None else None
        if fd is None or self.proc.machine.killing:
            raise BrokenPipeError(errno.EPIPE, "the listener has no stdin")
        self.writer.write(fd, data)
        self.protocol.sent()
        self.current = item

    def state_changed(self, change: StateChanged) -> None:
        if change.new == ProcessState.STARTING:
            # A new process: it has to say READY before it gets anything.
            self.protocol.reset()
            self.writer.reset()
        elif change.new in _EXIT_STATES:
            self.writer.reset()
            item, self.current = self.current, None
            if item is not None:
                self.pool.give_back(item)
        elif change.new == ProcessState.RUNNING:
            self.pool.dispatch()

    def close(self) -> None:
        self.writer.reset()
        if self.proc.stdout.protocol == self.feed:
            self.proc.stdout.protocol = None


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
        self._by_process = {id(listener.proc): listener for listener in self.listeners}
        self._dispatching = False
        self.supervisor.observers.append(self._state_changed)
        self.bus.subscribe(self, config.events)

    @property
    def name(self) -> str:
        return self.group.config.name

    # -- the bus side --------------------------------------------------------------

    def accept(self, event: Event) -> None:
        self.buffer.accept(event)
        self.dispatch()

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

    def _state_changed(self, proc: Process, change: StateChanged) -> None:
        listener = self._by_process.get(id(proc))
        if listener is not None and listener.proc is proc:
            listener.state_changed(change)

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

    def close(self) -> None:
        self.bus.unsubscribe(self)
        if self._state_changed in self.supervisor.observers:
            self.supervisor.observers.remove(self._state_changed)
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
