"""Programs added and removed at run time: supervisor_twiddler's ``twiddler.*``
API (served natively when the config declares the plugin) and ``ng.*``
(always), against a real daemon; the stock supervisorctl sees what was added."""

from __future__ import annotations

import xmlrpc.client

import pytest

from tests.daemon_harness import Daemon, require_stock

TWIDDLER = """
[rpcinterface:twiddler]
supervisor.rpcinterface_factory = supervisor_twiddler.rpcinterface:make_twiddler_rpcinterface
"""

PROGRAMS = """
[group:dyn]
programs=

[program:base]
command=sleep 1000
startsecs=0
"""


def fault(call, *args) -> tuple[int, str]:
    with pytest.raises(xmlrpc.client.Fault) as info:
        call(*args)
    return info.value.faultCode, info.value.faultString


@pytest.fixture
def twiddled(daemon_factory) -> Daemon:
    d = daemon_factory(PROGRAMS, extra=TWIDDLER)
    d.wait_state("base", "RUNNING", timeout=15)
    return d


def test_twiddler_adds_a_program_to_a_group_and_removes_it(twiddled: Daemon, tmp_path) -> None:
    d = twiddled
    tw, sv = d.rpc.twiddler, d.rpc.supervisor
    assert tw.getAPIVersion() == "1.0"
    assert sorted(tw.getGroupNames()) == ["base", "dyn"]
    options = {
        "command": "sh -c 'echo hello from ls; exec sleep 1000'",
        "autostart": "false",
        "startsecs": "0",
    }
    assert tw.addProgramToGroup("dyn", "ls", options) is True
    assert sv.getProcessInfo("dyn:ls")["statename"] == "STOPPED"
    assert fault(tw.addProgramToGroup, "dyn", "ls", options) == (10, "BAD_NAME: ls")
    assert fault(tw.addProgramToGroup, "nosuch", "ls", options) == (10, "BAD_NAME: group: nosuch")

    assert sv.startProcess("dyn:ls") is True
    d.wait_until(lambda: "hello from ls" in sv.readProcessStdoutLog("dyn:ls", 0, 0), what="its output")
    assert "spawned: 'ls' with pid" in d.read_log()

    # The stock supervisorctl sees it like a configured one.
    require_stock()
    status = d.ctl("status")
    assert "dyn:ls" in status.stdout and "RUNNING" in status.stdout.split("dyn:ls", 1)[1].splitlines()[0]
    assert "hello from ls" in d.ctl("tail", "dyn:ls").stdout
    assert "dyn:ls" in d.ctl("avail").stdout

    assert fault(tw.removeProcessFromGroup, "dyn", "ls") == (91, "STILL_RUNNING: ls")
    assert "dyn:ls: stopped" in d.ctl("stop", "dyn:ls").stdout
    assert tw.removeProcessFromGroup("dyn", "ls") is True
    assert fault(sv.getProcessInfo, "dyn:ls") == (10, "BAD_NAME: dyn:ls")
    assert fault(tw.removeProcessFromGroup, "dyn", "ls") == (10, "BAD_NAME: ls")
    assert "dyn:ls" not in d.ctl("status").stdout
    assert sv.getProcessInfo("base")["statename"] == "RUNNING"


def test_twiddler_numprocs_autostart_options_and_log(twiddled: Daemon) -> None:
    d = twiddled
    tw = d.rpc.twiddler
    options = {"command": "sleep 1000", "numprocs": "2", "process_name": "%(program_name)s_%(process_num)d", "startsecs": 0}
    assert tw.addProgramToGroup("dyn", "multi", options) is True
    d.wait_state("dyn:multi_0", "RUNNING", timeout=15)
    d.wait_state("dyn:multi_1", "RUNNING", timeout=15)
    # Options are read as the file's are, and refused with the same message.
    code, text = fault(tw.addProgramToGroup, "dyn", "bad", {"command": "true", "startsecs": "soon"})
    assert code == 2 and text.startswith("INCORRECT_PARAMETERS: ") and "startsecs" in text
    assert fault(tw.addProgramToGroup, "dyn", "nocmd", {"autostart": "false"})[0] == 2
    assert fault(tw.addProgramToGroup, "dyn", "x", "not a struct")[0] == 2

    assert tw.log("twiddled the dyn group", "WARN") is True
    assert tw.log("as a number", 20) is True
    assert fault(tw.log, "x", "LOUD") == (2, "INCORRECT_PARAMETERS")
    log = d.read_log()
    assert "WARN twiddled the dyn group" in log and "INFO as a number" in log


