"""Actions on the configuration: avail, reread, add, remove, update."""

from __future__ import annotations

from typing import Any, Optional

from ... import update_plan
from ...names import make_namespec
from ...rpc.faults import Faults
from .. import codes
from ..helptext import no_arguments
from ..wire import Fault


def _avail_line(info: dict[str, Any]) -> str:
    name = make_namespec(info["group"], info["name"])
    inuse = "in use" if info["inuse"] else "avail"
    autostart = "auto" if info["autostart"] else "manual"
    priority = f"{info['group_prio']}:{info['process_prio']}"
    return f"{name:<32} {inuse:<9} {autostart:<9} {priority}"


def avail(ctl: Any, arg: str) -> None:
    if not no_arguments(ctl, "avail", arg):
        return
    try:
        infos = ctl.supervisor().getAllConfigInfo()
    except Fault as exc:
        ctl.exitstatus = codes.GENERIC
        if exc.faultCode != Faults.SHUTDOWN_STATE:
            raise
        ctl.output("ERROR: supervisor shutting down")
        return
    graph = _dependencies(ctl)
    for info in infos:
        line = _avail_line(info)
        deps = graph.get(f"{info['group']}:{info['name']}")
        if deps:
            # supervisor-ng only: stock lines are unchanged for programs without depends_on
            line += "  depends on " + ", ".join(make_namespec(*d.split(":", 1)) for d in deps)
        ctl.output(line)


def _dependencies(ctl: Any) -> dict[str, list[str]]:
    """'group:name' -> what it depends on; empty from a daemon without ng.getDependencies."""
    try:
        return {row["name"]: row["depends_on"] for row in ctl.supervisor("ng").getDependencies()}
    except Fault:
        return {}


def reread(ctl: Any, arg: str) -> None:
    if not no_arguments(ctl, "reread", arg):
        return
    try:
        result = ctl.supervisor().reloadConfig()
    except Fault as exc:
        ctl.exitstatus = codes.GENERIC
        if exc.faultCode == Faults.SHUTDOWN_STATE:
            ctl.output("ERROR: supervisor shutting down")
        elif exc.faultCode == Faults.CANT_REREAD:
            ctl.output(f"ERROR: {exc.faultString}")
        else:
            raise
        return
    for line in update_plan.reread_lines(*result[0]):
        ctl.output(line)


def add(ctl: Any, arg: str) -> None:
    supervisor = ctl.supervisor()
    for name in arg.split():
        try:
            supervisor.addProcessGroup(name)
        except Fault as exc:
            if exc.faultCode == Faults.SHUTDOWN_STATE:
                ctl.output("ERROR: shutting down")
                ctl.exitstatus = codes.GENERIC
            elif exc.faultCode == Faults.ALREADY_ADDED:
                # Not an error for the exit status: the group is there.
                ctl.output("ERROR: process group already active")
            elif exc.faultCode == Faults.BAD_NAME:
                ctl.output(f"ERROR: no such process/group: {name}")
                ctl.exitstatus = codes.GENERIC
            else:
                ctl.exitstatus = codes.GENERIC
                raise
        else:
            ctl.output(f"{name}: added process group")


def remove(ctl: Any, arg: str) -> None:
    supervisor = ctl.supervisor()
    for name in arg.split():
        try:
            supervisor.removeProcessGroup(name)
        except Fault as exc:
            ctl.exitstatus = codes.GENERIC
            if exc.faultCode == Faults.STILL_RUNNING:
                ctl.output(f"ERROR: process/group still running: {name}")
            elif exc.faultCode == Faults.BAD_NAME:
                ctl.output(f"ERROR: no such process/group: {name}")
            else:
                raise
        else:
            ctl.output(f"{name}: removed process group")


def update(ctl: Any, arg: str) -> None:
    supervisor = ctl.supervisor()

    async def call(step: update_plan.Call) -> Any:
        return getattr(supervisor, step.method)(*step.params)

    def say(step: update_plan.Say) -> None:
        ctl.output(step.line)
        if step.failed:
            ctl.exitstatus = codes.GENERIC

    def as_failure(exc: Exception) -> Optional[update_plan.CallFailed]:
        if isinstance(exc, Fault):
            return update_plan.CallFailed(exc.faultCode, exc.faultString)
        return None

    update_plan.run_sync(update_plan.carry_out(update_plan.update(arg.split()), call, say, as_failure))
