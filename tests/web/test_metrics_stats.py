"""/metrics and the ng.* stats methods against real running programs."""

from __future__ import annotations

import os
import signal
import sys
import time
import xmlrpc.client
from pathlib import Path

import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.daemon_harness import Daemon, http_request

PY = sys.executable
WORKLOAD = Path(__file__).with_name("workload.py")
MIB = 1024 * 1024

PROGRAMS = f"""
[program:hog]
command={PY} {WORKLOAD} hog 64
startsecs=0

[program:busy]
command={PY} {WORKLOAD} busy 0.3
startsecs=0

[program:tree]
command=/bin/sh -c "sleep 1000 & sleep 1000 & (sleep 1000 &) && wait"
startsecs=0

[program:idle]
command=sleep 1000
autostart=false

[program:crashy]
command=sleep 1000
startsecs=0
autorestart=true
"""


@pytest.fixture
def d(daemon_factory) -> Daemon:
    daemon = daemon_factory(PROGRAMS, inet=True)
    daemon.wait_all(("RUNNING", "STOPPED"))
    hog = daemon.rpc.supervisor.getProcessInfo("hog")["pid"]
    daemon.wait_until(
        lambda: psutil.Process(hog).memory_info().rss >= 64 * MIB, what="hog to fill its memory"
    )
    return daemon


def scrape(d: Daemon) -> dict[str, dict[tuple, float]]:
    status, headers, body = http_request("/metrics", port=d.port)
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            out.setdefault(sample.name, {})[key] = sample.value
    return out


def by_name(metric: dict[tuple, float], name: str) -> float:
    for labels, value in metric.items():
        if dict(labels).get("name") == name:
            return value
    raise KeyError(name)


def test_metrics_content(d: Daemon):
    d.wait_until(
        lambda: len(psutil.Process(d.rpc.supervisor.getProcessInfo("tree")["pid"]).children()) >= 2
    )
    crashy = d.rpc.supervisor.getProcessInfo("crashy")["pid"]
    os.kill(crashy, signal.SIGKILL)
    d.wait_until(lambda: d.rpc.supervisor.getProcessInfo("crashy")["pid"] not in (0, crashy))
    d.wait_state("crashy", "RUNNING")
    busy = d.rpc.supervisor.getProcessInfo("busy")["pid"]
    d.wait_until(
        lambda: sum(psutil.Process(busy).cpu_times()[:2]) >= 0.25, what="busy to burn its CPU"
    )
    m = scrape(d)

    assert m["supervisord_up"][()] == 1
    assert m["supervisord_pid"][()] == d.pid
    info = next(iter(m["supervisord_info"]))
    assert dict(info)["supervisor_version"] == "4.3.0"
    assert m["supervisord_resident_memory_bytes"][()] > 0

    assert by_name(m["supervisor_process_state"], "hog") == 20
    assert by_name(m["supervisor_process_state"], "idle") == 0
    assert by_name(m["supervisor_process_up"], "hog") == 1
    assert by_name(m["supervisor_process_up"], "idle") == 0
    assert by_name(m["supervisor_process_resident_memory_bytes"], "hog") >= 64 * MIB
    assert by_name(m["supervisor_process_resident_memory_bytes"], "idle") == 0
    assert by_name(m["supervisor_process_cpu_seconds_total"], "busy") >= 0.25
    assert by_name(m["supervisor_process_restarts_total"], "crashy") == 1
    assert by_name(m["supervisor_process_restarts_total"], "hog") == 0
    assert by_name(m["supervisor_process_uptime_seconds"], "idle") == 0
    assert by_name(m["supervisor_process_start_time_seconds"], "hog") > 0
    # sh, its two sleeps, and the orphan the subshell left (now the daemon's child).
    assert by_name(m["supervisor_process_processes"], "tree") == 4
    labels = {dict(k)["group"] + ":" + dict(k)["name"] for k in m["supervisor_process_state"]}
    assert labels == {"hog:hog", "busy:busy", "tree:tree", "idle:idle", "crashy:crashy"}


def test_metrics_label_escaping(daemon_factory):
    d = daemon_factory(
        "[program:x]\ncommand=sleep 1000\nstartsecs=0\n",
        inet=True,
        supervisord_options='identifier=a"b\\c',
    )
    m = scrape(d)
    assert dict(next(iter(m["supervisord_info"])))["identification"] == 'a"b\\c'


