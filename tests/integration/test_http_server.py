"""The HTTP side of the control plane: sockets, auth, status codes, log tails."""

from __future__ import annotations

import base64
import grp
import hashlib
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import xmlrpc.client
from pathlib import Path
from typing import Optional

import pytest

from tests.daemon_harness import Daemon, bin_path, http_request, unix_proxy

TICKER = """
[program:ticker]
command=sh -c 'i=0; while true; do echo "line $i"; i=$((i+1)); [ $i -lt 300 ] || sleep 0.05; done'
startsecs=0
"""

SLEEPER = """
[program:sleeper]
command=sleep 1000
startsecs=0
"""


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Stream:
    """A raw HTTP/1.1 GET that stays open: for the endless log tails."""

    def __init__(self, d: Daemon, path: str, headers: Optional[dict[str, str]] = None, tcp: bool = False) -> None:
        if tcp:
            self.sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(10)
            self.sock.connect(str(d.sock))
        lines = [f"GET {path} HTTP/1.1", "Host: localhost"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        # The stock tail client ends its headers with an extra blank line.
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n\r\n").encode())
        self._buf = b""
        head = self._read_until(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.body = b""

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(self._buf)
            self._buf += data
        head, self._buf = self._buf.split(marker, 1)
        return head

    def _read_chunk(self) -> bytes:
        size = int(self._read_until(b"\r\n").split(b";")[0], 16)
        while len(self._buf) < size + 2:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError
            self._buf += data
        chunk, self._buf = self._buf[:size], self._buf[size + 2 :]
        return chunk

    def read_until(self, predicate, timeout: float = 10.0) -> bytes:
        """Read chunks until predicate(body so far) holds."""
        deadline = time.monotonic() + timeout
        while not predicate(self.body):
            remaining = deadline - time.monotonic()
            if remaining <= 0:  # data may keep coming without ever matching
                raise AssertionError(f"not in the stream within {timeout} s; got {self.body[-500:]!r}")
            self.sock.settimeout(remaining)
            chunk = self._read_chunk()
            if chunk == b"":
                raise EOFError("stream ended")
            self.body += chunk
        return self.body

    def close(self) -> None:
        self.sock.close()


# -- auth ----------------------------------------------------------------------------------


ENDPOINTS = [
    ("POST", "/RPC2"),
    ("GET", "/logtail/sleeper"),
    ("GET", "/logtail/sleeper/stderr"),
    ("GET", "/mainlogtail"),
    ("GET", "/ok.html"),
    ("GET", "/"),
    ("GET", "/index.html"),
    ("GET", "/stylesheets/supervisor.css"),
    ("GET", "/nosuch"),
]


def _status(d: Daemon, method: str, path: str, headers: dict[str, str], tcp: bool) -> tuple[int, dict]:
    if path.startswith(("/logtail", "/mainlogtail")):
        stream = Stream(d, path, headers, tcp=tcp)
        stream.close()
        return stream.status, stream.headers
    status, hdrs, _body = http_request(
        path,
        sock_path=None if tcp else str(d.sock),
        port=d.port if tcp else None,
        method=method,
        body=b"" if method == "POST" else None,
        headers=headers,
    )
    return status, hdrs


@pytest.mark.parametrize("password", ["s3cret", "{SHA}" + hashlib.sha1(b"s3cret").hexdigest()])
def test_basic_auth_guards_every_endpoint_on_both_servers(daemon_factory, password):
    d = daemon_factory(SLEEPER, inet=True, auth=("admin", password), login=("admin", "s3cret"))
    good = basic_auth("admin", "s3cret")
    for tcp in (False, True):
        for method, path in ENDPOINTS:
            for headers in ({}, basic_auth("admin", "wrong"), basic_auth("nobody", "s3cret"), {"Authorization": "Basic !!"}):
                status, hdrs = _status(d, method, path, headers, tcp)
                assert status == 401, (tcp, path, headers)
                assert hdrs["www-authenticate"] == 'Basic realm="default"'
            status, _ = _status(d, method, path, good, tcp)
            assert status != 401, (tcp, path)
    proxy = d.proxy(auth=("admin", "s3cret"))
    assert proxy.supervisor.getState()["statename"] == "RUNNING"
    with pytest.raises(xmlrpc.client.ProtocolError) as info:
        d.proxy(auth=("admin", "nope")).supervisor.getState()
    assert info.value.errcode == 401
    inet = xmlrpc.client.ServerProxy(f"http://admin:s3cret@127.0.0.1:{d.port}/RPC2")
    assert inet.supervisor.getAPIVersion() == "3.0"


def test_stock_supervisorctl_with_auth_over_both_servers(daemon_factory):
    d = daemon_factory(SLEEPER, inet=True, auth=("admin", "s3cret"))
    d.wait_state("sleeper", "RUNNING")
    url = f"http://127.0.0.1:{d.port}"
    r = d.ctl("status", options=("-s", url, "-u", "admin", "-p", "s3cret"))
    assert (r.returncode, r.stdout.split()[:2]) == (0, ["sleeper", "RUNNING"])
    r = d.ctl("status")  # unix socket; the [supervisorctl] section has the credentials
    assert (r.returncode, r.stdout.split()[:2]) == (0, ["sleeper", "RUNNING"])
    r = d.ctl("status", options=("-s", url, "-u", "admin", "-p", "wrong"))
    assert r.returncode == 1
    assert r.stdout.startswith("Server requires authentication\nerror: <class 'xmlrpc.client.ProtocolError'>, ")
    assert "401 Unauthorized" in r.stdout


def test_no_auth_logs_the_stock_warning(daemon_factory):
    d = daemon_factory(SLEEPER, inet=True)
    log = d.read_log()
    assert "CRIT Server 'unix_http_server' running without any HTTP authentication checking" in log
    assert "CRIT Server 'inet_http_server' running without any HTTP authentication checking" in log
    assert "INFO RPC interface 'supervisor' initialized" in log
    assert xmlrpc.client.ServerProxy(f"http://127.0.0.1:{d.port}/RPC2").supervisor.getState()["statecode"] == 1


# -- robustness ------------------------------------------------------------------------------


def _post(d: Daemon, body: bytes, headers: Optional[dict[str, str]] = None) -> int:
    return http_request("/RPC2", sock_path=str(d.sock), method="POST", body=body, headers=headers)[0]


def test_bad_requests(daemon_factory):
    d = daemon_factory(SLEEPER)
    sock = str(d.sock)
    assert http_request("/RPC2", sock_path=sock)[0] == 400  # GET
    assert _post(d, b"not xml") == 400
    assert _post(d, b"<methodCall><params/></methodCall>") == 400  # no methodName
    assert _post(d, b"<methodCall><methodName>x</methodName><params><param><value><int>x</int>") == 400
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<methodCall><methodName>&lol2;</methodName></methodCall>"
    )
    assert _post(d, laughs) == 400
    external = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<methodCall><methodName>supervisor.getState</methodName><params><param>"
        b"<value><string>&e;</string></value></param></params></methodCall>"
    )
    assert _post(d, external) == 400
    big = b"<methodCall><methodName>system.listMethods</methodName><!--" + b"x" * (11 << 20) + b"--></methodCall>"
    assert _post(d, big) == 413
    assert http_request("/nosuch", sock_path=sock)[0] == 404
    assert http_request("/logtail/nosuch", sock_path=sock)[0] == 404
    assert http_request("/logtail/sleeper/bogus", sock_path=sock)[0] == 404
    assert http_request("/logtail/grp:", sock_path=sock)[0] == 404
    assert http_request("/logtail/sleeper", sock_path=sock, method="POST", body=b"")[0] == 400
    assert http_request("/mainlogtail", sock_path=sock, method="POST", body=b"")[0] == 400
    status, headers, body = http_request("/ok.html", sock_path=sock)
    assert (status, body) == (200, b"OK")
    # Untyped values are strings, as in stock; the daemon is fine after all that.
    plain = (
        b"<?xml version='1.0'?><methodCall><methodName>supervisor.getProcessInfo</methodName>"
        b"<params><param><value>sleeper</value></param></params></methodCall>"
    )
    status, _h, body = http_request("/RPC2", sock_path=sock, method="POST", body=plain)
    assert status == 200 and b"<name>statename</name>" in body
    assert d.rpc.supervisor.getState()["statename"] == "RUNNING"


