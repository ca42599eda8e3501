"""Issue 16, the daemon's side: ng.reexec() / `supervisorctl reexec` exec the
same supervisord with the same pid, the programs untouched; a refused dry run
disturbs nothing and says why."""

from __future__ import annotations

import sys
import textwrap
import xmlrpc.client
from pathlib import Path

import pytest

from tests.log_daemon import pid_alive

PROGRAMS = """
[program:one]
command=sleep 1000
startsecs=0

[program:two]
command=sleep 1001
startsecs=0
"""


def _snapshot(daemon) -> dict[str, tuple[int, int, str]]:
    return {p["name"]: (p["pid"], p["start"], p["statename"]) for p in daemon.rpc.supervisor.getAllProcessInfo()}


def _running(daemon_factory) -> tuple:
    """A daemon with PROGRAMS all RUNNING, what it shows of them, its pid."""
    daemon = daemon_factory(PROGRAMS)
    daemon.wait_all(("RUNNING",), timeout=30.0)
    return daemon, _snapshot(daemon), daemon.pid


def _handed_over(daemon) -> bool:
    return "handed over to itself" in daemon.read_log()


def _check_same(daemon, before: dict, daemon_pid: int) -> None:
    daemon.wait_until(lambda: _handed_over(daemon), timeout=30.0, what="the hand-over line in the log")
    assert daemon.rpc.supervisor.getState()["statename"] == "RUNNING"
    assert daemon.pid == daemon_pid
    assert daemon.proc.poll() is None
    assert daemon.rpc.supervisor.getPID() == daemon_pid
    assert _snapshot(daemon) == before


def test_reexec_over_rpc_keeps_daemon_and_programs(daemon_factory):
    daemon, before, daemon_pid = _running(daemon_factory)
    assert daemon.rpc.ng.reexec() is True
    # At once, most likely while the new image starts: the kept socket holds
    # the connection in its backlog and the stock client gets its answer.
    status = daemon.ctl("status", client="stock")
    assert status.returncode == 0, status
    assert "one" in status.stdout and "RUNNING" in status.stdout
    _check_same(daemon, before, daemon_pid)
    log = daemon.read_log()
    assert log.count("supervisord started with pid") == 1  # the main log went on
    assert daemon.pidfile.read_text().strip() == str(daemon_pid)


def test_supervisorctl_reexec(daemon_factory):
    daemon, before, daemon_pid = _running(daemon_factory)
    result = daemon.ctl("reexec", client="ours")
    assert result.returncode == 0, result
    assert result.stdout.strip() == "reexec: handed over"
    _check_same(daemon, before, daemon_pid)
    # And once more: a second hand-over from the adopted image.
    result = daemon.ctl("reexec", client="ours")
    assert result.returncode == 0, result
    daemon.wait_until(lambda: daemon.read_log().count("handed over to itself") == 2, timeout=30.0, what="second hand-over")
    assert daemon.pid == daemon_pid
    assert _snapshot(daemon) == before


def _still_the_same(daemon, before: dict, daemon_pid: int) -> None:
    assert daemon.rpc.supervisor.getState()["statename"] == "RUNNING"
    assert daemon.rpc.supervisor.getPID() == daemon_pid
    assert _snapshot(daemon) == before
    assert not _handed_over(daemon)


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return str(path)


def test_refused_dry_run_disturbs_nothing(daemon_factory, tmp_path, monkeypatch):
    # A new binary that cannot read the state: its dry run says so.
    refuser = _script(
        tmp_path / "refusing-supervisord",
        """\
        echo "state format 1 is unknown to this supervisord"
        exit 1
        """,
    )
    monkeypatch.setenv("SUPERVISOR_NG_HANDOVER_BINARY", refuser)
    daemon, before, daemon_pid = _running(daemon_factory)
    with pytest.raises(xmlrpc.client.Fault) as raised:
        daemon.rpc.ng.reexec()
    assert raised.value.faultCode == 30
    assert "refused" in raised.value.faultString
    assert "state format 1 is unknown" in raised.value.faultString
    result = daemon.ctl("reexec", client="ours")
    assert result.returncode == 1, result
    assert "state format 1 is unknown" in result.stdout
    _still_the_same(daemon, before, daemon_pid)


def test_config_that_no_longer_loads_refuses(daemon_factory):
    daemon, before, daemon_pid = _running(daemon_factory)
    daemon.conf.write_text(daemon.conf.read_text() + "\n[program:broken]\n")
    with pytest.raises(xmlrpc.client.Fault) as raised:
        daemon.rpc.ng.reexec()
    assert raised.value.faultCode == 30
    assert "[program:broken]" in raised.value.faultString
    _still_the_same(daemon, before, daemon_pid)


