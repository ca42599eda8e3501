"""Delivery rules: FAIL and a listener's death give the event back, a full
buffer drops the oldest, events go to the first ready listener of a pool, and
a listener that does not read never holds the daemon up."""

from __future__ import annotations

import os
import signal

from tests.integration.events_fixtures import (
    STOCK_PYTHON,
    read_events,
    recorder,
    wait_events,
    wait_until,
)
from tests.waiting import pipe_fill


def key(e) -> tuple[str, str, str]:
    h = e["headers"]
    return h["serial"], h["poolserial"], e["payload"]


def remote_events(rpc, count: int, prefix: str = "m") -> None:
    for i in range(count):
        rpc.sendRemoteCommEvent("t", f"{prefix}{i}")


MARKER = "type:t\nmarker"


def up_to_marker(rpc, out) -> list:
    """Send one more event and return what the listener recording to
    ``out`` got before it: a listener takes its pool's events one at a time
    and in order, so anything still to come for it would come first."""
    rpc.sendRemoteCommEvent("t", "marker")
    events = wait_events(out, lambda ev: any(e["payload"] == MARKER for e in ev), what="the marker event")
    return events[: [e["payload"] for e in events].index(MARKER)]


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
    # A second pool on the same events: what it gets marks how far the daemon got.
    witness_cmd, witness_out = recorder(tmp_path, "witness")
    d = daemon_factory(
        f"[eventlistener:rec]\ncommand={cmd}\nevents=REMOTE_COMMUNICATION\nstartsecs=0\n\n"
        f"[eventlistener:witness]\ncommand={witness_cmd}\nevents=REMOTE_COMMUNICATION\nstartsecs=0\n"
    )
    d.wait_all()
    rpc = d.rpc.supervisor
    remote_events(rpc, 2)
    wait_until(lambda: "has entered the UNKNOWN state" in d.read_log(), what="the UNKNOWN warning")
    log = d.read_log()
    assert "WARN rec: bad result line: 'garbage'\n" in log
    assert (
        "WARN rec: has entered the UNKNOWN state and will no longer receive events, "
        "this usually indicates the process violated the eventlistener protocol\n"
    ) in log
    # Nothing more for a listener in UNKNOWN, not even once it says READY
    # again (the daemon has read that line once it is in the capture log),
    # nor when a later event is sent to every pool.
    d.wait_until(lambda: rpc.readProcessStdoutLog("rec", 0, 0).endswith("garbage\nREADY\n"), what="READY again")
    assert [e["payload"] for e in up_to_marker(rpc, witness_out)] == ["type:t\nm0", "type:t\nm1"]
    assert len(read_events(out)) == 1
    # A restarted listener starts over and gets the event back, then the next ones.
    rpc.stopProcess("rec")
    rpc.startProcess("rec")
    events = wait_events(out, lambda ev: len(ev) >= 4)
    assert [e["payload"] for e in events] == ["type:t\nm0", "type:t\nm0", "type:t\nm1", MARKER]
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
    assert len(up_to_marker(rpc, out)) == 4  # n7 was not given to anybody


def test_events_go_to_the_first_ready_listener_of_a_pool(daemon_factory, tmp_path) -> None:
    # Whichever process gets m0 keeps it; which one that is, is the question.
    cmd, out = recorder(tmp_path, "rec", "--hang-poolserial", "0")
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
    stuck_pid = rpc.getProcessInfo("stuck")["pid"]

    def stdin_full() -> bool:
        waiting, capacity = pipe_fill(stuck_pid, 0)
        return waiting >= capacity

    wait_until(stdin_full, what="the stuck listener's stdin to fill up")
    # A daemon that waited for that pipe would never answer (the proxy gives
    # up after 30 s); one that does not answers at once.
    for _ in range(5):
        assert rpc.startProcess("other") is True
        assert rpc.stopProcess("other") is True
        assert rpc.getState()["statename"] == "RUNNING"
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
    events = up_to_marker(d.rpc.supervisor, out)
    # FAIL was accepted by the handler: nothing came back.
    assert [e["payload"] for e in events] == ["type:t\nm0", "type:t\nm1", "type:t\nm2"]
    assert [e["headers"]["poolserial"] for e in events] == ["0", "1", "2"]
    assert "event was rejected" not in d.read_log()
