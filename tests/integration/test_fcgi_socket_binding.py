"""An [fcgi-program] socket path where a live server listens is not taken over.

The fcgi binder used to unlink whatever was at its path before binding: a
config mistake (or two daemons sharing a path) would silently cut another
daemon off from its clients.  It now shares the control sockets' binder,
which replaces only a stale socket.
"""

from __future__ import annotations

import os

from tests.daemon_harness import Daemon


def test_fcgi_program_refuses_a_socket_a_live_daemon_listens_on(daemon_factory):
    first = daemon_factory("[program:a]\ncommand=sleep 1000\nstartsecs=0\n")
    first.wait_state("a", "RUNNING")
    inode = os.stat(first.sock).st_ino
    second: Daemon = daemon_factory(
        f"[fcgi-program:f]\ncommand=sleep 1000\nsocket=unix://{first.sock}\nstartretries=0\n"
    )
    second.wait_state("f", "FATAL")
    info = second.rpc.supervisor.getProcessInfo("f")
    assert "couldn't bind socket" in info["spawnerr"]
    assert "a server answers on" in info["spawnerr"]
    # The first daemon still owns its path and answers on it.
    assert os.stat(first.sock).st_ino == inode
    assert first.rpc.supervisor.getState()["statename"] == "RUNNING"
