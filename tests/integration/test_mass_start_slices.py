"""Group start and stop of hundreds of programs let other clients in.

Spawning or signalling a few hundred programs takes the better part of a
second; done in one go, every other client (and the watchdog) waits for all
of it.  The daemon works through a group a slice per loop turn, so a ping
from a second client is answered while the group call is still under way:
observed here as an answer that shows the group's first program already
started (or stopped) and its last one not yet.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from tests.daemon_harness import Daemon

COUNT = 300
FIRST, LAST = "g:g_000", f"g:g_{COUNT - 1:03d}"
PROGRAMS = f"""
[program:g]
command=sleep 1000
process_name=%(program_name)s_%(process_num)03d
numprocs={COUNT}
autostart=false
startsecs=0
stopwaitsecs=30
"""
ATTEMPTS = 3


def _answered_mid_call(d: Daemon, call: Callable[[Any], Any], midway: Callable[[str, str], bool]) -> tuple[bool, Any]:
    """Run ``call`` from one client while another pings; True if a ping
    was answered in a state only the middle of the call can show."""
    done = threading.Event()
    result: dict[str, Any] = {}

    def group_call() -> None:
        try:
            result["value"] = call(d.rpc)
        finally:
            done.set()

    pinger = d.rpc
    seen = False
    worker = threading.Thread(target=group_call)
    worker.start()
    try:
        while not done.is_set():
            state, first, last = pinger.system.multicall(
                [
                    {"methodName": "supervisor.getState", "params": []},
                    {"methodName": "supervisor.getProcessInfo", "params": [FIRST]},
                    {"methodName": "supervisor.getProcessInfo", "params": [LAST]},
                ]
            )
            assert state["statename"] == "RUNNING"
            if not done.is_set() and midway(first["statename"], last["statename"]):
                seen = True
    finally:
        worker.join(60)
    return seen, result.get("value")


def test_ping_answered_during_group_start_and_stop(daemon_factory):
    d = daemon_factory(PROGRAMS)
    for _attempt in range(ATTEMPTS):
        started, results = _answered_mid_call(
            d,
            lambda rpc: rpc.supervisor.startProcessGroup("g", False),
            lambda first, last: first != "STOPPED" and last == "STOPPED",
        )
        # Stock's results: one per program, in priority (here: name) order.
        assert [r["name"] for r in results] == [f"g_{i:03d}" for i in range(COUNT)]
        assert {r["description"] for r in results} == {"OK"}
        stopped, results = _answered_mid_call(
            d,
            lambda rpc: rpc.supervisor.stopProcessGroup("g", False),
            lambda first, last: first != "RUNNING" and last == "RUNNING",
        )
        assert len(results) == COUNT
        d.wait_until(
            lambda: all(i["statename"] == "STOPPED" for i in d.rpc.supervisor.getAllProcessInfo()),
            timeout=60,
            what="every program stopped",
        )
        if started and stopped:
            break
    assert started, "no ping was answered while the group was being started"
    assert stopped, "no ping was answered while the group was being stopped"
