"""The state side of the hand-over by exec (issue 16), without the exec: one
Supervisor with real children is captured, and a fresh Supervisor in the
same process adopts what it handed over.  The children are the same
processes throughout; their state, times and pending timers carry over, and a
chatty writer's numbered lines reach its log file once each."""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from supervisor_ng.config.loader import load
from supervisor_ng.core.states import ProcessState as S
from supervisor_ng.events.bus import SerialCounter
from supervisor_ng.events.capture import BEGIN_TOKEN, END_TOKEN, Capture
from supervisor_ng.logs.ansi import AnsiStripper
from supervisor_ng.logs.journal import ChannelJournal
from supervisor_ng.logs.rotating import RotatingFile
from supervisor_ng.logs.syslog_out import SyslogLineWriter
from supervisor_ng.runtime import cgroup, handover_state
from supervisor_ng.runtime.destinations import Destinations
from supervisor_ng.runtime.faults import Faults
from supervisor_ng.runtime.output import OutputChannel
from supervisor_ng.runtime.reaper import Reaper
from supervisor_ng.runtime.stdin_writer import StdinWriter
from supervisor_ng.runtime.supervisor import Supervisor
from tests.unit.test_runtime_supervisor import RecordingLog

TIMEOUT = 60.0
_PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture(autouse=True)
def _leave_the_worker_as_it_was(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """These Supervisors run inside the test worker: it must not stay a
    subreaper (later tests check that a daemonized supervisord is not our
    child) nor move into cgroups of its own."""
    monkeypatch.setenv(cgroup.ENV_SWITCH, "off")
    yield
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

CHATTY = (
    "import sys\n"
    "i = 0\n"
    "while True:\n"
    "    sys.stdout.write('%d\\n' % i)\n"
    "    i += 1\n"
    "    if i % 64 == 0:\n"
    "        sys.stdout.flush()\n"
)




async def until(predicate: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def write_config(tmp_path: Path, extra: str = "") -> str:
    chatty = tmp_path / "chatty.py"
    chatty.write_text(CHATTY)
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"[supervisord]\nlogfile={tmp_path}/sd.log\nchildlogdir={tmp_path}\n"
        f"[program:chatty]\ncommand={sys.executable} {chatty}\nstartsecs=0\n"
        f"stdout_logfile={tmp_path}/chatty.log\nstdout_logfile_maxbytes=0\nstderr_logfile=NONE\n"
        "[program:many]\ncommand=/bin/sleep 1000\nnumprocs=3\nprocess_name=%(program_name)s_%(process_num)d\n"
        "startsecs=0\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
        "[program:slowstart]\ncommand=/bin/sleep 1000\nstartsecs=8\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
        "[program:failing]\ncommand=/bin/sh -c 'exit 3'\nstartsecs=1\nstartretries=50\n"
        "stdout_logfile=NONE\nstderr_logfile=NONE\n"
        "[program:stubborn]\ncommand=/bin/sh -c 'trap \"\" TERM; while :; do sleep 1; done'\nstartsecs=0\n"
        "stopwaitsecs=3\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
        "[program:idle]\ncommand=/bin/sleep 1000\nautostart=false\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
        + extra
    )
    return str(conf)


def procs(sv: Supervisor) -> dict:
    return {p.name: p for p in sv.processes()}


def snapshot(sv: Supervisor) -> dict:
    return {
        name: (p.state, p.pid, p.start_time, p.stop_time, p.spawns, p.machine.backoff,
               p.machine.deadline(), p.exitstatus, p.spawnerr, p.machine.killing)
        for name, p in procs(sv).items()
    }


def new_supervisor(conf: str, reaper: Reaper, serial: SerialCounter, adopt: Any = None) -> tuple[Supervisor, RecordingLog]:
    log = RecordingLog()
    sv = Supervisor(load(conf), log, reaper=reaper, serial=serial, faults=Faults(log), adopt=adopt)
    return sv, log


def log_numbers(path: Path) -> list[int]:
    data = path.read_bytes()
    return [int(line) for line in data[: data.rfind(b"\n") + 1].split()]


async def hand_over(sv: Supervisor, task: asyncio.Task, conf: str, serial: SerialCounter,
                    tamper: Callable[[dict], None] = lambda state: None):
    """capture() from ``sv``, end it without stopping anything (what the exec
    does), adopt into a fresh Supervisor."""
    state, fds = handover_state.capture(sv)
    tamper(state)
    assert handover_state.check(state) == []
    state = json.loads(json.dumps(state))  # what the new binary reads
    for fd in fds:
        os.fstat(fd)  # open, and left open by the old generation
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    sv2, log2 = new_supervisor(conf, Reaper(), serial, adopt=state)  # the exec leaves the old reaper behind
    task2 = asyncio.get_running_loop().create_task(sv2.run())
    while not sv2.groups:  # run() adopts in its first step, before its first await
        await asyncio.sleep(0)
    return sv2, log2, task2


async def scenario(tmp_path: Path) -> None:
    conf = write_config(tmp_path)
    reaper, serial = Reaper(), SerialCounter()
    sv, log = new_supervisor(conf, reaper, serial)
    loop = asyncio.get_running_loop()
    task = loop.create_task(sv.run())
    await until(lambda: len(procs(sv)) == 8 and procs(sv)["stubborn"].state == S.RUNNING, "the start")
    await until(lambda: procs(sv)["chatty"].state == S.RUNNING, "chatty")
    await until(lambda: procs(sv)["failing"].state == S.BACKOFF and procs(sv)["failing"].machine.backoff >= 2,
                "failing in BACKOFF")
    chatty_log = tmp_path / "chatty.log"
    await until(lambda: chatty_log.stat().st_size > 100_000, "chatty's output")
    procs(sv)["stubborn"].stop()
    before = snapshot(sv)
    assert before["slowstart"][0] == S.STARTING and before["slowstart"][6] is not None
    assert before["stubborn"][0] == S.STOPPING
    assert before["idle"][0] == S.STOPPED

    sv2, log2, task2 = await hand_over(sv, task, conf, serial)
    after = snapshot(sv2)
    assert after == before
    assert not [line for line in log2.lines if "cannot adopt" in line]

    # the timers carried over run out in the new generation
    await until(lambda: procs(sv2)["slowstart"].state == S.RUNNING, "slowstart RUNNING")
    assert procs(sv2)["slowstart"].pid == before["slowstart"][1]
    await until(lambda: procs(sv2)["stubborn"].state == S.STOPPED, "stubborn killed")
    assert any("killing 'stubborn'" in line and "SIGKILL" in line for line in log2.lines)
    await until(lambda: procs(sv2)["failing"].machine.backoff > before["failing"][5], "the next retry")

    # and the chatty writer lost no line and wrote none twice
    seen = len(log_numbers(chatty_log))
    await until(lambda: chatty_log.stat().st_size > 2 * 100_000 + seen, "more output after the hand-over")
    chatty = procs(sv2)["chatty"]
    chatty.stop()
    await until(lambda: chatty.state == S.STOPPED, "chatty stopped")
    numbers = log_numbers(chatty_log)
    assert numbers == list(range(len(numbers)))

    sv2.request_shutdown()
    assert await task2 == "shutdown"


def test_capture_then_adopt_in_a_fresh_supervisor(tmp_path: Path) -> None:
    asyncio.run(scenario(tmp_path))


async def abort_scenario(tmp_path: Path) -> None:
    conf = write_config(tmp_path)
    sv, log = new_supervisor(conf, Reaper(), SerialCounter())
    task = asyncio.get_running_loop().create_task(sv.run())
    await until(lambda: len(procs(sv)) == 8 and procs(sv)["chatty"].state == S.RUNNING, "the start")
    assert procs(sv)["slowstart"].state == S.STARTING
    before = snapshot(sv)
    handover_state.capture(sv)
    handover_state.abort(sv)
    assert snapshot(sv) == before
    await until(lambda: procs(sv)["slowstart"].state == S.RUNNING, "slowstart RUNNING after the abort")
    chatty_log = tmp_path / "chatty.log"
    size = chatty_log.stat().st_size
    await until(lambda: chatty_log.stat().st_size > size + 100_000, "chatty read again")
    sv.request_shutdown()
    assert await task == "shutdown"


def test_abort_resumes_everything(tmp_path: Path) -> None:
    asyncio.run(abort_scenario(tmp_path))


def test_check_refuses_another_format() -> None:
    empty = {"waiting_to_start": [], "waiting_to_stop": []}
    assert handover_state.check({"format": handover_state.FORMAT_VERSION, "groups": {}, "dependencies": empty}) == []
    assert handover_state.check({"format": 999, "groups": {}})
    assert handover_state.check({"format": handover_state.FORMAT_VERSION, "groups": {"g": {"current": True}}})


async def update_scenario(tmp_path: Path) -> None:
    conf = write_config(tmp_path)
    sv, log = new_supervisor(conf, Reaper(), SerialCounter())
    task = asyncio.get_running_loop().create_task(sv.run())
    await until(lambda: len(procs(sv)) == 8 and all(p.state == S.RUNNING for p in procs(sv).values()
                                                     if p.name.startswith(("many", "chatty"))),
                "the start")
    before = snapshot(sv)
    # on disk now: slowstart changed, idle removed (renamed), fresh2 added
    text = Path(conf).read_text()
    text = text.replace("[program:slowstart]\ncommand=/bin/sleep 1000", "[program:slowstart]\ncommand=/bin/sleep 999")
    text = text.replace("[program:idle]", "[program:renamed]")
    text += "[program:fresh2]\ncommand=/bin/sleep 1000\nstartsecs=0\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
    Path(conf).write_text(text)

    def unreadable(state: dict) -> None:
        state["groups"]["chatty"]["processes"]["chatty"]["machine"]["state"] = "NOSUCH"

    sv2, log2, task2 = await hand_over(sv, task, conf, SerialCounter(), tamper=unreadable)
    now = procs(sv2)
    for name in ("many_0", "many_1", "many_2", "stubborn"):
        assert now[name].pid == before[name][1]
    await until(lambda: "idle" not in sv2.groups and "fresh2" in sv2.groups and "renamed" in sv2.groups,
                "update applied")
    await until(lambda: procs(sv2)["fresh2"].state == S.RUNNING, "the added program started")
    await until(lambda: procs(sv2)["slowstart"].pid not in (0, before["slowstart"][1]), "slowstart restarted")
    # a process it could not adopt: named in the log, killed, started again
    assert any(line.startswith("cannot adopt chatty") for line in log2.lines)
    await until(lambda: procs(sv2)["chatty"].pid not in (0, before["chatty"][1]), "chatty restarted")
    await until(lambda: not os.path.exists(f"/proc/{before['chatty'][1]}"), "the old chatty gone")
    sv2.request_shutdown()
    assert await task2 == "shutdown"


def test_adopt_then_update_and_restart_what_cannot_be_adopted(tmp_path: Path) -> None:
    asyncio.run(update_scenario(tmp_path))


async def partial_line_scenario() -> None:
    loop = asyncio.get_running_loop()
    syslog_lines: list[str] = []
    journal_lines: list[bytes] = []

    def channel() -> OutputChannel:
        return OutputChannel("stdout", Destinations(
            syslog=SyslogLineWriter("p", sink=lambda priority, text: syslog_lines.append(text)),
            journal=ChannelJournal("p", "p", "stdout", sender=lambda message, *fields: journal_lines.append(message)),
        ))

    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    old = channel()
    old.attach(read_end, loop)
    os.write(write_end, b"one\npar")
    await until(lambda: syslog_lines == ["p one"], "the first line")
    fd, held = old.release(), old.held()
    os.write(write_end, b"t")  # waits in the pipe during the hand-over
    held = json.loads(json.dumps(held))
    new = channel()
    new.hold(held)
    new.attach(fd, loop)
    os.write(write_end, b"ial\n")
    await until(lambda: len(syslog_lines) == 2, "the second line")
    assert syslog_lines == ["p one", "p partial"]
    assert journal_lines == [b"MESSAGE=one", b"MESSAGE=partial"]
    old.close()  # has nothing left to send or close
    assert syslog_lines == ["p one", "p partial"]
    new.close()
    os.close(write_end)


def test_partial_lines_held_in_python_are_carried() -> None:
    asyncio.run(partial_line_scenario())


async def stream_state_scenario() -> None:
    loop = asyncio.get_running_loop()
    lines: list[str] = []
    messages: list[bytes] = []

    def channel() -> OutputChannel:
        return OutputChannel("stdout", Destinations(
            syslog=SyslogLineWriter("p", sink=lambda priority, text: lines.append(text)),
            stripper=AnsiStripper(),
            capture=Capture(1024),
            on_message=messages.append,
        ))  # fmt: skip

    def hand_over(old: OutputChannel, fd: int) -> OutputChannel:
        released, held = old.release(), json.loads(json.dumps(old.held()))
        assert released == fd
        new = channel()
        new.hold(held)
        new.attach(fd, loop)
        old.close()
        return new

    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    first = channel()
    first.attach(read_end, loop)
    # An escape sequence cut after its ESC, then a capture-mode message cut
    # in two: each goes on in the next image as if nothing happened.
    os.write(write_end, b"x\x1b")
    await until(lambda: first.destinations.stripper.hand_over()["held_esc"], "the ESC held back")
    second = hand_over(first, read_end)
    os.write(write_end, b"[1mbold\n" + BEGIN_TOKEN + b"mess")
    await until(lambda: second.destinations.capture.capturing, "capture mode")
    await until(lambda: lines == ["p xbold"], "the line without its escape sequence")
    third = hand_over(second, read_end)
    os.write(write_end, b"age" + END_TOKEN + b"after\n")
    await until(lambda: messages == [b"message"], "the whole message")
    await until(lambda: lines == ["p xbold", "p after"], "the line after the message")
    third.close()
    os.close(write_end)


def test_ansi_and_capture_mode_are_carried() -> None:
    asyncio.run(stream_state_scenario())


LISTENER = (
    "import os, sys, time\n"
    "out, go = sys.argv[1], sys.argv[2]\n"
    "while True:\n"
    "    sys.stdout.write('READY\\n'); sys.stdout.flush()\n"
    "    header = dict(f.split(':', 1) for f in sys.stdin.readline().split())\n"
    "    body = sys.stdin.read(int(header['len']))\n"
    "    with open(out, 'a') as f:\n"
    "        f.write('%s %s %s\\n' % (header['serial'], header['poolserial'], body.split('\\n', 1)[1]))\n"
    "    while not os.path.exists(go):\n"
    "        time.sleep(0.01)\n"
    "    sys.stdout.write('RESULT 2\\nOK'); sys.stdout.flush()\n"
)


async def listener_scenario(tmp_path: Path) -> None:
    script, out, go = tmp_path / "listener.py", tmp_path / "events.txt", tmp_path / "go"
    script.write_text(LISTENER)
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"[supervisord]\nlogfile={tmp_path}/sd.log\nchildlogdir={tmp_path}\n"
        f"[eventlistener:listen]\ncommand={sys.executable} {script} {out} {go}\n"
        "events=REMOTE_COMMUNICATION\nstartsecs=0\nstderr_logfile=NONE\n"
    )
    serial = SerialCounter()
    sv, _ = new_supervisor(str(conf), Reaper(), serial)
    task = asyncio.get_running_loop().create_task(sv.run())
    await until(lambda: "listen" in sv.groups and procs(sv)["listen"].state == S.RUNNING
                and procs(sv)["listen"].listener.ready, "the listener ready")
    for n in range(5):
        sv.emit_remote_communication("test", f"event {n}")
    await until(lambda: out.exists() and out.read_text().count("\n") == 1, "the first event in flight")
    pool = sv.groups["listen"].listeners
    assert pool.buffered() == 4 and pool.listeners[0].current is not None

    sv2, _, task2 = await hand_over(sv, task, str(conf), serial)
    pool2 = sv2.groups["listen"].listeners
    assert pool2.buffered() == 4
    assert pool2.listeners[0].current is not None and pool2.listeners[0].current.event.serial == 0
    go.write_text("")
    await until(lambda: out.read_text().count("\n") == 5, "every event delivered")
    await until(lambda: pool2.listeners[0].ready and pool2.listeners[0].current is None, "the last answer")
    lines = out.read_text().splitlines()
    assert lines == [f"{n} {n} event {n}" for n in range(5)]
    sv2.emit_remote_communication("test", "after")
    await until(lambda: out.read_text().count("\n") == 6, "a new event")
    assert out.read_text().splitlines()[-1] == "5 5 after"  # the serials go on
    sv2.request_shutdown()
    assert await task2 == "shutdown"