def test_failed_exec_keeps_running(daemon_factory, tmp_path, monkeypatch):
    # Passes its dry run, then cannot be executed any more: the exec fails.
    vanishing = _script(
        tmp_path / "vanishing-supervisord",
        """\
        chmod a-x "$0"
        exit 0
        """,
    )
    monkeypatch.setenv("SUPERVISOR_NG_HANDOVER_BINARY", vanishing)
    daemon, before, daemon_pid = _running(daemon_factory)
    assert daemon.rpc.ng.reexec() is True
    daemon.wait_until(lambda: "hand-over failed" in daemon.read_log(), timeout=30.0, what="the failed exec logged")
    _still_the_same(daemon, before, daemon_pid)
    # The programs are still supervised: a stop and start work as before.
    daemon.rpc.supervisor.stopProcess("one")
    daemon.rpc.supervisor.startProcess("one")
    assert daemon.state("one") == "RUNNING"


def test_systemd_hears_reloading_then_ready_from_the_same_pid(daemon_factory, monkeypatch):
    pytest.importorskip("systemd.daemon", reason="systemd-python is not installed")
    from tests.integration.test_systemd_notify import NotifyListener

    daemon = daemon_factory(PROGRAMS, start=False)
    listener = NotifyListener(daemon.workdir / "notify.sock", daemon.logfile)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", listener.path)
        monkeypatch.setenv("WATCHDOG_USEC", "30000000")
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        daemon.start()
        first = listener.wait_for("READY=1", pid=daemon.pid)
        before = _snapshot(daemon)
        assert daemon.rpc.ng.reexec() is True
        reloading = listener.wait_for("RELOADING=1", after=first + 1, pid=daemon.pid)
        listener.wait_for("READY=1", after=reloading + 1, pid=daemon.pid, timeout=30.0)
        _check_same(daemon, before, daemon.pid)
    finally:
        daemon.stop()
        listener.close()


def test_exec_command_line_replaces_a_previous_hand_over():
    from supervisor_ng.runtime.handover import daemon_argv

    argv = daemon_argv(
        "--handover-fd", 7, "/etc/s.conf", ["/usr/bin/supervisord", "-n", "--handover-fd", "5", "-c", "s.conf"]
    )
    assert argv == ["/usr/bin/supervisord", "-n", "-c", "s.conf", "-c", "/etc/s.conf", "--handover-fd", "7"]


def test_event_serial_goes_on(daemon_factory, tmp_path):
    from tests.integration.events_fixtures import recorder, wait_events

    cmd, out = recorder(tmp_path, "rec")
    daemon = daemon_factory(f"[eventlistener:rec]\ncommand={cmd}\nevents=REMOTE_COMMUNICATION\nstartsecs=0\n")
    daemon.wait_state("rec", "RUNNING")
    for i in range(2):
        daemon.rpc.supervisor.sendRemoteCommEvent("t", f"before{i}")
    wait_events(out, lambda events: len(events) >= 2, timeout=30.0)
    assert daemon.rpc.ng.reexec() is True
    daemon.wait_until(lambda: _handed_over(daemon), timeout=30.0, what="the hand-over line in the log")
    for i in range(2):
        daemon.rpc.supervisor.sendRemoteCommEvent("t", f"after{i}")
    events = wait_events(out, lambda events: len(events) >= 4, timeout=30.0)
    assert [e["payload"] for e in events] == ["type:t\nbefore0", "type:t\nbefore1", "type:t\nafter0", "type:t\nafter1"]
    serials = [int(e["headers"]["serial"]) for e in events]
    assert serials == list(range(serials[0], serials[0] + 4)), serials


@pytest.mark.parametrize("mode", ["cgroup", "psutil"])
def test_a_stop_under_way_goes_on_after_the_hand_over(daemon_factory, tmp_path, monkeypatch, mode):
    """The main process exited on SIGTERM, its child ignores it: the child's
    SIGKILL at stopwaitsecs comes from the new image."""
    if mode == "psutil":
        monkeypatch.setenv("SUPERVISOR_NG_CGROUP", "off")
    pidfile = tmp_path / "leftover.pid"
    child = tmp_path / "child.py"
    child.write_text(  # says its pid once it ignores SIGTERM
        "import os, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"open({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(1000)\n"
    )
    stubborn = tmp_path / "stubborn.py"
    stubborn.write_text(
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: os._exit(0))\n"
        f"subprocess.Popen([sys.executable, {str(child)!r}])\n"
        "time.sleep(1000)\n"
    )
    daemon = daemon_factory(
        f"[program:stubborn]\ncommand={sys.executable} {stubborn}\nstartsecs=0\nstopwaitsecs=6\nstopasgroup=true\n"
    )
    daemon.wait_all(("RUNNING",), timeout=30.0)
    daemon.wait_until(lambda: pidfile.exists() and pidfile.read_text(), timeout=30.0, what="the child's pid")
    leftover = int(pidfile.read_text())
    daemon.rpc.supervisor.stopProcess("stubborn", True)  # the main process is gone, its child not
    assert pid_alive(leftover)
    assert daemon.rpc.ng.reexec() is True
    daemon.wait_until(lambda: _handed_over(daemon), timeout=30.0, what="the hand-over line in the log")
    daemon.wait_until(lambda: not pid_alive(leftover), timeout=30.0, what="the leftover's SIGKILL")
    after = daemon.read_log().split("handed over to itself", 1)[1]
    assert f"killed 1 leftover process(es) of stubborn: {leftover}" in after
