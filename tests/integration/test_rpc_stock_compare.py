"""The stock supervisorctl 4.3.0 against our daemon prints what it prints
against the stock daemon on the same config (pids, times and paths aside),
and the XML-RPC structures are the same."""

from __future__ import annotations

import re
import subprocess
import threading
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.daemon_harness import Daemon, bin_path, normalize, require_stock

pytestmark = pytest.mark.usefixtures("stock_required")

PROGRAMS = """
[program:sleeper]
command=sleep 1000
startsecs=0
[program:nofile]
command=/nonexistent/bin
autostart=false
[program:manual]
command=sleep 1000
autostart=false
startsecs=0
[group:grp]
programs=quick,slow
[program:quick]
command=sh -c 'sleep 0.2; exit 1'
startsecs=0
startretries=0
autorestart=false
priority=5
[program:slow]
command=sleep 1000
startsecs=0
priority=10
[program:echoer]
command=sh -c 'echo hello; echo err >&2; exec sleep 1000'
startsecs=0
[program:numbered]
command=sleep 1000
process_name=%(program_name)s_%(process_num)02d
numprocs=2
startsecs=0
"""

SETTLED = ("RUNNING", "STOPPED", "EXITED", "FATAL")


@pytest.fixture
def stock_required() -> None:
    require_stock()


@pytest.fixture
def pair(daemon_factory) -> dict[str, Daemon]:
    daemons = {kind: daemon_factory(PROGRAMS, kind=kind) for kind in ("ours", "stock")}
    for d in daemons.values():
        d.wait_all(SETTLED)
        d.wait_until(lambda d=d: d.state("grp:quick") == "EXITED", what="quick to exit")
    return daemons


def _subs(d: Daemon) -> tuple[tuple[str, str], ...]:
    return ((str(d.workdir), "WORK"), (f"test-{d.kind}", "ID"))


def _sorted_lines(result: tuple[int, str, str]) -> tuple[int, str, str]:
    code, out, err = result
    return code, "".join(sorted(out.splitlines(keepends=True))), err


def compare_ctl(pair: dict[str, Daemon], commands: list[list[str]]) -> None:
    """Run each command against both daemons and compare.  Commands that
    wait for several processes list them in completion order, which is a
    race in both daemons: their lines are compared as sets."""
    diffs = []
    for command in commands:
        # Both daemons at once: half the wall time.
        with ThreadPoolExecutor(2) as pool:
            futures = {kind: pool.submit(d.ctl, *command) for kind, d in pair.items()}
            got = {kind: f.result().normalized(*_subs(pair[kind])) for kind, f in futures.items()}
        if command[0] in ("start", "stop", "restart") and ("all" in command or any(":*" in a for a in command)):
            got = {kind: _sorted_lines(result) for kind, result in got.items()}
        if got["ours"] != got["stock"]:
            diffs.append(f"{command}:\n  ours : {got['ours']}\n  stock: {got['stock']}")
    assert not diffs, "\n".join(diffs)


def test_ctl_commands_match_stock(pair):
    compare_ctl(
        pair,
        [
            ["status"],
            ["signal", "WINCH", "all"],
            ["status", "sleeper", "manual"],
            ["status", "nosuch"],
            ["status", "grp:*"],
            ["status", "nogrp:*"],
            ["status", "numbered:*"],
            ["start", "sleeper"],
            ["start", "nofile"],
            ["start", "nosuch"],
            ["start"],
            ["start", "nogrp:*"],
            ["stop", "manual"],
            ["stop", "nosuch"],
            ["stop"],
            ["signal", "HUP", "manual"],
            ["signal", "BOGUS", "sleeper"],
            ["signal", "HUP"],
            ["signal", "WINCH", "sleeper"],
            ["pid", "sleeper"],
            ["pid", "manual"],
            ["pid", "nosuch"],
            ["pid"],
            ["tail", "echoer"],
            ["tail", "echoer", "stderr"],
            ["tail", "-3", "echoer"],
            ["tail", "nosuch"],
            ["tail", "echoer", "bogus"],
            ["tail", "manual"],
            ["clear", "nosuch"],
            ["avail"],
            ["reread"],
            ["add", "sleeper"],
            ["add", "nosuch"],
            ["remove", "sleeper"],
            ["remove", "nosuch"],
            ["version"],
            ["bogus"],
            ["help"],
            ["help", "start"],
            ["start", "manual"],
            ["restart", "manual"],
            ["stop", "grp:*"],
            ["start", "grp:*"],
            ["stop", "numbered:*"],
            ["start", "numbered:numbered_01"],
            ["status"],
            ["stop", "all"],
            ["status"],
            ["start", "all"],
            ["clear", "echoer"],
            ["tail", "echoer"],
            ["clear", "all"],
            ["update"],
            ["remove", "manual"],
            ["stop", "manual"],
            ["remove", "manual"],
            ["add", "manual"],
            ["status", "manual"],
        ],
    )


