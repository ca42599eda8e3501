"""sd_notify through systemd-python to a datagram socket of the test's own."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from supervisor_ng.core.states import ProcessState as S
from supervisor_ng.systemd.notify import Notifier, summary

pytest.importorskip("systemd.daemon", reason="systemd-python is not installed")


@pytest.fixture
def notify_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield path, sock
    sock.close()


def received(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def test_disabled_without_notify_socket(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    n = Notifier()
    assert not n.enabled
    n.ready()  # nothing to send to, nothing raised


def test_ready_status_reloading_stopping(notify_socket, monkeypatch):
    path, sock = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    n = Notifier()
    assert n.enabled
    n.ready("2 running")
    assert received(sock) == "READY=1\nSTATUS=2 running"
    n.status("2 running")  # unchanged: not sent again
    n.status("1 running, 1 fatal")
    assert received(sock) == "STATUS=1 running, 1 fatal"
    n.reloading()
    msg = received(sock)
    assert msg.startswith("RELOADING=1\nMONOTONIC_USEC=")
    assert int(msg.rsplit("=", 1)[1]) > 0
    n.stopping()
    assert received(sock) == "STOPPING=1"


def test_watchdog_pings_from_the_loop_at_half_the_interval(notify_socket, monkeypatch):
    path, sock = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    n = Notifier()
    assert n.watchdog_interval == 0.2

    async def run() -> None:
        n.start_watchdog(asyncio.get_running_loop())
        await asyncio.sleep(0.25)
        n.stop_watchdog()

    asyncio.run(run())
    pings = [received(sock) for _ in range(2)]
    assert pings == ["WATCHDOG=1", "WATCHDOG=1"]


def test_watchdog_meant_for_another_pid_is_ignored(notify_socket, monkeypatch):
    path, _ = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.setenv("WATCHDOG_PID", "1")
    n = Notifier()
    assert n.watchdog_interval is None


def test_summary_line():
    assert summary([S.RUNNING] * 14 + [S.FATAL] + [S.STOPPED] * 2) == "14 running, 1 fatal, 2 stopped"
    assert summary([]) == "no programs"
