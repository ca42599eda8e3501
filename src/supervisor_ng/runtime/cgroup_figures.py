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
from typing import Callable, Optional

import psutil

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
            with open(f"/proc/{pid}/statm", "rb") as f:
                total += int(f.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


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
        tasks = cg.tasks()
        memory = cg.memory()
        pids: Optional[list[int]] = None
        if tasks is None or memory is None:
            pids = cg.pids()
            if not pids:
                return None
        return TreeFigures(
            cpu_seconds=cg.cpu_seconds(),
            rss=memory if memory is not None else _rss_of_members(pids or []),
            processes=tasks if tasks is not None else len(pids or []),
            create_time=create_time,
            at=self._clock(),
        )
