"""The cgroup mode's bookkeeping of OOM kills and its extra figures (issue 17),
on a directory laid out like a program's cgroup: the host's unified hierarchy
may lack the memory and io controllers (a hybrid host), the arithmetic and
what ng.* and /metrics make of it must not wait for one that has them."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from supervisor_ng.http import metrics
from supervisor_ng.runtime import cgroup
from supervisor_ng.runtime.cgroup_figures import CgroupTrees, cgroup_stats
from supervisor_ng.runtime.resources import TreeFigures

KILLED = signal.SIGKILL  # a wait status: killed by the signal, no core
EXITED_1 = 1 << 8


def _files(cg: cgroup.ProgramCgroup, **contents: str) -> None:
    for name, text in contents.items():
        Path(cg.file(name.replace("_", "."))).write_text(text)


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> cgroup.CgroupTree:
    t = cgroup.CgroupTree(str(tmp_path), created=False, home=str(tmp_path))
    t.controllers = frozenset({"memory", "pids", "io", "cpu"})
    monkeypatch.setattr(cgroup, "_active", t)
    return t


def _placed(tree: cgroup.CgroupTree, pid: int, oom_kills: int = 0) -> cgroup.ProgramCgroup:
    cg = tree.cgroup_for_spawn("hog", "hog")
    _files(cg, memory_events=f"low 0\nhigh 0\nmax 3\noom 1\noom_kill {oom_kills}\n")
    tree.placed(pid, cg)
    return cg


def test_a_main_process_killed_by_the_oom_killer_is_described_as_such(tree):
    cg = _placed(tree, 4242, oom_kills=5)  # five before this run: not its own
    _files(cg, memory_events="oom 1\noom_kill 6\n")
    words = cgroup.oom_note(4242, KILLED)
    assert words.startswith("killed by the OOM killer")
    assert "1 OOM kill(s)" in words
    assert tree.last_exit("hog", "hog") == (1, words)
    assert cgroup_stats("hog", "hog", None)["exit_description"] == words
    assert cgroup_stats("hog", "hog", None)["oom_kills"] == 1
    assert cgroup.exit_event_extras("hog", "hog") == (("oom_kills", 1),)


def test_an_exit_of_its_own_after_an_oom_kill_in_the_cgroup_names_the_others(tree):
    cg = _placed(tree, 4243)
    _files(cg, memory_events="oom_kill 2\n")
    words = cgroup.oom_note(4243, EXITED_1)
    assert not words.startswith("killed by")
    assert "killed 2 process(es) in its cgroup" in words


def test_an_exit_without_oom_kill_clears_the_last_description(tree):
    cg = _placed(tree, 4244)
    _files(cg, memory_events="oom_kill 1\n")
    assert cgroup.oom_note(4244, KILLED)
    _placed(tree, 4245, oom_kills=1)
    assert cgroup.oom_note(4245, KILLED) == ""
    assert cgroup_stats("hog", "hog", None)["exit_description"] == ""
    assert cgroup_stats("hog", "hog", None)["oom_kills"] == 0
    assert cgroup.exit_event_extras("hog", "hog") == ()


def test_memory_peak_and_io_come_from_the_cgroup(tree):
    cg = _placed(tree, os.getpid())
    _files(
        cg,
        cpu_stat="usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n",
        memory_current=f"{3 << 20}\n",
        memory_peak=f"{7 << 20}\n",
        pids_current="2\n",
        io_stat="8:0 rbytes=4096 wbytes=8192 rios=1 wios=2\n8:16 rbytes=1024 wbytes=0 rios=1 wios=0\n",
    )
    figures = CgroupTrees(tree).figures(os.getpid(), cg)
    assert figures is not None
    assert (figures.rss, figures.processes, figures.cpu_seconds) == (3 << 20, 2, 2.5)
    stats = cgroup_stats("hog", "hog", figures)
    assert stats["memory_peak_kb"] == 7 << 10
    assert (stats["io_read_kb"], stats["io_write_kb"]) == (5, 8)


def test_figures_not_measured_are_minus_one(tree, monkeypatch):
    tree.controllers = frozenset()
    plain = TreeFigures(cpu_seconds=0.0, rss=0, processes=1, create_time=0.0)
    stats = cgroup_stats("hog", "hog", plain)
    assert stats["memory_peak_kb"] == stats["io_read_kb"] == stats["oom_kills"] == -1
    monkeypatch.setattr(cgroup, "_active", None)  # psutil mode: the same shape
    assert cgroup_stats("hog", "hog", plain) == stats


class StatsRegistry:
    """A registry double answering the two ng.* calls /metrics makes."""

    def __init__(self, procs: list[dict]) -> None:
        self.procs = procs

    async def call(self, name: str, params: list) -> object:
        if name == "ng.getDaemonStats":
            return {
                "version": "x", "supervisor_version": "4.3.0", "identification": "s",
                "statename": "RUNNING", "pid": 1, "start": 0, "cpu_seconds": 0.0, "rss_kb": 0,
            }
        return self.procs


def _proc(name: str, **figures: int) -> dict:
    base = {
        "name": name, "group": name, "state": 20, "statename": "RUNNING", "restarts": 0,
        "uptime": 0, "start": 0, "cpu_seconds": 0.0, "rss_kb": 0, "processes": 1,
        "exitstatus": 0, "has_checks": False, "healthy": False, "health_checks": 0,
        "health_failures": 0, "watchdog_timeouts": 0, "unhealthy_restarts": 0,
        "memory_peak_kb": -1, "io_read_kb": -1, "io_write_kb": -1, "oom_kills": -1,
    }
    base.update(figures)
    return base


def test_metrics_show_cgroup_figures_only_where_measured():
    procs = [_proc("hog", memory_peak_kb=2048, io_read_kb=1, io_write_kb=2, oom_kills=1), _proc("plain")]
    text = asyncio.run(metrics.render(StatsRegistry(procs)))  # type: ignore[arg-type]
    assert 'supervisor_process_memory_peak_bytes{group="hog",name="hog"} 2097152' in text
    assert 'supervisor_process_io_write_bytes_total{group="hog",name="hog"} 2048' in text
    assert 'supervisor_process_oom_kills{group="hog",name="hog"} 1' in text
    assert 'name="plain"} -' not in text
    assert "memory_peak_bytes{group=\"plain\"" not in text


def test_the_oom_token_leaves_a_stock_listener_parse_intact(tree):
    from supervisor import childutils
    from supervisor_ng.core.process import StateChanged
    from supervisor_ng.core.states import ProcessState
    from supervisor_ng.events.types import process_state_event

    cg = _placed(tree, 4246)
    _files(cg, memory_events="oom_kill 1\n")
    cgroup.oom_note(4246, KILLED)
    event = process_state_event("hog", "hog", StateChanged(
        old=ProcessState.RUNNING, new=ProcessState.EXITED, pid=4246, tries=0, expected=False
    ))
    event.extras += cgroup.exit_event_extras("hog", "hog")  # the proposed hook in dispatch.py
    headers = childutils.get_headers(event.payload())
    assert headers["expected"] == "0" and headers["pid"] == "4246" and headers["oom_kills"] == "1"