def test_many_clients_at_once(daemon_factory):
    d = daemon_factory(SLEEPER)
    errors: list[BaseException] = []

    def client() -> None:
        try:
            proxy = d.proxy()
            for _ in range(20):
                assert proxy.supervisor.getProcessInfo("sleeper")["name"] == "sleeper"
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and not any(t.is_alive() for t in threads)


# -- sockets -------------------------------------------------------------------------------------


def test_unix_socket_mode_owner_and_removal(daemon_factory):
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    d = daemon_factory(SLEEPER, unix_options=f"chmod=0660\nchown={user}:{group}\n")
    st = os.stat(d.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    assert not [p for p in d.workdir.iterdir() if p.name.startswith("supervisor.sock.")]
    assert d.stop() == 0
    assert not os.path.exists(d.sock)


def test_default_socket_mode_is_0700(daemon_factory):
    d = daemon_factory(SLEEPER)
    assert stat.S_IMODE(os.stat(d.sock).st_mode) == 0o700


def test_live_socket_stops_start_up_before_any_program(daemon_factory, tmp_path):
    first = daemon_factory(SLEEPER)
    marker = tmp_path / "started"
    second = daemon_factory(
        f"[program:marker]\ncommand=touch {marker}\nstartsecs=0\nautorestart=false\n", start=False
    )
    text = second.conf.read_text().replace(str(second.sock), str(first.sock))
    second.conf.write_text(text)
    second.start(wait=False)
    assert second.wait_exit() == 2
    output = second.read_output()
    assert "Another program is already listening" in output
    assert str(first.sock) in output
    assert not marker.exists()
    assert first.rpc.supervisor.getState()["statename"] == "RUNNING"
    assert os.path.exists(first.sock)


def test_stale_socket_is_replaced(daemon_factory):
    d = daemon_factory(SLEEPER, start=False)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(d.sock))
    stale.close()  # the file stays, nobody listens
    d.start()
    assert d.rpc.supervisor.getState()["statename"] == "RUNNING"
    assert "Unlinking stale socket" in d.read_log()


