"""Type=notify without systemd: a datagram socket of the test's own is NOTIFY_SOCKET.

The daemon is ours, run by tests/daemon_harness.py with NOTIFY_SOCKET (and
WATCHDOG_USEC) in its environment.  Each message is stamped when it arrives,
and on READY=1 the daemon's log is read at once: the lines that say the
programs settled must already be there.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("systemd.daemon", reason="systemd-python is not installed")

SETTLING = """
[program:good]
command=sleep 1000
startsecs=1

[program:bad]
command=sh -c 'exit 3'
startsecs=1
startretries=1

[program:envdump]
command=sh -c 'env > {dir}/env.txt; exec sleep 1000'
startsecs=0
"""


class NotifyListener:
    """Collects (arrival time, message, daemon log at arrival) in a thread."""

    def __init__(self, path: Path, logfile: Path) -> None:
        self.path = str(path)
        self.logfile = logfile
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.monotonic()
            text = data.decode()
            log = ""
            if "READY=1" in text:
                try:
                    log = self.logfile.read_text()
                except OSError:
                    pass
            with self._lock:
                self.messages.append((now, text, log))

    def texts(self) -> list[str]:
        with self._lock:
            return [m[1] for m in self.messages]

    def wait_for(self, field: str, after: int = 0, timeout: float = 15.0) -> int:
        """Index of the first message from ``after`` on that has ``field``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, text in enumerate(self.texts()[after:], after):
                if field in text.split("\n"):
                    return i
            time.sleep(0.02)
        raise AssertionError(f"no {field!r} within {timeout}s; got {self.texts()!r}")

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


@pytest.fixture
def notified(daemon_factory, monkeypatch, tmp_path):
    """``start(programs, watchdog_usec=None) -> (daemon, listener)``; ``{dir}``
    in ``programs`` is the daemon's directory."""
    listeners: list[NotifyListener] = []
    daemons = []

    def start(programs: str, watchdog_usec: int | None = None):
        daemon = daemon_factory(start=False)
        daemon.write_programs(programs.replace("{dir}", str(daemon.workdir)))
        listener = NotifyListener(daemon.workdir / "notify.sock", daemon.logfile)
        listeners.append(listener)
        monkeypatch.setenv("NOTIFY_SOCKET", listener.path)
        if watchdog_usec is not None:
            monkeypatch.setenv("WATCHDOG_USEC", str(watchdog_usec))
        else:
            monkeypatch.delenv("WATCHDOG_USEC", raising=False)
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        daemon.start(wait=False)
        daemons.append(daemon)
        return daemon, listener

    yield start
    for daemon in daemons:  # while the listener still listens
        daemon.stop()
    for listener in listeners:
        listener.close()


def test_ready_only_after_autostart_programs_settled(notified):
    daemon, listener = start_settling(notified)
    i = listener.wait_for("READY=1")
    _, text, log_at_ready = listener.messages[i]
    assert "success: good entered RUNNING state" in log_at_ready
    assert "gave up: bad entered FATAL state" in log_at_ready
    assert "STATUS=1 running" not in text  # envdump runs too
    assert "STATUS=2 running, 1 fatal" in text.split("\n")
    before = listener.texts()[:i]
    assert not any("READY=1" in t for t in before)
    infos = {p["name"]: p["statename"] for p in daemon.rpc.supervisor.getAllProcessInfo()}
    assert infos == {"good": "RUNNING", "bad": "FATAL", "envdump": "RUNNING"}


def start_settling(notified):
    return notified(SETTLING)


def test_status_lines_follow_the_programs(notified):
    daemon, listener = start_settling(notified)
    listener.wait_for("READY=1")
    statuses = [line for t in listener.texts() for line in t.split("\n") if line.startswith("STATUS=")]
    assert statuses, listener.texts()
    daemon.rpc.supervisor.stopProcess("good")
    listener.wait_for("STATUS=1 running, 1 fatal, 1 stopped")


def test_systemd_variables_do_not_reach_children(notified):
    daemon, listener = start_settling(notified)
    listener.wait_for("READY=1")
    env = (daemon.workdir / "env.txt").read_text()
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
        assert f"{name}=" not in env
    assert "SUPERVISOR_PROCESS_NAME=envdump" in env


def test_reloading_on_sighup_then_ready_again(notified):
    daemon, listener = notified("[program:good]\ncommand=sleep 1000\nstartsecs=1\n")
    first = listener.wait_for("READY=1")
    os.kill(daemon.pid, signal.SIGHUP)
    reload_at = listener.wait_for("RELOADING=1", after=first + 1)
    reloading = listener.texts()[reload_at].split("\n")
    usec = [f for f in reloading if f.startswith("MONOTONIC_USEC=")]
    assert usec and int(usec[0].split("=", 1)[1]) > 0
    ready_again = listener.wait_for("READY=1", after=reload_at + 1)
    _, _, log_at_ready = listener.messages[ready_again]
    # the new generation's program settled before READY=1
    assert log_at_ready.count("success: good entered RUNNING state") == 2


def test_update_adding_a_group_reloads_until_it_settles(notified):
    daemon, listener = notified("[program:good]\ncommand=sleep 1000\nstartsecs=0\n")
    first = listener.wait_for("READY=1")
    daemon.write_programs(
        "[program:good]\ncommand=sleep 1000\nstartsecs=0\n\n"
        "[program:late]\ncommand=sleep 1000\nstartsecs=1\n"
    )
    assert daemon.ctl("update").returncode == 0
    reload_at = listener.wait_for("RELOADING=1", after=first + 1)
    ready_again = listener.wait_for("READY=1", after=reload_at + 1)
    assert "success: late entered RUNNING state" in listener.messages[ready_again][2]


def test_stopping_on_sigterm(notified):
    daemon, listener = notified("[program:good]\ncommand=sleep 1000\nstartsecs=0\n")
    ready = listener.wait_for("READY=1")
    assert daemon.stop() == 0
    stop_at = listener.wait_for("STOPPING=1", after=ready + 1)
    assert not any("READY=1" in t for t in listener.texts()[stop_at:])


def test_stopping_with_no_programs(notified):
    daemon, listener = notified("")
    ready = listener.wait_for("READY=1")
    assert "STATUS=no programs" in listener.texts()[ready].split("\n")
    assert daemon.stop() == 0
    listener.wait_for("STOPPING=1", after=ready + 1)


def test_watchdog_pings_stop_while_the_daemon_is_stopped(notified):
    daemon, listener = notified("", watchdog_usec=200_000)
    listener.wait_for("READY=1")

    def pings() -> int:
        return sum(1 for t in listener.texts() if t == "WATCHDOG=1")

    start = pings()
    time.sleep(0.55)
    assert pings() - start >= 4  # one each 0.1 s
    os.kill(daemon.pid, signal.SIGSTOP)
    try:
        time.sleep(0.15)  # one in flight may still arrive
        frozen = pings()
        time.sleep(0.5)
        assert pings() == frozen
    finally:
        os.kill(daemon.pid, signal.SIGCONT)
    time.sleep(0.35)
    assert pings() > frozen
