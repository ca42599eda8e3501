"""Delivery rules: FAIL and a listener's death give the event back, a full
buffer drops the oldest, events go to the first ready listener of a pool, and
a listener that does not read never holds the daemon up."""

from __future__ import annotations

import os
import signal
import time

from tests.integration.events_fixtures import (
    STOCK_PYTHON,
    read_events,
    recorder,
    wait_events,
    wait_until,
)


def key(e) -> tuple[str, str, str]:
    h = e["headers"]
    return h["serial"], h["poolserial"], e["payload"]


def remote_events(rpc, count: int, prefix: str = "m") -> None:
    for i in range(count):
        rpc.sendRemoteCommEvent("t", f"{prefix}{i}")


def test_fail_puts_the_event_back_at_the_head(daemon_factory, tmp_path) -> None:
    cmd, out = recorder(tmp_path, "rec", "--fail", "2")
    d = daemon_factory(f"[eventlistener:rec]\ncommand={cmd}\nevents=REMOTE_COMMUNICATION\nstartsecs=0\n")
    d.wait_state("rec", "RUNNING")
    remote_events(d.rpc.supervisor, 3)
    events = wait_events(out, lambda ev: len(ev) >= 5)
    # The first event three times (FAIL, FAIL, OK) with the same serials, then the rest in order.
    assert [e["payload"] for e in events] == ["type:t\nm0"] * 3 + ["type:t\nm1", "type:t\nm2"]
    assert key(events[0]) == key(events[1]) == key(events[2])
    assert [e["headers"]["poolserial"] for e in events[2:]] == ["0", "1", "2"]
    assert d.read_log().count("WARN rec: event was rejected") == 2
    assert d.rpc.supervisor.getProcessInfo("rec")["statename"] == "RUNNING"


def test_listener_death_mid_event_gives_it_back(daemon_factory, tmp_path) -> None:
    cmd, out = recorder(tmp_path, "rec", "--die-at", "2")
    d = daemon_factory(
        f"[eventlistener:rec]\ncommand={cmd}\nevents=REMOTE_COMMUNICATION\nstartsecs=0\nautorestart=true\n"
    )
    d.wait_state("rec", "RUNNING")
    remote_events(d.rpc.supervisor, 3)
    events = wait_events(out, lambda ev: len(ev) >= 4)
    assert [e["payload"] for e in events] == ["type:t\nm0", "type:t\nm1", "type:t\nm1", "type:t\nm2"]
    assert key(events[1]) == key(events[2])
    assert events[1]["pid"] != events[2]["pid"]  # a new listener process got it
    assert "exited: rec (exit status 1; not expected)" in d.read_log()


def test_listener_killed_by_a_signal_mid_event(daemon_factory, tmp_path) -> None:
    cmd, out = recorder(tmp_path, "rec", "--hang-at", "1")
    d = daemon_factory(
        f"[eventlistener:rec]\ncommand={cmd}\nevents=REMOTE_COMMUNICATION\nstartsecs=0\nautorestart=true\n"
    )
    d.wait_state("rec", "RUNNING")
    remote_events(d.rpc.supervisor, 2)
    first = wait_events(out, lambda ev: len(ev) >= 1)[0]
    os.kill(first["pid"], signal.SIGKILL)
    events = wait_events(out, lambda ev: len(ev) >= 3)
    assert [e["payload"] for e in events] == ["type:t\nm0", "type:t\nm0", "type:t\nm1"]
    assert key(events[0]) == key(events[1])


def test_protocol_violation_is_unknown_and_gives_the_event_back(daemon_factory, tmp_path) -> None:
    cmd, out = recorder(tmp_path, "rec", "--garbage-at", "1")
    d = daemon_factory(f"[eventlistener:rec]\ncommand={cmd}\nevents=REMOTE_COMMUNICATION\nstartsecs=0\n")
    d.wait_state("rec", "RUNNING")
    rpc = d.rpc.supervisor
    remote_events(rpc, 2)
    wait_until(lambda: "has entered the UNKNOWN state" in d.read_log(), what="the UNKNOWN warning")
    log = d.read_log()
    assert "WARN rec: bad result line: 'garbage'\n" in log
    assert (
        "WARN rec: has entered the UNKNOWN state and will no longer receive events, "
        "this usually indicates the process violated the eventlistener protocol\n"
    ) in log
    time.sleep(0.3)
    assert len(read_events(out)) == 1  # nothing more for a listener in UNKNOWN
    # A restarted listener starts over and gets the event back, then the next one.
    rpc.stopProcess("rec")
    rpc.startProcess("rec")
    events = wait_events(out, lambda ev: len(ev) >= 3)
    assert [e["payload"] for e in events] == ["type:t\nm0", "type:t\nm0", "type:t\nm1"]
    assert key(events[0]) == key(events[1])


