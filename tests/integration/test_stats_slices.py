"""ng.getAllProcessStats and /metrics with many programs hand the loop back
while they build their answer (issue 17): another task runs between their
slices, and the answer is what building it in one go gives."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from types import SimpleNamespace
from typing import Any, Callable

from supervisor_ng.core.states import ProcessState
from supervisor_ng.http import metrics
from supervisor_ng.rpc.marshalling import EncodedStruct, dump_response
from supervisor_ng.rpc.stats_api import StatsNamespace, process_stats
from supervisor_ng.runtime.resources import ResourceSampler
from tests.unit.test_cgroup_figures import StatsRegistry

MANY = 300


class _Liveness:
    has_checks = False
    healthy = False

    def summary(self) -> str:
        return ""

    def counters(self) -> dict[str, int]:
        return {"ready_probes": 0, "health_checks": 0, "health_failures": 0}


def _programs(count: int) -> list[SimpleNamespace]:
    """Processes as the stats read them; pid 0 (not running): no tree to read."""
    deps = SimpleNamespace(requires=lambda proc: ())
    supervisor = SimpleNamespace(dependencies=deps)
    return [
        SimpleNamespace(
            name=f"p{i:04d}",
            group=SimpleNamespace(name=f"g{i % 7}"),
            pid=0,
            state=ProcessState.STOPPED,
            start_time=1_700_000_000.0 + i,
            spawns=i % 3,
            exitstatus=i % 2,
            notify_status="",
            liveness=_Liveness(),
            supervisor=supervisor,
        )
        for i in range(count)
    ]


def _namespace(procs: list[SimpleNamespace]) -> StatsNamespace:
    ns = StatsNamespace(lambda: None, ResourceSampler())  # type: ignore[arg-type, return-value]
    ns._control = lambda: SimpleNamespace(lexical=lambda: procs)  # type: ignore[method-assign]
    return ns


async def _turns_during(work: Callable[[], Awaitable[Any]]) -> tuple[Any, int]:
    """``work``'s result and how many times another task ran meanwhile."""
    ran = 0
    done = False

    async def other() -> None:
        nonlocal ran
        while not done:
            ran += 1
            await asyncio.sleep(0)

    task = asyncio.ensure_future(other())
    try:
        result = await work()
    finally:
        done = True
        await task
    return result, ran


def test_get_all_process_stats_yields_and_answers_the_same_bytes():
    procs = _programs(MANY)
    ns = _namespace(procs)
    answer, ran = asyncio.run(_turns_during(ns.getAllProcessStats))
    assert ran > 1
    plain = [process_stats(p, ResourceSampler(), {}, 0.0) for p in procs]
    for got, want in zip(answer, plain):
        want["uptime"] = got["uptime"]  # measured at "now" (0 here: not RUNNING)
    assert [a["name"] for a in answer] == [p.name for p in procs]
    assert all(type(a) is EncodedStruct and a.members_xml is not None for a in answer)
    assert dump_response(answer) == dump_response(plain)


def _stats(i: int) -> dict[str, Any]:
    return {
        "name": f"p{i:04d}", "group": f"g{i % 7}", "state": 20, "statename": "RUNNING",
        "restarts": i, "uptime": 3 * i, "start": 1000 + i, "cpu_seconds": i / 8, "rss_kb": i,
        "processes": 2, "exitstatus": 0, "has_checks": i % 10 == 0, "healthy": i % 20 == 0,
        "health_checks": 0, "health_failures": 0, "watchdog_timeouts": 0,
        "unhealthy_restarts": 0, "memory_peak_kb": i if i % 2 else -1, "io_read_kb": -1,
        "io_write_kb": -1, "oom_kills": -1,
    }


def test_metrics_render_yields_and_keeps_every_family_in_process_order():
    procs = [_stats(i) for i in range(1000)]
    text, ran = asyncio.run(_turns_during(lambda: metrics.render(StatsRegistry(procs))))  # type: ignore[arg-type]
    assert ran > 1
    lines = text.splitlines()
    names = [f'{{group="{p["group"]}",name="{p["name"]}"}}' for p in procs]

    def samples(family: str) -> list[str]:
        return [line for line in lines if line.startswith(family + "{")]

    assert samples("supervisor_process_restarts_total") == [
        f"supervisor_process_restarts_total{label} {i}" for i, label in enumerate(names)
    ]
    assert samples("supervisor_process_cpu_seconds_total")[3] == (
        f"supervisor_process_cpu_seconds_total{names[3]} 0.375"
    )
    assert samples("supervisor_process_up")[0].endswith(" 1")
    assert len(samples("supervisor_process_memory_peak_bytes")) == 500
    assert len(samples("supervisor_process_healthy")) == 100
    assert "supervisor_process_io_read_bytes_total" not in text  # measured nowhere: left out
    assert "# TYPE supervisor_process_healthy gauge" in lines
    assert text.endswith("\n") and lines[0].startswith("# HELP supervisord_info ")