def test_listener_pool_buffer_and_event_in_flight_carried(tmp_path: Path) -> None:
    asyncio.run(listener_scenario(tmp_path))


def socket_inode(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/fd/0")


async def fcgi_scenario(tmp_path: Path) -> None:
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"[supervisord]\nlogfile={tmp_path}/sd.log\nchildlogdir={tmp_path}\n"
        f"[fcgi-program:web]\nsocket=unix://{tmp_path}/web.sock\ncommand=/bin/sleep 1000\nstartsecs=0\n"
        "numprocs=2\nprocess_name=%(program_name)s_%(process_num)d\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
    )
    sv, _ = new_supervisor(str(conf), Reaper(), SerialCounter())
    task = asyncio.get_running_loop().create_task(sv.run())
    await until(lambda: len(procs(sv)) == 2 and all(p.state == S.RUNNING for p in procs(sv).values()), "the start")
    before = snapshot(sv)
    listening = socket_inode(before["web_0"][1])
    sv2, log2, task2 = await hand_over(sv, task, str(conf), SerialCounter())
    assert snapshot(sv2) == before
    web0 = procs(sv2)["web_0"]
    web0.stop()
    await until(lambda: web0.state == S.STOPPED, "web_0 stopped")
    web0.start()  # spawned by the new generation on the socket it took over
    await until(lambda: web0.state == S.RUNNING, "web_0 started again")
    assert web0.pid != before["web_0"][1]
    assert socket_inode(web0.pid) == listening
    assert (tmp_path / "web.sock").exists()
    sv2.request_shutdown()
    assert await task2 == "shutdown"


