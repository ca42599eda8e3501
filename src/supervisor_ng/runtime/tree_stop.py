"""Signals of a stop, and what a stopped program leaves behind.

The state machine follows the main process only, as stock's does; this is
what its ``Kill`` actions mean for the rest of the program's processes
(systemd's ``KillMode=mixed``):

- ``stopasgroup`` / ``killasgroup``: the signal goes to the process group
  and to every descendant (:mod:`.tree`), detached ones included;
- once the main process has exited on a stop, whatever it left (children,
  ``setsid`` grandchildren, orphans reparented to the daemon) gets the stop
  signal, unless it had it already, and SIGKILL when ``stopwaitsecs``,
  counted from the stop request, runs out: a leftover gets the same grace
  as the main process, never less;
- in cgroup mode (:mod:`.cgroup`) the members are the kernel's list of the
  process's cgroup (no /proc scan, no escape by setsid), SIGKILL is one
  write to ``cgroup.kill`` and the end of the leftovers' grace is cancelled
  as soon as ``cgroup.events`` says the cgroup is empty;
- ``stopleftovers = false``: stock behaviour, the signal goes to the pid or
  its process group and nothing else is touched, for programs that leave a
  detached child running on purpose.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.process import signame
from ..lazy_import import psutil
from . import cgroup
from .tree import kill_survivors, signal_members, signal_tree, tree_members

if TYPE_CHECKING:
    from .child import Process


@dataclass
class _Stop:
    """One stop of one main process, from the request to the last leftover."""

    pid: int
    deadline: float  # monotonic: stop request + stopwaitsecs
    members: dict[int, psutil.Process] = field(default_factory=dict)
    signalled: set[int] = field(default_factory=set)  # had the stop signal already


@dataclass
class _CgroupStop:
    """One stop of one main process in cgroup mode."""

    pid: int
    deadline: float
    cg: cgroup.ProgramCgroup
    signalled: set[int] = field(default_factory=set)


class TreeStop:
    """Owned by a :class:`~.child.Process`; it carries out the machine's
    kills and sees the leftovers of each stop to their end."""

    __slots__ = ("_process", "_stop", "_leftovers", "_cg_stop", "_cg_leftovers")  # one per program

    def __init__(self, process: Process) -> None:
        self._process = process
        self._stop: _Stop | None = None  # the stop under way, until the main pid exits
        # Waiting for their SIGKILL at a deadline (monotonic): processes by
        # pid, cgroups by path.
        self._leftovers: dict[int, tuple[psutil.Process, float]] = {}
        self._cg_stop: _CgroupStop | None = None
        self._cg_leftovers: dict[str, tuple[cgroup.ProgramCgroup, float]] = {}

    def kill(self, pid: int, sig: int, whole_tree: bool, stopping: bool) -> None:
        """Send a ``Kill`` of the machine to ``pid`` (and, as configured, to
        its tree).  ``stopping`` is False for signalProcess, which reaches the
        pid alone.  Raises OSError other than "no such process"."""
        config = self._process.config
        tree = cgroup.active()
        cg = tree.of_pid(pid) if tree is not None else None
        try:
            if cg is not None and stopping and config.stopleftovers:
                self._kill_cgroup(pid, sig, whole_tree, cg)
            elif not stopping:
                os.kill(pid, sig)
            elif not config.stopleftovers:
                if whole_tree:
                    os.killpg(pid, sig)
                else:
                    os.kill(pid, sig)
            else:
                stop = self._begin(pid)
                if whole_tree:
                    stop.members.update(self._members(stop, orphans=True))
                    signal_tree(pid, sig, stop.members)
                    if sig == config.stopsignal:
                        stop.signalled.update(stop.members)
                else:
                    os.kill(pid, sig)
        except ProcessLookupError:
            pass  # it died already; the reaper will tell the machine

    def main_exited(self) -> None:
        """The main process of a stop has exited: its leftovers get the stop
        signal now and SIGKILL at the stop's deadline."""
        cg_stop, self._cg_stop = self._cg_stop, None
        if cg_stop is not None:
            self._cgroup_leftovers(cg_stop)
        stop, self._stop = self._stop, None
        if stop is None or not self._process.config.stopleftovers:
            return
        stop.members.update(self._members(stop, orphans=True))
        host = self._process.supervisor.host
        if host.monotonic() < stop.deadline:
            sig = self._process.config.stopsignal
            fresh = [proc for pid, proc in stop.members.items() if pid not in stop.signalled]
            reached = signal_members(sig, fresh)
            if reached:
                self._process.supervisor.log.info(
                    f"sent {signame(sig)} to {len(reached)} leftover process(es) of "
                    f"{self._process.config.name}: " + ", ".join(map(str, reached))
                )
        if stop.members:
            self._leftovers.update((pid, (proc, stop.deadline)) for pid, proc in stop.members.items())
            host.call_at(stop.deadline, lambda: self._kill_leftovers(stop.members))

    def live_state(self) -> dict:
        """What this holds between a stop request and its last SIGKILL."""
        stop = self._stop or self._cg_stop
        in_cgroups = [pid for cg, _deadline in self._cg_leftovers.values() for pid in cg.pids()]
        return {
            "stopping": None if stop is None else {"pid": stop.pid, "deadline": stop.deadline},
            "leftovers": sorted({*self._leftovers, *in_cgroups}),
        }

    @property
    def busy(self) -> bool:
        return bool(self._stop or self._cg_stop or self._leftovers or self._cg_leftovers)

    def hand_over(self) -> dict:
        """The stop under way and the leftovers waiting for their SIGKILL, for
        a hand-over by exec: processes by pid and start time (a pid may be
        reused meanwhile), cgroups by path, deadlines as they stand
        (CLOCK_MONOTONIC runs on across the exec)."""
        stop, cg_stop = self._stop, self._cg_stop
        return {
            "stop": None if stop is None else {
                "pid": stop.pid, "deadline": stop.deadline, "signalled": sorted(stop.signalled),
                "members": [[pid, _started(proc)] for pid, proc in stop.members.items()],
            },
            "cg_stop": None if cg_stop is None else {
                "pid": cg_stop.pid, "deadline": cg_stop.deadline, "signalled": sorted(cg_stop.signalled),
                "path": cg_stop.cg.path, "stem": cg_stop.cg.stem,
            },
            "leftovers": [[pid, _started(proc), deadline] for pid, (proc, deadline) in self._leftovers.items()],
            "cg_leftovers": [[cg.path, cg.stem, deadline] for cg, deadline in self._cg_leftovers.values()],
        }  # fmt: skip

    def take_over(self, saved: dict) -> None:
        """In the new image: the stop goes on where it was, and each leftover
        still alive gets its SIGKILL at its deadline."""
        stop = saved.get("stop")
        if stop is not None:
            self._stop = _Stop(stop["pid"], stop["deadline"], _same_processes(stop["members"]),
                               set(stop["signalled"]))  # fmt: skip
        cg_stop = saved.get("cg_stop")
        if cg_stop is not None:
            cg = cgroup.ProgramCgroup(cg_stop["path"], cg_stop["stem"])
            self._cg_stop = _CgroupStop(cg_stop["pid"], cg_stop["deadline"], cg, set(cg_stop["signalled"]))
        batches: dict[float, dict[int, psutil.Process]] = {}
        for pid, started, deadline in saved.get("leftovers", ()):
            for found_pid, proc in _same_processes([[pid, started]]).items():
                batches.setdefault(deadline, {})[found_pid] = proc
                self._leftovers[found_pid] = (proc, deadline)
        host = self._process.supervisor.host
        for deadline, members in batches.items():
            host.call_at(deadline, lambda members=members: self._kill_leftovers(members))
        tree = cgroup.active()
        for path, stem, deadline in saved.get("cg_leftovers", ()):
            cg = cgroup.ProgramCgroup(path, stem)
            if tree is not None and cg.populated():
                self._watch_cgroup_leftovers(tree, cg, deadline)

    def _kill_cgroup(self, pid: int, sig: int, whole_tree: bool, cg: cgroup.ProgramCgroup) -> None:
        stop = self._cg_stop
        if stop is None or stop.pid != pid:
            now = self._process.supervisor.host.monotonic()
            stop = self._cg_stop = _CgroupStop(pid, now + self._process.config.stopwaitsecs, cg)
        if not whole_tree:
            os.kill(pid, sig)
        elif sig == signal.SIGKILL:
            cg.kill()
        else:
            # The group first, as stock does (a member that left the cgroup
            # on purpose still hears it), then every member of the cgroup.
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                pass
            reached = cg.signal(sig)
            if sig == self._process.config.stopsignal:
                stop.signalled.update(reached)

    def _cgroup_leftovers(self, stop: _CgroupStop) -> None:
        """The main process of a stop in cgroup mode exited: what its cgroup
        still holds gets the stop signal now and ``cgroup.kill`` at the
        deadline, unless the cgroup empties first."""
        cg = stop.cg
        tree = cgroup.active()
        if tree is None or not cg.populated():
            return
        sv = self._process.supervisor
        config = self._process.config
        if sv.host.monotonic() < stop.deadline:
            reached = cg.signal(config.stopsignal, frozenset(stop.signalled))
            if reached:
                sv.log.info(
                    f"sent {signame(config.stopsignal)} to {len(reached)} leftover process(es) of "
                    f"{config.name}: " + ", ".join(map(str, reached))
                )
        self._watch_cgroup_leftovers(tree, cg, stop.deadline)

    def _watch_cgroup_leftovers(self, tree: cgroup.CgroupTree, cg: cgroup.ProgramCgroup, deadline: float) -> None:
        """``cgroup.kill`` at the deadline, unless the cgroup empties first."""
        sv = self._process.supervisor
        self._cg_leftovers[cg.path] = (cg, deadline)
        timer = sv.host.call_at(deadline, lambda: self._kill_cgroup_leftovers(cg))

        def gone() -> None:
            timer.cancel()
            self._cg_leftovers.pop(cg.path, None)
            if not tree.is_current(cg):
                cg.remove()

        try:
            tree.when_empty(cg, gone)
        except OSError as exc:
            sv.log.warn(f"cannot watch {cg.path} for its end: {exc}")

    def _kill_cgroup_leftovers(self, cg: cgroup.ProgramCgroup) -> None:
        if cg.path not in self._cg_leftovers:
            return
        killed = cg.kill()
        if killed:
            self._process.supervisor.log.warn(
                f"killed {len(killed)} leftover process(es) of {self._process.config.name}: "
                + ", ".join(map(str, killed))
            )

    def _begin(self, pid: int) -> _Stop:
        """The stop under way, or a new one from now: the first kill of a stop
        records who belongs to the program while the main process still
        lives (a child that later drops its environment is still known);
        orphans are looked for when the tree is signalled, not here."""
        stop = self._stop
        if stop is None or stop.pid != pid:
            now = self._process.supervisor.host.monotonic()
            stop = self._stop = _Stop(pid, now + self._process.config.stopwaitsecs)
            stop.members.update(self._members(stop, orphans=False))
        return stop

    def _members(self, stop: _Stop, orphans: bool) -> dict[int, psutil.Process]:
        sv = self._process.supervisor
        config = self._process.config
        managed = sv.pids() if orphans else ()
        return tree_members(
            stop.pid, config.group, config.name, managed, sv.process_table(), stop.members.values(), orphans
        )

    def _kill_leftovers(self, members: dict[int, psutil.Process]) -> None:
        for pid in members:
            self._leftovers.pop(pid, None)
        killed = kill_survivors(members)
        if killed:
            self._process.supervisor.log.warn(
                f"killed {len(killed)} leftover process(es) of {self._process.config.name}: "
                + ", ".join(map(str, killed))
            )



def _started(proc: psutil.Process) -> float:
    try:
        return proc.create_time()
    except psutil.Error:
        return 0.0


def _same_processes(saved: list) -> dict[int, psutil.Process]:
    """The processes of ``[[pid, start time], ...]`` that are still those."""
    found: dict[int, psutil.Process] = {}
    for pid, started in saved:
        try:
            proc = psutil.Process(pid)
            if abs(proc.create_time() - started) < 0.01:
                found[pid] = proc
        except psutil.Error:
            continue
    return found
