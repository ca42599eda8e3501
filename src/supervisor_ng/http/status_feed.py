"""What the page's status stream sends: the whole status once, then changes.

With thousands of programs the whole status is about a megabyte of JSON, and
getAllProcessInfo's pass over every process (each struct partly marshalled
to XML) held the loop for a tenth of a second; a ``stop all`` changes every
program a few times.  So each stream remembers what it last sent, per
program, and afterwards sends only the programs whose fields changed (named
by the state-change observer, :mod:`.live`), the ones that went away, and
the daemon's own fields when they move.  A full pass happens only when an API
call may have added or removed programs, and then in slices.  Rows are built
from the processes directly: no XML, and no per-second uptime text to send
(the page computes it from ``start`` and ``now``).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Callable, Optional

from .. import __version__ as NG_VERSION
from ..rpc import info
from ..rpc.faults import Faults, RPCError
from ..runtime.control import Control
from ..runtime.slices import in_slices

if TYPE_CHECKING:
    from ..runtime.child import Process
    from ..runtime.supervisor import Supervisor
    from .history import ExitLog

Key = tuple[str, str]  # (group, name)
_REST = json.JSONEncoder(separators=(",", ":"), default=str)  # one, not one per row
Event = tuple[str, dict[str, Any]]  # ("status" | "update", data)


def _key(proc: Process) -> Key:
    return (proc.group.name, proc.name)


def _shown(proc: Process) -> tuple[Any, ...]:
    """Everything a row shows but the uptime: equal means nothing to send."""
    return (proc.state, proc.pid, proc.start_time, proc.stop_time, proc.exitstatus, proc.spawnerr)


def process_row(proc: Process, now: int) -> dict[str, Any]:
    """getProcessInfo's fields that the page shows (not the log file names,
    nor ``now``, given once per event), without the XML the API keeps."""
    start = info.capped_int(proc.start_time)
    stop = info.capped_int(proc.stop_time)
    state = proc.state
    spawnerr = proc.spawnerr or ""
    return {
        "name": proc.name,
        "group": proc.group.name,
        "start": start,
        "stop": stop,
        "state": int(state),
        "statename": state.name,
        "spawnerr": spawnerr,
        "exitstatus": proc.exitstatus or 0,
        "pid": proc.pid,
        "description": info.describe(state, start, stop, now, proc.pid, spawnerr, proc.name),
    }


# Rows cost a microsecond or two each: slices of in_slices' usual 32 spent
# more time waiting for their turns than working (a live update took 0.6 s);
# the 5 ms limit ends these slices.
_ROWS_PER_SLICE = 4096


async def json_array(items: Iterable[Any]) -> str:
    """A JSON array of thousands of small objects, encoded in turns (one
    ``json.dumps`` of 5,000 rows held the loop for 50-80 ms)."""
    parts: list[str] = []
    await in_slices(items, lambda item: parts.append(_REST.encode(item)), max_items=_ROWS_PER_SLICE)
    return "[" + ",".join(parts) + "]"


async def encode(kind: str, data: dict[str, Any]) -> bytes:
    """One server-sent event.  The rows are dumped a slice at a time: the
    whole status of 5,000 programs is a megabyte of JSON."""
    rows = await json_array(data.get("processes", ()))
    rest = _REST.encode({k: v for k, v in data.items() if k != "processes"})
    body = rest[:-1] + (',"processes":' + rows + "}" if "processes" in data else "}")
    if body.startswith("{,"):  # nothing but the rows
        body = "{" + body[2:]
    return f"event: {kind}\ndata: {body}\n\n".encode()


def process_count(sv: Optional[Supervisor]) -> int:
    """How many processes the status would show, without building it."""
    if sv is None or not Control(sv).running:
        return 0
    return sum(len(group.processes) for group in sv.groups.values())


def _is_current(sv: Supervisor, proc: Process) -> bool:
    group = sv.groups.get(proc.group.name)
    return group is not None and group.processes.get(proc.name) is proc


class StatusFeed:
    """One stream's memory of what it sent, and the next event to send."""

    def __init__(self, get_supervisor: Callable[[], Optional[Supervisor]], exits: ExitLog) -> None:
        self._get = get_supervisor
        self._exits = exits
        self._sv: Optional[Supervisor] = None  # the generation the last full status was of
        self._sent: dict[Key, tuple[Any, ...]] = {}
        self._states: dict[Key, str] = {}
        self._counts: Counter[str] = Counter()
        self._daemon: dict[str, Any] = {}
        self._exit_mark = 0
        self._unavailable = False

    async def next(self, procs: set[Process], rescan: bool) -> Optional[Event]:
        """The event that brings the page up to date, or None if it is.
        ``procs`` changed state since the last call; ``rescan`` says that
        programs may have been added or removed."""
        sv = self._get()
        if sv is None or not Control(sv).running:
            if self._unavailable:
                return None
            status = self._unavailable_status()
            self._unavailable = True
            return "status", status
        if sv is not self._sv:
            return "status", await self.whole(sv)
        if rescan:
            changed, removed = await self._rescan(sv)
        else:
            changed, removed = [], []

            def look(proc: Process) -> None:
                row = self._note(proc, _key(proc)) if _is_current(sv, proc) else None
                if row is not None:
                    changed.append(row)

            await in_slices(list(procs), look, max_items=_ROWS_PER_SLICE)
        fresh = self._daemon_fields(sv)
        out: dict[str, Any] = {k: v for k, v in fresh.items() if self._daemon.get(k) != v}
        self._daemon = fresh
        exits, self._exit_mark = self._exits.since(self._exit_mark)
        if changed:
            out["processes"] = changed
        if removed:
            out["removed"] = removed
        if exits:
            out["exits"] = exits
        if not out:
            return None
        out["now"] = time.time()
        return "update", out

    async def whole(self, sv: Optional[Supervisor] = None) -> dict[str, Any]:
        """The whole status (what the first event and ``/api/status`` carry)."""
        sv = sv if sv is not None else self._get()
        if sv is None or not Control(sv).running:
            return self._unavailable_status()
        self._forget()
        self._sv = sv
        rows: list[dict[str, Any]] = []
        now_i = info.capped_int(time.time())

        def add(proc: Process) -> None:
            key = _key(proc)
            self._sent[key] = _shown(proc)
            self._count(key, proc.state.name)
            rows.append(process_row(proc, now_i))

        await in_slices(Control(sv).lexical(), add, max_items=_ROWS_PER_SLICE)
        self._daemon = self._daemon_fields(sv)
        exits, self._exit_mark = self._exits.since(0)
        return {
            **self._daemon,
            "identification": sv.config.supervisord.identifier,
            "version": NG_VERSION,
            "now": time.time(),
            "processes": rows,
            "exits": exits,
        }

    # -- the parts ----------------------------------------------------------------

    def _unavailable_status(self) -> dict[str, Any]:
        """Stopping or restarting: no processes to show (as the API answers)."""
        self._forget()
        return {
            "state": "UNAVAILABLE",
            "message": RPCError(Faults.SHUTDOWN_STATE).text,
            "processes": [],
            "now": time.time(),
        }

    def _forget(self) -> None:
        self._sv = None
        self._sent.clear()
        self._states.clear()
        self._counts.clear()
        self._daemon = {}
        self._unavailable = False

    def _daemon_fields(self, sv: Supervisor) -> dict[str, Any]:
        return {"state": sv.state.name, "pid": os.getpid(), "counts": dict(self._counts)}

    def _count(self, key: Key, statename: Optional[str]) -> None:
        old = self._states.pop(key, None)
        if old is not None:
            self._counts[old] -= 1
            if not self._counts[old]:
                del self._counts[old]
        if statename is not None:
            self._states[key] = statename
            self._counts[statename] += 1

    def _note(self, proc: Process, key: Key) -> Optional[dict[str, Any]]:
        """The row to send if ``proc`` changed since it was last sent."""
        shown = _shown(proc)
        if self._sent.get(key) == shown:
            return None
        self._sent[key] = shown
        self._count(key, proc.state.name)
        return process_row(proc, info.capped_int(time.time()))

    async def _rescan(self, sv: Supervisor) -> tuple[list[dict[str, Any]], list[str]]:
        procs = [p for group in list(sv.groups.values()) for p in list(group.processes.values())]
        seen: set[Key] = set()
        changed: list[dict[str, Any]] = []

        def look(proc: Process) -> None:
            key = _key(proc)
            seen.add(key)
            row = self._note(proc, key)
            if row is not None:
                changed.append(row)

        await in_slices(procs, look, max_items=_ROWS_PER_SLICE)
        gone = [key for key in self._sent if key not in seen]
        for key in gone:
            del self._sent[key]
            self._count(key, None)
        return changed, [f"{group}:{name}" for group, name in gone]
