"""Every event type, as a listener written with the stock ``childutils`` gets
it from our daemon: exact header lines and bodies, serials, capture mode."""

from __future__ import annotations

import time

from tests.integration.events_fixtures import (
    STOCK_PYTHON,
    has,
    names,
    read_events,
    recorder,
    wait_events,
    wait_until,
)

TALKER = (
    "sh -c 'printf \"out\\n\"; printf \"err\\n\" >&2; sleep 0.3; "
    "printf \"a<!--XSUPERVISOR:BEGIN-->to stdout<!--XSUPERVISOR:END-->b\\n\"; "
    "printf \"<!--XSUPERVISOR:BEGIN-->to stderr<!--XSUPERVISOR:END-->\" >&2; exec sleep 1000'"
)


def config(tmp_path) -> tuple[str, object, object]:
    rec_cmd, rec_out = recorder(tmp_path, "rec")
    groups_cmd, groups_out = recorder(tmp_path, "groups")
    programs = f"""
[eventlistener:rec]
command={rec_cmd}
events=EVENT
buffer_size=500
startsecs=0

[eventlistener:groups]
command={groups_cmd}
events=PROCESS_GROUP
startsecs=0

[program:talker]
command={TALKER}
stdout_events_enabled=true
stderr_events_enabled=true
stdout_capture_maxbytes=1KB
stderr_capture_maxbytes=1KB
stdout_logfile={tmp_path}/talker.out
stderr_logfile={tmp_path}/talker.err
startsecs=0

[program:crasher]
command=sh -c 'sleep 1.3; exit 3'
startsecs=1
autorestart=false

[program:quitter]
command=sh -c 'exit 1'
startretries=1

[program:slowstop]
command=sh -c 'trap "sleep 0.5; exit 0" TERM; while :; do sleep 0.1; done'
startsecs=0

[program:manual]
command=sleep 1000
autostart=false
"""
    return programs, rec_out, groups_out


def states_of(events, process: str) -> list[tuple[str, str]]:
    """(event name, body) of the PROCESS_STATE_* events of one process."""
    return [
        (e["headers"]["eventname"], e["payload"])
        for e in events
        if e["headers"]["eventname"].startswith("PROCESS_STATE_") and e["payload"].startswith(f"processname:{process} ")
    ]


