"""The structures getProcessInfo, getAllProcessInfo and getAllConfigInfo return.

Key names, value types and the ``description`` text are exactly stock's:
supervisorctl prints ``description`` verbatim and tools such as superlance
read the other keys directly.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any, Optional

from ..config.model import AUTO, ChannelLogConfig, GroupConfig, ProcessConfig
from ..core.states import ProcessState
from .codec import EncodedStruct, dump_members

if TYPE_CHECKING:
    from ..runtime.child import Process
    from ..runtime.supervisor import ProcessGroup

MAXINT = 2**31 - 1
MININT = -(2**31)


def capped_int(value: float) -> int:
    """XML-RPC ints are 32-bit; timestamps saturate instead of failing (2038)."""
    return max(MININT, min(MAXINT, int(value)))


_RUNNING = "pid {}, uptime {}"


def describe(state: int, start: int, stop: int, now: int, pid: int, spawnerr: str, name: str) -> str:
    if state == ProcessState.RUNNING:
        # Whole seconds on both ends, as stock computes it (its UTC datetimes
        # differ by exactly now - start); none if the clock was set back.
        return _RUNNING.format(pid, _uptime(max(0, now - start)))
    if state in (ProcessState.FATAL, ProcessState.BACKOFF):
        return spawnerr or f'unknown error (try "tail {name}")'
    if state in (ProcessState.STOPPED, ProcessState.EXITED):
        if not start:
            return "Not started"
        return time.strftime("%b %d %I:%M %p", time.localtime(stop))
    return ""


def _uptime(seconds: int) -> str:
    """str(datetime.timedelta(seconds=seconds)), without loading datetime."""
    days, rest = divmod(seconds, 86400)
    clock = f"{rest // 3600}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days} day{'' if days == 1 else 's'}, {clock}" if days else clock


def process_info(proc: Process, now: Optional[float] = None) -> dict[str, Any]:
    """One getProcessInfo struct, partly marshalled already (see EncodedStruct).

    getAllProcessInfo calls this for every process (5,000 in one answer), so
    the members that change only with the process's state (all but now and
    description) are kept, as a dict and as XML, in its info_cache; what a
    call adds is its clock and the description.
    """
    start = capped_int(proc.start_time)
    stop = capped_int(proc.stop_time)
    now_i = capped_int(time.time() if now is None else now)
    state = proc.state
    spawnerr = proc.spawnerr or ""
    pid = proc.pid
    exitstatus = proc.exitstatus or 0
    key = (start, stop, state, spawnerr, exitstatus, pid)
    cached = proc.info_cache
    if cached is None or cached[0] != key:
        stdout_logfile = proc.stdout_logfile or ""
        before = {"name": proc.name, "group": proc.group.name, "start": start, "stop": stop}
        after = {
            "state": int(state),
            "statename": state.name,
            "spawnerr": spawnerr,
            "exitstatus": exitstatus,
            "logfile": stdout_logfile,
            "stdout_logfile": stdout_logfile,
            "stderr_logfile": proc.stderr_logfile or "",
            "pid": pid,
        }
        # The dict in stock's key order, with now and description in place.
        members = {**before, "now": 0, **after, "description": ""}
        cached = proc.info_cache = (key, dump_members(before), dump_members(after), members)
    if state == ProcessState.RUNNING:
        uptime = _uptime(max(0, now_i - start))
        description = _RUNNING.format(pid, uptime)
        # Digits and fixed text only: nothing to escape.
        description_xml = _RUNNING_DESCRIPTION.format(pid, uptime)
    else:
        description = describe(state, start, stop, now_i, pid, spawnerr, proc.name)
        description_xml = dump_members({"description": description})
    struct = EncodedStruct(cached[3], (cached[1], _now_member(now_i), cached[2], description_xml))
    dict.update(struct, now=now_i, description=description)  # the XML has them already
    return struct


_RUNNING_DESCRIPTION = dump_members({"description": _RUNNING})


@functools.lru_cache(maxsize=2)
def _now_member(now: int) -> str:
    return dump_members({"now": now})


def _logfile_value(value: object) -> object:
    if value is AUTO:
        return "auto"
    if value is None:
        return "none"
    return value


def _none(value: object) -> object:
    return "none" if value is None else value


def config_info(
    gconfig: GroupConfig,
    pconfig: ProcessConfig,
    inuse: bool,
    proc: Optional[Process] = None,
) -> dict[str, Any]:
    """One getAllConfigInfo entry.  ``proc`` is the live process when the
    group runs with this very config: stock then shows the AUTO log file
    names it created instead of ``'auto'``."""
    out: ChannelLogConfig = pconfig.stdout
    err: ChannelLogConfig = pconfig.stderr
    stdout_logfile = _logfile_value(out.logfile)
    stderr_logfile = _logfile_value(None if pconfig.redirect_stderr else err.logfile)
    if proc is not None:
        if out.logfile is AUTO and proc.stdout_logfile:
            stdout_logfile = proc.stdout_logfile
        if stderr_logfile == "auto" and proc.stderr_logfile:
            stderr_logfile = proc.stderr_logfile
    return {
        "autostart": pconfig.autostart,
        "directory": _none(pconfig.directory),
        "uid": _none(pconfig.uid),
        "command": pconfig.command,
        "exitcodes": list(pconfig.exitcodes),
        "group": gconfig.name,
        "group_prio": gconfig.priority,
        "inuse": inuse,
        "killasgroup": pconfig.killasgroup,
        "name": pconfig.name,
        "process_prio": pconfig.priority,
        "redirect_stderr": pconfig.redirect_stderr,
        "startretries": pconfig.startretries,
        "startsecs": pconfig.startsecs,
        "stdout_capture_maxbytes": out.capture_maxbytes,
        "stdout_events_enabled": out.events_enabled,
        "stdout_logfile": stdout_logfile,
        "stdout_logfile_backups": out.backups,
        "stdout_logfile_maxbytes": out.maxbytes,
        "stdout_syslog": out.syslog,
        "stopsignal": int(pconfig.stopsignal),
        "stopwaitsecs": pconfig.stopwaitsecs,
        "stderr_capture_maxbytes": err.capture_maxbytes,
        "stderr_events_enabled": err.events_enabled,
        "stderr_logfile": stderr_logfile,
        "stderr_logfile_backups": err.backups,
        "stderr_logfile_maxbytes": err.maxbytes,
        "stderr_syslog": err.syslog,
        # Stock keeps AUTO as "not set", so it shows as 'none'.
        "serverurl": "none" if pconfig.serverurl in (AUTO, None) else pconfig.serverurl,
    }


def group_result(proc: Process, status: int, description: str) -> dict[str, Any]:
    return {"name": proc.name, "group": proc.group.name, "status": status, "description": description}


def by_priority(processes: list[Process]) -> list[Process]:
    """Stable sort on priority alone: ties keep config order, as stock's do."""
    return sorted(processes, key=lambda p: p.config.priority)


def all_processes_by_priority(groups: dict[str, ProcessGroup]) -> list[Process]:
    out = []
    for group in sorted(groups.values(), key=lambda g: g.config.priority):
        out.extend(by_priority(list(group.processes.values())))
    return out
