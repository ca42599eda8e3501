"""The state side of issue 16 end to end, through the daemon's ng.reexec():
a chatty writer, a program in BACKOFF and one STOPPING at the hand-over,
handed over several times; same pids, states and start times, and every
line of the writer in its log once."""

from __future__ import annotations

import sys

from tests.integration.test_handover_state import CHATTY

HAND_OVERS = 20  # the issue: twenty in a row, a chatty writer running throughout


def _info(daemon) -> dict:
    return {p["name"]: p for p in daemon.rpc.supervisor.getAllProcessInfo()}


def _numbers(path) -> list[int]:
    data = path.read_bytes()
    return [int(line) for line in data[: data.rfind(b"\n") + 1].split()]


def test_reexec_carries_states_and_every_line(daemon_factory, tmp_path):
    chatty = tmp_path / "chatty.py"
    chatty.write_text(CHATTY)
    log = tmp_path / "chatty.log"
    daemon = daemon_factory(
        f"[program:chatty]\ncommand={sys.executable} {chatty}\nstartsecs=0\n"
        f"stdout_logfile={log}\nstdout_logfile_maxbytes=0\n"
        "[program:failing]\ncommand=/bin/sh -c 'exit 3'\nstartsecs=1\nstartretries=1000\n"
        "[program:stubborn]\ncommand=/bin/sh -c 'trap \"\" TERM; while :; do sleep 1; done'\n"
        "startsecs=0\nstopwaitsecs=60\n"
    )
    daemon.wait_until(lambda: _info(daemon)["failing"]["statename"] == "BACKOFF", timeout=30.0, what="BACKOFF")
    daemon.wait_until(lambda: _info(daemon)["stubborn"]["statename"] == "RUNNING", timeout=30.0, what="stubborn")
    daemon.rpc.supervisor.stopProcess("stubborn", False)
    before = _info(daemon)
    assert before["stubborn"]["statename"] == "STOPPING"
    daemon_pid = daemon.pid
    for n in range(HAND_OVERS):
        assert daemon.rpc.ng.reexec() is True
        daemon.wait_until(lambda n=n: daemon.read_log().count("programs adopted") == n + 1, timeout=30.0,
                          what=f"hand-over {n + 1}")
        after = _info(daemon)
        assert daemon.pid == daemon_pid
        for name in ("chatty", "stubborn"):
            assert (after[name]["pid"], after[name]["start"], after[name]["statename"]) == (
                before[name]["pid"], before[name]["start"], before[name]["statename"])
        assert after["failing"]["statename"] in ("BACKOFF", "STARTING")
    assert "cannot adopt" not in daemon.read_log()
    # In cgroup mode every generation names the same subtree: a hand-over
    # must not nest a new one inside the daemon's leaf.
    subtrees = {line.split(" under ", 1)[1].split(" (", 1)[0]
                for line in daemon.read_log().splitlines() if "in a cgroup of its own under" in line}
    assert len(subtrees) <= 1, subtrees
    size = log.stat().st_size
    daemon.wait_until(lambda: log.stat().st_size > size + 100_000, timeout=30.0, what="more output")
    daemon.rpc.supervisor.stopProcess("chatty")
    numbers = _numbers(log)
    assert numbers == list(range(len(numbers)))
    daemon.rpc.supervisor.signalProcess("stubborn", "KILL")
    daemon.wait_until(lambda: _info(daemon)["stubborn"]["statename"] == "STOPPED", timeout=30.0, what="stubborn")
