"""The web page's actions, each one a sequence of XML-RPC calls.

The page (its JSON layer, and the stock-style ``index.html?action=...``
links) never touches the runtime directly: every action goes through the
same :class:`~..rpc.registry.Registry` that serves ``/RPC2``, so a stop from
the page is exactly ``supervisor.stopProcess``, with its waiting, its faults
and its log lines.  Composite actions (restart, update) are composed the way
supervisorctl composes them; update is the very plan supervisorctl runs
(:mod:`..update_plan`).

A target is a process (``name`` or ``group:name``), a whole group
(``group:*``) or everything (``all``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from .. import update_plan
from ..rpc.faults import Faults, RPCError
from ..rpc.registry import Registry

ACTIONS = ("start", "stop", "restart", "clear", "signal", "reread", "update")

_FAULT_WORDS = {
    Faults.BAD_NAME: "no such process",
    Faults.BAD_SIGNAL: "bad signal",
    Faults.NO_FILE: "no such file",
    Faults.NOT_EXECUTABLE: "file is not executable",
    Faults.ABNORMAL_TERMINATION: "abnormal termination",
    Faults.SPAWN_ERROR: "spawn error",
    Faults.ALREADY_STARTED: "already started",
    Faults.NOT_RUNNING: "not running",
    Faults.FAILED: "failed",
    Faults.SHUTDOWN_STATE: "shutting down",
    Faults.CANT_REREAD: "cannot read the configuration",
}

_DONE_WORDS = {
    "start": "started",
    "stop": "stopped",
    "restart": "restarted",
    "clear": "log cleared",
    "signal": "signalled",
}


class ActionError(Exception):
    """A request the page should not have made (unknown action, no target)."""


@dataclass
class Outcome:
    ok: bool = True
    lines: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        return "; ".join(self.lines) if self.lines else "nothing to do"

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "message": self.message, "lines": self.lines}


def _fault_line(name: str, exc: RPCError) -> str:
    words = _FAULT_WORDS.get(exc.code)  # type: ignore[call-overload]
    if words is None:
        return f"{name}: ERROR ({exc.text})"
    return f"{name}: ERROR ({words})"


def _spec(entry: dict[str, Any]) -> str:
    group, name = entry.get("group", ""), entry.get("name", "")
    return name if group == name else f"{group}:{name}"


def _report_list(outcome: Outcome, verb: str, results: list[dict[str, Any]]) -> None:
    if not results:
        outcome.lines.append(f"{verb}: nothing to do")
    for entry in results:
        if entry.get("status") == Faults.SUCCESS:
            outcome.lines.append(f"{_spec(entry)}: {_DONE_WORDS[verb]}")
        else:
            outcome.ok = False
            code = int(entry.get("status", Faults.FAILED))
            text = entry.get("description", "")
            outcome.lines.append(_fault_line(_spec(entry), RPCError(code, text or None)))


def _kind(target: str) -> tuple[str, str]:
    if target in ("all", "*"):
        return "all", ""
    if target.endswith(":*"):
        return "group", target[:-2]
    return "process", target


async def _single(
    registry: Registry, outcome: Outcome, verb: str, method: str, params: list[Any], name: str
) -> bool:
    try:
        await registry.call(method, params)
    except RPCError as exc:
        outcome.ok = False
        outcome.lines.append(_fault_line(name, exc))
        return False
    outcome.lines.append(f"{name}: {_DONE_WORDS[verb]}")
    return True


async def _group_call(
    registry: Registry, outcome: Outcome, verb: str, method: str, params: list[Any]
) -> None:
    try:
        results = await registry.call(method, params)
    except RPCError as exc:
        outcome.ok = False
        outcome.lines.append(_fault_line(str(params[0]) if params else "all", exc))
        return
    _report_list(outcome, verb, results)


_METHODS = {
    # verb: (process method, group method, all method)
    "start": (
        "supervisor.startProcess",
        "supervisor.startProcessGroup",
        "supervisor.startAllProcesses",
    ),
    "stop": (
        "supervisor.stopProcess",
        "supervisor.stopProcessGroup",
        "supervisor.stopAllProcesses",
    ),
    "signal": (
        "supervisor.signalProcess",
        "supervisor.signalProcessGroup",
        "supervisor.signalAllProcesses",
    ),
}


async def run(
    registry: Registry, action: str, target: str = "", signal: Optional[str] = None
) -> Outcome:
    """Carry out one page action; faults become lines of the outcome."""
    outcome = Outcome()
    if action == "reread":
        await _reread(registry, outcome)
        return outcome
    if action == "update":
        await _update(registry, outcome)
        return outcome
    if action not in ACTIONS:
        raise ActionError(f"unknown action {action!r}")
    if not target:
        raise ActionError("no process given")
    kind, name = _kind(target)
    extra: list[Any] = []
    if action == "signal":
        if not signal:
            raise ActionError("no signal given")
        extra = [signal]
    if action in _METHODS:
        one, group, every = _METHODS[action]
        if kind == "process":
            await _single(registry, outcome, action, one, [name, *extra], name)
        elif kind == "group":
            await _group_call(registry, outcome, action, group, [name, *extra])
        else:
            await _group_call(registry, outcome, action, every, extra)
    elif action == "restart":
        await _restart(registry, outcome, kind, name)
    elif action == "clear":
        await _clear(registry, outcome, kind, name)
    return outcome


async def _restart(registry: Registry, outcome: Outcome, kind: str, name: str) -> None:
    if kind == "process":
        try:
            await registry.call("supervisor.stopProcess", [name])
        except RPCError as exc:
            if exc.code != Faults.NOT_RUNNING:
                outcome.ok = False
                outcome.lines.append(_fault_line(name, exc))
                return
        await _single(registry, outcome, "restart", "supervisor.startProcess", [name], name)
        return
    stop_start = (
        ("supervisor.stopProcessGroup", "supervisor.startProcessGroup", [name])
        if kind == "group"
        else ("supervisor.stopAllProcesses", "supervisor.startAllProcesses", [])
    )
    stop, start, params = stop_start
    try:
        await registry.call(stop, params)
    except RPCError as exc:
        outcome.ok = False
        outcome.lines.append(_fault_line(name or "all", exc))
        return
    await _group_call(registry, outcome, "restart", start, params)


async def _clear(registry: Registry, outcome: Outcome, kind: str, name: str) -> None:
    if kind == "process":
        await _single(registry, outcome, "clear", "supervisor.clearProcessLogs", [name], name)
    elif kind == "all":
        await _group_call(registry, outcome, "clear", "supervisor.clearAllProcessLogs", [])
    else:
        infos = await registry.call("supervisor.getAllProcessInfo", [])
        members = [i for i in infos if i["group"] == name]
        if not members:
            outcome.ok = False
            outcome.lines.append(f"{name}: ERROR (no such group)")
        for entry in members:
            spec = f"{entry['group']}:{entry['name']}"
            await _single(
                registry, outcome, "clear", "supervisor.clearProcessLogs", [spec], _spec(entry)
            )


async def _reread(registry: Registry, outcome: Outcome) -> None:
    try:
        result = await registry.call("supervisor.reloadConfig", [])
    except RPCError as exc:
        outcome.ok = False
        outcome.lines.append(f"ERROR ({exc.text})")
        return
    outcome.lines.extend(update_plan.reread_lines(*result[0]))


async def _update(registry: Registry, outcome: Outcome) -> None:
    """supervisorctl update, line for line (one plan for both: update_plan)."""

    async def call(step: update_plan.Call) -> Any:
        return await registry.call(f"supervisor.{step.method}", list(step.params))

    def say(step: update_plan.Say) -> None:
        outcome.lines.append(step.line)
        if step.failed:
            outcome.ok = False

    def as_failure(exc: Exception) -> Optional[update_plan.CallFailed]:
        if isinstance(exc, RPCError):
            return update_plan.CallFailed(exc.code, exc.text)
        return None

    try:
        await update_plan.carry_out(update_plan.update([]), call, say, as_failure)
    except RPCError as exc:
        outcome.ok = False
        outcome.lines.append(f"ERROR ({exc.text})")
        return
    if not outcome.lines:
        outcome.lines.append("No config updates to processes")
