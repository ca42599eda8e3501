"""CPU and memory of a program's whole process tree, measured only when asked.

Nothing here runs by itself: no timer, no background sampling.  A figure is
taken when a client asks for it (``ng.getProcessStats``, ``/metrics``, the
web page), so a daemon nobody watches pays nothing.

What a request costs does not grow with the host, and never holds the loop:

- a tree is found by following the kernel's children lists down from the
  program's main pid (:class:`.tree.ProcessTable`), not by reading every
  process of the host;
- a reading answers every request for :data:`MAX_AGE` seconds (a scrape,
  the page and ``supervisorctl status --stats`` share one), and only one
  reading is under way at a time: a request that comes meanwhile waits for it;
- a reading is taken on the loop in slices of :data:`SLICE` seconds, the
  loop serving everyone else in between.

Where the figures come from is a :class:`TreeSource`; :class:`ProcTrees`
reads /proc; in cgroup mode :class:`.cgroup_figures.CgroupTrees` reads each
program's cgroup instead, without the cache or the API noticing.

CPU % needs two readings of the CPU time counters.  The sampler keeps the
last reading of each program and answers with the usage between that reading
and this one.  With no earlier reading (the first request after a start) it
answers with the average since the process started (CPU seconds over
lifetime), which needs no waiting and is a fair figure for a program that
runs steadily; the next request then gets the usage since this one.  Two
readings less than :data:`MIN_INTERVAL` apart share the last figure, so a
burst of clients does not turn the ratio into noise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional, Protocol

from . import cgroup
from .tree import Owner, ProcessTable

if TYPE_CHECKING:
    import psutil

MIN_INTERVAL = 1.0  # seconds; below this a CPU % delta is mostly rounding
MAX_AGE = 1.0  # seconds a reading answers requests
# Seconds of reading between two turns of the loop.  A client's request
# needs a few turns (accept, read, answer), each of which may wait for one
# slice: short slices keep that sum well under 20 ms.
SLICE = 0.002

Clock = Callable[[], float]


@dataclass(frozen=True)
class TreeFigures:
    """One reading of a process tree (the program's main pid and every descendant)."""

    cpu_seconds: float  # user + system of the live tree and of its reaped children
    rss: int  # bytes, summed over the tree
    processes: int  # how many processes the tree has
    create_time: float  # epoch seconds the main process started
    at: float = 0.0  # monotonic time of the reading (0: unknown, taken as "now")


class TreeSource(Protocol):
    def readings(
        self, roots: dict[int, Owner], managed: set[int]
    ) -> Iterator[tuple[int, Optional[TreeFigures]]]:
        """Figures of each program tree, by main pid, one tree at a time (None:
        the pid is gone).  ``roots`` maps main pids to their program; ``managed``
        holds every main pid of the daemon, none of which is another's member."""
        ...


class ProcTrees:
    """Figures from /proc: the tree below a main pid, plus the orphans its
    program left to the daemon (they carry the program's names)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock

    def readings(
        self, roots: dict[int, Owner], managed: set[int]
    ) -> Iterator[tuple[int, Optional[TreeFigures]]]:
        table = ProcessTable()
        skip = managed | set(roots)
        table.adopted(skip)  # before members() asks with a root left out of it
        for root, owner in roots.items():
            main = table.process(root)
            if main is None:
                yield root, None
                continue
            members = table.members([main], owner, skip - {root})
            yield root, self._figures(main, members.values())

    def _figures(self, main: psutil.Process, members: Iterable[psutil.Process]) -> Optional[TreeFigures]:
        import psutil  # at the first reading: a daemon nobody measures never loads it for this

        try:
            create_time = main.create_time()
        except psutil.Error:
            return None
        cpu = 0.0
        rss = 0
        count = 0
        for member in members:
            try:
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
        if not count:
            return None
        return TreeFigures(cpu, rss, count, create_time, self._clock())


def read_trees(roots: dict[int, Owner], managed: Iterable[int] = ()) -> dict[int, TreeFigures]:
    """Figures of each program tree, by main pid, read at once (pids that are
    gone are left out)."""
    return {pid: f for pid, f in ProcTrees().readings(roots, set(managed)) if f is not None}


@dataclass(frozen=True)
class _Entry:
    at: float
    owner: Owner
    figures: Optional[TreeFigures]


class TreeFiguresCache:
    """Readings shared between requests for ``max_age`` seconds, taken in
    slices of the loop, one reading at a time."""

    def __init__(
        self,
        source: Optional[TreeSource] = None,
        max_age: float = MAX_AGE,
        clock: Clock = time.monotonic,
    ) -> None:
        self._source: Optional[TreeSource] = source  # chosen at the first reading (the mode is known by then)
        self._max_age = max_age
        self._clock = clock
        self._entries: dict[int, _Entry] = {}
        self._reading: Optional[asyncio.Future[None]] = None

    async def read(self, roots: dict[int, Owner], managed: Iterable[int]) -> dict[int, TreeFigures]:
        """Figures of each tree in ``roots`` (main pid -> program), none older
        than ``max_age``; pids that are gone are left out."""
        while True:
            missing = self._missing(roots)
            if not missing:
                break
            if self._reading is None:
                await self._take(missing, set(managed))
                break  # even if its first trees aged meanwhile: a slow reading must not loop
            # The reading under way may answer this request too; shielded, so
            # that a client that goes away does not cancel it for the others.
            await asyncio.shield(self._reading)
        out = {}
        for pid in roots:
            entry = self._entries.get(pid)
            if entry is not None and entry.figures is not None:
                out[pid] = entry.figures
        return out

    def _missing(self, roots: dict[int, Owner]) -> dict[int, Owner]:
        oldest = self._clock() - self._max_age
        missing = {}
        for pid, owner in roots.items():
            entry = self._entries.get(pid)
            if entry is None or entry.at < oldest or entry.owner != owner:
                missing[pid] = owner
        return missing

    def _chosen_source(self) -> TreeSource:
        if self._source is None:
            tree = cgroup.active()
            if tree is not None:
                from .cgroup_figures import CgroupTrees  # it builds on this module

                self._source = CgroupTrees(tree, self._clock)
            else:
                self._source = ProcTrees(self._clock)
        return self._source

    async def _take(self, roots: dict[int, Owner], managed: set[int]) -> None:
        self._reading = asyncio.get_running_loop().create_future()
        try:
            oldest = self._clock() - self._max_age
            self._entries = {pid: e for pid, e in self._entries.items() if e.at >= oldest}
            # The caller's turn already did its share (a request parsed, the
            # process list sorted): the reading's first slice gets a turn of
            # its own rather than lengthening that one.
            await asyncio.sleep(0)
            turn_began = self._clock()
            for pid, figures in self._chosen_source().readings(roots, managed):
                now = self._clock()
                self._entries[pid] = _Entry(now, roots[pid], figures)
                if now - turn_began >= SLICE:
                    await asyncio.sleep(0)
                    turn_began = self._clock()
        finally:
            self._reading.set_result(None)
            self._reading = None


@dataclass
class _Reading:
    pid: int
    at: float  # monotonic
    cpu_seconds: float
    percent: float


class ResourceSampler:
    """Remembers the last CPU reading per program, keyed by (group, name),
    and holds the readings every request shares (``trees``)."""

    def __init__(
        self, clock: Clock = time.monotonic, wall: Clock = time.time
    ) -> None:
        self._clock = clock
        self._wall = wall
        self._last: dict[tuple[str, str], _Reading] = {}
        self.trees = TreeFiguresCache(clock=clock)

    def cpu_percent(self, key: tuple[str, str], pid: int, figures: TreeFigures) -> float:
        """CPU % of the tree (100 = one core busy) between the previous reading and this one."""
        now = figures.at or self._clock()
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
