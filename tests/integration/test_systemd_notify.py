"""Type=notify without systemd: a datagram socket of the test's own is NOTIFY_SOCKET.

The daemon is ours, run by tests/daemon_harness.py with NOTIFY_SOCKET (and
WATCHDOG_USEC) in its environment.  Each message is kept with the pid of its
sender (SCM_CREDENTIALS, as systemd checks ``NotifyAccess=``), and on READY=1
the daemon's log is read at once: the lines that say the programs settled
must already be there.  Nothing here is timed: messages on one socket arrive
in the order they were sent, so a message of the test's own or one from
another daemon marks a point in that order.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import sys
import threading
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import pytest

from tests.waiting import process_state, wait_until

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

_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid
_CLOSE = b"TEST_LISTENER_CLOSE=1"


class Message(NamedTuple):
    text: str
    pid: int  # the sender's
    log: str  # the daemon's log as it was when a READY=1 arrived, else ""


class NotifyListener:
    """Collects every message sent to ``path``, in arrival order, in a thread."""

    def __init__(self, path: Path, logfile: Path) -> None:
        self.path = str(path)
        self.logfile = logfile
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        self.messages: list[Message] = []
        self._marks = 0
        self._arrived = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                data, ancillary, _flags, _addr = self.sock.recvmsg(65536, socket.CMSG_SPACE(_CREDENTIALS.size))
            except OSError:
                return
            if data == _CLOSE:
                return
            pid = 0
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = _CREDENTIALS.unpack(payload[: _CREDENTIALS.size])[0]
            text = data.decode()
            log = ""
            if "READY=1" in text.split("\n"):
                try:
                    log = self.logfile.read_text()
                except OSError:
                    pass
            with self._arrived:
                self.messages.append(Message(text, pid, log))
                self._arrived.notify_all()

    def texts(self) -> list[str]:
        with self._arrived:
            return [m.text for m in self.messages]

    def wait(self, predicate: Callable[[list[Message]], bool], timeout: float = 15.0, what: str = "messages") -> None:
        """Until ``predicate(messages)`` holds, checked as each message arrives."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: predicate(self.messages), timeout):
                raise AssertionError(f"no {what} within {timeout}s; got {[m.text for m in self.messages]!r}")

    def wait_for(self, field: str, after: int = 0, timeout: float = 15.0, pid: int = 0) -> int:
        """Index of the first message from ``after`` on that has ``field``
        (and came from ``pid``, when given)."""

        def found(messages: list[Message]) -> Optional[int]:
            for i, m in enumerate(messages[after:], after):
                if field in m.text.split("\n") and (not pid or m.pid == pid):
                    return i
            return None

        self.wait(lambda messages: found(messages) is not None, timeout, repr(field))
        with self._arrived:
            index = found(self.messages)
        assert index is not None
        return index

    def mark(self) -> int:
        """Send a message of the test's own; its index once it arrived.  Every
        message sent before this call was made is before that index."""
        self._marks += 1
        field = f"TEST_MARK={self._marks}"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.sendto(field.encode(), self.path)
        return self.wait_for(field, pid=os.getpid())

    def close(self) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.sendto(_CLOSE, self.path)
        self._thread.join()
        self.sock.close()


@pytest.fixture
def notified(daemon_factory, monkeypatch, tmp_path):
    """``start(programs, watchdog_usec=None, listener=None) -> (daemon, listener)``;
    ``{dir}`` in ``programs`` is the daemon's directory; a ``listener`` given
    is shared (its READY=1 log snapshots are of the first daemon's log)."""
    listeners: list[NotifyListener] = []
    daemons = []

    def start(programs: str, watchdog_usec: Optional[int] = None, listener: Optional[NotifyListener] = None):
        daemon = daemon_factory(start=False)
        daemon.write_programs(programs.replace("{dir}", str(daemon.workdir)))
        if listener is None:
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
    text, _, log_at_ready = listener.messages[i]
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
    log_at_ready = listener.messages[ready_again].log
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
    assert "success: late entered RUNNING state" in listener.messages[ready_again].log


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


def _pings(messages: list[Message], pid: int, after: int = 0) -> list[int]:
    return [i for i, m in enumerate(messages[after:], after) if m.text == "WATCHDOG=1" and m.pid == pid]


def test_watchdog_pings_stop_while_the_daemon_is_stopped(notified):
    # WATCHDOG_USEC of 0.2 s: a ping every 0.1 s, by the daemon's main process.
    daemon, listener = notified(
        "[program:clock]\ncommand=sleep 1000\nstartsecs=2\nautostart=false\n", watchdog_usec=200_000
    )
    listener.wait_for("READY=1")
    # The daemon's own 2 s startsecs timer is the yardstick: between the
    # STATUS= that says clock is starting and the one that says it runs, 20
    # pings are due.  14 is one per 0.14 s at the least; pings at the full
    # interval would give 10.
    daemon.rpc.supervisor.startProcess("clock", False)
    starting = listener.wait_for("STATUS=1 starting")
    running = listener.wait_for("STATUS=1 running", after=starting + 1)
    during = _pings(listener.messages[:running], daemon.pid, after=starting)
    assert len(during) >= 14, len(during)
    watchdog = [m for m in listener.messages if m.text == "WATCHDOG=1"]
    assert watchdog and {m.pid for m in watchdog} == {daemon.pid}

    # A second daemon, pinging at the same rate, is the clock while the first is stopped.
    control, _ = notified("", watchdog_usec=200_000, listener=listener)
    listener.wait_for("READY=1", pid=control.pid)
    os.kill(daemon.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: process_state(daemon.pid) == "T", what="the daemon to be stopped")
        frozen = listener.mark()  # every ping it sent before it stopped is before this
        listener.wait(lambda ms: len(_pings(ms, control.pid, after=frozen)) >= 5, what="5 control pings")
        assert _pings(listener.messages, daemon.pid, after=frozen) == []
    finally:
        os.kill(daemon.pid, signal.SIGCONT)
    listener.wait_for("WATCHDOG=1", after=frozen + 1, pid=daemon.pid)


def test_ready_waits_for_programs_that_report_readiness_and_their_dependents(notified):
    notify_prog = Path(__file__).with_name("notify_prog.py")
    daemon, listener = notified(
        f"[program:db]\ncommand={sys.executable} {notify_prog} --ready-after 0.5\nready=notify\n"
        "[program:web]\ncommand=sleep 1000\nstartsecs=0\ndepends_on=db\n"
    )
    i = listener.wait_for("READY=1")
    _, _, log_at_ready = listener.messages[i]
    assert "success: db entered RUNNING state, process is ready (ready=notify)" in log_at_ready
    assert "success: web entered RUNNING state" in log_at_ready
    # the program's own NOTIFY_SOCKET is the daemon's, never systemd's
    env = open(f"/proc/{daemon.rpc.supervisor.getProcessInfo('db')['pid']}/environ", "rb").read().split(b"\0")
    sockets = [v for v in env if v.startswith(b"NOTIFY_SOCKET=")]
    assert sockets and sockets[0] != f"NOTIFY_SOCKET={listener.path}".encode()
