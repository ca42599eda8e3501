"""``ng.*``: what supervisor-ng adds to the API, in a namespace of its own.

The stock ``supervisor.*`` structures stay exactly as they are (tools compare
their keys); per-program resource figures live here instead.  Figures are
measured when a method is called, never in the background, and a reading is
shared by the requests of the next second (:mod:`..runtime.resources`).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from .. import SUPERVISOR_VERSION
from .. import __version__ as NG_VERSION
from ..core.states import ProcessState
from ..runtime.cgroup_figures import cgroup_stats
from ..runtime.resources import ResourceSampler, TreeFigures
from ..runtime.slices import in_slices
from . import info
from .api_common import ApiPart
from .marshalling import EncodedStruct, dump_members

if TYPE_CHECKING:
    from ..runtime.child import Process
    from ..runtime.supervisor import Supervisor

_KIB = 1024


def process_stats(
    proc: Process,
    sampler: ResourceSampler,
    trees: dict[int, TreeFigures],
    now: Optional[float] = None,
) -> dict[str, Any]:
    """One stats struct.  Memory is in KiB: XML-RPC ints are 32-bit, and
    bytes would overflow at 2 GiB."""
    now = time.time() if now is None else now
    pid = proc.pid
    state = proc.state
    group, name = key = (proc.group.name, proc.name)
    figures = trees.get(pid) if pid else None
    if figures is None:
        sampler.forget(key)
        cpu_percent, cpu_seconds, rss, nprocs = 0.0, 0.0, 0, 0
    else:
        cpu_percent = sampler.cpu_percent(key, pid, figures)
        cpu_seconds, rss, nprocs = figures.cpu_seconds, figures.rss, figures.processes
    started = proc.start_time
    running = state == ProcessState.RUNNING and started
    spawns = getattr(proc, "spawns", 0)
    liveness = proc.liveness
    requires = proc.supervisor.dependencies.requires(proc)
    return {
        "name": name,
        "group": group,
        "pid": pid,
        "state": int(state),
        "statename": state.name,
        "cpu_percent": round(cpu_percent, 2),
        "cpu_seconds": round(cpu_seconds, 3),
        "rss_kb": rss // _KIB,
        "processes": nprocs,
        "spawns": spawns,
        "restarts": max(spawns - 1, 0),
        "start": info.capped_int(started),
        "uptime": max(0, int(now - started)) if running else 0,
        "exitstatus": proc.exitstatus or 0,
        "depends_on": [f"{d.group.name}:{d.name}" for d in requires] if requires else [],
        "status_text": proc.notify_status or "",
        "health": liveness.summary(),
        "has_checks": liveness.has_checks,
        "healthy": liveness.healthy,
        **liveness.counters(),
        **cgroup_stats(group, name, figures),  # issue 17
    }


class StatsNamespace(ApiPart):
    """The methods of the ``ng`` namespace."""

    def __init__(self, get_supervisor: Callable[[], Supervisor], sampler: ResourceSampler) -> None:
        super().__init__(get_supervisor)
        self.sampler = sampler

    async def _measure(self, procs: list[Process], every: list[Process]) -> dict[int, TreeFigures]:
        """Figures of the trees of ``procs``; ``every`` process of the daemon
        is named so that none is mistaken for another's orphan."""
        roots = {p.pid: (p.group.name, p.name) for p in procs if p.pid}
        return await self.sampler.trees.read(roots, {p.pid for p in every if p.pid})

    def getVersion(self) -> str:
        """The version of supervisor-ng itself (supervisor.getSupervisorVersion
        keeps answering the stock version it is compatible with).

        @return string version  e.g. '0.1.0'
        """
        return NG_VERSION

    async def getProcessStats(self, name: str) -> dict[str, Any]:
        """CPU, memory and restart figures of one process, its whole tree
        of descendants included.

        cpu_percent is the usage since the previous stats request for this
        process (100 = one core), or the average since it started on the
        first request; cpu_seconds is user + system time; rss_kb is the
        resident memory in KiB; restarts counts spawns after the first
        one since the daemon (re)started.

        depends_on lists the 'group:name' of the processes it waits for
        (depends_on, resolved).  status_text is the last STATUS= the
        program sent over sd_notify ("" if none).  health is a one-line summary of its watchdog and health check
        ("" without them, "healthy", "check failing 2/3: HTTP 503" ...);
        has_checks says whether one watches it, healthy whether it is RUNNING
        and passing them.  ready_probes, health_checks, health_failures,
        watchdog_timeouts and unhealthy_restarts count since the daemon
        (re)loaded its configuration.  In cgroup mode: memory_peak_kb,
        io_read_kb and io_write_kb from the program's cgroup (-1 where not
        measured), oom_kills in its cgroup during the run that ended last
        and exit_description ("killed by the OOM killer ..." or "").

        @param string name    process name or 'group:name'
        @return struct stats  name, group, pid, state, statename, cpu_percent,
                              cpu_seconds, rss_kb, processes, spawns, restarts,
                              start, uptime, exitstatus, depends_on,
                              status_text, health,
                              has_checks, healthy, ready_probes, health_checks,
                              health_failures, watchdog_timeouts,
                              unhealthy_restarts, memory_peak_kb,
                              io_read_kb, io_write_kb, oom_kills,
                              exit_description
        """
        control = self._control()
        proc = control.process(name)
        return process_stats(proc, self.sampler, await self._measure([proc], control.lexical()))

    async def getAllProcessStats(self) -> list[dict[str, Any]]:
        """getProcessStats for every process, by group name then process name.

        @return array result  one getProcessStats struct per process
        """
        procs = self._control().lexical()
        self.sampler.keep_only({(p.group.name, p.name) for p in procs})
        trees = await self._measure(procs, procs)
        now = time.time()  # after the reading: states and pids are read as of now too
        out: list[dict[str, Any]] = []

        # A thousand structs are tens of milliseconds to build and as many
        # again to marshal: both are done here, a slice per turn of the loop,
        # so that the server's dump of the answer is only a join.  (/metrics
        # reads them as the dicts they still are.)
        def add(proc: Process) -> None:
            stats = process_stats(proc, self.sampler, trees, now)
            out.append(EncodedStruct(stats, (dump_members(stats),)))

        await in_slices(procs, add)
        return out

    def getDependencies(self) -> list[dict[str, Any]]:
        """The start order between processes (depends_on), names resolved
        against the running configuration.  Only processes that depend on
        something, or that something depends on, are listed.

        @return array result  one struct per process: name ('group:name'),
                              depends_on and dependents (arrays of 'group:name')
        """
        return self._any_control().sv.dependencies.graph()

    def getDaemonStats(self) -> dict[str, Any]:
        """Figures of the daemon process itself (its children not included).

        @return struct stats  pid, version, supervisor_version, identification,
                              statename, cpu_seconds, rss_kb, start
        """
        control = self._any_control()
        import psutil  # only when the daemon's own figures are asked for

        me = psutil.Process(os.getpid())
        with me.oneshot():
            times = me.cpu_times()
            rss = me.memory_info().rss
            started = me.create_time()
        return {
            "pid": os.getpid(),
            "version": NG_VERSION,
            "supervisor_version": SUPERVISOR_VERSION,
            "identification": control.identification,
            "statename": control.state.name,
            "cpu_seconds": round(times.user + times.system, 3),
            "rss_kb": rss // _KIB,
            "start": info.capped_int(started),
        }