def test_reread_update_add_remove_match_stock(daemon_factory):
    before = """
    [program:keep]
    command=sleep 1000
    startsecs=0
    [program:change]
    command=sleep 1000
    startsecs=0
    [program:gone]
    command=sleep 1000
    startsecs=0
    """
    after = """
    [program:keep]
    command=sleep 1000
    startsecs=0
    [program:change]
    command=sleep 1001
    startsecs=0
    [program:new]
    command=sleep 1000
    startsecs=0
    [program:idle]
    command=sleep 1000
    startsecs=0
    autostart=false
    """
    pair = {kind: daemon_factory(before, kind=kind) for kind in ("ours", "stock")}
    pids = {}
    for d in pair.values():
        d.wait_all()
        pids[d.kind] = d.rpc.supervisor.getProcessInfo("keep")["pid"]
        d.write_programs(after)
    compare_ctl(
        pair,
        [
            ["reread"],
            ["avail"],
            ["update", "nosuch"],
            ["update"],
            ["status"],
            ["avail"],
            ["reread"],
            ["update"],
            ["remove", "idle"],
            ["add", "idle"],
            ["add", "idle"],
            ["remove", "idle"],
            ["update", "all"],
            ["update", "keep", "idle"],
        ],
    )
    for d in pair.values():  # reread + update leave unchanged programs alone
        assert d.rpc.supervisor.getProcessInfo("keep")["pid"] == pids[d.kind]


def _normalize_rpc(d: Daemon, value: Any) -> str:
    text = repr(value)
    for old, new in _subs(d):
        text = text.replace(old, new)
    text = re.sub(r"---ID-[a-z0-9_]+\.log", "---ID-X.log", text)
    text = re.sub(r"'(start|stop|now|pid)': \d+", r"'\1': N", text)
    return normalize(text)


def _call(d: Daemon, method: str, *args: Any) -> Any:
    target: Any = d.rpc
    for part in method.split("."):
        target = getattr(target, part)
    try:
        result = target(*args)
    except xmlrpc.client.Fault as exc:
        return ("fault", exc.faultCode, exc.faultString)
    except xmlrpc.client.ProtocolError as exc:
        return ("http", exc.errcode)
    if method == "system.listMethods":
        # our one addition: the ng.* namespace (tests/web covers it)
        result = [m for m in result if not m.startswith("ng.")]
    return result


RPC_CALLS: list[tuple[Any, ...]] = [
    ("supervisor.getAllProcessInfo",),
    ("supervisor.getProcessInfo", "sleeper"),
    ("supervisor.getProcessInfo", "grp:quick"),
    ("supervisor.getProcessInfo", "grp:*"),
    ("supervisor.getProcessInfo", "grp"),
    ("supervisor.getAllConfigInfo",),
    ("supervisor.getState",),
    ("supervisor.getAPIVersion",),
    ("supervisor.getVersion",),
    ("supervisor.getSupervisorVersion",),
    ("supervisor.readLog", -5, 5),
    ("supervisor.readLog", 0, -5),
    ("supervisor.readProcessStdoutLog", "echoer", 0, 0),
    ("supervisor.readProcessStdoutLog", "echoer", -3, 0),
    ("supervisor.readProcessStdoutLog", "echoer", 1, 2),
    ("supervisor.readProcessStderrLog", "echoer", 0, 0),
    ("supervisor.readProcessLog", "nosuch", 0, 0),
    ("supervisor.readProcessStdoutLog", "manual", 0, 0),
    ("supervisor.tailProcessStdoutLog", "echoer", 0, 3),
    ("supervisor.tailProcessStdoutLog", "echoer", 0, 100),
    ("supervisor.tailProcessStdoutLog", "echoer", 100, 100),
    ("supervisor.tailProcessLog", "manual", 0, 100),
    ("supervisor.tailProcessStderrLog", "echoer", 2, 1),
    ("supervisor.startProcess", "nosuch"),
    ("supervisor.startProcess", "sleeper"),
    ("supervisor.startProcess", "nofile"),
    ("supervisor.startProcess", "grp:nosuch"),
    ("supervisor.startProcess", "nogrp:*"),
    ("supervisor.stopProcess", "manual"),
    ("supervisor.stopProcessGroup", "nosuch"),
    ("supervisor.signalProcess", "sleeper", "BOGUS"),
    ("supervisor.signalProcess", "sleeper", "WINCH"),
    ("supervisor.signalProcess", "manual", "HUP"),
    ("supervisor.signalProcessGroup", "grp", "WINCH"),
    ("supervisor.signalProcessGroup", "grp", "BOGUS"),
    ("supervisor.signalAllProcesses", "WINCH"),
    ("supervisor.sendProcessStdin", "sleeper", "hi\n"),
    ("supervisor.sendProcessStdin", "manual", "hi\n"),
    ("supervisor.sendProcessStdin", "sleeper", 5),
    ("supervisor.sendProcessStdin", "nosuch", "x"),
    ("supervisor.addProcessGroup", "nosuch"),
    ("supervisor.addProcessGroup", "grp"),
    ("supervisor.removeProcessGroup", "grp"),
    ("supervisor.removeProcessGroup", "nosuch"),
    ("supervisor.clearProcessLogs", "nosuch"),
    ("supervisor.clearProcessLogs", "grp:*"),
    ("supervisor.nosuch",),
    ("nosuch.getState",),
    ("supervisor._update", "x"),
    ("getState",),
    ("supervisor.getState", 1),
    ("supervisor.startProcess",),
    ("system.listMethods",),
    ("system.methodHelp", "nosuch"),
    ("system.methodSignature", "nosuch"),
    ("system.methodSignature", "supervisor.startProcess"),
    (
        "system.multicall",
        [
            {"methodName": "supervisor.getAPIVersion"},
            {"methodName": "supervisor.nosuch"},
            {"methodName": "system.multicall", "params": [[]]},
            {"params": []},
            {"methodName": "supervisor.getProcessInfo", "params": ["nosuch"]},
            {"methodName": "supervisor.stopProcess", "params": ["manual"]},
            {"methodName": "supervisor.getProcessInfo", "params": []},
        ],
    ),
    ("system.multicall", []),
    ("supervisor.reloadConfig",),
    ("supervisor.stopProcessGroup", "grp"),
    ("supervisor.startProcessGroup", "grp"),
    ("supervisor.stopProcess", "grp:*", False),
    ("supervisor.startProcess", "grp:*", False),
    ("supervisor.startProcess", "manual"),
    ("supervisor.clearAllProcessLogs",),
    ("supervisor.clearLog",),
]


