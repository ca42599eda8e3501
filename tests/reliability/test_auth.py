"""Authentication and the permissions of the control sockets.

With a username and password set, every endpoint on both servers refuses a
request without them or with anything but exactly them; the check is done
in constant time; the unix socket never exists with other permissions than
the configured ones; an inet server without auth is announced loudly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import pwd
import stat
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervisor_ng.http import auth

from .conftest import figures
from .rawhttp import Address, call_xml, response_head, status_of

USER, PASSWORD = "admin", "s3cret pass:wörd"

PROGRAMS = """
[program:cat]
command=sh -c 'echo out; echo err >&2; exec cat'
startsecs=0
"""

# (method, target, body): every endpoint there is.  The web page and /metrics
# join as they are built; add new ones here.
ENDPOINTS = [
    ("POST", "/RPC2", call_xml("supervisor.getState")),
    ("POST", "/RPC2", call_xml("supervisor.shutdown")),
    ("GET", "/logtail/cat", b""),
    ("GET", "/logtail/cat/stdout", b""),
    ("GET", "/logtail/cat/stderr", b""),
    ("GET", "/logtail/nope", b""),
    ("GET", "/mainlogtail", b""),
    ("GET", "/", b""),
    ("GET", "/index.html", b""),
    ("GET", "/index.html?action=stop&processname=cat", b""),
    ("GET", "/?action=stopall", b""),
    ("POST", "/index.html", b"action=stop&processname=cat"),
    ("GET", "/tail.html?processname=cat", b""),
    ("GET", "/ok.html", b""),
    ("GET", "/metrics", b""),
    ("GET", "/static/app.css", b""),
    ("GET", "/static/app.js", b""),
    ("GET", "/static/index.html", b""),
    ("GET", "/api/status", b""),
    ("GET", "/api/events", b""),
    ("GET", "/api/stats", b""),
    ("POST", "/api/action", b'{"action": "stop", "name": "cat"}'),
    ("HEAD", "/", b""),
    ("OPTIONS", "/RPC2", b""),
    ("GET", "/no/such/page", b""),
    ("GET", "/%2e%2e/%2e%2e/etc/passwd", b""),
]


def request(method: str, target: str, body: bytes, authorization: str | None) -> bytes:
    head = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    if body:
        head += f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n"
    if authorization is not None:
        head += f"Authorization: {authorization}\r\n"
    return (head + "\r\n").encode("utf-8", "surrogateescape") + body


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode("utf-8", "surrogateescape")).decode()


BAD_HEADERS = [
    None,
    "",
    "Basic",
    "Basic ",
    "Basic !!!notbase64",
    "Basic " + base64.b64encode(b"no-colon").decode(),
    "Basic " + base64.b64encode(USER.encode()).decode(),
    "Bearer " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
    "Digest username=admin",
    basic(USER, ""),
    basic("", PASSWORD),
    basic(USER, PASSWORD + " "),
    basic(USER, PASSWORD[:-1]),
    basic(USER, PASSWORD.upper()),
    basic(USER.upper(), PASSWORD),
    basic(USER + ":" + PASSWORD, ""),
    basic(f"{USER}\x00", PASSWORD),
    basic(USER, PASSWORD + "\x00"),
    "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode("latin-1", "replace")).decode(),
]


def addresses(d) -> list[Address]:
    return [str(d.sock), ("127.0.0.1", d.port)]


def _right_login(address: Address) -> None:
    """A right login between wrong ones: failures in a row are answered ever
    more slowly (http/logins.py), which is not what these tests measure."""
    head = response_head(address, request("POST", "/RPC2", call_xml("supervisor.getState"), basic(USER, PASSWORD)))
    assert status_of(head) == 200, head[:200]


def test_every_endpoint_refuses_missing_and_wrong_credentials(daemon_factory) -> None:
    d = daemon_factory(PROGRAMS, inet=True, auth=(USER, PASSWORD))
    d.wait_all(timeout=15)
    refused = 0
    for address in addresses(d):
        for method, target, body in ENDPOINTS:
            for header in BAD_HEADERS:
                head = response_head(address, request(method, target, body, header))
                assert status_of(head) == 401, f"{method} {target} with {header!r}: {head[:200]!r}"
                assert b'WWW-Authenticate: Basic realm="default"' in head
                refused += 1
                _right_login(address)
            # The right credentials get past the check (whatever the page says).
            if target == "/RPC2" and b"shutdown" in body:
                continue
            head = response_head(address, request(method, target, body, basic(USER, PASSWORD)))
            assert status_of(head) != 401, f"{method} {target}: {head[:200]!r}"
    figures("auth_endpoints", endpoints=len(ENDPOINTS), servers=2, refused_requests=refused)


def test_refused_requests_change_nothing(daemon_factory) -> None:
    d = daemon_factory(PROGRAMS, inet=True, auth=(USER, PASSWORD))
    d.wait_all(timeout=15)
    pid = d.rpc.supervisor.getProcessInfo("cat")["pid"]
    for address in addresses(d):
        for target, body in (
            ("/RPC2", call_xml("supervisor.stopAllProcesses")),
            ("/RPC2", call_xml("supervisor.shutdown")),
            ("/index.html?action=stopall", b""),
            ("/api/action", b'{"action": "stop", "name": "cat"}'),
        ):
            method = "GET" if not body else "POST"
            assert status_of(response_head(address, request(method, target, body, basic(USER, "wrong")))) == 401
    assert d.rpc.supervisor.getProcessInfo("cat")["pid"] == pid
    assert d.rpc.supervisor.getState()["statename"] == "RUNNING"


def test_no_wrong_password_ever_gets_in(daemon_factory) -> None:
    sha_password = "{SHA}" + hashlib.sha1(PASSWORD.encode()).hexdigest()
    d = daemon_factory(PROGRAMS, inet=True, auth=(USER, sha_password), login=(USER, PASSWORD))
    address = ("127.0.0.1", d.port)
    body = call_xml("supervisor.getState")
    tried = 0

    def status(user: str, password: str) -> int | None:
        return status_of(response_head(address, request("POST", "/RPC2", body, basic(user, password))))

    # The right one works; the stored hash, its digest and near misses do not.
    assert status(USER, PASSWORD) == 200
    for password in (sha_password, sha_password[5:], sha_password[5:].upper(), PASSWORD + "x", ""):
        assert status(USER, password) == 401, password
        tried += 1

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(user=st.one_of(st.just(USER), st.text(max_size=12)), password=st.text(max_size=40))
    def wrong(user: str, password: str) -> None:
        nonlocal tried
        if user == USER and password == PASSWORD:
            return
        tried += 1
        assert status(user, password) == 401, (user, password)
        assert status(USER, PASSWORD) == 200  # and the right one still gets in

    wrong()
    figures("auth_wrong_passwords", tried=tried, admitted=0)


def test_password_check_is_constant_time(monkeypatch) -> None:
    """Both the username and the password go through hmac.compare_digest,
    whichever is wrong, so response times say nothing about either."""
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    for header, expected in (
        (basic("someone", "wrong"), False),
        (basic(USER, "wrong"), False),
        (basic("someone", PASSWORD), False),
        (basic(USER, PASSWORD), True),
    ):
        compared.clear()
        assert auth.check_basic(header, USER, PASSWORD) is expected
        assert len(compared) == 2, compared  # no early exit on a wrong username
    sha = "{SHA}" + hashlib.sha1(PASSWORD.encode()).hexdigest()
    compared.clear()
    assert auth.check_basic(basic(USER, PASSWORD), USER, sha) is True
    assert auth.check_basic(basic(USER, sha), USER, sha) is False
    assert len(compared) == 4


# -- the unix socket ---------------------------------------------------------------------


def test_unix_socket_never_exists_with_other_permissions(daemon_factory) -> None:
    """Watch the socket path while the daemon starts: every state it is ever
    seen in is the final one (mode and owner), never a wider one first."""
    nobody = pwd.getpwnam("nobody")
    d = daemon_factory(
        PROGRAMS, start=False, unix_options=f"chmod=0660\nchown=nobody:{nobody.pw_gid}\n"
    )
    path = str(d.sock)
    seen: dict[tuple[int, int, int], int] = {}
    stats = 0
    d.start(wait=False)
    deadline = time.monotonic() + 15
    answered = False
    while time.monotonic() < deadline:
        for _ in range(2000):
            try:
                st_ = os.lstat(path)
            except FileNotFoundError:
                continue
            stats += 1
            key = (stat.S_IMODE(st_.st_mode) | (st_.st_mode & stat.S_IFMT(st_.st_mode)), st_.st_uid, st_.st_gid)
            seen[key] = seen.get(key, 0) + 1
        if seen:
            try:
                d.proxy(timeout=2).supervisor.getState()
                answered = True
                break
            except OSError:
                pass
    assert answered
    expected = (stat.S_IFSOCK | 0o660, nobody.pw_uid, nobody.pw_gid)
    figures("unix_socket_modes", stats=stats, states_seen=[(oct(m), u, g) for (m, u, g) in seen])
    assert set(seen) == {expected}
    # And no temporary name is left next to it.
    assert sorted(p.name for p in Path(path).parent.iterdir() if p.name.startswith("supervisor.sock")) == [
        "supervisor.sock"
    ]


@pytest.mark.parametrize("mode, outcome", [("0700", "refused"), ("0777", "connected")])
def test_unix_socket_mode_is_enforced_for_other_users(mode: str, outcome: str) -> None:
    """nobody cannot connect to a 0700 root socket, and can to a 0777 one:
    the mode is real (the directory is open to all, so only the mode decides)."""
    import shutil
    import subprocess
    import tempfile

    from tests.daemon_harness import Daemon

    workdir = Path(tempfile.mkdtemp(prefix="sng-mode-"))
    os.chmod(workdir, 0o755)
    d = Daemon(workdir, PROGRAMS, unix_options=f"chmod={mode}\n")
    d.start()
    try:
        probe = (
            "import socket,sys\n"
            "s=socket.socket(socket.AF_UNIX)\n"
            "try:\n s.connect(sys.argv[1]); print('connected')\n"
            "except PermissionError: print('refused')\n"
        )
        nobody = pwd.getpwnam("nobody")
        out = subprocess.run(
            ["/usr/bin/python3", "-c", probe, str(d.sock)],
            capture_output=True,
            text=True,
            user=nobody.pw_uid,
            group=nobody.pw_gid,
            extra_groups=[],
            timeout=30,
            cwd="/",
        )
        assert out.stdout.strip() == outcome, out
    finally:
        assert d.stop() == 0
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize("with_auth", [False, True])
def test_inet_server_without_auth_is_announced_loudly(daemon_factory, with_auth: bool) -> None:
    d = daemon_factory("", inet=True, auth=(USER, PASSWORD) if with_auth else None)
    log = d.read_log()
    warning = "CRIT Server 'inet_http_server' running without any HTTP authentication checking"
    if with_auth:
        assert warning not in log
    else:
        assert warning in log, log
