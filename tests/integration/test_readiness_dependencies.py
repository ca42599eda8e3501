"""Issue 15 with real daemons and real children: readiness (sd_notify and
checks), start and stop order of dependencies, restarts of hung and unhealthy
programs, tunable backoff and FATAL retries.  Observed as an operator would:
the daemon's log, supervisorctl (stock and ours), XML-RPC, the process table."""

from __future__ import annotations

import http.server
import re
import sys
import threading
from pathlib import Path

import psutil
import pytest

from tests.integration.events_fixtures import recorder, wait_events
from tests.log_daemon import pid_alive
from tests.waiting import wait_until

PY = sys.executable
NOTIFY = f"{PY} {Path(__file__).with_name('notify_prog.py')}"


def log_order(log: str, *patterns: str) -> list[int]:
    """Where each pattern first appears in the log (it must appear)."""
    where = []
    for pattern in patterns:
        found = re.search(pattern, log)
        assert found, f"{pattern!r} not in the daemon log:\n{log[-3000:]}"
        where.append(found.start())
    return where


def test_notify_program_is_running_only_once_it_says_ready(daemon_factory, tmp_path):
    gate = tmp_path / "go"
    d = daemon_factory(
        "[program:db]\n"
        f"command=sh -c 'while [ ! -e {gate} ]; do sleep 0.05; done; exec {NOTIFY} --status \"accepting connections\"'\n"
        "ready=notify\nstartsecs=0\nready_timeout=60\n"
    )
    d.wait_until(lambda: d.rpc.supervisor.getProcessInfo("db")["pid"], what="db spawned")
    # startsecs=0 would make it RUNNING at once; readiness keeps it STARTING.
    assert d.state("db") == "STARTING"
    assert "STARTING" in d.ctl("status", "db").stdout
    gate.touch()
    d.wait_state("db", "RUNNING")
    assert re.search(r"success: db entered RUNNING state, process is ready \(ready=notify\)", d.read_log())


def test_notify_program_that_never_says_ready_goes_fatal_after_its_retries(daemon_factory):
    d = daemon_factory(
        f"[program:mute]\ncommand={NOTIFY} --never-ready\nready=notify\nready_timeout=0.5\n"
        "startretries=1\nstopwaitsecs=2\n"
    )
    d.wait_state("mute", "FATAL", timeout=30)
    log = d.read_log()
    assert len(re.findall(r"mute was not ready within 0.5 seconds", log)) == 2
    assert "gave up: mute entered FATAL state, too many start retries too quickly" in log
    info = d.rpc.supervisor.getProcessInfo("mute")
    assert info["spawnerr"] == "not ready within 0.5 seconds (ready_timeout)"
    # nothing of it is left running
    assert not [p for p in psutil.Process(d.pid).children(recursive=True) if "notify_prog" in " ".join(p.cmdline())]


def test_tcp_readiness_waits_for_the_port(daemon_factory):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    listen = (
        f"{PY} -c \"import socket,time; time.sleep(0.5); s=socket.socket(); "
        f"s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1',{port})); s.listen(); time.sleep(3600)\""
    )
    d = daemon_factory(f"[program:db]\ncommand={listen}\nready=tcp:127.0.0.1:{port}\nstartsecs=0\n")
    d.wait_state("db", "RUNNING", timeout=20)
    assert re.search(rf"success: db entered RUNNING state, process is ready \(tcp:127.0.0.1:{port}\)", d.read_log())


def test_dependency_chain_starts_in_order_and_stops_in_reverse(daemon_factory, tmp_path):
    ready = tmp_path / "ready"
    prog = f"{NOTIFY} --ready-after 0.3 --touch {ready}"
    d = daemon_factory(
        # priorities would start c first: the dependencies must win
        f"[program:c]\ncommand={prog}\nready=notify\ndepends_on=b\npriority=1\n"
        f"[program:b]\ncommand={prog}\nready=notify\ndepends_on=a\npriority=2\n"
        f"[program:a]\ncommand={prog}\nready=notify\npriority=3\n"
        "[program:free]\ncommand=sleep 1000\nstartsecs=0\npriority=4\n"
    )
    d.wait_all(timeout=30)
    log = d.read_log()
    a_ready, b_spawn, b_ready, c_spawn = log_order(
        log, r"success: a entered RUNNING", r"spawned: 'b'", r"success: b entered RUNNING", r"spawned: 'c'"
    )
    assert a_ready < b_spawn < b_ready < c_spawn
    # the independent program did not wait for the chain
    free_spawn, a_ready = log_order(log, r"spawned: 'free'", r"success: a entered RUNNING")
    assert free_spawn < a_ready
    # plain status shows nothing new
    status = d.ctl("status").stdout
    assert "depends" not in status
    # a dependency's stop stops its dependents first
    r = d.ctl("stop", "a")
    assert r.returncode == 0, r.stdout + r.stderr
    assert {p["name"]: p["statename"] for p in d.rpc.supervisor.getAllProcessInfo()} == {
        "a": "STOPPED", "b": "STOPPED", "c": "STOPPED", "free": "RUNNING"}
    log = d.read_log()
    c_stop, b_stop, a_stop = log_order(log, r"stopped: c ", r"stopped: b ", r"stopped: a ")
    assert c_stop < b_stop < a_stop
    # starting the last one starts the chain again, in order
    r = d.ctl("start", "c")
    assert r.returncode == 0 and "c: started" in r.stdout, r.stdout + r.stderr
    assert all(p["statename"] == "RUNNING" for p in d.rpc.supervisor.getAllProcessInfo())