def test_rpc_structures_match_stock(pair):
    diffs = []
    for call in RPC_CALLS:
        got = {kind: _normalize_rpc(d, _call(d, *call)) for kind, d in pair.items()}
        if got["ours"] != got["stock"]:
            diffs.append(f"{call}:\n  ours : {got['ours']}\n  stock: {got['stock']}")
    assert not diffs, "\n".join(diffs)


def test_tail_f_output_matches_stock(daemon_factory):
    programs = """
    [program:fixed]
    command=sh -c 'i=0; while [ $i -lt 200 ]; do echo "fixed line $i"; i=$((i+1)); done; exec sleep 1000'
    startsecs=0
    """
    outputs = {}
    for kind in ("ours", "stock"):
        d = daemon_factory(programs, kind=kind)
        d.wait_until(lambda d=d: "fixed line 199" in d.rpc.supervisor.readProcessStdoutLog("fixed", -20, 0))
        proc = subprocess.Popen(
            [str(bin_path("stock", "supervisorctl")), "-c", str(d.conf), "tail", "-f", "fixed"],
            stdout=subprocess.PIPE,
            text=True,
        )
        lines: list[str] = []

        def read(proc: subprocess.Popen[str] = proc, lines: list[str] = lines) -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if "fixed line 199" in line:
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(10)
        proc.kill()
        proc.wait()
        outputs[kind] = lines
    assert outputs["ours"] == outputs["stock"]
    assert outputs["ours"][0] == "==> Press Ctrl-C to exit <==\n"


def test_shutdown_and_reload_match_stock(daemon_factory, tmp_path):
    hold = tmp_path / "hold"
    # Once sent SIGTERM it leaves only when the hold file is gone: both
    # daemons then stay in their SHUTDOWN state for as long as the test needs.
    programs = f"""
    [program:stubborn]
    command=sh -c 'trap "stopping=1" TERM; while true; do sleep 0.05; [ -n "$stopping" ] && [ ! -e {hold} ] && exit 0; done'
    startsecs=0
    stopwaitsecs=60
    """
    pair = {kind: daemon_factory(programs, kind=kind) for kind in ("ours", "stock")}
    for d in pair.values():
        d.wait_all()
    compare_ctl(pair, [["reload"]])
    for d in pair.values():
        d.wait_until(lambda d=d: _ready(d), timeout=15, what="the restart")
        d.wait_all()
    hold.touch()
    compare_ctl(pair, [["shutdown", "now"], ["shutdown"], ["shutdown"], ["status"], ["start", "stubborn"]])
    hold.unlink()
    for d in pair.values():
        assert d.wait_exit() == 0
    compare_ctl(pair, [["status"], ["shutdown"], ["pid"]])


def _ready(d: Daemon) -> bool:
    try:
        return d.rpc.supervisor.getState()["statename"] == "RUNNING"
    except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
        return False


def test_without_the_supervisor_interface_matches_stock(daemon_factory):
    pair = {
        kind: daemon_factory("[program:cat]\ncommand=cat\nstartsecs=0\n", kind=kind, rpcinterface=False)
        for kind in ("ours", "stock")
    }
    compare_ctl(pair, [["status"], ["version"], ["start", "cat"]])
    for d in pair.values():
        assert d.rpc.system.listMethods() == [
            "system.listMethods",
            "system.methodHelp",
            "system.methodSignature",
            "system.multicall",
        ]
