"""Faults injected into a real daemon: a callback that raises is logged with
its traceback and contained, and no other work is lost.

The faults come from a ``sitecustomize`` module put on the daemon's
PYTHONPATH by the test: the daemon's code is the shipped code, only the
injected part raises.
"""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import xmlrpc.client
from pathlib import Path

from tests.daemon_harness import free_port
from tests.log_daemon import SUPERVISORD, LogDaemon
from tests.waiting import wait_until

# Raises inside the exit handling of the program named "boom", and (when
# asked) once from a plain loop callback soon after the daemon starts.
SITECUSTOMIZE = '''
import os
from supervisor_ng.core import process as _process

_exited = _process.ProcessMachine.exited

def exited(self, *args, **kwargs):
    if self.config.name == "boom":
        raise RuntimeError("injected fault in the exit of boom")
    return _exited(self, *args, **kwargs)

_process.ProcessMachine.exited = exited

if os.environ.get("INJECT_LOOP_FAULT"):
    from supervisor_ng.runtime import supervisor as _supervisor
    _run = _supervisor.Supervisor.run

    async def run(self):
        def fail():
            raise ValueError("injected fault in a loop callback")
        import asyncio
        asyncio.get_running_loop().call_soon(fail)
        return await _run(self)

    _supervisor.Supervisor.run = run
'''


class FaultyDaemon(LogDaemon):
    def __init__(self, tmp_path: Path, programs: str, loop_fault: bool = False) -> None:
        self.port = free_port()
        super().__init__(
            tmp_path,
            programs,
            supervisord=(
                f"[inet_http_server]\nport=127.0.0.1:{self.port}\n"
                "[rpcinterface:supervisor]\n"
                "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
            ),
        )
        inject = tmp_path / "inject"
        inject.mkdir()
        (inject / "sitecustomize.py").write_text(textwrap.dedent(SITECUSTOMIZE))
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(inject), os.environ.get("PYTHONPATH")]))
        if loop_fault:
            self.env["INJECT_LOOP_FAULT"] = "1"

    def start(self) -> FaultyDaemon:
        self.proc = subprocess.Popen(
            [SUPERVISORD, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env
        )
        return self

    def rpc(self) -> xmlrpc.client.ServerProxy:
        return xmlrpc.client.ServerProxy(f"http://127.0.0.1:{self.port}/RPC2").supervisor

    def kill(self) -> None:
        """The process whose exit handling failed never learns it exited,
        so a clean shutdown would wait for it forever: end the daemon hard
        (its children are all dead by then)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()


def _program(name: str) -> str:
    return f"[program:{name}]\ncommand=sleep 1000\nstartsecs=0\nautorestart=false\nstopwaitsecs=2\n"


def test_one_failing_exit_loses_no_other_exit(tmp_path):
    """The exit handling of one program raises: the others killed at the
    same moment are still seen (EXITED), the failure is in the daemon's log
    with its traceback, and the daemon keeps serving."""
    names = ["a", "boom", "c", "d"]
    d = FaultyDaemon(tmp_path, "".join(_program(n) for n in names)).start()
    try:
        pids = {}
        for name in names:
            (match,) = d.wait_log(rf"spawned: '{name}' with pid (\d+)")
            pids[name] = int(match.group(1))
        rpc = d.rpc()
        wait_until(lambda: all(i["statename"] == "RUNNING" for i in rpc.getAllProcessInfo()), 15)
        # All in one go: the reaper is likely to collect them in one sweep.
        for pid in pids.values():
            os.kill(pid, signal.SIGKILL)
        d.wait_log(r"unexpected error in handling the exit of pid \d+")
        assert "RuntimeError: injected fault in the exit of boom" in d.text()
        assert "Traceback (most recent call last)" in d.text()

        def others_exited() -> bool:
            states = {i["name"]: i["statename"] for i in rpc.getAllProcessInfo()}
            return all(states[n] == "EXITED" for n in names if n != "boom")

        wait_until(others_exited, 15)
        for name in names:
            if name != "boom":
                d.wait_log(rf"exited: {name} \(terminated by SIGKILL; not expected\)")
        assert rpc.getState()["statename"] == "RUNNING"
        assert rpc.startProcess("a") is True
        assert rpc.stopProcess("a") is True
    finally:
        d.kill()


def test_a_failing_loop_callback_is_logged_and_the_daemon_goes_on(tmp_path):
    with FaultyDaemon(tmp_path, _program("a"), loop_fault=True) as d:
        d.wait_log(r"spawned: 'a' with pid \d+")
        d.wait_log(r"unexpected error in Exception in callback")
        assert "ValueError: injected fault in a loop callback" in d.text()
        rpc = d.rpc()
        wait_until(lambda: rpc.getProcessInfo("a")["statename"] == "RUNNING", 15)
        assert rpc.stopProcess("a") is True
