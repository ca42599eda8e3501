"""The XML-RPC API of our daemon, called with the stdlib client: every method,
every fault code, the exact structures, and the waiting semantics."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import xmlrpc.client

import pytest

from tests.daemon_harness import Daemon

Fault = xmlrpc.client.Fault

# system.methodSignature of stock 4.3.0, measured; our listMethods must be exactly these.
STOCK_SIGNATURES = {
    "supervisor.addProcessGroup": ["boolean", "string"],
    "supervisor.clearAllProcessLogs": ["array"],
    "supervisor.clearLog": ["boolean"],
    "supervisor.clearProcessLog": ["boolean", "string"],
    "supervisor.clearProcessLogs": ["boolean", "string"],
    "supervisor.getAPIVersion": ["string"],
    "supervisor.getAllConfigInfo": ["array"],
    "supervisor.getAllProcessInfo": ["array"],
    "supervisor.getIdentification": ["string"],
    "supervisor.getPID": ["int"],
    "supervisor.getProcessInfo": ["struct", "string"],
    "supervisor.getState": ["struct"],
    "supervisor.getSupervisorVersion": ["string"],
    "supervisor.getVersion": ["string"],
    "supervisor.readLog": ["string", "int", "int"],
    "supervisor.readMainLog": ["string", "int", "int"],
    "supervisor.readProcessLog": ["string", "string", "int", "int"],
    "supervisor.readProcessStderrLog": ["string", "string", "int", "int"],
    "supervisor.readProcessStdoutLog": ["string", "string", "int", "int"],
    "supervisor.reloadConfig": ["array"],
    "supervisor.removeProcessGroup": ["boolean", "string"],
    "supervisor.restart": ["boolean"],
    "supervisor.sendProcessStdin": ["boolean", "string", "string"],
    "supervisor.sendRemoteCommEvent": ["boolean", "string", "string"],
    "supervisor.shutdown": ["boolean"],
    "supervisor.signalAllProcesses": ["array", "string"],
    "supervisor.signalProcess": ["boolean", "string", "string"],
    "supervisor.signalProcessGroup": ["array", "string", "string"],
    "supervisor.startAllProcesses": ["array", "boolean"],
    "supervisor.startProcess": ["boolean", "string", "boolean"],
    "supervisor.startProcessGroup": ["array", "string", "boolean"],
    "supervisor.stopAllProcesses": ["array", "boolean"],
    "supervisor.stopProcess": ["boolean", "string", "boolean"],
    "supervisor.stopProcessGroup": ["array", "string", "boolean"],
    "supervisor.tailProcessLog": ["array", "string", "int", "int"],
    "supervisor.tailProcessStderrLog": ["array", "string", "int", "int"],
    "supervisor.tailProcessStdoutLog": ["array", "string", "int", "int"],
    "system.listMethods": ["array"],
    "system.methodHelp": ["string", "string"],
    "system.methodSignature": ["array", "string"],
    "system.multicall": ["array", "array"],
}

PROCESS_INFO_KEYS = {
    "name", "group", "start", "stop", "now", "state", "statename", "spawnerr", "exitstatus",
    "logfile", "stdout_logfile", "stderr_logfile", "pid", "description",
}  # fmt: skip

CONFIG_INFO_KEYS = {
    "autostart", "directory", "uid", "command", "exitcodes", "group", "group_prio", "inuse",
    "killasgroup", "name", "process_prio", "redirect_stderr", "startretries", "startsecs",
    "stdout_capture_maxbytes", "stdout_events_enabled", "stdout_logfile",
    "stdout_logfile_backups", "stdout_logfile_maxbytes", "stdout_syslog", "stopsignal",
    "stopwaitsecs", "stderr_capture_maxbytes", "stderr_events_enabled", "stderr_logfile",
    "stderr_logfile_backups", "stderr_logfile_maxbytes", "stderr_syslog", "serverurl",
}  # fmt: skip

BASIC = """
[program:sleeper]
command=sleep 1000
startsecs=0
[program:echoer]
command=sh -c 'printf "0123456789\\n"; printf "err\\n" >&2; exec sleep 1000'
startsecs=0
[program:manual]
command=sleep 1000
startsecs=0
autostart=false
[program:nofile]
command=/nonexistent/bin
autostart=false
[group:grp]
programs=zz_first,aa_second
priority=50
[program:zz_first]
command=sleep 1000
startsecs=0
priority=1
[program:aa_second]
command=sleep 1000
startsecs=0
priority=2
redirect_stderr=true
"""


def fault(call, *args) -> tuple[int, str]:
    with pytest.raises(Fault) as info:
        call(*args)
    return info.value.faultCode, info.value.faultString


@pytest.fixture
def basic(daemon_factory) -> Daemon:
    d = daemon_factory(BASIC)
    d.wait_all(("RUNNING", "STOPPED"))
    return d


def test_introspection_matches_stock(basic: Daemon):
    system = basic.rpc.system
    methods = system.listMethods()
    # ours adds the ng.* namespace (per-process figures); the rest is stock's
    assert [m for m in methods if not m.startswith("ng.")] == sorted(STOCK_SIGNATURES)
    assert "ng.getAllProcessStats" in methods
    calls = [{"methodName": "system.methodSignature", "params": [m]} for m in STOCK_SIGNATURES]
    assert system.multicall(calls) == list(STOCK_SIGNATURES.values())
    for method in STOCK_SIGNATURES:
        help_text = system.methodHelp(method)
        assert isinstance(help_text, str) and "@return" in help_text
    assert fault(system.methodHelp, "supervisor.nosuch") == (4, "SIGNATURE_UNSUPPORTED")
    assert fault(system.methodSignature, "nosuch") == (4, "SIGNATURE_UNSUPPORTED")


def test_daemon_level_methods(basic: Daemon):
    sv = basic.rpc.supervisor
    assert sv.getAPIVersion() == "3.0"
    assert sv.getVersion() == "3.0"
    assert sv.getSupervisorVersion() == "4.3.0"
    assert sv.getIdentification() == "test-ours"
    assert sv.getState() == {"statecode": 1, "statename": "RUNNING"}
    assert sv.getPID() == basic.pid


def test_process_info_structures(basic: Daemon):
    sv = basic.rpc.supervisor
    infos = sv.getAllProcessInfo()
    # Lexical: by group name, then process name (not priority, not config order).
    assert [(i["group"], i["name"]) for i in infos] == [
        ("echoer", "echoer"),
        ("grp", "aa_second"),
        ("grp", "zz_first"),
        ("manual", "manual"),
        ("nofile", "nofile"),
        ("sleeper", "sleeper"),
    ]
    for item in infos:
        assert set(item) == PROCESS_INFO_KEYS
    running = sv.getProcessInfo("sleeper")
    assert running["statename"] == "RUNNING" and running["state"] == 20
    assert running["pid"] > 0 and running["start"] > 0 and running["stop"] == 0
    assert running["now"] >= running["start"]
    assert running["description"].startswith(f"pid {running['pid']}, uptime 0:00:0")
    assert running["logfile"] == running["stdout_logfile"] != ""
    assert running["spawnerr"] == "" and running["exitstatus"] == 0
    manual = sv.getProcessInfo("manual")
    assert (manual["statename"], manual["pid"], manual["description"]) == ("STOPPED", 0, "Not started")
    grouped = sv.getProcessInfo("grp:aa_second")
    assert grouped["group"] == "grp" and grouped["stderr_logfile"] == ""  # redirect_stderr
    for name in ("grp:*", "grp:", "grp", "aa_second", "nosuch"):
        assert fault(sv.getProcessInfo, name) == (10, f"BAD_NAME: {name}")
    sv.stopProcess("sleeper")
    stopped = sv.getProcessInfo("sleeper")
    assert stopped["statename"] == "STOPPED" and stopped["stop"] >= stopped["start"] > 0
    expected = time.strftime("%b %d %I:%M %p", time.localtime(stopped["stop"]))
    assert stopped["description"] == expected


def test_config_info(basic: Daemon):
    infos = basic.rpc.supervisor.getAllConfigInfo()
    assert [i["name"] for i in infos] == sorted(i["name"] for i in infos)
    by_name = {i["name"]: i for i in infos}
    for item in infos:
        assert set(item) == CONFIG_INFO_KEYS
    sleeper = by_name["sleeper"]
    assert sleeper["command"] == "sleep 1000"
    assert sleeper["inuse"] is True and sleeper["autostart"] is True
    assert sleeper["directory"] == "none" and sleeper["uid"] == "none" and sleeper["serverurl"] == "none"
    assert sleeper["exitcodes"] == [0] and sleeper["stopsignal"] == 15
    assert sleeper["stdout_logfile"].startswith(str(basic.logdir))  # the AUTO file in use
    assert (by_name["zz_first"]["group_prio"], by_name["zz_first"]["process_prio"]) == (50, 1)
    assert by_name["aa_second"]["stderr_logfile"] == "none"


def test_fault_codes(basic: Daemon, tmp_path):
    sv = basic.rpc.supervisor
    assert fault(sv.nosuch) == (1, "UNKNOWN_METHOD")
    assert fault(basic.rpc.nosuch.getState) == (1, "UNKNOWN_METHOD")
    assert fault(basic.rpc.supervisor._update, "x") == (1, "UNKNOWN_METHOD")
    assert fault(getattr(basic.rpc, "supervisor.getState.__doc__")) == (1, "UNKNOWN_METHOD")
    assert fault(sv.getState, 1) == (2, "INCORRECT_PARAMETERS")
    assert fault(sv.startProcess) == (2, "INCORRECT_PARAMETERS")
    assert fault(sv.readLog, -5, 5) == (3, "BAD_ARGUMENTS")
    assert fault(sv.readProcessStdoutLog, "echoer", 0, -1) == (3, "BAD_ARGUMENTS")
    assert fault(sv.startProcess, "nosuch") == (10, "BAD_NAME: nosuch")
    assert fault(sv.signalProcess, "sleeper", "BOGUS") == (11, "BAD_SIGNAL: BOGUS")
    assert fault(sv.startProcess, "nofile") == (20, "NO_FILE: can't find command '/nonexistent/bin'")
    assert fault(sv.readProcessStderrLog, "grp:aa_second", 0, 0) == (20, "NO_FILE")
    assert fault(sv.startProcess, "sleeper") == (60, "ALREADY_STARTED: sleeper")
    assert fault(sv.stopProcess, "manual") == (70, "NOT_RUNNING: manual")
    assert fault(sv.signalProcess, "manual", "HUP") == (70, "NOT_RUNNING: manual")
    assert fault(sv.sendProcessStdin, "manual", "x") == (70, "NOT_RUNNING: manual")
    assert fault(sv.addProcessGroup, "grp") == (90, "ALREADY_ADDED: grp")
    assert fault(sv.removeProcessGroup, "grp") == (91, "STILL_RUNNING: grp")
    assert fault(sv.removeProcessGroup, "nosuch") == (10, "BAD_NAME: nosuch")
    assert fault(sv.addProcessGroup, "nosuch") == (10, "BAD_NAME: nosuch")
    assert fault(sv.stopProcessGroup, "nosuch") == (10, "BAD_NAME: nosuch")
    assert fault(sv.sendProcessStdin, "sleeper", 5) == (2, "INCORRECT_PARAMETERS: 5")


def test_not_executable_and_spawn_errors(daemon_factory, tmp_path):
    script = tmp_path / "noexec.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    d = daemon_factory(
        f"""
        [program:noexec]
        command={script}
        autostart=false
        [program:dies]
        command=sh -c 'exit 3'
        autostart=false
        startsecs=1
        startretries=0
        [program:slowstart]
        command=sleep 1000
        autostart=false
        startsecs=5
        """
    )
    sv = d.rpc.supervisor
    assert fault(sv.startProcess, "noexec") == (21, f"NOT_EXECUTABLE: command at '{script}' is not executable")
    assert fault(sv.startProcess, "dies") == (50, "SPAWN_ERROR: dies")
    # Leaving STARTING other than by success: the waiting caller hears ABNORMAL_TERMINATION.
    outcome: list[object] = []

    def start() -> None:
        try:
            outcome.append(d.proxy().supervisor.startProcess("slowstart"))
        except Fault as exc:
            outcome.append((exc.faultCode, exc.faultString))

    waiter = threading.Thread(target=start)
    waiter.start()
    d.wait_state("slowstart", "STARTING")
    assert sv.stopProcess("slowstart") is True
    waiter.join(10)
    assert outcome == [(40, "ABNORMAL_TERMINATION: slowstart")]


def test_cant_reread(basic: Daemon):
    basic.conf.write_text(basic.conf.read_text() + "\n[program:broken]\n")
    code, text = fault(basic.rpc.supervisor.reloadConfig)
    assert code == 92 and text.startswith("CANT_REREAD: ")
    assert "broken" in text


def test_waiting_start_answers_at_running_and_never_blocks_others(daemon_factory):
    d = daemon_factory(
        """
        [program:one]
        command=sleep 1000
        startsecs=2
        autostart=false
        [program:witness]
        command=sleep 1000
        startsecs=3
        autostart=false
        """
    )
    answer: dict[str, object] = {}

    def start() -> None:
        answer["result"] = d.proxy().supervisor.startProcess("one")
        answer["log"] = d.read_log()

    waiter = threading.Thread(target=start)
    waiter.start()
    d.wait_state("one", "STARTING")
    # witness enters RUNNING a second after one does, on the daemon's own clock:
    # an answer that waited for a polling tick would come after that.
    assert d.rpc.supervisor.startProcess("witness", False) is True
    for _ in range(5):  # served while the start waits
        infos = {p["name"]: p["statename"] for p in d.rpc.supervisor.getAllProcessInfo()}
        assert infos["one"] == "STARTING" and "result" not in answer
    waiter.join(30)
    assert answer["result"] is True
    assert "success: one entered RUNNING state" in answer["log"]
    assert "success: witness entered RUNNING state" not in answer["log"]
    assert d.state("one") == "RUNNING"


def test_stop_waits_exactly_for_the_exit(daemon_factory, tmp_path):
    # On SIGTERM the program says so, then exits once the test lets it.
    go = tmp_path / "go"
    d = daemon_factory(
        f"""
        [program:slowstop]
        command=sh -c 'trap "echo stopping; until [ -e {go} ]; do sleep 0.02; done; exit 0" TERM; echo ready; while true; do sleep 0.05; done'
        startsecs=0
        [program:witness]
        command=sleep 1000
        startsecs=1
        autostart=false
        """
    )
    sv = d.rpc.supervisor
    d.wait_until(lambda: sv.readProcessStdoutLog("slowstop", 0, 0) == "ready\n", what="the trap")
    answer: dict[str, object] = {}

    def stop() -> None:
        answer["result"] = d.proxy().supervisor.stopProcess("slowstop")
        answer["log"] = d.read_log()
        answer["go"] = go.exists()

    waiter = threading.Thread(target=stop)
    waiter.start()
    d.wait_until(lambda: sv.readProcessStdoutLog("slowstop", 0, 0) == "ready\nstopping\n", what="SIGTERM")
    assert d.state("slowstop") == "STOPPING" and "result" not in answer
    # witness enters RUNNING a second after the exit may happen: an answer
    # that waited for a polling tick would come after that.
    assert sv.startProcess("witness", False) is True
    go.touch()
    waiter.join(30)
    assert answer["result"] is True and answer["go"] is True
    assert "stopped: slowstop (exit status 0)" in answer["log"]
    assert "success: witness entered RUNNING state" not in answer["log"]
    assert d.state("slowstop") == "STOPPED"
    go.unlink()
    sv.clearProcessLogs("slowstop")
    assert sv.startProcess("slowstop", False) is True
    d.wait_until(lambda: sv.readProcessStdoutLog("slowstop", 0, 0) == "ready\n", what="the trap")
    assert sv.stopProcess("slowstop", False) is True
    assert d.state("slowstop") == "STOPPING"  # it cannot exit before go exists
    go.touch()
    d.wait_state("slowstop", "STOPPED")


def test_group_and_all_results(basic: Daemon):
    sv = basic.rpc.supervisor
    ok = {"status": 80, "description": "OK"}
    both = [{"name": "aa_second", "group": "grp", **ok}, {"name": "zz_first", "group": "grp", **ok}]
    # Waiting results come in completion order: compare them sorted.
    assert _by_name(sv.stopProcessGroup("grp")) == both
    assert sv.stopProcessGroup("grp") == []  # only running ones are touched
    assert _by_name(sv.startProcess("grp:*")) == both
    # Immediate results (no waiting) come in priority order.
    assert sv.stopProcess("grp:*", False) == both[::-1]
    basic.wait_until(lambda: sv.getProcessInfo("grp:aa_second")["statename"] == "STOPPED")
    basic.wait_until(lambda: sv.getProcessInfo("grp:zz_first")["statename"] == "STOPPED")
    assert sv.startProcessGroup("grp", False) == both[::-1]
    assert sv.startProcessGroup("grp", False) == []
    result = sv.startAllProcesses()
    assert {(r["group"], r["name"], r["status"], r["description"]) for r in result} == {
        ("manual", "manual", 80, "OK"),
        ("nofile", "nofile", 20, "NO_FILE: can't find command '/nonexistent/bin'"),
    }
    signalled = sv.signalAllProcesses("WINCH")
    assert {r["name"] for r in signalled} == {"echoer", "zz_first", "aa_second", "manual", "sleeper"}
    assert all(r["status"] == 80 for r in signalled)
    bad = sv.signalProcessGroup("grp", "NOPE")
    assert [(r["name"], r["status"], r["description"]) for r in bad] == [
        ("zz_first", 11, "BAD_SIGNAL: NOPE"),
        ("aa_second", 11, "BAD_SIGNAL: NOPE"),
    ]
    assert sv.signalProcess("grp:*", "WINCH") == [
        {"name": "zz_first", "group": "grp", **ok},
        {"name": "aa_second", "group": "grp", **ok},
    ]
    cleared = sv.clearAllProcessLogs()
    assert len(cleared) == 6 and all(r["status"] == 80 for r in cleared)
    all_stopped = sv.stopAllProcesses()
    assert {r["name"] for r in all_stopped} == {"echoer", "zz_first", "aa_second", "manual", "sleeper"}
    assert all(p["statename"] == "STOPPED" for p in sv.getAllProcessInfo())


def _by_name(results: list[dict]) -> list[dict]:
    return sorted(results, key=lambda r: r["name"])


def test_multicall_returns_bare_values(basic: Daemon):
    calls = [
        {"methodName": "supervisor.getAPIVersion"},
        {"methodName": "supervisor.nosuch"},
        {"methodName": "system.multicall", "params": [[]]},
        {"params": []},
        {"methodName": "supervisor.getProcessInfo", "params": ["nosuch"]},
        {"methodName": "supervisor.startProcess", "params": ["manual"]},
        {"methodName": "supervisor.getProcessInfo", "params": []},
        {"methodName": "supervisor.getState", "params": []},
    ]
    result = basic.rpc.system.multicall(calls)
    assert result == [
        "3.0",
        {"faultCode": 1, "faultString": "UNKNOWN_METHOD"},
        {"faultCode": 2, "faultString": "INCORRECT_PARAMETERS: Recursive system.multicall forbidden"},
        {"faultCode": 2, "faultString": "INCORRECT_PARAMETERS: No methodName"},
        {"faultCode": 10, "faultString": "BAD_NAME: nosuch"},
        True,
        {"faultCode": 2, "faultString": "INCORRECT_PARAMETERS"},
        {"statecode": 1, "statename": "RUNNING"},
    ]
    assert basic.state("manual") == "RUNNING"
    assert basic.rpc.system.multicall([]) == []


def test_logs_read_tail_clear(basic: Daemon):
    sv = basic.rpc.supervisor
    basic.wait_until(lambda: sv.readProcessStdoutLog("echoer", 0, 0) == "0123456789\n", what="output")
    assert sv.readProcessLog("echoer", 0, 0) == "0123456789\n"
    assert sv.readProcessStdoutLog("echoer", 2, 3) == "234"
    assert sv.readProcessStdoutLog("echoer", -4, 0) == "789\n"
    assert sv.readProcessStdoutLog("echoer", -100, 0) == "0123456789\n"
    assert sv.readProcessStdoutLog("echoer", 100, 0) == ""
    assert sv.readProcessStderrLog("echoer", 0, 0) == "err\n"
    assert sv.tailProcessStdoutLog("echoer", 0, 100) == ["0123456789\n", 11, False]
    assert sv.tailProcessStdoutLog("echoer", 0, 4) == ["789\n", 11, True]
    assert sv.tailProcessLog("echoer", 11, 100) == ["", 11, False]
    assert sv.tailProcessStderrLog("echoer", 0, 2) == ["r\n", 4, True]
    assert sv.tailProcessStdoutLog("nofile", 0, 100) == ["", 0, False]
    assert sv.clearProcessLogs("echoer") is True
    assert sv.readProcessStdoutLog("echoer", 0, 0) == ""
    assert sv.clearProcessLog("echoer") is True
    main = sv.readLog(0, 0)
    assert "spawned: 'echoer' with pid" in main
    assert sv.readMainLog(-10, 0) == main[-10:]
    assert sv.clearLog() is True
    assert "spawned: 'echoer'" not in sv.readLog(0, 0)


def test_control_characters_do_not_break_responses(daemon_factory):
    d = daemon_factory(
        """
        [program:colors]
        command=sh -c 'printf "\\033[31mred\\033[0m\\001\\n"; exec sleep 1000'
        startsecs=0
        """
    )
    sv = d.rpc.supervisor
    d.wait_until(lambda: sv.readProcessStdoutLog("colors", 0, 0), what="output")
    assert sv.readProcessStdoutLog("colors", 0, 0) == "\ufffd[31mred\ufffd[0m\ufffd\n"


def test_send_process_stdin(daemon_factory):
    d = daemon_factory(
        """
        [program:cat]
        command=cat
        startsecs=0
        [program:deaf]
        command=sleep 1000
        startsecs=0
        """
    )
    sv = d.rpc.supervisor
    d.wait_all()
    assert sv.sendProcessStdin("cat", "hello\n") is True
    assert sv.sendProcessStdin("cat", "wörld\n") is True
    d.wait_until(lambda: sv.readProcessStdoutLog("cat", 0, 0) == "hello\nwörld\n", what="echo")
    big = "x" * (1 << 20)
    # Far more than a pipe holds: a daemon that waited for deaf to read would
    # never answer (the proxy gives up after 30 s).
    assert sv.sendProcessStdin("deaf", big) is True
    assert sv.sendProcessStdin("deaf", big) is True
    assert sv.getState()["statename"] == "RUNNING"
    assert sv.sendProcessStdin("cat", big) is True
    d.wait_until(lambda: sv.tailProcessStdoutLog("cat", 0, 0)[1] == 13 + len(big), what="big echo")


def test_reload_add_remove(basic: Daemon):
    sv = basic.rpc.supervisor
    assert sv.reloadConfig() == [[[], [], []]]
    text = basic.conf.read_text()
    text = text.replace("[program:manual]\ncommand=sleep 1000", "[program:manual]\ncommand=sleep 1001")
    text = text.replace("[program:nofile]\ncommand=/nonexistent/bin\nautostart=false\n", "")
    text += "\n[program:added]\ncommand=sleep 1000\nstartsecs=0\n[program:added2]\ncommand=true\nautostart=false\n"
    basic.conf.write_text(text)
    assert sv.reloadConfig() == [[["added", "added2"], ["manual"], ["nofile"]]]
    config = {i["name"]: i for i in sv.getAllConfigInfo()}
    assert config["added"]["inuse"] is False and "nofile" not in config
    assert config["manual"]["command"] == "sleep 1001" and config["manual"]["inuse"] is True
    assert config["sleeper"]["stdout_logfile"] == "auto"  # stock: a re-read config shows AUTO
    assert sv.addProcessGroup("added") is True
    basic.wait_state("added", "RUNNING")
    assert fault(sv.addProcessGroup, "added") == (90, "ALREADY_ADDED: added")
    assert sv.removeProcessGroup("nofile") is True
    assert fault(sv.getProcessInfo, "nofile") == (10, "BAD_NAME: nofile")
    assert fault(sv.addProcessGroup, "nofile") == (10, "BAD_NAME: nofile")
    assert sv.reloadConfig() == [[["added2"], ["manual"], []]]
    assert sv.removeProcessGroup("manual") is True
    assert sv.addProcessGroup("manual") is True
    assert sv.getProcessInfo("manual")["statename"] == "STOPPED"
    assert [i["command"] for i in sv.getAllConfigInfo() if i["name"] == "manual"] == ["sleep 1001"]


def test_signal_process(daemon_factory):
    d = daemon_factory(
        """
        [program:trapper]
        command=sh -c 'trap "echo got USR1" USR1; while true; do sleep 0.05; done'
        startsecs=0
        """
    )
    sv = d.rpc.supervisor
    d.wait_state("trapper", "RUNNING")
    # By name, with the SIG prefix, by number; one at a time (a shell merges pending signals).
    for count, sig in enumerate(("USR1", "SIGUSR1", str(int(signal.SIGUSR1))), 1):
        assert sv.signalProcess("trapper", sig) is True
        d.wait_until(
            lambda n=count: sv.readProcessStdoutLog("trapper", 0, 0).count("got USR1") == n, what="trap"
        )


def test_shutdown_state_while_stopping(daemon_factory, tmp_path):
    go = tmp_path / "go"
    d = daemon_factory(
        f"""
        [program:stubborn]
        command=sh -c 'trap "until [ -e {go} ]; do sleep 0.02; done; exit 0" TERM; while true; do sleep 0.05; done'
        startsecs=0
        stopwaitsecs=60
        """
    )
    d.wait_state("stubborn", "RUNNING")
    sv = d.rpc.supervisor
    assert sv.shutdown() is True
    proxy = d.proxy()
    assert fault(proxy.supervisor.getState) == (6, "SHUTDOWN_STATE")
    assert fault(proxy.supervisor.getVersion) == (6, "SHUTDOWN_STATE")
    assert fault(proxy.supervisor.shutdown) == (6, "SHUTDOWN_STATE")
    assert fault(proxy.supervisor.startProcess, "stubborn") == (6, "SHUTDOWN_STATE")
    assert proxy.supervisor.sendRemoteCommEvent("type", "data") is True
    assert proxy.system.listMethods()
    go.touch()  # the daemon stays in SHUTDOWN_STATE until its program lets it go
    assert d.wait_exit() == 0
    assert not os.path.exists(d.sock)


def test_restart_keeps_the_socket_and_the_daemon(daemon_factory):
    d = daemon_factory(
        """
        [program:sleeper]
        command=sleep 1000
        startsecs=0
        """
    )
    sv = d.rpc.supervisor
    d.wait_state("sleeper", "RUNNING")
    old_pid = sv.getProcessInfo("sleeper")["pid"]
    d.write_programs("[program:other]\ncommand=sleep 1000\nstartsecs=0\n")
    inode = os.stat(d.sock).st_ino
    assert sv.restart() is True
    d.wait_until(lambda: _state_or_none(d) == "RUNNING", what="the new generation")
    d.wait_state("other", "RUNNING")
    assert [p["name"] for p in d.rpc.supervisor.getAllProcessInfo()] == ["other"]
    assert d.rpc.supervisor.getPID() == d.pid
    assert os.stat(d.sock).st_ino == inode
    assert old_pid != d.rpc.supervisor.getProcessInfo("other")["pid"]
    # A config that cannot be read does not take the daemon down.
    d.conf.write_text(d.conf.read_text() + "\n[program:broken]\n")
    code, _text = fault(d.rpc.supervisor.restart)
    assert code == 92
    assert d.rpc.supervisor.getState()["statename"] == "RUNNING"


def _state_or_none(d: Daemon):
    try:
        return d.rpc.supervisor.getState()["statename"]
    except (Fault, OSError):
        return None


def test_send_remote_comm_event(basic: Daemon):
    assert basic.rpc.supervisor.sendRemoteCommEvent("mytype", "some data") is True


def test_big_log_read_is_complete_and_others_are_served_meanwhile(daemon_factory):
    d = daemon_factory(
        """
        [program:chatty]
        command=sh -c 'head -c 8000000 /dev/zero | tr "\\0" "x"; exec sleep 1000'
        startsecs=0
        stdout_logfile_maxbytes=0
        """
    )
    sv = d.rpc.supervisor
    d.wait_until(lambda: sv.tailProcessStdoutLog("chatty", 0, 0)[1] == 8_000_000, what="output")
    # The answer (8 MB of XML) is left unread until the others have been
    # answered, so it is still on its way while they are served.  (How long
    # such a read may hold the loop is the loop-stall benchmark's business.)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as reader:
        reader.settimeout(30)
        reader.connect(str(d.sock))
        body = xmlrpc.client.dumps(("chatty", 0, 0), "supervisor.readProcessStdoutLog").encode()
        head = f"POST /RPC2 HTTP/1.0\r\nContent-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n"
        reader.sendall(head.encode() + body)
        for _ in range(5):
            assert sv.getState()["statename"] == "RUNNING"
        response = b""
        while chunk := reader.recv(1 << 20):
            response += chunk
    status, _, payload = response.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.") and b" 200 " in status.split(b"\r\n")[0]
    assert xmlrpc.client.loads(payload)[0] == ("x" * 8_000_000,)
