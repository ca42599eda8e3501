"""The readings of program trees are shared between requests, taken one at a
time, and in slices that let the loop serve others (runtime/resources.py)."""

from __future__ import annotations

import asyncio
import os

from supervisor_ng.runtime.resources import SLICE, ProcTrees, TreeFigures, TreeFiguresCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Source:
    """Every tree costs one SLICE of the fake clock; calls are counted."""

    def __init__(self, clock: Clock, log: list) -> None:
        self.clock = clock
        self.log = log
        self.calls: list[set[int]] = []

    def readings(self, roots, managed):
        self.calls.append(set(roots))
        for pid in roots:
            self.clock.now += SLICE
            self.log.append(("tree", pid))
            yield pid, None if pid < 0 else TreeFigures(float(pid), 4096, 1, 0.0, self.clock.now)


def make(max_age: float = 1.0):
    clock = Clock()
    log: list = []
    source = Source(clock, log)
    return TreeFiguresCache(source, max_age=max_age, clock=clock), source, clock, log


ROOTS = {pid: (f"g{pid}", f"p{pid}") for pid in range(1, 6)}


def test_requests_together_share_one_reading():
    cache, source, _, _ = make()

    async def main():
        return await asyncio.gather(cache.read(ROOTS, ROOTS), cache.read(ROOTS, ROOTS))

    first, second = asyncio.run(main())
    assert first == second and sorted(first) == sorted(ROOTS)
    assert len(source.calls) == 1


def test_a_reading_answers_until_it_is_too_old():
    cache, source, clock, _ = make(max_age=1.0)

    async def main():
        await cache.read(ROOTS, ROOTS)
        clock.now += 0.5
        await cache.read(ROOTS, ROOTS)
        await cache.read({3: ROOTS[3]}, ROOTS)
        assert len(source.calls) == 1
        clock.now += 1.0
        await cache.read({3: ROOTS[3]}, ROOTS)
        assert source.calls[-1] == {3}  # only what is missing is read again

    asyncio.run(main())


def test_a_pid_of_another_program_is_not_taken_from_the_cache():
    cache, source, _, _ = make()

    async def main():
        await cache.read({7: ("a", "a")}, ())
        await cache.read({7: ("b", "b")}, ())

    asyncio.run(main())
    assert len(source.calls) == 2


def test_gone_pids_are_left_out_and_not_read_again_at_once():
    cache, source, _, _ = make()

    async def main():
        figures = await cache.read({-1: ("g", "p"), 2: ("h", "q")}, ())
        assert list(figures) == [2] and figures[2].cpu_seconds == 2.0
        await cache.read({-1: ("g", "p")}, ())

    asyncio.run(main())
    assert len(source.calls) == 1


def test_the_loop_serves_others_between_slices():
    cache, _, _, log = make()

    async def main():
        loop = asyncio.get_running_loop()
        reading = asyncio.ensure_future(cache.read(ROOTS, ROOTS))
        await asyncio.sleep(0)  # the reading starts
        loop.call_soon(log.append, ("other", 0))
        await reading

    asyncio.run(main())
    other = log.index(("other", 0))
    assert 0 < other < len(log) - 1, log


def test_a_client_that_goes_away_does_not_cancel_the_reading_for_others():
    cache, source, _, _ = make()

    async def main():
        first = asyncio.ensure_future(cache.read(ROOTS, ROOTS))
        await asyncio.sleep(0)
        waiter = asyncio.ensure_future(cache.read(ROOTS, ROOTS))
        await asyncio.sleep(0)
        waiter.cancel()
        assert sorted(await first) == sorted(ROOTS)
        assert sorted(await cache.read(ROOTS, ROOTS)) == sorted(ROOTS)

    asyncio.run(main())
    assert len(source.calls) == 1


def test_proc_trees_reads_this_process_and_its_child():
    import subprocess

    child = subprocess.Popen(["sleep", "30"])
    try:
        (pid, figures), = ProcTrees().readings({os.getpid(): ("", "")}, set())
        assert pid == os.getpid() and figures is not None
        assert figures.processes >= 2 and figures.rss > 0
    finally:
        child.kill()
        child.wait()