def test_overflow_drops_the_oldest(daemon_factory, tmp_path) -> None:
    # The listener takes the first event and hangs: the next ten pile up in a
    # buffer of three.
    cmd, out = recorder(tmp_path, "rec", "--hang-at", "1")
    d = daemon_factory(
        f"[eventlistener:rec]\ncommand={cmd}\nevents=REMOTE_COMMUNICATION\nbuffer_size=3\n"
        "startsecs=0\nautorestart=true\n"
    )
    d.wait_state("rec", "RUNNING")
    rpc = d.rpc.supervisor
    rpc.sendRemoteCommEvent("t", "m0")
    hung = wait_events(out, lambda ev: len(ev) >= 1)[0]
    serial0 = int(hung["headers"]["serial"])
    remote_events(rpc, 10, prefix="n")
    log = d.read_log()
    dropped = [serial0 + 1 + i for i in range(7)]  # n0 .. n6
    for serial in dropped:
        assert f"ERRO pool rec event buffer overflowed, discarding event {serial}\n" in log
    assert log.count("event buffer overflowed") == 7
    # The hung listener dies: its event goes back to the head of the full
    # buffer, pushing out the oldest queued one (n7).
    os.kill(hung["pid"], signal.SIGKILL)
    events = wait_events(out, lambda ev: len(ev) >= 4)
    assert [e["payload"] for e in events[1:]] == ["type:t\nm0", "type:t\nn8", "type:t\nn9"]
    assert f"discarding event {serial0 + 8}\n" in d.read_log()
    time.sleep(0.3)
    assert len(read_events(out)) == 4


def test_events_go_to_the_first_ready_listener_of_a_pool(daemon_factory, tmp_path) -> None:
    cmd, out = recorder(tmp_path, "rec", "--hang-at", "1")
    d = daemon_factory(
        f"[eventlistener:rec]\ncommand={cmd}\nprocess_name=%(program_name)s_%(process_num)d\nnumprocs=2\n"
        f"events=REMOTE_COMMUNICATION\nstartsecs=0\nstdout_logfile={tmp_path}/%(process_num)d.out\n"
    )
    d.wait_all()
    # Both said READY (their protocol traffic is in their stdout logs).
    for n in (0, 1):
        wait_until(lambda n=n: (tmp_path / f"{n}.out").exists() and (tmp_path / f"{n}.out").read_text() == "READY\n")
    rpc = d.rpc.supervisor
    pids = {p["name"]: p["pid"] for p in rpc.getAllProcessInfo()}
    remote_events(rpc, 3)
    events = wait_events(out, lambda ev: len(ev) >= 3)
    # rec_0 comes first in the pool, takes m0 and hangs; rec_1 gets the rest.
    # (The two write to one file, so sort by event.)
    assert sorted((e["pid"], e["payload"]) for e in events) == sorted([
        (pids["rec_0"], "type:t\nm0"),
        (pids["rec_1"], "type:t\nm1"),
        (pids["rec_1"], "type:t\nm2"),
    ])


def test_a_listener_that_does_not_read_never_holds_the_daemon_up(daemon_factory, tmp_path) -> None:
    # "stuck" says READY once and then never reads: a 128 KiB event does not
    # fit in its pipe.  The daemon must go on managing processes and answering.
    stuck = tmp_path / "stuck.py"
    stuck.write_text("import sys, time\nsys.stdout.write('READY\\n'); sys.stdout.flush()\ntime.sleep(1000)\n")
    big = tmp_path / "big.py"
    big.write_text("import os, time\nos.write(1, b'x' * (256 * 1024))\ntime.sleep(1000)\n")
    d = daemon_factory(
        f"""
[eventlistener:stuck]
command={STOCK_PYTHON} {stuck}
events=PROCESS_LOG
startsecs=0

[program:big]
command={STOCK_PYTHON} {big}
stdout_events_enabled=true
stdout_logfile=NONE
startsecs=0
autostart=false

[program:other]
command=sleep 1000
startsecs=0
autostart=false
"""
    )
    d.wait_state("stuck", "RUNNING")
    rpc = d.rpc.supervisor
    rpc.startProcess("big")
    time.sleep(0.5)
    for _ in range(5):
        t0 = time.monotonic()
        assert rpc.startProcess("other") is True
        assert rpc.stopProcess("other") is True
        assert rpc.getState()["statename"] == "RUNNING"
        assert time.monotonic() - t0 < 2.0
    # Stopping the stuck listener works too (its stdin backlog is dropped).
    assert rpc.stopProcess("stuck") is True
    wait_until(lambda: rpc.getProcessInfo("stuck")["statename"] == "STOPPED")


def test_a_custom_result_handler_judges_the_answers(daemon_factory, tmp_path, monkeypatch) -> None:
    # The handler module must be importable by the daemon, as with stock.
    (tmp_path / "evhandler.py").write_text(
        "class RejectEvent(Exception):\n"
        "    pass\n"
        "def lenient(event, result):\n"
        "    # FAIL counts as done; only NOPE is rejected.\n"
        "    if result == b'NOPE':\n"
        "        raise RejectEvent(result)\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    cmd, out = recorder(tmp_path, "rec", "--fail", "2")
    d = daemon_factory(
        f"[eventlistener:rec]\ncommand={cmd}\nevents=REMOTE_COMMUNICATION\nstartsecs=0\n"
        "result_handler=evhandler:lenient\n"
    )
    d.wait_state("rec", "RUNNING")
    remote_events(d.rpc.supervisor, 3)
    events = wait_events(out, lambda ev: len(ev) >= 3)
    time.sleep(0.3)
    # FAIL was accepted by the handler: nothing came back.
    assert [e["payload"] for e in read_events(out)] == ["type:t\nm0", "type:t\nm1", "type:t\nm2"]
    assert [e["headers"]["poolserial"] for e in events] == ["0", "1", "2"]
    assert "event was rejected" not in d.read_log()
