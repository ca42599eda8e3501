"""Actions on the configuration: avail, reread, add, remove, update."""

from __future__ import annotations

from typing import Any

from ...names import make_namespec
from ...rpc.faults import Faults
from .. import codes
from ..helptext import TOPICS
from ..wire import Fault


def _no_arguments(ctl: Any, action: str, arg: str) -> bool:
    if not arg:
        return True
    ctl.output(f"Error: {action} accepts no arguments")
    ctl.exitstatus = codes.GENERIC
    ctl.output(TOPICS[action])
    return False


def _avail_line(info: dict[str, Any]) -> str:
    name = make_namespec(info["group"], info["name"])
    inuse = "in use" if info["inuse"] else "avail"
    autostart = "auto" if info["autostart"] else "manual"
    priority = f"{info['group_prio']}:{info['process_prio']}"
    return f"{name:<32} {inuse:<9} {autostart:<9} {priority}"


def avail(ctl: Any, arg: str) -> None:
    if not _no_arguments(ctl, "avail", arg):
        return
    try:
        infos = ctl.supervisor().getAllConfigInfo()
    except Fault as exc:
        ctl.exitstatus = codes.GENERIC
        if exc.faultCode != Faults.SHUTDOWN_STATE:
            raise
        ctl.output("ERROR: supervisor shutting down")
        return
    for info in infos:
        ctl.output(_avail_line(info))


def reread(ctl: Any, arg: str) -> None:
    if not _no_arguments(ctl, "reread", arg):
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
    added, changed, removed = result[0]
    changes = {}
    for names, what in ((added, "available"), (changed, "changed"), (removed, "disappeared")):
        for name in names:
            changes[name] = what
    if not changes:
        ctl.output("No config updates to processes")
    for name in sorted(changes):
        ctl.output(f"{name}: {changes[name]}")


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
    try:
        result = supervisor.reloadConfig()
    except Fault as exc:
        ctl.exitstatus = codes.GENERIC
        if exc.faultCode != Faults.SHUTDOWN_STATE:
            raise
        ctl.output("ERROR: already shutting down")
        return
    added, changed, removed = result[0]

    wanted = list(dict.fromkeys(arg.split()))
    if "all" in wanted:
        wanted = []  # "all" means the same as naming nothing
    if wanted:
        known = {info["group"] for info in supervisor.getAllProcessInfo()}
        known.update(added)
        for group in wanted:
            if group not in known:
                ctl.output(f"ERROR: no such group: {group}")
                ctl.exitstatus = codes.GENERIC

    def selected(group: str) -> bool:
        return not wanted or group in wanted

    for group in removed:
        if not selected(group):
            continue
        results = supervisor.stopProcessGroup(group)
        ctl.output(f"{group}: stopped")
        if any(r["status"] == Faults.FAILED for r in results):
            ctl.output(f"{group}: has problems; not removing")
            ctl.exitstatus = codes.GENERIC
            continue
        supervisor.removeProcessGroup(group)
        ctl.output(f"{group}: removed process group")

    for group in changed:
        if not selected(group):
            continue
        supervisor.stopProcessGroup(group)
        ctl.output(f"{group}: stopped")
        supervisor.removeProcessGroup(group)
        supervisor.addProcessGroup(group)
        ctl.output(f"{group}: updated process group")

    for group in added:
        if not selected(group):
            continue
        supervisor.addProcessGroup(group)
        ctl.output(f"{group}: added process group")
