"""Matching sockets passed by systemd to control-socket sections."""

from __future__ import annotations

import os
import socket

from supervisor_ng.config.model import HttpServerConfig
from supervisor_ng.systemd.activation import InheritedPool, InheritedSocket, fd_name, take_inherited

UNIX = HttpServerConfig(section="unix_http_server", family="unix", path="/run/supervisor/supervisor.sock")
NAMED = HttpServerConfig(section="unix_http_server:extra", family="unix", path="/run/x.sock")
INET = HttpServerConfig(section="inet_http_server", family="inet", host="127.0.0.1", port=9001)
ANY = HttpServerConfig(section="inet_http_server", family="inet", host="*", port=9001)


def inherited(fd: int, name: str, family: int, address: object) -> InheritedSocket:
    return InheritedSocket(fd, name, family, address)


def test_environment_is_cleared_and_another_pid_gets_nothing():
    env = {"LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDNAMES": "x", "OTHER": "1"}
    assert take_inherited(env) == []
    assert env == {"OTHER": "1"}
    env = {"LISTEN_FDS": "0"}
    assert take_inherited(env) == [] and env == {}


def test_by_name_first():
    pool = InheritedPool([
        inherited(3, "", socket.AF_UNIX, UNIX.path),
        inherited(4, "unix_http_server", socket.AF_UNIX, "/elsewhere.sock"),
    ])
    assert pool.claim(UNIX.section, UNIX).fd == 4
    assert [s.fd for s in pool.unclaimed()] == [3]


def test_named_sections_use_a_dash():
    assert fd_name(NAMED.section) == "unix_http_server-extra"
    pool = InheritedPool([inherited(3, "unix_http_server-extra", socket.AF_UNIX, "/x")])
    assert pool.claim(UNIX.section, UNIX) is None
    assert pool.claim(NAMED.section, NAMED).fd == 3


def test_by_address():
    pool = InheritedPool([
        inherited(3, "supervisord.socket", socket.AF_UNIX, UNIX.path),
        inherited(4, "", socket.AF_INET, ("127.0.0.1", 9001)),
    ])
    assert pool.claim(UNIX.section, UNIX).fd == 3
    assert pool.claim(INET.section, INET).fd == 4
    assert pool.unclaimed() == []


def test_a_socket_named_for_another_section_is_not_taken_by_address():
    pool = InheritedPool([inherited(3, "unix_http_server-other", socket.AF_UNIX, UNIX.path)])
    assert pool.claim(UNIX.section, UNIX) is None


def test_inet_wildcards_and_wrong_family():
    pool = InheritedPool([inherited(3, "", socket.AF_INET6, ("::", 9001, 0, 0))])
    assert pool.claim(UNIX.section, UNIX) is None
    assert pool.claim(ANY.section, ANY).fd == 3
    pool = InheritedPool([inherited(3, "", socket.AF_INET, ("127.0.0.1", 9002))])
    assert pool.claim(INET.section, INET) is None


def test_release_makes_it_claimable_again():
    pool = InheritedPool([inherited(3, "", socket.AF_UNIX, UNIX.path)])
    assert pool.claim(UNIX.section, UNIX) is not None
    assert pool.claim(UNIX.section, UNIX) is None
    pool.release("unix_http_server")
    assert pool.claim(UNIX.section, UNIX).fd == 3