def test_non_socket_at_the_path_is_refused(daemon_factory):
    d = daemon_factory(SLEEPER, start=False)
    d.sock.write_text("precious")
    d.start(wait=False)
    assert d.wait_exit() == 2
    assert "is not a socket" in d.read_output()
    assert d.sock.read_text() == "precious"


def test_inet_port_in_use_stops_start_up(daemon_factory):
    d = daemon_factory(SLEEPER, inet=True, start=False)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", d.port))
        s.listen(1)
        d.start(wait=False)
        assert d.wait_exit() == 2
    assert "Another program is already listening" in d.read_output()
    assert not os.path.exists(d.sock)


# -- log tails -----------------------------------------------------------------------------------


def test_logtail_streams_history_then_follows(daemon_factory):
    d = daemon_factory(TICKER)
    sv = d.rpc.supervisor
    d.wait_until(lambda: sv.tailProcessStdoutLog("ticker", 0, 0)[1] > 1500, what="some output")
    stream = Stream(d, "/logtail/ticker")
    try:
        assert stream.status == 200
        assert stream.headers["content-type"] == "text/plain;charset=utf-8"
        assert stream.headers["transfer-encoding"] == "chunked"
        assert stream.headers["x-accel-buffering"] == "no"
        assert "last-modified" in stream.headers
        first = stream._read_chunk()
        assert 1000 <= len(first) <= 1100  # about the last 1024 bytes
        last = int(first.rstrip().rsplit(b"line ", 1)[1])
        stream.body = first
        stream.read_until(lambda body: f"line {last + 5}\n".encode() in body)
        numbers = [int(x.split()[1]) for x in stream.body.decode().splitlines()[1:]]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    finally:
        stream.close()


def test_logtail_follows_rotation_without_loss_and_reports_truncation(daemon_factory, tmp_path):
    # Lines of 20 bytes; a 1 KB log turns over every ~50 lines.
    script = tmp_path / "writer.py"
    script.write_text(
        "import itertools, time\n"
        "for i in itertools.count():\n"
        "    print('line %014d' % i, flush=True)\n"
        "    time.sleep(0.002)\n"
    )
    writer = f"{sys.executable} {script}"
    d = daemon_factory(
        f"""
        [program:rotating]
        command={writer}
        startsecs=0
        stdout_logfile_maxbytes=1KB
        stdout_logfile_backups=2
        [program:truncating]
        command={writer}
        startsecs=0
        stdout_logfile_maxbytes=1KB
        stdout_logfile_backups=0
        """
    )
    d.wait_all()
    stream = Stream(d, "/logtail/rotating")
    try:
        body = stream.read_until(lambda b: b.count(b"\n") > 400, timeout=30)
        numbers = [int(x.split()[1]) for x in body.decode().splitlines()[1:]]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # nothing lost
        assert len(numbers) >= 400  # so at least 7 rotations happened meanwhile
    finally:
        stream.close()
    stream = Stream(d, "/logtail/truncating")
    try:
        stream.read_until(lambda b: b"==> File truncated <==\n" in b, timeout=30)
    finally:
        stream.close()