def test_stats_rpc(d: Daemon):
    ng = d.rpc.ng
    stats = ng.getAllProcessStats()
    assert [(s["group"], s["name"]) for s in stats] == sorted(
        (s["group"], s["name"]) for s in stats
    )
    hog = ng.getProcessStats("hog")
    assert set(hog) == {
        "name",
        "group",
        "pid",
        "state",
        "statename",
        "cpu_percent",
        "cpu_seconds",
        "rss_kb",
        "processes",
        "spawns",
        "restarts",
        "start",
        "uptime",
        "exitstatus",
        "depends_on",
        "status_text",
        "health",
        "has_checks",
        "healthy",
        "ready_probes",
        "health_checks",
        "health_failures",
        "watchdog_timeouts",
        "unhealthy_restarts",
        "memory_peak_kb",
        "io_read_kb",
        "io_write_kb",
        "oom_kills",
        "exit_description",
    }
    assert hog["health"] == "" and hog["status_text"] == "" and not hog["has_checks"]
    assert hog["depends_on"] == []
    assert hog["pid"] == d.rpc.supervisor.getProcessInfo("hog")["pid"]
    assert hog["rss_kb"] >= 64 * 1024
    assert hog["spawns"] == 1 and hog["restarts"] == 0
    assert isinstance(hog["cpu_percent"], float)
    idle = ng.getProcessStats("idle:idle")
    assert (
        idle["pid"] == 0
        and idle["rss_kb"] == 0
        and idle["cpu_percent"] == 0.0
        and idle["spawns"] == 0
    )
    d.rpc.supervisor.startProcess("idle")
    d.rpc.supervisor.stopProcess("idle")
    d.rpc.supervisor.startProcess("idle")
    idle = ng.getProcessStats("idle")
    assert idle["spawns"] == 2 and idle["restarts"] == 1 and idle["rss_kb"] > 0
    with pytest.raises(xmlrpc.client.Fault) as info:
        ng.getProcessStats("nosuch")
    assert info.value.faultCode == 10 and info.value.faultString == "BAD_NAME: nosuch"
    daemon = ng.getDaemonStats()
    assert daemon["pid"] == d.pid and daemon["supervisor_version"] == "4.3.0"


def test_cpu_percent_of_a_busy_program(daemon_factory):
    d = daemon_factory(f"[program:spin]\ncommand={PY} {WORKLOAD} spin\nstartsecs=0\n")
    d.wait_all()
    pid = d.rpc.supervisor.getProcessInfo("spin")["pid"]
    first = d.rpc.ng.getProcessStats("spin")["cpu_seconds"]
    d.wait_until(
        lambda: sum(psutil.Process(pid).cpu_times()[:2]) > first + 0.05, what="spin to use CPU"
    )
    time.sleep(1.1)  # past the sampler's minimum interval; not a timing assertion
    stats = d.rpc.ng.getProcessStats("spin")
    assert stats["cpu_percent"] > 0.0 and stats["cpu_seconds"] > first


def test_introspection(d: Daemon):
    system = d.rpc.system
    methods = system.listMethods()
    for name in (
        "ng.getAllProcessStats",
        "ng.getProcessStats",
        "ng.getDaemonStats",
        "ng.getVersion",
    ):
        assert name in methods
        assert system.methodHelp(name)
    assert system.methodSignature("ng.getProcessStats") == ["struct", "string"]
    assert system.methodSignature("ng.getAllProcessStats") == ["array"]
    # The stock structures are untouched.
    info = d.rpc.supervisor.getProcessInfo("hog")
    assert "rss_kb" not in info and "cpu_percent" not in info


def test_no_ng_namespace_without_the_supervisor_interface(daemon_factory):
    d = daemon_factory("[program:cat]\ncommand=cat\nstartsecs=0\n", rpcinterface=False, inet=True)
    assert not [m for m in d.rpc.system.listMethods() if m.startswith("ng.")]
    assert http_request("/metrics", port=d.port)[0] == 503


def test_ctl_status_stats(d: Daemon):
    plain = d.ctl("status", client="ours")
    stock = d.ctl("status", client="stock")
    assert plain.stdout.splitlines()[0].startswith(stock.stdout.splitlines()[0][:20])
    assert "CPU%" not in plain.stdout
    r = d.ctl("status", "--stats", client="ours")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "CPU%", "RSS", "RESTARTS", "DESCRIPTION"]
    hog = next(line for line in lines if line.startswith("hog "))
    assert "RUNNING" in hog and "M " in hog and "pid " in hog
    idle = next(line for line in lines if line.startswith("idle "))
    assert idle.split()[1:5] == ["STOPPED", "-", "-", "0"]
    assert r.returncode == 3  # idle is stopped: the same status code as plain status
    assert r.returncode == plain.returncode
    r = d.ctl("status", "--stats", "hog", client="ours")
    assert len(r.stdout.splitlines()) == 2 and r.returncode == 0


def test_ctl_status_stats_against_stock(daemon_factory):
    d = daemon_factory("[program:cat]\ncommand=cat\nstartsecs=0\n", kind="stock")
    d.wait_all()
    r = d.ctl("status", "--stats", client="ours")
    assert r.returncode == 4
    assert "does not report per-process figures" in r.stdout
    ours, stock = d.ctl("status", client="ours"), d.ctl("status", client="stock")
    assert ours.normalized() == stock.normalized()