def test_every_event_type_with_exact_headers_and_bodies(daemon_factory, tmp_path) -> None:
    programs, rec_out, groups_out = config(tmp_path)
    d = daemon_factory(programs)
    rpc = d.rpc.supervisor
    talker_pid = wait_until(lambda: rpc.getProcessInfo("talker")["pid"], what="talker pid")

    # The daemon's own events, the start-up of everything, capture mode.
    wait_events(rec_out, has("PROCESS_STATE_FATAL"), what="quitter FATAL")
    wait_events(rec_out, has("PROCESS_STATE_EXITED"), what="crasher EXITED")
    wait_events(rec_out, has("PROCESS_COMMUNICATION_STDERR"), what="capture on stderr")

    # Through the API: a remote comm event, a start and a stop, a group removed and added.
    assert rpc.sendRemoteCommEvent("mytype", "some data\nline 2") is True
    assert rpc.startProcess("manual") is True
    manual_pid = rpc.getProcessInfo("manual")["pid"]
    assert rpc.stopProcess("manual") is True
    assert rpc.removeProcessGroup("manual") is True
    assert rpc.addProcessGroup("manual") is True
    wait_events(rec_out, has("PROCESS_GROUP_ADDED", where=lambda e: e["payload"] == "groupname:manual\n", count=2))
    now = time.time()
    wait_events(rec_out, has("TICK_5"), timeout=8, what="TICK_5")
    d.stop()
    events = read_events(rec_out)

    # -- headers -----------------------------------------------------------------------
    serial = -1
    for i, e in enumerate(events):
        h = e["headers"]
        assert set(h) == {"ver", "server", "serial", "pool", "poolserial", "eventname", "len"}, h
        assert (h["ver"], h["server"], h["pool"]) == ("3.0", "test-ours", "rec")
        assert int(h["len"]) == len(e["payload"])
        assert int(h["poolserial"]) == i  # nothing dropped or repeated: 0, 1, 2, ...
        assert int(h["serial"]) > serial
        serial = int(h["serial"])

    # -- the start-up order of stock: groups added, RUNNING, then the first spawns --------
    added = ["rec", "crasher", "manual", "quitter", "slowstop", "talker"]
    assert names(events)[: len(added) + 1] == ["PROCESS_GROUP_ADDED"] * len(added) + ["SUPERVISOR_STATE_CHANGE_RUNNING"]
    assert [e["payload"] for e in events[: len(added)]] == [f"groupname:{g}\n" for g in added]
    assert events[len(added)]["payload"] == ""

    # -- process state bodies --------------------------------------------------------------
    crasher = states_of(events, "crasher")
    crasher_pid = crasher[1][1].rsplit(":", 1)[1]
    assert crasher == [
        ("PROCESS_STATE_STARTING", "processname:crasher groupname:crasher from_state:STOPPED tries:0"),
        ("PROCESS_STATE_RUNNING", f"processname:crasher groupname:crasher from_state:STARTING pid:{crasher_pid}"),
        ("PROCESS_STATE_EXITED", f"processname:crasher groupname:crasher from_state:RUNNING expected:0 pid:{crasher_pid}"),
    ]
    assert states_of(events, "quitter") == [
        ("PROCESS_STATE_STARTING", "processname:quitter groupname:quitter from_state:STOPPED tries:0"),
        ("PROCESS_STATE_BACKOFF", "processname:quitter groupname:quitter from_state:STARTING tries:1"),
        ("PROCESS_STATE_STARTING", "processname:quitter groupname:quitter from_state:BACKOFF tries:1"),
        ("PROCESS_STATE_BACKOFF", "processname:quitter groupname:quitter from_state:STARTING tries:2"),
        ("PROCESS_STATE_FATAL", "processname:quitter groupname:quitter from_state:BACKOFF"),
    ]
    assert states_of(events, "manual") == [
        ("PROCESS_STATE_STARTING", "processname:manual groupname:manual from_state:STOPPED tries:0"),
        ("PROCESS_STATE_RUNNING", f"processname:manual groupname:manual from_state:STARTING pid:{manual_pid}"),
        ("PROCESS_STATE_STOPPING", f"processname:manual groupname:manual from_state:RUNNING pid:{manual_pid}"),
        ("PROCESS_STATE_STOPPED", f"processname:manual groupname:manual from_state:STOPPING pid:{manual_pid}"),
    ]
    assert states_of(events, "talker")[:2] == [
        ("PROCESS_STATE_STARTING", "processname:talker groupname:talker from_state:STOPPED tries:0"),
        ("PROCESS_STATE_RUNNING", f"processname:talker groupname:talker from_state:STARTING pid:{talker_pid}"),
    ]

    # -- output: log events carry everything (captured text too, as stock), the
    # log files do not get the captured text, one event per finished message.
    def joined(name: str) -> str:
        prefix = f"processname:talker groupname:talker pid:{talker_pid} channel:{name.rsplit('_', 1)[1].lower()}\n"
        bodies = [e["payload"] for e in events if e["headers"]["eventname"] == name]
        assert bodies and all(b.startswith(prefix) for b in bodies)
        return "".join(b[len(prefix) :] for b in bodies)

    assert joined("PROCESS_LOG_STDOUT") == "out\nato stdoutb\n"
    assert joined("PROCESS_LOG_STDERR") == "err\nto stderr"
    comm = [(e["headers"]["eventname"], e["payload"]) for e in events if e["headers"]["eventname"].startswith("PROCESS_COMMUNICATION")]
    assert comm == [
        ("PROCESS_COMMUNICATION_STDOUT", f"processname:talker groupname:talker pid:{talker_pid}\nto stdout"),
        ("PROCESS_COMMUNICATION_STDERR", f"processname:talker groupname:talker pid:{talker_pid}\nto stderr"),
    ]
    assert (tmp_path / "talker.out").read_text() == "out\nab\n"
    assert (tmp_path / "talker.err").read_text() == "err\n"

    # -- the API's events, groups, ticks, the stop -------------------------------------------
    remote = [e["payload"] for e in events if e["headers"]["eventname"] == "REMOTE_COMMUNICATION"]
    assert remote == ["type:mytype\nsome data\nline 2"]
    group_events = [(e["headers"]["eventname"], e["payload"]) for e in events if "PROCESS_GROUP_" in e["headers"]["eventname"]]
    assert group_events[-2:] == [
        ("PROCESS_GROUP_REMOVED", "groupname:manual\n"),
        ("PROCESS_GROUP_ADDED", "groupname:manual\n"),
    ]
    ticks = [e["payload"] for e in events if e["headers"]["eventname"] == "TICK_5"]
    when = int(ticks[0].split(":")[1])
    assert when % 5 == 0 and now - 6 < when < now + 10
    assert ("SUPERVISOR_STATE_CHANGE_STOPPING", "") in [(e["headers"]["eventname"], e["payload"]) for e in events]

    # -- a second pool: its own poolserial, the global serial shared ----------------------------
    groups = read_events(groups_out)
    by_body: dict = {}
    for e in events:
        by_body.setdefault((e["headers"]["eventname"], e["payload"]), e["headers"]["serial"])
    assert [int(e["headers"]["poolserial"]) for e in groups] == list(range(len(groups)))
    assert [e["payload"] for e in groups][:7] == [f"groupname:{g}\n" for g in ["groups", *added]]
    for e in groups[1:7]:
        assert e["headers"]["pool"] == "groups"
        assert by_body[(e["headers"]["eventname"], e["payload"])] == e["headers"]["serial"]
    assert int(groups[0]["headers"]["serial"]) == int(events[0]["headers"]["serial"]) - 1  # its own ADDED


