"""CPU and memory of a program's whole process tree, measured only when asked.

Nothing here runs by itself: no timer, no background sampling.  A figure is
taken when a client asks for it (``ng.getProcessStats``, ``/metrics``, the
web page), so a daemon nobody watches pays nothing.

CPU % needs two readings of the CPU time counters.  The sampler keeps the
last reading of each program and answers with the usage between that reading
and now.  With no earlier reading (the first request after a start) it
answers with the average since the process started (CPU seconds over
lifetime), which needs no waiting and is a fair figure for a program that
runs steadily; the next request then gets the usage since this one.  Two
requests less than :data:`MIN_INTERVAL` apart share the last figure, so a
burst of clients does not turn the ratio into noise.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Optional

import psutil

MIN_INTERVAL = 1.0  # seconds; below this a CPU % delta is mostly rounding


@dataclass(frozen=True)
class TreeFigures:
    """One reading of a process tree (the program's main pid and every descendant)."""

    cpu_seconds: float  # user + system of the live tree and of its reaped children
    rss: int  # bytes, summed over the tree
    processes: int  # how many processes the tree has
    create_time: float  # epoch seconds the main process started


def _ppid_map() -> dict[int, list[int]]:
    """Children by parent pid, from one pass over /proc (psutil's
    ``children(recursive=True)`` makes that pass once per call)."""
    children: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["ppid"]):
        ppid = proc.info.get("ppid")
        if ppid is not None:
            children.setdefault(ppid, []).append(proc.pid)
    return children


def _orphans(
    children: dict[int, list[int]], roots: dict[int, tuple[str, str]]
) -> dict[int, list[int]]:
    """Descendants whose parent died were reparented to the daemon (a child
    subreaper); they carry their program's SUPERVISOR_* names in their
    environment.  Returns extra subtree roots per program main pid."""
    by_key = {key: pid for pid, key in roots.items() if key}
    extra: dict[int, list[int]] = {}
    if not by_key:
        return extra
    for pid in children.get(os.getpid(), []):
        if pid in roots:
            continue
        try:
            env = psutil.Process(pid).environ()
        except psutil.Error:
            continue
        owner = by_key.get(
            (env.get("SUPERVISOR_GROUP_NAME", ""), env.get("SUPERVISOR_PROCESS_NAME", ""))
        )
        if owner is not None:
            extra.setdefault(owner, []).append(pid)
    return extra


def _figures(pids: list[int]) -> Optional[TreeFigures]:
    try:
        create_time = psutil.Process(pids[0]).create_time()
    except psutil.Error:
        return None
    cpu = 0.0
    rss = 0
    count = 0
    for pid in pids:
        try:
            member = psutil.Process(pid)
            with member.oneshot():
                times = member.cpu_times()
                mem = member.memory_info()
        except psutil.Error:
            continue  # exited between listing and reading
        # children_*: descendants already reaped by this member, so the
        # counter does not drop when a worker exits.
        cpu += times.user + times.system + times.children_user + times.children_system
        rss += mem.rss
        count += 1
    return TreeFigures(cpu, rss, count, create_time)


def read_trees(roots: dict[int, tuple[str, str]]) -> dict[int, TreeFigures]:
    """Figures of each program tree, by main pid; ``roots`` maps main pids
    to (group, name).  Pids that are gone are left out."""
    if not roots:
        return {}
    children = _ppid_map()
    extra = _orphans(children, roots)
    out: dict[int, TreeFigures] = {}
    for root in roots:
        members = [root]
        seen = {root}
        queue = [*children.get(root, []), *extra.get(root, [])]
        while queue:
            pid = queue.pop()
            if pid in seen or pid in roots:
                continue
            seen.add(pid)
            members.append(pid)
            queue.extend(children.get(pid, []))
        figures = _figures(members)
        if figures is not None:
            out[root] = figures
    return out


@dataclass
class _Reading:
    pid: int
    at: float  # monotonic
    cpu_seconds: float
    percent: float


class ResourceSampler:
    """Remembers the last CPU reading per program, keyed by (group, name)."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time
    ) -> None:
        self._clock = clock
        self._wall = wall
        self._last: dict[tuple[str, str], _Reading] = {}

    def cpu_percent(self, key: tuple[str, str], pid: int, figures: TreeFigures) -> float:
        """CPU % of the tree (100 = one core busy) since the previous request."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and last.pid == pid:
            elapsed = now - last.at
            if elapsed < MIN_INTERVAL:
                return last.percent
            percent = max(0.0, figures.cpu_seconds - last.cpu_seconds) / elapsed * 100.0
        else:
            lifetime = self._wall() - figures.create_time
            percent = figures.cpu_seconds / lifetime * 100.0 if lifetime > 0 else 0.0
        self._last[key] = _Reading(pid, now, figures.cpu_seconds, percent)
        return percent

    def forget(self, key: tuple[str, str]) -> None:
        self._last.pop(key, None)

    def keep_only(self, keys: set[tuple[str, str]]) -> None:
        """Drop readings of programs that no longer exist (groups removed)."""
        for key in [k for k in self._last if k not in keys]:
            del self._last[key]