def test_twiddler_whitelist_and_absence(daemon_factory) -> None:
    d = daemon_factory(PROGRAMS, extra=TWIDDLER + "whitelist = getAPIVersion, log\n")
    tw = d.rpc.twiddler
    assert tw.getAPIVersion() == "1.0"
    assert fault(tw.getGroupNames) == (230, "UNKNOWN: getGroupNames")
    assert "twiddler.getGroupNames" in d.rpc.system.listMethods()

    plain = daemon_factory(PROGRAMS)
    assert not [m for m in plain.rpc.system.listMethods() if m.startswith("twiddler.")]
    assert fault(plain.rpc.twiddler.getAPIVersion) == (1, "UNKNOWN_METHOD")
    assert fault(plain.rpc.system.methodHelp, "twiddler.getAPIVersion")[0] == 4
    assert "twiddler" not in plain.read_log()


def test_ng_add_program_and_remove_program(daemon_factory, tmp_path) -> None:
    require_stock()
    d = daemon_factory(PROGRAMS)
    ng, sv = d.rpc.ng, d.rpc.supervisor
    assert "ng.addProgram" in d.rpc.system.listMethods()
    out = tmp_path / "adhoc.stdout"
    assert ng.addProgram("adhoc", {"command": "sh -c 'echo adhoc; exec sleep 1000'", "stdout_logfile": str(out)}) is True
    d.wait_state("adhoc", "RUNNING", timeout=15)
    d.wait_until(lambda: out.exists() and "adhoc" in out.read_text(), what="its output in its log file")
    assert fault(ng.addProgram, "adhoc", {"command": "true"}) == (90, "ALREADY_ADDED: adhoc")
    status = d.ctl("status", "adhoc")
    assert status.stdout.startswith("adhoc") and "RUNNING" in status.stdout
    info = {c["name"]: c for c in sv.getAllConfigInfo()}
    assert info["adhoc"]["inuse"] is True and info["adhoc"]["group"] == "adhoc"

    assert ng.removeProgram("adhoc") is True
    assert fault(sv.getProcessInfo, "adhoc") == (10, "BAD_NAME: adhoc")
    assert "adhoc" not in d.ctl("status").stdout
    assert "stopped: adhoc (terminated by SIGTERM)" in d.read_log()
    assert fault(ng.removeProgram, "adhoc") == (10, "BAD_NAME: group: adhoc")

    # ng.* has twiddler's group calls too, without the plugin's section.
    assert ng.addProgramToGroup("dyn", "one", {"command": "sleep 1000", "autostart": "false"}) is True
    assert sv.getProcessInfo("dyn:one")["statename"] == "STOPPED"
    assert ng.removeProcessFromGroup("dyn", "one") is True


def test_update_brings_the_daemon_back_to_the_file(daemon_factory) -> None:
    require_stock()
    d = daemon_factory(PROGRAMS)
    d.rpc.ng.addProgram("adhoc", {"command": "sleep 1000", "startsecs": "0"})
    d.wait_state("adhoc", "RUNNING", timeout=15)
    result = d.ctl("update")
    assert "adhoc: stopped" in result.stdout and "adhoc: removed process group" in result.stdout
    assert "adhoc" not in d.ctl("status").stdout


def test_multivisor_plugin_mode_is_refused_with_the_mode_that_works(daemon_factory) -> None:
    d = daemon_factory(
        PROGRAMS,
        extra="[rpcinterface:multivisor]\nsupervisor.rpcinterface_factory = multivisor.rpc:make_rpc_interface\nbind=*:9002\n",
    )
    lines = [line for line in d.read_log().splitlines() if "multivisor" in line]
    assert len(lines) == 1
    assert "[eventlistener:multivisor-rpc]" in lines[0] and "multivisor-rpc --bind" in lines[0]