def test_listener_stdout_is_the_protocol_and_stderr_is_logged(daemon_factory, tmp_path) -> None:
    """Stock logs a listener's protocol traffic to its stdout log and its
    stderr as any program's; capture mode works on a listener's stderr."""
    script = tmp_path / "chatty.py"
    script.write_text(
        "import sys\n"
        "from supervisor import childutils\n"
        "sys.stderr.write('starting\\n<!--XSUPERVISOR:BEGIN-->hello from a listener<!--XSUPERVISOR:END-->')\n"
        "sys.stderr.flush()\n"
        "while True:\n"
        "    h, p = childutils.listener.wait(sys.stdin, sys.stdout)\n"
        "    childutils.listener.ok(sys.stdout)\n"
    )
    rec_cmd, rec_out = recorder(tmp_path, "rec")
    programs = f"""
[eventlistener:rec]
command={rec_cmd}
events=PROCESS_COMMUNICATION
startsecs=0

[eventlistener:chatty]
command={STOCK_PYTHON} {script}
events=SUPERVISOR_STATE_CHANGE_RUNNING
stdout_logfile={tmp_path}/chatty.out
stderr_logfile={tmp_path}/chatty.err
stderr_capture_maxbytes=1KB
startsecs=0
"""
    d = daemon_factory(programs)
    events = wait_events(rec_out, has("PROCESS_COMMUNICATION_STDERR"))
    pid = d.rpc.supervisor.getProcessInfo("chatty")["pid"]
    assert events[0]["payload"] == f"processname:chatty groupname:chatty pid:{pid}\nhello from a listener"
    wait_until(lambda: (tmp_path / "chatty.out").exists() and "OK" in (tmp_path / "chatty.out").read_text())
    assert (tmp_path / "chatty.out").read_text().startswith("READY\nRESULT 2\nOK")
    assert (tmp_path / "chatty.err").read_text() == "starting\n"
