"""Run a real supervisord (ours or the stock 4.3.0) for a test, and talk to it.

Everything lives in one private directory per daemon (the test's
``tmp_path`` when it is short enough for a unix socket path), so tests can
run in parallel under pytest-xdist::

    def test_something(daemon_factory):
        d = daemon_factory(PROGRAMS)                  # ours, started, socket answering
        assert d.rpc.supervisor.getState()["statename"] == "RUNNING"
        d.wait_state("sleeper", "RUNNING")
        r = d.ctl("status")                           # the stock supervisorctl
        assert r.returncode == 0

    def test_same_as_stock(daemon_factory):
        ours, stock = daemon_factory(PROGRAMS), daemon_factory(PROGRAMS, kind="stock")
        ...                                            # compare normalize(...) of both

``PROGRAMS`` is config text appended to a generated config with
``[supervisord]`` (logfile, pidfile, childlogdir in the private directory),
``[unix_http_server]``, optionally ``[inet_http_server]`` (``inet=True``),
``[rpcinterface:supervisor]`` and ``[supervisorctl]``; ``auth=(user, pw)``
protects both servers (``pw`` may be ``{SHA}<hex>``: then pass the clear
password as ``login=(user, clear)`` for the clients).  At teardown each daemon gets SIGTERM, then SIGKILL
after a timeout, and the test fails unless it exited with status 0.

Environment: ``SNG_VENV`` (default ``<repo>/.venv``) holds our
supervisord/supervisorctl, ``STOCK_VENV`` (default ``<repo>/.venv-stock``)
the stock ones.  Tests that need the stock package can use
:func:`require_stock`.
"""

from __future__ import annotations

import base64
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[1]
OUR_VENV = Path(os.environ.get("SNG_VENV", REPO / ".venv"))
STOCK_VENV = Path(os.environ.get("STOCK_VENV", REPO / ".venv-stock"))

STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 20.0
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes; leave room for the ".<pid>" temp name


def bin_path(kind: str, program: str) -> Path:
    """``kind`` is "ours" or "stock"; ``program`` supervisord or supervisorctl."""
    venv = OUR_VENV if kind == "ours" else STOCK_VENV
    return venv / "bin" / program


def stock_available() -> bool:
    return bin_path("stock", "supervisord").exists()


def require_stock() -> None:
    if not stock_available():
        pytest.skip(f"stock supervisor not installed in {STOCK_VENV}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- talking XML-RPC over a unix socket -----------------------------------------------


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class UnixTransport(xmlrpc.client.Transport):
    """xmlrpc.client over a unix socket, with optional Basic auth."""

    def __init__(self, path: str, timeout: float = 30.0, auth: Optional[tuple[str, str]] = None) -> None:
        super().__init__()
        self._path = path
        self._timeout = timeout
        self._auth = auth

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        # One kept-alive connection per proxy, like the base class does.
        if self._connection and host == self._connection[0]:
            return self._connection[1]
        conn = _UnixConnection(self._path, self._timeout)
        self._connection = host, conn
        return conn

    def send_headers(self, connection: http.client.HTTPConnection, headers: Any) -> None:
        if self._auth is not None:
            token = base64.b64encode(f"{self._auth[0]}:{self._auth[1]}".encode()).decode()
            connection.putheader("Authorization", f"Basic {token}")
        super().send_headers(connection, headers)


def unix_proxy(path: str, auth: Optional[tuple[str, str]] = None, timeout: float = 30.0) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=UnixTransport(path, timeout, auth))


def http_request(
    path: str,
    sock_path: Optional[str] = None,
    port: Optional[int] = None,
    method: str = "GET",
    body: Optional[bytes] = None,
    headers: Optional[dict[str, str]] = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, str], bytes]:
    """One plain HTTP request to a unix socket or 127.0.0.1:port; returns
    (status, headers, body).  Do not use for endless log tails."""
    if sock_path is not None:
        conn: http.client.HTTPConnection = _UnixConnection(sock_path, timeout)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


# -- output normalisation ------------------------------------------------------------