def test_shutdown_stops_dependents_first(daemon_factory):
    d = daemon_factory(
        "[program:db]\ncommand=sleep 1000\nstartsecs=0\npriority=900\n"
        "[program:web]\ncommand=sleep 1000\nstartsecs=0\ndepends_on=db\npriority=100\n"
    )
    d.wait_all()
    # priority alone would stop db (900) before web (100)
    assert d.stop() == 0
    web_stop, db_stop = log_order(d.read_log(), r"stopped: web ", r"stopped: db ")
    assert web_stop < db_stop


def test_a_failed_dependency_is_named_in_the_dependents_spawn_error(daemon_factory):
    d = daemon_factory(
        "[program:db]\ncommand=sh -c 'exit 3'\nstartretries=0\n"
        "[program:web]\ncommand=sleep 1000\ndepends_on=db\n"
    )
    d.wait_state("web", "FATAL", timeout=20)
    assert d.state("db") == "FATAL"
    info = d.rpc.supervisor.getProcessInfo("web")
    assert info["spawnerr"] == "dependency db:db is FATAL"
    assert info["pid"] == 0
    assert "gave up: web entered FATAL state, dependency db:db is FATAL" in d.read_log()
    assert "spawned: 'web'" not in d.read_log()
    for client in ("stock", "ours"):
        r = d.ctl("start", "web", client=client)
        assert r.returncode != 0
        assert "web: ERROR (spawn error)" in r.stdout


def test_a_one_shot_dependency_is_satisfied_by_its_expected_exit(daemon_factory):
    d = daemon_factory(
        "[program:migrate]\ncommand=sh -c 'exit 0'\nstartsecs=0\nautorestart=false\n"
        "[program:broken]\ncommand=sh -c 'exit 4'\nstartsecs=0\nautorestart=false\n"
        "[program:web]\ncommand=sleep 1000\nstartsecs=0\ndepends_on=migrate\nautostart=false\n"
        "[program:api]\ncommand=sleep 1000\nstartsecs=0\ndepends_on=broken\nautostart=false\n"
    )
    d.wait_state("migrate", "EXITED")
    d.wait_state("broken", "EXITED")
    r = d.ctl("start", "web")
    assert r.returncode == 0 and "web: started" in r.stdout, r.stdout
    assert d.state("migrate") == "EXITED"  # done once, not run again
    # an unexpected exit that will not be restarted is not satisfied: it is started again
    r = d.ctl("start", "api")
    assert r.returncode == 0, r.stdout
    assert d.read_log().count("spawned: 'broken'") == 2


