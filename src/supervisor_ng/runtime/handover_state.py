"""A generation's live state handed to a new daemon binary (issue 16).

The daemon side (daemon.py, runtime/handover.py) calls :func:`capture` on
the loop right before it execs, passes the dict and the fds to the new
binary, which builds its ``Supervisor`` with ``adopt=`` that dict; the
adoption itself is :func:`adopt_generation`, run by ``Supervisor.run()``.

Fds keep their numbers across the exec, so the state names them by number.
Monotonic times are carried as they are: CLOCK_MONOTONIC runs on across an
exec, so a saved deadline (startsecs, backoff, stop escalation) is re-armed
as it stands.  A group whose config on disk changed since it was loaded
carries its old config (pickled: it is read back by the same package, and a
newer one falls back to stopping its processes by pid) so that the new
daemon can stop it as ``update`` would.
"""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING, Optional

from ..config.loader import load
from ..config.model import GroupConfig
from ..lazy_import import LazyModule
from .tree import parent_of

if TYPE_CHECKING:
    import base64
    import pickle
else:
    # Only a hand-over needs them.
    base64 = LazyModule("base64")
    pickle = LazyModule("pickle")

if TYPE_CHECKING:
    from .child import Process
    from .supervisor import ProcessGroup, Supervisor

FORMAT_VERSION: int = 1

_CAPTURED = "_handover_captured"  # the Supervisor attribute abort() resumes from


def capture(supervisor: Supervisor, compare_config: bool = True) -> tuple[dict, list[int]]:
    """The generation's live state and every fd it names; from now on nothing
    in this daemon reads or writes those fds (until :func:`abort`).  Raises
    ConfigError, having paused nothing, when the config on disk is unreadable.

    Without ``compare_config`` (the snapshot for the dry run, which loads the
    config itself) every group is said to be current: reading the config on
    disk costs ~0.1 s at 500 programs, on the loop and on the hand-over's
    critical path."""
    on_disk = load(supervisor.config.path, overrides=supervisor.overrides) if compare_config else None
    groups: dict[str, dict] = {}
    fds: list[int] = []
    for name, group in supervisor.groups.items():
        current = on_disk is None or on_disk.group(name) == group.config
        processes = {}
        for pname, proc in group.processes.items():
            saved, proc_fds = proc.hand_over()
            processes[pname] = saved
            fds += proc_fds
        socket = group.hand_over_socket()
        if socket is not None:
            fds.append(socket["fd"])
        groups[name] = {
            "current": current,
            "socket": socket,
            "config": None if current else base64.b64encode(pickle.dumps(group.config)).decode("ascii"),
            "processes": processes,
            "listeners": group.listeners.hand_over() if group.listeners is not None else None,
        }
    state = {"format": FORMAT_VERSION, "groups": groups, "dependencies": supervisor.dependencies.hand_over()}
    setattr(supervisor, _CAPTURED, state)
    return state, fds


def abort(supervisor: Supervisor) -> None:
    """The exec did not happen: every process takes its fds and timers back."""
    state = getattr(supervisor, _CAPTURED, None)
    if state is None:
        return
    delattr(supervisor, _CAPTURED)
    for name, saved_group in state["groups"].items():
        group = supervisor.groups.get(name)
        if group is None:
            continue
        group.take_over_socket(saved_group["socket"])
        for pname, saved in saved_group["processes"].items():
            proc = group.processes.get(pname)
            if proc is not None:
                supervisor.faults.run(f"resuming {pname}", lambda p=proc, s=saved: p.adopt(s))



def check(state: dict) -> list[str]:
    """What keeps this binary from adopting ``state``; [] when nothing does."""
    if not isinstance(state, dict):
        return ["the hand-over state is not a mapping"]
    if state.get("format") != FORMAT_VERSION:
        return [f"hand-over state format {state.get('format')!r}, this binary reads {FORMAT_VERSION}"]
    problems = []
    groups = state.get("groups")
    if not isinstance(groups, dict):
        return ["the hand-over state has no groups"]
    if "dependencies" not in state:
        problems.append("the hand-over state has no dependencies")
    for name, group in groups.items():
        for key in ("current", "config", "processes", "listeners"):
            if key not in group:
                problems.append(f"group {name}: missing {key!r}")
        for pname, saved in (group.get("processes") or {}).items():
            missing = [k for k in _PROCESS_KEYS if k not in saved]
            if missing:
                problems.append(f"process {pname}: missing {', '.join(missing)}")
    return problems