def test_fcgi_program_socket_carried(tmp_path: Path) -> None:
    asyncio.run(fcgi_scenario(tmp_path))


async def liveness_scenario(tmp_path: Path) -> None:
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"[supervisord]\nlogfile={tmp_path}/sd.log\nchildlogdir={tmp_path}\n"
        "[program:checked]\ncommand=/bin/sleep 1000\nstartsecs=0\nhealthcheck=exec:/bin/true\n"
        "healthcheck_interval=0.2\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
    )
    sv, _ = new_supervisor(str(conf), Reaper(), SerialCounter())
    task = asyncio.get_running_loop().create_task(sv.run())
    await until(lambda: "checked" in sv.groups and procs(sv)["checked"].liveness.health_checks >= 2, "two checks")
    sv2, _, task2 = await hand_over(sv, task, str(conf), SerialCounter())
    checked = procs(sv2)["checked"]
    carried = checked.liveness.health_checks
    assert carried >= 2  # the counters carried over
    await until(lambda: checked.liveness.health_checks >= carried + 2, "checks going on in the new generation")
    assert checked.pid and checked.liveness.healthy
    sv2.request_shutdown()
    assert await task2 == "shutdown"


def test_liveness_state_and_timers_carried(tmp_path: Path) -> None:
    asyncio.run(liveness_scenario(tmp_path))


