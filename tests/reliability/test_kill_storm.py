"""Kill storm: 200 programs SIGKILLed over and over.  Afterwards every one is
RUNNING again, nothing is left a zombie, and the daemon's file descriptors
and memory are back where they were."""

from __future__ import annotations

import os
import random
import signal
import time

import psutil
import pytest

from .conftest import env_int, figures
from .rawhttp import MIB, fd_count, rss

pytestmark = pytest.mark.slow

COUNT = 200
PROGRAMS = f"""
[program:k]
command=sleep 100000
process_name=k_%(process_num)03d
numprocs={COUNT}
startsecs=0
startretries=1000000
autorestart=true
stopwaitsecs=5
"""


def zombies(pid: int) -> list[int]:
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                found.append(child.pid)
        except psutil.NoSuchProcess:
            pass
    return found


def all_running(d) -> bool:
    infos = d.proxy(timeout=30).supervisor.getAllProcessInfo()
    return len(infos) == COUNT and all(p["statename"] == "RUNNING" and p["pid"] for p in infos)


def test_kill_storm_leaves_all_running_no_zombie_and_no_leak(daemon_factory) -> None:
    seconds = env_int("SUPERVISOR_NG_SOAK_SECONDS", 20)
    d = daemon_factory(PROGRAMS, supervisord_options="minfds=1024\n")
    d.wait_until(lambda: all_running(d), timeout=60, what="all 200 RUNNING")
    # A first round of kills lets every lazily made structure exist before
    # the baseline is taken (e.g. the first restart of each program).
    proxy = d.proxy(timeout=30)
    for info in proxy.supervisor.getAllProcessInfo():
        os.kill(info["pid"], signal.SIGKILL)
    d.wait_until(lambda: all_running(d), timeout=60, what="all 200 RUNNING again")
    d.wait_until(lambda: not zombies(d.pid), timeout=10, what="no zombie")
    fds_before, rss_before = fd_count(d.pid), rss(d.pid)
    children_before = len(psutil.Process(d.pid).children())

    rng = random.Random(11)
    kills = rounds = 0
    latencies = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.monotonic()
        infos = proxy.supervisor.getAllProcessInfo()
        latencies.append(time.monotonic() - start)
        live = [p["pid"] for p in infos if p["pid"]]
        # Mostly a handful at a time; every 50th round, all of them at once.
        victims = live if rounds % 50 == 49 else rng.sample(live, min(len(live), rng.randint(1, 15)))
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
                kills += 1
            except ProcessLookupError:
                pass
        rounds += 1
        time.sleep(0.02)

    d.wait_until(lambda: all_running(d), timeout=120, what="all 200 RUNNING after the storm")
    d.wait_until(lambda: not zombies(d.pid), timeout=10, what="no zombie after the storm")
    # What the daemon holds settles once the last exits are handled.
    d.wait_until(lambda: fd_count(d.pid) <= fds_before, timeout=15, what="fds back to the baseline")
    fds_after, rss_after = fd_count(d.pid), rss(d.pid)
    children_after = len(psutil.Process(d.pid).children())
    infos = proxy.supervisor.getAllProcessInfo()
    figures(
        "kill_storm",
        seconds=seconds,
        programs=COUNT,
        kills=kills,
        rounds=rounds,
        fds_before=fds_before,
        fds_after=fds_after,
        rss_before_mib=round(rss_before / MIB, 1),
        rss_after_mib=round(rss_after / MIB, 1),
        children_before=children_before,
        children_after=children_after,
        rpc_max_ms=round(max(latencies) * 1000),
        rpc_median_ms=round(sorted(latencies)[len(latencies) // 2] * 1000),
    )
    assert fds_after == fds_before
    assert rss_after - rss_before < 10 * MIB
    assert children_after == COUNT
    assert all(p["statename"] == "RUNNING" for p in infos)
    # Every exit was reaped and logged (the stock wording operators grep).
    assert d.read_log().count("exited: k_") >= kills * 0.9
    # asyncio's signal self-pipe never overflowed (it would drop a SIGTERM).
    assert "Exception ignored" not in d.read_output()