def test_logtail_stderr_and_group_names(daemon_factory):
    d = daemon_factory(
        """
        [group:g]
        programs=talker
        [program:talker]
        command=sh -c 'echo out; echo err >&2; exec sleep 1000'
        startsecs=0
        """
    )
    sv = d.rpc.supervisor
    d.wait_until(lambda: sv.readProcessStderrLog("g:talker", 0, 0) == "err\n", what="output")
    for path, expected in (("/logtail/g:talker", b"out\n"), ("/logtail/g%3Atalker/stderr", b"err\n")):
        stream = Stream(d, path)
        try:
            assert stream.read_until(lambda b, e=expected: b == e) == expected
        finally:
            stream.close()
    assert http_request("/logtail/talker", sock_path=str(d.sock))[0] == 404


def test_mainlogtail_follows_the_daemon_log(daemon_factory):
    d = daemon_factory(SLEEPER)
    stream = Stream(d, "/mainlogtail")
    try:
        stream.read_until(lambda b: b"supervisord started with pid" in b)
        d.rpc.supervisor.stopProcess("sleeper")
        stream.read_until(lambda b: b"stopped: sleeper" in b)
    finally:
        stream.close()


def _stock_ctl_stream(d: Daemon, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(bin_path("stock", "supervisorctl")), "-c", str(d.conf), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


def _read_lines_until(proc: subprocess.Popen[str], predicate, timeout: float = 10.0) -> list[str]:
    lines: list[str] = []
    done = threading.Event()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if predicate(lines):
                done.set()
                return
        done.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    done.wait(timeout)
    return lines


@pytest.mark.parametrize("auth", [None, ("admin", "s3cret")])
def test_stock_tail_f_and_maintail_f(daemon_factory, auth):
    d = daemon_factory(TICKER, auth=auth)
    d.wait_all()
    proc = _stock_ctl_stream(d, "tail", "-f", "ticker")
    try:
        lines = _read_lines_until(proc, lambda ls: len(ls) > 30)
        assert lines[0] == "==> Press Ctrl-C to exit <==\n"
        numbers = [int(x.split()[1]) for x in lines[2:]]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        assert len(lines) > 30
    finally:
        proc.kill()
        proc.wait()
    proc = _stock_ctl_stream(d, "maintail", "-f")
    try:
        lines = _read_lines_until(proc, lambda ls: any("supervisord started" in x for x in ls))
        assert lines[0] == "==> Press Ctrl-C to exit <==\n"
        assert any("supervisord started with pid" in line for line in lines)
    finally:
        proc.kill()
        proc.wait()
    proc = _stock_ctl_stream(d, "tail", "-f", "nosuch")
    out, err = proc.communicate(timeout=10)
    assert out == "==> Press Ctrl-C to exit <==\n"
    assert err == f"unix://{d.sock}/logtail/nosuch/stdout Cannot read, status code 404\n"


def test_tail_f_ends_when_the_daemon_stops(daemon_factory):
    d = daemon_factory(TICKER)
    stream = Stream(d, "/logtail/ticker")
    stream.read_until(lambda b: b.count(b"\n") > 3)
    # The stream stays open and unread: a daemon that waited for its client
    # would be SIGKILLed by stop() (status -9), after STOP_TIMEOUT.
    assert d.stop() == 0
    with pytest.raises((EOFError, ConnectionError)):  # not a timeout: the stream ended
        stream.read_until(lambda b: False)
    stream.close()


def test_unix_proxy_helper_and_socket_path(daemon_factory):
    d = daemon_factory(SLEEPER)
    assert unix_proxy(str(d.sock)).supervisor.getAPIVersion() == "3.0"
    assert Path(d.sock).is_socket()


def test_named_unix_servers_and_reconfiguration_on_restart(daemon_factory):
    d = daemon_factory(SLEEPER, start=False)
    second = d.workdir / "second.sock"
    d.write_config(SLEEPER, extra=f"[unix_http_server:second]\nfile={second}\nchmod=0600\nusername=u\npassword=p\n")
    d.start()
    assert d.rpc.supervisor.getState()["statename"] == "RUNNING"
    assert unix_proxy(str(second), ("u", "p")).supervisor.getAPIVersion() == "3.0"
    with pytest.raises(xmlrpc.client.ProtocolError):
        unix_proxy(str(second)).supervisor.getAPIVersion()
    assert stat.S_IMODE(os.stat(second).st_mode) == 0o600
    inode = os.stat(d.sock).st_ino
    # Restart (SIGHUP) into a config without the second server and another mode.
    d.write_config(SLEEPER, unix_options="chmod=0660\n")
    d.proc.send_signal(signal.SIGHUP)
    d.wait_until(lambda: not second.exists(), what="the second socket to go")
    d.wait_until(lambda: stat.S_IMODE(os.stat(d.sock).st_mode) == 0o660, what="the new mode")
    assert os.stat(d.sock).st_ino == inode  # the same socket all along
    d.wait_state("sleeper", "RUNNING")