async def dependency_scenario(tmp_path: Path) -> None:
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"[supervisord]\nlogfile={tmp_path}/sd.log\nchildlogdir={tmp_path}\n"
        "[program:base]\ncommand=/bin/sleep 1000\nstartsecs=4\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
        "[program:app]\ncommand=/bin/sleep 1000\nstartsecs=0\ndepends_on=base\n"
        "stdout_logfile=NONE\nstderr_logfile=NONE\n"
    )
    sv, _ = new_supervisor(str(conf), Reaper(), SerialCounter())
    task = asyncio.get_running_loop().create_task(sv.run())
    await until(lambda: "app" in sv.groups and sv.live_state()["dependencies"]["waiting_to_start"] == ["app:app"],
                "app waiting for base")
    assert procs(sv)["base"].state == S.STARTING
    sv2, _, task2 = await hand_over(sv, task, str(conf), SerialCounter())
    assert sv2.live_state()["dependencies"]["waiting_to_start"] == ["app:app"]
    app = procs(sv2)["app"]
    assert app.state == S.STARTING and not app.pid
    await until(lambda: app.state == S.RUNNING, "app spawned once base is RUNNING")
    assert procs(sv2)["base"].state == S.RUNNING
    sv2.request_shutdown()
    assert await task2 == "shutdown"


