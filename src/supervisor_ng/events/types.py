"""The event types a listener can subscribe to, and the body each one sends.

The names, the class tree and every body are the ones stock Supervisor 4.3
sends, because listeners parse them: ``childutils.eventdata`` splits the first
line on spaces and colons, superlance reads ``expected`` and ``pid`` from it.
Subscribing to an abstract type (``EVENT``, ``PROCESS_STATE``, ``TICK``...)
means every type below it, which is why the types form a class tree and a
subscription is an ``isinstance`` test.

Everything an event shows is captured when it is made: a listener may get it
much later (a full buffer, a busy listener), and by then the process has
another pid or state.
"""

from __future__ import annotations

from typing import ClassVar, Optional

from ..core.process import StateChanged
from ..core.states import ProcessState

BEGIN_TOKEN = b"<!--XSUPERVISOR:BEGIN-->"
END_TOKEN = b"<!--XSUPERVISOR:END-->"


class Event:
    """Every event (abstract).  ``serial`` is given by the bus when the first
    pool accepts the event; an event nobody subscribed to never gets one."""

    NAME: ClassVar[str] = "EVENT"
    serial: Optional[int] = None

    def payload(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{self.NAME} serial={self.serial} {self.payload()!r}>"


def _text(data: bytes) -> str:
    # Listeners read the body as text; bytes that are not UTF-8 are shown the
    # way stock shows them rather than dropped.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return f"Undecodable: {data!r}"


# -- process state -------------------------------------------------------------------


class ProcessStateEvent(Event):
    """A process changed state (abstract).  Body: ``processname:x
    groupname:g from_state:STATE`` and the extras of the new state."""

    NAME = "PROCESS_STATE"

    def __init__(
        self,
        processname: str,
        groupname: str,
        from_state: ProcessState,
        extras: tuple[tuple[str, object], ...] = (),
    ) -> None:
        self.processname = processname
        self.groupname = groupname
        self.from_state = from_state
        self.extras = extras

    def payload(self) -> str:
        fields = [
            ("processname", self.processname),
            ("groupname", self.groupname),
            ("from_state", self.from_state.name),
            *self.extras,
        ]
        return " ".join(f"{key}:{value}" for key, value in fields)


class ProcessStateStopped(ProcessStateEvent):
    NAME = "PROCESS_STATE_STOPPED"


class ProcessStateExited(ProcessStateEvent):
    NAME = "PROCESS_STATE_EXITED"


class ProcessStateStarting(ProcessStateEvent):
    NAME = "PROCESS_STATE_STARTING"


class ProcessStateStopping(ProcessStateEvent):
    NAME = "PROCESS_STATE_STOPPING"


class ProcessStateBackoff(ProcessStateEvent):
    NAME = "PROCESS_STATE_BACKOFF"


class ProcessStateFatal(ProcessStateEvent):
    NAME = "PROCESS_STATE_FATAL"


class ProcessStateRunning(ProcessStateEvent):
    NAME = "PROCESS_STATE_RUNNING"


class ProcessStateUnknown(ProcessStateEvent):
    NAME = "PROCESS_STATE_UNKNOWN"


_STATE_EVENTS: dict[ProcessState, type[ProcessStateEvent]] = {
    ProcessState.STOPPED: ProcessStateStopped,
    ProcessState.EXITED: ProcessStateExited,
    ProcessState.STARTING: ProcessStateStarting,
    ProcessState.STOPPING: ProcessStateStopping,
    ProcessState.BACKOFF: ProcessStateBackoff,
    ProcessState.FATAL: ProcessStateFatal,
    ProcessState.RUNNING: ProcessStateRunning,
    ProcessState.UNKNOWN: ProcessStateUnknown,
}


def process_state_event(processname: str, groupname: str, change: StateChanged) -> ProcessStateEvent:
    """The PROCESS_STATE_* event of one state change, with the values the
    machine recorded at the change."""
    new = change.new
    extras: tuple[tuple[str, object], ...] = ()
    if new in (ProcessState.STARTING, ProcessState.BACKOFF):
        extras = (("tries", change.tries),)
    elif new == ProcessState.EXITED:
        # Stock's default for "expected" is true; only EXITED shows it.
        expected = True if change.expected is None else change.expected
        extras = (("expected", int(expected)), ("pid", change.pid))
    elif new in (ProcessState.RUNNING, ProcessState.STOPPING, ProcessState.STOPPED):
        extras = (("pid", change.pid),)
    return _STATE_EVENTS[new](processname, groupname, change.old, extras)


def state_event_class(state: ProcessState) -> type[ProcessStateEvent]:
    return _STATE_EVENTS[state]


# -- process output --------------------------------------------------------------------


class ProcessLogEvent(Event):
    """Output a process wrote, sent when ``<channel>_events_enabled`` (abstract)."""

    NAME = "PROCESS_LOG"
    channel: ClassVar[str] = ""

    def __init__(self, processname: str, groupname: str, pid: int, data: bytes) -> None:
        self.processname = processname
        self.groupname = groupname
        self.pid = pid
        self.data = data

    def payload(self) -> str:
        return (
            f"processname:{self.processname} groupname:{self.groupname} "
            f"pid:{self.pid} channel:{self.channel}\n{_text(self.data)}"
        )


class ProcessLogStdout(ProcessLogEvent):
    NAME = "PROCESS_LOG_STDOUT"
    channel = "stdout"


class ProcessLogStderr(ProcessLogEvent):
    NAME = "PROCESS_LOG_STDERR"
    channel = "stderr"


class ProcessCommunicationEvent(Event):
    """What a process wrote between the BEGIN and END tokens while its
    channel has ``<channel>_capture_maxbytes`` (abstract)."""

    NAME = "PROCESS_COMMUNICATION"
    channel: ClassVar[str] = ""

    def __init__(self, processname: str, groupname: str, pid: int, data: bytes) -> None:
        self.processname = processname
        self.groupname = groupname
        self.pid = pid
        self.data = data

    def payload(self) -> str:
        return f"processname:{self.processname} groupname:{self.groupname} pid:{self.pid}\n{_text(self.data)}"


class ProcessCommunicationStdout(ProcessCommunicationEvent):
    NAME = "PROCESS_COMMUNICATION_STDOUT"
    channel = "stdout"


class ProcessCommunicationStderr(ProcessCommunicationEvent):
    NAME = "PROCESS_COMMUNICATION_STDERR"
    channel = "stderr"


LOG_EVENTS: dict[str, type[ProcessLogEvent]] = {"stdout": ProcessLogStdout, "stderr": ProcessLogStderr}
COMMUNICATION_EVENTS: dict[str, type[ProcessCommunicationEvent]] = {
    "stdout": ProcessCommunicationStdout,
    "stderr": ProcessCommunicationStderr,
}


# -- the daemon and its clients ----------------------------------------------------------


class RemoteCommunication(Event):
    """sendRemoteCommEvent(type, data)."""

    NAME = "REMOTE_COMMUNICATION"

    def __init__(self, type: str, data: str) -> None:
        self.type = type
        self.data = data

    def payload(self) -> str:
        return f"type:{self.type}\n{self.data}"


class SupervisorStateChange(Event):
    """The daemon started or began to stop (abstract); the body is empty."""

    NAME = "SUPERVISOR_STATE_CHANGE"

    def payload(self) -> str:
        return ""


class SupervisorRunning(SupervisorStateChange):
    NAME = "SUPERVISOR_STATE_CHANGE_RUNNING"


class SupervisorStopping(SupervisorStateChange):
    NAME = "SUPERVISOR_STATE_CHANGE_STOPPING"


class ProcessGroupEvent(Event):
    """A group was added or removed (abstract)."""

    NAME = "PROCESS_GROUP"

    def __init__(self, groupname: str) -> None:
        self.groupname = groupname

    def payload(self) -> str:
        return f"groupname:{self.groupname}\n"


class ProcessGroupAdded(ProcessGroupEvent):
    NAME = "PROCESS_GROUP_ADDED"


class ProcessGroupRemoved(ProcessGroupEvent):
    NAME = "PROCESS_GROUP_REMOVED"


# -- supervisor-ng's own ------------------------------------------------------------------


class ProcessUnhealthy(Event):
    """A RUNNING program failed its watchdog or its health check and is about
    to be restarted (runtime/liveness.py).  Not under PROCESS_STATE, so a stock
    listener of PROCESS_STATE sees only the usual transitions of the restart.

    The reason is free text, so it goes after the header line, the way the
    output of PROCESS_LOG does: ``childutils.get_headers`` splits the first
    line on spaces and would choke on it there."""

    NAME = "PROCESS_UNHEALTHY"

    def __init__(
        self, processname: str, groupname: str, pid: int, check: str, failures: int, reason: str
    ) -> None:
        self.processname = processname
        self.groupname = groupname
        self.pid = pid
        self.check = check  # "watchdog" | "healthcheck"
        self.failures = failures
        self.reason = reason

    def payload(self) -> str:
        return (
            f"processname:{self.processname} groupname:{self.groupname} pid:{self.pid} "
            f"check:{self.check} failures:{self.failures}\n{self.reason}"
        )


# -- ticks ----------------------------------------------------------------------------------


class TickEvent(Event):
    """A wall-clock period began (abstract); ``when`` is its start, in epoch seconds."""

    NAME = "TICK"
    period: ClassVar[int] = 0

    def __init__(self, when: int) -> None:
        self.when = when

    def payload(self) -> str:
        return f"when:{self.when}"


class Tick5(TickEvent):
    NAME = "TICK_5"
    period = 5


class Tick60(TickEvent):
    NAME = "TICK_60"
    period = 60


class Tick3600(TickEvent):
    NAME = "TICK_3600"
    period = 3600


TICK_EVENTS: tuple[type[TickEvent], ...] = (Tick5, Tick60, Tick3600)


def _all_types() -> dict[str, type[Event]]:
    found: dict[str, type[Event]] = {}
    pending: list[type[Event]] = [Event]
    while pending:
        cls = pending.pop()
        found[cls.NAME] = cls
        pending.extend(cls.__subclasses__())
    return found


# Name -> type, for subscriptions (``events=`` of an [eventlistener:x]).
EVENT_TYPES: dict[str, type[Event]] = _all_types()


def event_type(name: str) -> type[Event]:
    """The type of a subscription name (any case); KeyError if there is none."""
    return EVENT_TYPES[name.upper()]
