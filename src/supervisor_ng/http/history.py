"""How programs exited lately, for the web page's per-program timeline.

The status page already sees each program's last stop time, but not how it
ended once autorestart has spawned it again (a spawn clears the exit
status, as stock's does).  So exits are noted as they happen, from the state
changes the status hub hears, and the hub listens only while a page holds a
status stream open: a daemon nobody watches notes nothing.  The log is one
bounded list for the whole daemon, not a structure per program.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

from ..core.states import ProcessState
from .live import StatusHub

if TYPE_CHECKING:
    from ..core.process import StateChanged
    from ..runtime.child import Process
    from ..runtime.supervisor import Supervisor

KEEP_SECONDS = 3600.0  # what the page shows: the last hour
MAX_EXITS = 500  # a crash loop over many programs cannot grow the daemon

_ALIVE = frozenset({ProcessState.STARTING, ProcessState.RUNNING, ProcessState.STOPPING})
_ENDED = frozenset({ProcessState.EXITED, ProcessState.BACKOFF, ProcessState.STOPPED})


class ExitLog:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._exits: deque[dict[str, Any]] = deque(maxlen=MAX_EXITS)
        self._total = 0  # exits ever noted: a stream's mark of what it has sent

    def record(self, proc: Process, change: StateChanged) -> None:
        if change.old not in _ALIVE or change.new not in _ENDED:
            return
        self._exits.append(
            {
                "group": proc.group.name,
                "name": proc.name,
                "t": round(self._clock(), 3),
                "state": change.new.name,
                "exitstatus": change.exitstatus,
                "expected": change.expected,
                "spawnerr": (proc.spawnerr or "") if change.new == ProcessState.BACKOFF else "",
            }
        )
        self._total += 1

    def recent(self) -> list[dict[str, Any]]:
        horizon = self._clock() - KEEP_SECONDS
        while self._exits and self._exits[0]["t"] < horizon:
            self._exits.popleft()
        return list(self._exits)

    def since(self, mark: int) -> tuple[list[dict[str, Any]], int]:
        """The exits noted after ``mark`` (still kept), and the new mark."""
        recent = self.recent()
        new = min(self._total - mark, len(recent))
        return (recent[len(recent) - new :] if new > 0 else []), self._total


class RecordingHub(StatusHub):
    """The status hub, noting exits from the changes it is told about."""

    def __init__(self, get_supervisor: Callable[[], Supervisor]) -> None:
        super().__init__(get_supervisor)
        self.exits = ExitLog()

    def _on_change(self, proc: Any, change: Any) -> None:
        self.exits.record(proc, change)
        super()._on_change(proc, change)