def test_hung_notify_program_is_restarted_by_its_watchdog(daemon_factory, tmp_path):
    listener, events = recorder(tmp_path)
    d = daemon_factory(
        f"[program:hang]\ncommand={NOTIFY} --pings 3\nready=notify\nwatchdog_secs=1\nstopwaitsecs=2\n"
        f"[eventlistener:watch]\ncommand={listener}\nevents=PROCESS_UNHEALTHY\n"
    )
    first = d.wait_until(lambda: d.state("hang") == "RUNNING" and d.rpc.supervisor.getProcessInfo("hang")["pid"])
    log = d.wait_until(lambda: (lambda t: t if t.count("spawned: 'hang'") >= 2 else None)(d.read_log()), timeout=20)
    assert re.search(r"unhealthy: hang .*watchdog", log), log[-2000:]
    d.wait_state("hang", "RUNNING")
    assert d.rpc.supervisor.getProcessInfo("hang")["pid"] != first
    assert not pid_alive(first)
    got = wait_events(events, lambda evs: len(evs) >= 1)
    assert got[0]["headers"]["eventname"] == "PROCESS_UNHEALTHY"
    assert "processname:hang" in got[0]["payload"] and "check:watchdog" in got[0]["payload"]


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_failing_http_health_check_restarts_the_program(daemon_factory):
    handler = type("Health", (_Health,), {"status": 200})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        d = daemon_factory(
            "[program:web]\ncommand=sleep 1000\nstartsecs=0\n"
            f"healthcheck=http://127.0.0.1:{port}/health\nhealthcheck_interval=0.2\n"
            "healthcheck_timeout=2\nhealthcheck_retries=2\n"
        )
        d.wait_state("web", "RUNNING")
        first = d.rpc.supervisor.getProcessInfo("web")["pid"]
        handler.status = 503
        d.wait_until(lambda: "spawned: 'web'" in d.read_log().split(f"with pid {first}", 1)[1], timeout=20,
                     what="web restarted")
        assert re.search(r"unhealthy: web .*HTTP 503", d.read_log())
        handler.status = 200
        d.wait_state("web", "RUNNING")
        assert not pid_alive(first)
    finally:
        server.shutdown()


def test_exponential_backoff_with_a_cap_then_fatal(daemon_factory):
    d = daemon_factory(
        "[program:crash]\ncommand=sh -c 'exit 1'\nstartretries=3\nbackoff=exponential\nbackoff_max=0.5\n"
    )
    d.wait_state("crash", "FATAL", timeout=30)
    assert d.read_log().count("spawned: 'crash'") == 4


def test_fatal_program_is_tried_again_after_fatal_retry_secs(daemon_factory, tmp_path):
    flag = tmp_path / "fixed"
    d = daemon_factory(
        f"[program:flaky]\ncommand=sh -c 'test -e {flag} && exec sleep 1000; exit 1'\n"
        "startretries=0\nfatal_retry_secs=0.5\n"
    )
    d.wait_until(lambda: "gave up: flaky entered FATAL state" in d.read_log(), timeout=20)
    flag.touch()
    d.wait_state("flaky", "RUNNING", timeout=20)
    assert "retrying: flaky has been FATAL for 0.5 seconds (fatal_retry_secs)" in d.read_log()


def test_mainpid_from_a_forking_program_is_followed(daemon_factory):
    d = daemon_factory(f"[program:forker]\ncommand={NOTIFY} --fork-mainpid\nready=notify\nstopwaitsecs=5\n")
    d.wait_state("forker", "RUNNING", timeout=20)
    pid = d.rpc.supervisor.getProcessInfo("forker")["pid"]
    log = d.read_log()
    spawned = int(re.search(r"spawned: 'forker' with pid (\d+)", log).group(1))
    assert pid != spawned and pid_alive(pid), log
    assert f"main pid of 'forker' is now {pid} (was {spawned})" in log, log
    r = d.ctl("stop", "forker")
    assert r.returncode == 0 and "forker: stopped" in r.stdout
    wait_until(lambda: not pid_alive(pid), what="the real main process to be gone")


@pytest.mark.parametrize("client", ["stock", "ours"])
def test_status_shows_nothing_new_for_programs_without_the_options(daemon_factory, client):
    d = daemon_factory("[program:plain]\ncommand=sleep 1000\nstartsecs=0\n")
    d.wait_all()
    out = d.ctl("status", client=client).stdout
    assert re.fullmatch(r"plain\s+RUNNING\s+pid \d+, uptime 0:00:0\d\n", out), out


def test_the_graph_in_ng_and_in_our_avail(daemon_factory):
    d = daemon_factory(
        "[program:db]\ncommand=sleep 1000\nstartsecs=0\n"
        "[program:web]\ncommand=sleep 1000\nstartsecs=0\nnumprocs=2\nprocess_name=web_%(process_num)d\ndepends_on=db\n"
    )
    d.wait_all()
    assert d.rpc.ng.getDependencies() == [
        {"name": "db:db", "depends_on": [], "dependents": ["web:web_0", "web:web_1"]},
        {"name": "web:web_0", "depends_on": ["db:db"], "dependents": []},
        {"name": "web:web_1", "depends_on": ["db:db"], "dependents": []},
    ]
    ours = d.ctl("avail", client="ours").stdout.splitlines()
    stock = d.ctl("avail", client="stock").stdout.splitlines()
    assert ours[0] == stock[0]  # db: nothing new
    assert ours[1] == stock[1] + "  depends on db"
