"""Actions on processes: status, pid, start, stop, restart, signal, clear."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable, Optional

from ...names import make_namespec, split_namespec
from ...rpc.faults import Faults
from .. import codes
from ..helptext import TOPICS
from ..wire import Fault
from . import stats

Result = dict[str, Any]


def _help(ctl: Any, topic: str) -> None:
    ctl.output(TOPICS[topic])


# -- status -------------------------------------------------------------------


def _status_lines(infos: list[Result]) -> Iterator[str]:
    # A generator: each line is printed as soon as it is formatted, so a
    # client listing thousands of programs never holds the whole table.
    width = stats.name_width(infos)
    for info in infos:
        name = make_namespec(info["group"], info["name"])
        yield f"{name:<{width}}{info['statename']:<10}{info['description']}"


def status(ctl: Any, arg: str) -> None:
    if not ctl.upcheck():
        # Whatever upcheck decided, `status` reports "unknown".
        ctl.exitstatus = codes.STATUS_UNKNOWN
        return
    infos = ctl.supervisor().getAllProcessInfo()
    names = arg.split()
    with_stats = stats.FLAG in names  # ours only; stock would take it for a name
    if with_stats:
        names = [name for name in names if name != stats.FLAG]
    if not names or "all" in names:
        matching = infos
    else:
        matching = []
        for name in names:
            group, process = split_namespec(name)
            found = [
                info
                for info in infos
                if info["group"] == group and (process is None or info["name"] == process)
            ]
            if not found:
                if process is None:
                    ctl.output(f"{group}: ERROR (no such group)")
                else:
                    ctl.output(f"{name}: ERROR (no such process)")
                ctl.exitstatus = codes.STATUS_UNKNOWN
            matching.extend(found)
    if with_stats:
        figures = stats.fetch(ctl)
        if figures is None:
            return
        table = stats.lines(matching, figures)
    else:
        table = _status_lines(matching)
    for line in table:
        ctl.output(line)
    if any(info["state"] in codes.STOPPED_STATES for info in matching):
        ctl.exitstatus = codes.STATUS_NOT_RUNNING


# -- pid ----------------------------------------------------------------------


def pid(ctl: Any, arg: str) -> None:
    supervisor = ctl.supervisor()
    if not ctl.upcheck():
        return
    names = arg.split()
    if not names:
        ctl.output(str(supervisor.getPID()))
        return
    if "all" in names:
        for info in supervisor.getAllProcessInfo():
            ctl.output(str(info["pid"]))
        return
    for name in names:
        try:
            info = supervisor.getProcessInfo(name)
        except Fault as exc:
            ctl.exitstatus = codes.GENERIC
            if exc.faultCode != Faults.BAD_NAME:
                raise
            ctl.output(f"No such process {name}")
            continue
        ctl.output(str(info["pid"]))
        if info["pid"] == 0:
            ctl.exitstatus = codes.NOT_RUNNING


# -- start / stop / signal ------------------------------------------------------

_START_ERRORS = {
    Faults.BAD_NAME: "no such process",
    Faults.NO_FILE: "no such file",
    Faults.NOT_EXECUTABLE: "file is not executable",
    Faults.ALREADY_STARTED: "already started",
    Faults.SPAWN_ERROR: "spawn error",
    Faults.ABNORMAL_TERMINATION: "abnormal termination",
}

_SIGNAL_ERRORS = {
    Faults.BAD_NAME: "no such process",
    Faults.BAD_SIGNAL: "bad signal name",
    Faults.NOT_RUNNING: "not running",
}


def _unknown_code(code: int, name: str) -> ValueError:
    return ValueError(f"Unknown result code {code} for {name}")


def _start_line(result: Result) -> str:
    name = make_namespec(result["group"], result["name"])
    code = result["status"]
    if code == Faults.SUCCESS:
        return f"{name}: started"
    if code in _START_ERRORS:
        return f"{name}: ERROR ({_START_ERRORS[code]})"
    raise _unknown_code(code, name)


def _signal_line(result: Result, done: str = "signalled") -> str:
    name = make_namespec(result["group"], result["name"])
    code = result["status"]
    if code == Faults.SUCCESS:
        return f"{name}: {done}"
    if code in _SIGNAL_ERRORS:
        return f"{name}: ERROR ({_SIGNAL_ERRORS[code]})"
    if code == Faults.FAILED:
        return result["description"]
    raise _unknown_code(code, name)


def _stop_line(result: Result) -> str:
    return _signal_line(result, "stopped")


def _fault_result(exc: Fault, group: str, process: Optional[str]) -> Result:
    return {
        "status": exc.faultCode,
        "name": process,
        "group": group,
        "description": exc.faultString,
    }


def _report(
    ctl: Any, results: list[Result], line: Callable[[Result], str], ignored: Optional[int]
) -> None:
    for result in results:
        ctl.output(line(result))
        ctl.set_exitstatus_from_fault(result["status"], ignored)


def _each_target(
    ctl: Any,
    names: list[str],
    line: Callable[[Result], str],
    ignored: Optional[int],
    done: str,
    call_all: Callable[[], list[Result]],
    call_group: Callable[[str], list[Result]],
    call_one: Callable[[str], Any],
    no_group_status: int,
) -> None:
    """The shape start, stop and signal share: ``all``, ``group:*`` or names."""
    if "all" in names:
        _report(ctl, call_all(), line, ignored)
        return
    for name in names:
        group, process = split_namespec(name)
        if process is None:
            try:
                results = call_group(group)
            except Fault as exc:
                if exc.faultCode != Faults.BAD_NAME:
                    ctl.exitstatus = codes.GENERIC
                    raise
                ctl.output(f"{group}: ERROR (no such group)")
                ctl.exitstatus = no_group_status
                continue
            _report(ctl, results, line, ignored)
            continue
        try:
            call_one(name)
        except Fault as exc:
            result = _fault_result(exc, group, process)
            ctl.output(line(result))
            ctl.set_exitstatus_from_fault(result["status"], ignored)
        else:
            ctl.output(f"{make_namespec(group, process)}: {done}")


def start(ctl: Any, arg: str) -> None:
    if not ctl.upcheck():
        return
    names = arg.split()
    supervisor = ctl.supervisor()
    if not names:
        ctl.output("Error: start requires a process name")
        ctl.exitstatus = codes.INVALID_ARGS
        _help(ctl, "start")
        return
    _each_target(
        ctl,
        names,
        _start_line,
        Faults.ALREADY_STARTED,
        "started",
        supervisor.startAllProcesses,
        supervisor.startProcessGroup,
        supervisor.startProcess,
        codes.INVALID_ARGS,
    )


def stop(ctl: Any, arg: str) -> None:
    if not ctl.upcheck():
        return
    names = arg.split()
    supervisor = ctl.supervisor()
    if not names:
        ctl.output("Error: stop requires a process name")
        ctl.exitstatus = codes.GENERIC
        _help(ctl, "stop")
        return
    _each_target(
        ctl,
        names,
        _stop_line,
        Faults.NOT_RUNNING,
        "stopped",
        supervisor.stopAllProcesses,
        supervisor.stopProcessGroup,
        supervisor.stopProcess,
        codes.GENERIC,
    )


def signal(ctl: Any, arg: str) -> None:
    if not ctl.upcheck():
        return
    args = arg.split()
    if len(args) < 2:
        ctl.output("Error: signal requires a signal name and a process name")
        _help(ctl, "signal")
        ctl.exitstatus = codes.GENERIC
        return
    sig, names = args[0], args[1:]
    supervisor = ctl.supervisor()
    _each_target(
        ctl,
        names,
        _signal_line,
        None,
        "signalled",
        lambda: supervisor.signalAllProcesses(sig),
        lambda group: supervisor.signalProcessGroup(group, sig),
        lambda name: supervisor.signalProcess(name, sig),
        codes.GENERIC,
    )


def restart(ctl: Any, arg: str) -> None:
    if not ctl.upcheck():
        return
    if not arg.split():
        ctl.output("Error: restart requires a process name")
        ctl.exitstatus = codes.GENERIC
        _help(ctl, "restart")
        return
    stop(ctl, arg)
    start(ctl, arg)


# -- clear --------------------------------------------------------------------


def _clear_line(result: Result) -> str:
    name = make_namespec(result["group"], result["name"])
    code = result["status"]
    if code == Faults.SUCCESS:
        return f"{name}: cleared"
    if code == Faults.BAD_NAME:
        return f"{name}: ERROR (no such process)"
    if code == Faults.FAILED:
        return f"{name}: ERROR (failed)"
    raise _unknown_code(code, name)


def clear(ctl: Any, arg: str) -> None:
    if not ctl.upcheck():
        return
    names = arg.split()
    if not names:
        ctl.output("Error: clear requires a process name")
        ctl.exitstatus = codes.GENERIC
        _help(ctl, "clear")
        return
    supervisor = ctl.supervisor()
    if "all" in names:
        _report(ctl, supervisor.clearAllProcessLogs(), _clear_line, None)
        return
    for name in names:
        group, process = split_namespec(name)
        try:
            supervisor.clearProcessLogs(name)
        except Fault as exc:
            result = _fault_result(exc, group, process)
            ctl.output(_clear_line(result))
            ctl.set_exitstatus_from_fault(result["status"])
        else:
            ctl.output(f"{make_namespec(group, process)}: cleared")
