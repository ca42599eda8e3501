"""State numbers as listener tools read them from ``supervisor.states``.

The classes hold plain ``int`` attributes, not enum members: tools compare
the numbers that come back over XML-RPC with ``is`` (httpok does), which is
only true for the small ints Python shares.
"""

from __future__ import annotations

from supervisor_ng.core.states import (
    RUNNING_STATES as _RUNNING,
)
from supervisor_ng.core.states import (
    SIGNALLABLE_STATES as _SIGNALLABLE,
)
from supervisor_ng.core.states import (
    STOPPED_STATES as _STOPPED,
)
from supervisor_ng.core.states import (
    ProcessState,
    SupervisorState,
)
from supervisor_ng.events.protocol import ListenerState


class ProcessStates:
    pass


class SupervisorStates:
    pass


class EventListenerStates:
    pass


for _cls, _enum in (
    (ProcessStates, ProcessState),
    (SupervisorStates, SupervisorState),
    (EventListenerStates, ListenerState),
):
    for _member in _enum:
        setattr(_cls, _member.name, int(_member))

STOPPED_STATES = tuple(sorted(int(s) for s in _STOPPED))
RUNNING_STATES = tuple(sorted(int(s) for s in _RUNNING))
SIGNALLABLE_STATES = tuple(sorted(int(s) for s in _SIGNALLABLE))


def _describe(enum_type: type, code: int) -> str | None:
    try:
        return enum_type(code).name
    except ValueError:
        return None


def getProcessStateDescription(code: int) -> str | None:
    return _describe(ProcessState, code)


def getSupervisorStateDescription(code: int) -> str | None:
    return _describe(SupervisorState, code)


def getEventListenerStateDescription(code: int) -> str | None:
    return _describe(ListenerState, code)
