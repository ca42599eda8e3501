"""Per-program figures read from the cgroup each process lives in.

A :class:`~.resources.TreeSource` for the cgroup mode: a program's CPU time,
memory and task count are a few small reads of its cgroup's files, whatever
the number of processes in its tree or on the host; no /proc scan.  Where a
controller is not enabled (a hybrid host keeps memory and pids on v1) the
figure is summed over the cgroup's members, listed by the kernel.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..lazy_import import psutil
from . import cgroup
from .resources import ProcTrees, TreeFigures
from .tree import Owner

_PAGE = os.sysconf("SC_PAGE_SIZE")


_TICKS = os.sysconf("SC_CLK_TCK")


def _create_time(pid: int) -> Optional[float]:
    """psutil's create_time, from one read of /proc/PID/stat (psutil.Process()
    costs several reads: a tenth of a millisecond per program)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    if len(fields) < 20 or fields[0] == b"Z":
        return None
    return _boot_time() + int(fields[19]) / _TICKS


@functools.lru_cache(maxsize=1)
def _boot_time() -> float:
    return psutil.boot_time()


def _rss_of_members(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(cgroup.read_small(f"/proc/{pid}/statm").split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


@dataclass(frozen=True)
class CgroupFigures(TreeFigures):
    """A reading with what only a cgroup knows (None: controller not on)."""

    memory_peak: Optional[int] = None  # bytes, memory.peak (Linux 5.19+)
    io: Optional[tuple[int, int]] = None  # (read, written) bytes, io.stat


_XMLRPC_INT_MAX = 2**31 - 1


def _kib(value: Optional[int]) -> int:
    return -1 if value is None else min(value // 1024, _XMLRPC_INT_MAX)


def cgroup_stats(group: str, name: str, figures: Optional[TreeFigures]) -> dict[str, Any]:
    """The ng.* stats keys of the cgroup mode, present in both modes so the
    struct keeps its shape: -1 for a figure not measured here (psutil mode,
    or the controller is not on), the OOM kills of the last exit (-1: not
    known without the memory controller) and its description ("" when the
    OOM killer had no part in it)."""
    tree = cgroup.active()
    oom_kills, words = -1, ""
    if tree is not None and "memory" in tree.controllers:
        oom_kills, words = tree.last_exit(group, name)
    extra = figures if isinstance(figures, CgroupFigures) else None
    io = extra.io if extra is not None else None
    return {
        "memory_peak_kb": _kib(extra.memory_peak if extra is not None else None),
        "io_read_kb": _kib(io[0] if io is not None else None),
        "io_write_kb": _kib(io[1] if io is not None else None),
        "oom_kills": oom_kills,
        "exit_description": words,
    }


class CgroupTrees:
    """Figures of each program process from its cgroup; processes the daemon
    did not place (none, normally) are read from /proc as before."""

    def __init__(self, tree: cgroup.CgroupTree, clock: Callable[[], float] = time.monotonic) -> None:
        self._tree = tree
        self._clock = clock
        self._fallback = ProcTrees(clock)
        # A main pid's start time cannot change while it lives in its cgroup:
        # read once, not at every scrape.
        self._started: dict[int, tuple[cgroup.ProgramCgroup, float]] = {}

    def readings(
        self, roots: dict[int, Owner], managed: set[int]
    ) -> Iterator[tuple[int, Optional[TreeFigures]]]:
        strays: dict[int, Owner] = {}
        self._started = {pid: v for pid, v in self._started.items() if self._tree.of_pid(pid) is v[0]}
        for root, owner in roots.items():
            cg = self._tree.of_pid(root)
            if cg is None:
                strays[root] = owner
                continue
            yield root, self.figures(root, cg)
        if strays:
            yield from self._fallback.readings(strays, managed)

    def figures(self, root: int, cg: cgroup.ProgramCgroup) -> Optional[TreeFigures]:
        known = self._started.get(root)
        if known is not None and known[0] is cg:
            create_time: Optional[float] = known[1]
        else:
            create_time = _create_time(root)
            if create_time is None:
                return None
            self._started[root] = (cg, create_time)
        # A file of a controller that is not on is not tried: on a hybrid
        # host a failed open costs about what a read does, twice per program.
        controllers = self._tree.controllers
        tasks = cg.tasks() if "pids" in controllers else None
        memory = cg.memory() if "memory" in controllers else None
        pids: Optional[list[int]] = None
        if tasks is None or memory is None:
            pids = cg.pids()
            if not pids:
                return None
        return CgroupFigures(
            cpu_seconds=cg.cpu_seconds(),
            rss=memory if memory is not None else _rss_of_members(pids or []),
            processes=tasks if tasks is not None else len(pids or []),
            create_time=create_time,
            at=self._clock(),
            memory_peak=cg.memory_peak() if memory is not None else None,
            io=cg.io_bytes() if "io" in controllers else None,
        )