_NORMALIZERS = [
    (re.compile(r"pid \d+, uptime \d+ days?, \d+:\d\d:\d\d"), "pid N, uptime T"),
    (re.compile(r"pid \d+, uptime \d+:\d\d:\d\d"), "pid N, uptime T"),
    (re.compile(r"[A-Z][a-z]{2} \d\d \d\d:\d\d [AP]M"), "DATE"),
    (re.compile(r"^\d+$", re.M), "N"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"), "TIME"),
    (re.compile(r"with pid \d+"), "with pid N"),
]


def normalize(text: str, *extra: tuple[str, str]) -> str:
    """Replace what differs between runs (pids, uptimes, dates, log times)
    and any literal (old, new) pairs given, e.g. the private directory."""
    for old, new in extra:
        text = text.replace(old, new)
    for pattern, repl in _NORMALIZERS:
        text = pattern.sub(repl, text)
    return text


# -- the daemon ---------------------------------------------------------------------------


@dataclass
class CtlResult:
    returncode: int
    stdout: str
    stderr: str

    def normalized(self, *extra: tuple[str, str]) -> tuple[int, str, str]:
        return self.returncode, normalize(self.stdout, *extra), normalize(self.stderr, *extra)


class Daemon:
    """One supervisord in its own directory.  Build with :func:`daemon_factory`
    (or directly, then :meth:`start` and finally :meth:`stop`)."""

    def __init__(
        self,
        workdir: Path,
        programs: str = "",
        *,
        kind: str = "ours",
        inet: bool = False,
        auth: Optional[tuple[str, str]] = None,
        login: Optional[tuple[str, str]] = None,
        supervisord_options: str = "",
        unix_options: str = "",
        extra: str = "",
        rpcinterface: bool = True,
    ) -> None:
        self.kind = kind
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.logdir = workdir / "logs"
        self.logdir.mkdir(exist_ok=True)
        self.conf = workdir / "supervisord.conf"
        self.logfile = workdir / "supervisord.log"
        self.pidfile = workdir / "supervisord.pid"
        self.sock = workdir / "supervisor.sock"
        self.port = free_port() if inet else None
        self.auth = auth
        # What clients log in with: ``auth`` unless its password is a {SHA} hash.
        if login is None and auth is not None and not auth[1].startswith("{SHA}"):
            login = auth
        self.login = login
        self.output = workdir / "daemon.out"
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.returncode: Optional[int] = None
        self.write_config(programs, supervisord_options, unix_options, extra, rpcinterface)

    # -- config ------------------------------------------------------------------

    def write_config(
        self,
        programs: str = "",
        supervisord_options: str = "",
        unix_options: str = "",
        extra: str = "",
        rpcinterface: bool = True,
    ) -> None:
        """(Re)write the config file; call :meth:`write_programs` to change
        only the programs (for reread/update tests)."""
        self._parts = (supervisord_options, unix_options, extra, rpcinterface)
        auth = ""
        if self.auth is not None:
            auth = f"username={self.auth[0]}\npassword={self.auth[1]}\n"
        ctl_auth = ""
        if self.login is not None:
            ctl_auth = f"username={self.login[0]}\npassword={self.login[1]}\n"
        inet = ""
        if self.port is not None:
            inet = f"[inet_http_server]\nport=127.0.0.1:{self.port}\n{auth}\n"
        rpc = ""
        if rpcinterface:
            rpc = (
                "[rpcinterface:supervisor]\n"
                "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
            )
        text = (
            f"[supervisord]\n"
            f"logfile={self.logfile}\n"
            f"pidfile={self.pidfile}\n"
            f"childlogdir={self.logdir}\n"
            f"identifier=test-{self.kind}\n"
            f"{textwrap.dedent(supervisord_options)}\n"
            f"[unix_http_server]\n"
            f"file={self.sock}\n"
            f"{auth}{textwrap.dedent(unix_options)}\n"
            f"{inet}"
            f"{rpc}\n"
            f"[supervisorctl]\n"
            f"serverurl=unix://{self.sock}\n"
            f"{ctl_auth}\n"
            f"{textwrap.dedent(extra)}\n"
            f"{textwrap.dedent(programs)}\n"
        )
        self.conf.write_text(text)

    def write_programs(self, programs: str) -> None:
        supervisord_options, unix_options, extra, rpcinterface = self._parts
        self.write_config(programs, supervisord_options, unix_options, extra, rpcinterface)

    # -- life cycle ----------------------------------------------------------------

    def start(self, wait: bool = True, timeout: float = STARTUP_TIMEOUT) -> Daemon:
        out = open(self.output, "ab")
        try:
            self.proc = subprocess.Popen(
                [str(bin_path(self.kind, "supervisord")), "-n", "-c", str(self.conf)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
            )
        finally:
            out.close()
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Until the socket answers an XML-RPC call (with any auth configured)."""
        deadline = time.monotonic() + timeout
        last: Optional[BaseException] = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.kind} supervisord exited with {self.proc.returncode} at start:\n{self.read_output()}"
                )
            try:
                self.proxy(timeout=2.0).supervisor.getState()
                return
            except xmlrpc.client.Fault:
                return  # it answers (without [rpcinterface:supervisor], say)
            except (OSError, xmlrpc.client.ProtocolError) as exc:
                last = exc
            time.sleep(0.02)
        raise AssertionError(f"{self.kind} supervisord did not answer within {timeout}s ({last!r}):\n{self.read_output()}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, wait, SIGKILL if needed; returns the exit status."""
        if self.proc is None:
            return self.returncode if self.returncode is not None else 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.returncode = -9
        else:
            self.returncode = self.proc.returncode
        self.proc = None
        return self.returncode

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        """For tests that shut the daemon down themselves."""
        assert self.proc is not None
        self.returncode = self.proc.wait(timeout)
        self.proc = None
        return self.returncode

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def read_output(self) -> str:
        try:
            return self.output.read_text(errors="replace")
        except OSError:
            return ""

    def read_log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    # -- clients -----------------------------------------------------------------------

    def proxy(self, auth: Optional[tuple[str, str]] = None, timeout: float = 30.0) -> xmlrpc.client.ServerProxy:
        """ServerProxy over the unix socket (with the configured credentials
        unless ``auth`` is given)."""
        creds = auth if auth is not None else self._plain_auth()
        return unix_proxy(str(self.sock), creds, timeout)

    @property
    def rpc(self) -> xmlrpc.client.ServerProxy:
        return self.proxy()

    def inet_proxy(self, auth: Optional[tuple[str, str]] = None, timeout: float = 30.0) -> xmlrpc.client.ServerProxy:
        assert self.port is not None, "start the daemon with inet=True"
        creds = auth if auth is not None else self._plain_auth()
        userinfo = f"{creds[0]}:{creds[1]}@" if creds else ""
        return xmlrpc.client.ServerProxy(f"http://{userinfo}127.0.0.1:{self.port}/RPC2")

    def _plain_auth(self) -> Optional[tuple[str, str]]:
        return self.login

    def ctl(
        self,
        *args: str,
        client: str = "stock",
        input: Optional[str] = None,
        timeout: float = 60.0,
        options: tuple[str, ...] = (),
    ) -> CtlResult:
        """Run supervisorctl ("stock" or "ours") with this daemon's config."""
        exe = bin_path(client, "supervisorctl")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        done = subprocess.run(
            [str(exe), "-c", str(self.conf), *options, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=self.workdir,
        )
        return CtlResult(done.returncode, done.stdout, done.stderr)

    # -- waiting -------------------------------------------------------------------------

    def wait_until(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
        return wait_until(predicate, timeout, what)

    def state(self, name: str) -> str:
        return self.rpc.supervisor.getProcessInfo(name)["statename"]

    def wait_state(self, name: str, statename: str, timeout: float = 10.0) -> None:
        self.wait_until(lambda: self.state(name) == statename, timeout, f"{name} to be {statename}")

    def wait_all(self, statenames: tuple[str, ...] = ("RUNNING",), timeout: float = 10.0) -> None:
        """Until every process is in one of ``statenames``."""

        def settled() -> bool:
            return all(p["statename"] in statenames for p in self.rpc.supervisor.getAllProcessInfo())

        self.wait_until(settled, timeout, f"all processes to be {statenames}")


def short_workdir(tmp_path: Path, name: str) -> Path:
    """``tmp_path/name`` unless that makes too long a socket path; then a
    short directory under the system temp dir (removed by the caller)."""
    candidate = tmp_path / name
    if len(str(candidate / "supervisor.sock")) <= _MAX_SOCKET_PATH:
        return candidate
    return Path(tempfile.mkdtemp(prefix=f"sng-{name}-"))


@pytest.fixture
def daemon_factory(tmp_path: Path):
    """``make(programs="", kind="ours", start=True, **Daemon options) -> Daemon``.

    Every daemon made is stopped at teardown, and must exit with status 0
    (unless the test already collected its exit status)."""
    made: list[tuple[Daemon, bool]] = []

    def make(programs: str = "", *, kind: str = "ours", start: bool = True, **options: Any) -> Daemon:
        if kind == "stock":
            require_stock()
        index = len(made)
        workdir = short_workdir(tmp_path, f"{kind}{index}")
        daemon = Daemon(workdir, programs, kind=kind, **options)
        made.append((daemon, workdir.parent != tmp_path))
        if start:
            daemon.start()
        return daemon

    yield make
    failures = []
    for daemon, cleanup in made:
        running = daemon.proc is not None
        status = daemon.stop()
        if running and status != 0:
            failures.append(f"{daemon.kind} supervisord exited with {status}:\n{daemon.read_output()[-3000:]}")
        if cleanup:
            shutil.rmtree(daemon.workdir, ignore_errors=True)
    if failures:
        pytest.fail("\n".join(failures))
