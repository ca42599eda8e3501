"""Pieces of the web/observability code without a daemon."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from supervisor_ng.http import metrics
from supervisor_ng.http.live import may_change_state
from supervisor_ng.rpc.faults import Faults, RPCError
from supervisor_ng.runtime.resources import ResourceSampler, TreeFigures, read_trees


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def figures(cpu: float, created: float = 0.0) -> TreeFigures:
    return TreeFigures(cpu_seconds=cpu, rss=4096, processes=1, create_time=created)


def test_cpu_percent_first_reading_is_the_lifetime_average():
    mono, wall = Clock(), Clock()
    sampler = ResourceSampler(clock=mono, wall=wall)
    # 5 CPU seconds over 10 s of life: 50 %.
    assert sampler.cpu_percent(
        ("g", "p"), 42, figures(5.0, created=wall.now - 10)
    ) == pytest.approx(50.0)


def test_cpu_percent_is_the_usage_since_the_previous_request():
    mono, wall = Clock(), Clock()
    sampler = ResourceSampler(clock=mono, wall=wall)
    sampler.cpu_percent(("g", "p"), 42, figures(5.0, created=wall.now - 10))
    mono.now += 2.0
    assert sampler.cpu_percent(("g", "p"), 42, figures(6.0)) == pytest.approx(50.0)
    mono.now += 0.2  # too soon for a meaningful delta: the last figure again
    assert sampler.cpu_percent(("g", "p"), 42, figures(6.19)) == pytest.approx(50.0)
    mono.now += 2.0
    assert sampler.cpu_percent(("g", "p"), 42, figures(6.0)) == 0.0  # never negative


def test_new_pid_starts_over():
    mono, wall = Clock(), Clock()
    sampler = ResourceSampler(clock=mono, wall=wall)
    sampler.cpu_percent(("g", "p"), 42, figures(100.0, created=wall.now - 100))
    mono.now += 5
    assert sampler.cpu_percent(("g", "p"), 43, figures(0.0, created=wall.now - 1)) == 0.0
    sampler.keep_only(set())
    assert not sampler._last


def test_read_trees_of_this_process():
    trees = read_trees({os.getpid(): ("", "")})
    mine = trees[os.getpid()]
    assert mine.rss > 0 and mine.processes >= 1 and mine.cpu_seconds > 0
    assert read_trees({2**22 + 12345: ("", "")}) == {}


def test_read_only_methods_do_not_wake_the_page():
    assert not may_change_state("supervisor.getAllProcessInfo")
    assert not may_change_state("supervisor.readProcessStdoutLog")
    assert not may_change_state("system.listMethods")
    assert may_change_state("supervisor.stopProcess")
    assert may_change_state("supervisor.addProcessGroup")
    assert may_change_state("system.multicall")
    assert not may_change_state(None)


class FakeRegistry:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    async def call(self, name, params):
        if self.fail:
            raise RPCError(Faults.SHUTDOWN_STATE)
        if name == "ng.getDaemonStats":
            return {
                "pid": 1,
                "version": "0.1.0",
                "supervisor_version": "4.3.0",
                "identification": 'we"ird\\id\nx',
                "statename": "RUNNING",
                "cpu_seconds": 1.5,
                "rss_kb": 10,
                "start": 100,
            }
        return [
            {
                "name": "a",
                "group": "g",
                "pid": 5,
                "state": 20,
                "statename": "RUNNING",
                "cpu_percent": 1.0,
                "cpu_seconds": 2.25,
                "rss_kb": 3,
                "processes": 2,
                "spawns": 3,
                "restarts": 2,
                "start": 50,
                "uptime": 7,
                "exitstatus": 0,
                "depends_on": [],
                "status_text": "",
                "health": "check failing 1/3: HTTP 503",
                "has_checks": True,
                "healthy": False,
                "ready_probes": 0,
                "health_checks": 4,
                "health_failures": 1,
                "watchdog_timeouts": 0,
                "unhealthy_restarts": 0,
            },
        ]


def run(coro):
    # In a thread of its own: Playwright's sync API keeps a loop running in
    # this one when a browser test ran first in the same worker.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_metrics_text_parses():
    text = run(metrics.render(FakeRegistry()))
    families = {f.name: f for f in text_string_to_metric_families(text)}
    info = families["supervisord_info"].samples[0]
    assert info.labels["identification"] == 'we"ird\\id\nx'
    samples = {s.name: s for f in families.values() for s in f.samples}
    assert samples["supervisor_process_resident_memory_bytes"].value == 3072
    assert samples["supervisor_process_restarts_total"].value == 2
    assert samples["supervisor_process_cpu_seconds_total"].value == 2.25
    assert samples["supervisor_process_up"].labels == {"group": "g", "name": "a"}
    assert samples["supervisor_process_healthy"].value == 0
    assert samples["supervisor_process_healthcheck_failures_total"].value == 1


def test_metrics_propagates_faults():
    with pytest.raises(RPCError):
        run(metrics.render(FakeRegistry(fail=True)))


def test_exit_log_since_gives_each_stream_only_new_exits():
    from types import SimpleNamespace

    from supervisor_ng.core.states import ProcessState
    from supervisor_ng.http.history import MAX_EXITS, ExitLog

    clock = Clock()
    log = ExitLog(clock)
    proc = SimpleNamespace(name="p", group=SimpleNamespace(name="g"), spawnerr="")

    def exit_once() -> None:
        change = SimpleNamespace(old=ProcessState.RUNNING, new=ProcessState.EXITED, exitstatus=1, expected=False)
        log.record(proc, change)
        clock.now += 1

    exit_once()
    exit_once()
    first, mark = log.since(0)
    assert len(first) == 2
    assert log.since(mark) == ([], mark)
    exit_once()
    new, mark2 = log.since(mark)
    assert [e["t"] for e in new] == [first[-1]["t"] + 1]
    for _ in range(MAX_EXITS + 5):  # more than are kept: the kept ones, no more
        exit_once()
    assert len(log.since(mark2)[0]) == MAX_EXITS