_PROCESS_KEYS = ("machine", "start_time", "stop_time", "spawns", "stdout_fd", "stderr_fd",
                 "stdin_fd", "stdin_backlog")


def adopt_generation(supervisor: Supervisor, state: dict) -> None:
    """Supervisor.run() with ``adopt=``: take every process over silently (no
    group or state events: nothing changed for listeners), then apply the
    config as ``update`` would, in the background."""
    from .supervisor import ProcessGroup

    sv = supervisor
    outdated: list[tuple[str, ProcessGroup]] = []
    for name, saved_group in state["groups"].items():
        gconfig = sv.config.group(name) if saved_group["current"] else _old_config(sv, name, saved_group)
        if gconfig is None:
            _orphans(sv, name, saved_group)
            continue  # added again below if the config has it
        group = ProcessGroup(gconfig, sv)
        sv.groups[name] = group
        sv.membership_changed()
        group.take_over_socket(saved_group.get("socket"))
        for pname, saved in saved_group["processes"].items():
            proc = group.processes.get(pname)
            if proc is None:
                _stop_unadoptable(sv, pname, saved, "not in its group's config")
                continue
            _adopt_process(sv, proc, saved)
        pool = group.listeners
        if pool is not None and saved_group.get("listeners"):
            sv.faults.run(f"taking over the listener pool {name}", pool.take_over, saved_group["listeners"])
            pool.dispatch()
        if not saved_group["current"]:
            outdated.append((name, group))
    sv.dependencies.forget()
    sv.faults.run("taking over the dependency waiters", sv.dependencies.take_over, state["dependencies"])
    # Spawns the old daemon had not made yet, if any.
    sv.autostart([group for group in sv.groups.values() if all(group is not g for _, g in outdated)])
    added = [g for g in sv.config.groups if g.name not in sv.groups]
    sv.background("applying the config after the hand-over", _update(sv, outdated, added))


async def _update(sv: Supervisor, outdated: list[tuple[str, ProcessGroup]], added: list[GroupConfig]) -> None:
    """``update``: changed and removed groups stopped and removed, changed
    and added ones added and started."""
    await sv.stop_groups([g for _, g in outdated])
    for name, _ in outdated:
        sv.remove_group(name)
    for name, _ in outdated:
        gconfig = sv.config.group(name)
        if gconfig is not None:
            sv.add_group(gconfig)
    for gconfig in added:
        sv.add_group(gconfig)


def _old_config(sv: Supervisor, name: str, saved_group: dict) -> Optional[GroupConfig]:
    try:
        gconfig = pickle.loads(base64.b64decode(saved_group["config"]))
    except Exception as exc:  # written by another version of the package
        sv.log.warn(f"cannot read the former config of group {name} ({exc})")
        return None
    return gconfig if isinstance(gconfig, GroupConfig) else None


def _adopt_process(sv: Supervisor, proc: Process, saved: dict) -> None:
    pid = saved.get("machine", {}).get("pid", 0)
    if pid and parent_of(pid) != os.getpid():
        _stop_unadoptable(sv, proc.name, saved, f"pid {pid} is not a child of this daemon")
        _restart(sv, proc, saved)
        return
    try:
        proc.adopt(saved)
    except Exception as exc:
        sv.log.warn(f"cannot adopt {proc.name}: {exc!r}; restarting it")
        _stop_unadoptable(sv, proc.name, saved, "")
        _restart(sv, proc, saved)


def _restart(sv: Supervisor, proc: Process, saved: dict) -> None:
    """A fresh machine, started again if it was meant to run."""
    if saved.get("machine", {}).get("state") in ("STARTING", "RUNNING", "BACKOFF"):
        sv.faults.run(f"restarting {proc.name}", proc.start)


def _orphans(sv: Supervisor, name: str, saved_group: dict) -> None:
    for pname, saved in saved_group["processes"].items():
        _stop_unadoptable(sv, pname, saved, f"group {name} cannot be rebuilt")


def _stop_unadoptable(sv: Supervisor, name: str, saved: dict, reason: str) -> None:
    """Never leave a child running unwatched: SIGKILL it (the reaper collects
    it as an unknown pid) and close the fds it came with."""
    if reason:
        sv.log.warn(f"cannot adopt {name}: {reason}")
    pid = saved.get("machine", {}).get("pid", 0)
    if pid and parent_of(pid) == os.getpid():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for key in ("stdout_fd", "stderr_fd", "stdin_fd"):
        fd = saved.get(key)
        if isinstance(fd, int):
            try:
                os.close(fd)
            except OSError:
                pass