def test_dependency_waiters_carried(tmp_path: Path) -> None:
    asyncio.run(dependency_scenario(tmp_path))


async def slow_log_reader_scenario() -> None:
    read_end, write_end = os.pipe()
    path = f"/proc/self/fd/{write_end}"  # a log "file" that is a pipe nobody reads yet
    data = b"".join(b"%d\n" % n for n in range(40_000))
    old = RotatingFile(path)
    old.write(data)
    pending = old.hand_over()
    assert pending  # more than the pipe holds: the rest waited in Python
    old.close()
    new = RotatingFile(path)
    new.write(pending)
    received = b""
    os.set_blocking(read_end, False)
    while len(received) < len(data):
        try:
            received += os.read(read_end, 1 << 16)
        except BlockingIOError:
            await asyncio.sleep(0.01)  # the new file's writer runs on the loop
    assert received == data
    new.close()
    os.close(read_end)
    os.close(write_end)


def test_bytes_waiting_for_a_slow_log_reader_are_carried() -> None:
    asyncio.run(slow_log_reader_scenario())


async def stdin_backlog_scenario() -> None:
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    os.set_blocking(read_end, False)
    loop = asyncio.get_running_loop()
    data = b"".join(b"%d\n" % n for n in range(40_000))
    old = StdinWriter()
    old.attach(write_end, loop)
    old.write(data)
    assert old.pending  # the pipe is full, the rest waits in Python
    fd, backlog = old.release()
    new = StdinWriter()
    new.adopt(fd, backlog, loop)
    received = b""
    while len(received) < len(data):
        try:
            received += os.read(read_end, 1 << 16)
        except BlockingIOError:
            await asyncio.sleep(0.01)
    assert received == data
    new.detach()
    old.detach()  # holds nothing any more
    os.close(read_end)


def test_stdin_backlog_carried() -> None:
    asyncio.run(stdin_backlog_scenario())
