"""Fixtures for the supervisorctl interop tests.

The stock supervisorctl 4.3.0 and ours run the same command lines and must
print the same stdout and stderr and exit with the same status.  Against
one daemon for commands that change nothing; against two identical
daemons ("twins", one per client) for command sequences that change state.
Both the stock supervisord and ours serve as the daemon.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Optional

import pytest

from tests.daemon_harness import (  # noqa: F401  (daemon_factory is a fixture)
    STOP_TIMEOUT,
    CtlResult,
    Daemon,
    bin_path,
    daemon_factory,
    normalize,
    require_stock,
    short_workdir,
)

# A mix of every state status can show, a homogeneous group (numprocs) and a
# heterogeneous one ([group:x]), a program without a log and one reading stdin.
PROGRAMS = r"""
[program:sleeper]
command=/bin/sh -c 'echo hello; echo oops >&2; exec sleep 1000'
startsecs=0

[program:fatal]
command=/bin/false
startsecs=1
startretries=0

[program:exits0]
command=/bin/sh -c 'sleep 0.3'
startsecs=0
autorestart=false

[program:stopped]
command=/bin/sleep 1000
autostart=false
priority=5

[program:nofile]
command=/nonexistent/bin
autostart=false
startretries=0

[program:grp]
command=/bin/sleep 1000
process_name=%(program_name)s_%(process_num)d
numprocs=2
startsecs=0

[program:nolog]
command=/bin/sleep 1000
stdout_logfile=NONE
stderr_logfile=NONE
startsecs=0

[program:cat]
command=/bin/sh -c 'echo ready >&2; exec cat'
startsecs=0

[program:w1]
command=/bin/sleep 1000
startsecs=0

[program:w2]
command=/bin/sleep 1000
startsecs=0

[group:web]
programs=w1,w2
"""

SETTLED = ("RUNNING", "FATAL", "EXITED", "STOPPED")
DAEMON_KINDS = ("stock", "ours")


def clients() -> tuple[Path, Path]:
    require_stock()
    return bin_path("stock", "supervisorctl"), bin_path("ours", "supervisorctl")


def settle(daemon: Daemon, timeout: float = 15.0) -> None:
    daemon.wait_all(SETTLED, timeout)
    if any(info["name"] == "exits0" for info in daemon.rpc.supervisor.getAllProcessInfo()):
        daemon.wait_state("exits0", "EXITED", timeout)


_FILE_LINE = re.compile(r"file: \S+ line: \d+")


def normalized(result: Any, replacements: Sequence[tuple[str, str]]) -> tuple[int, str, str]:
    """Exit status, stdout, stderr with what legitimately differs replaced:
    pids, uptimes, dates, program paths, and the source location in
    ``error:`` lines (a file of each implementation)."""
    code, out, err = result.normalized(*replacements)
    return code, _FILE_LINE.sub("file: F line: N", out), _FILE_LINE.sub("file: F line: N", err)


def replacements(
    daemon: Optional[Daemon] = None, workdir: Optional[Path] = None
) -> list[tuple[str, str]]:
    stock, ours = clients()
    pairs = [(str(stock), "PROG"), (str(ours), "PROG")]
    for directory in (daemon.workdir if daemon else None, workdir):
        if directory is not None:
            pairs.append((str(directory), "DIR"))
    return pairs


def start_client(
    client: str,
    argv: Sequence[str],
    *,
    input: Optional[str] = None,
    cwd: Optional[Path] = None,
    env: Optional[dict[str, str]] = None,
    timeout: float = 60.0,
) -> Any:
    """Start the ``client`` ("stock" or "ours") supervisorctl with ``argv``;
    call the result to wait for its CtlResult."""
    exe = clients()[0 if client == "stock" else 1]
    proc = subprocess.Popen(
        [str(exe), *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=dict(os.environ, **(env or {})),
        # No controlling terminal: a password prompt must read stdin.
        start_new_session=True,
    )

    def result() -> CtlResult:
        try:
            out, err = proc.communicate(input or "", timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        return CtlResult(proc.returncode, out, err)

    return result


def run_client(client: str, argv: Sequence[str], **kwargs: Any) -> CtlResult:
    return start_client(client, argv, **kwargs)()


def same_without_daemon(argv: Sequence[str], cwd: Path, **kwargs: Any) -> tuple[int, str, str]:
    """Both clients, no daemon involved (usage errors, servers that are down)."""
    pairs = replacements(workdir=cwd)
    running = [start_client(client, argv, cwd=cwd, **kwargs) for client in ("stock", "ours")]
    stock, ours = (normalized(wait(), pairs) for wait in running)
    assert ours == stock, f"command line {list(argv)!r}\n{explain(stock, ours)}"
    return ours


class Pair:
    """Runs a command line with the stock client against ``a`` and with ours
    against ``b`` (the same daemon for read-only commands)."""

    def __init__(self, a: Daemon, b: Daemon) -> None:
        self.a = a
        self.b = b

    def run(
        self,
        *args: str,
        input: Optional[str] = None,
        options: Sequence[str] = (),
        config: bool = True,
        env: Optional[dict[str, str]] = None,
    ) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
        # Both at once: a read-only command sees the same daemon state either
        # way, and twins are independent.
        running = []
        for client, daemon in (("stock", self.a), ("ours", self.b)):
            argv = [*(["-c", str(daemon.conf)] if config else []), *options, *args]
            running.append(
                (start_client(client, argv, input=input, cwd=daemon.workdir, env=env), daemon)
            )
        stock, ours = (normalized(wait(), replacements(daemon)) for wait, daemon in running)
        return stock, ours

    def same(self, *args: str, unordered: bool = False, **kwargs: Any) -> tuple[int, str, str]:
        """Both clients print the same.  ``unordered``: compare stdout lines
        as a set, for results that arrive in completion order."""
        stock, ours = self.run(*args, **kwargs)
        if unordered:
            stock = (stock[0], sorted(stock[1].splitlines()), stock[2])
            ours = (ours[0], sorted(ours[1].splitlines()), ours[2])
        assert ours == stock, f"command {args!r} {kwargs!r}\n{explain(stock, ours)}"
        return ours


def explain(stock: Any, ours: Any) -> str:
    import difflib

    lines = [f"exit status: stock {stock[0]}, ours {ours[0]}"]
    for label, a, b in (("stdout", stock[1], ours[1]), ("stderr", stock[2], ours[2])):
        if a != b:
            a_lines = a if isinstance(a, list) else a.splitlines(keepends=True)
            b_lines = b if isinstance(b, list) else b.splitlines(keepends=True)
            diff = difflib.unified_diff(a_lines, b_lines, f"{label} stock", f"{label} ours")
            lines.append("".join(diff))
    return "\n".join(lines)


def start_daemon(workdir: Path, kind: str, **options: Any) -> Daemon:
    if kind == "stock":
        require_stock()
    daemon = Daemon(workdir, PROGRAMS, kind=kind, **options)
    daemon.start()
    try:
        settle(daemon)
    except BaseException:
        daemon.stop()
        raise
    return daemon


@pytest.fixture(scope="module", params=DAEMON_KINDS)
def shared(request: Any, tmp_path_factory: Any) -> Iterator[Pair]:
    """One settled daemon of each kind, for commands that change nothing."""
    tmp = tmp_path_factory.mktemp("ctl")
    daemon = start_daemon(short_workdir(tmp, request.param), request.param)
    try:
        yield Pair(daemon, daemon)
    finally:
        daemon.stop()


@pytest.fixture(params=DAEMON_KINDS)
def twins(request: Any, tmp_path: Path) -> Iterator[Pair]:
    """Two identical settled daemons: the stock client drives one, ours the other."""
    if request.param == "stock":
        require_stock()
    made: list[tuple[Daemon, Path]] = []
    try:
        for name in ("a", "b"):
            workdir = short_workdir(tmp_path, f"{request.param}-{name}")
            daemon = Daemon(workdir, PROGRAMS, kind=request.param)
            made.append((daemon, workdir))
            daemon.start(wait=False)
        for daemon, _ in made:
            daemon.wait_ready()
            settle(daemon)
        yield Pair(made[0][0], made[1][0])
    finally:
        # Both at once: the stock daemon takes seconds to stop its programs.
        # (One SIGTERM each: a second one during shutdown is another test.)
        running = [daemon for daemon, _ in made if daemon.proc is not None]
        for daemon in running:
            if daemon.proc.poll() is None:
                daemon.proc.send_signal(signal.SIGTERM)
        failures = []
        for daemon in running:
            try:
                code = daemon.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                daemon.proc.kill()
                code = daemon.proc.wait()
            daemon.proc = None
            if code != 0:
                failures.append(f"{daemon.kind} supervisord exited with {code}")
        for _daemon, workdir in made:
            if workdir.parent != tmp_path:
                shutil.rmtree(workdir, ignore_errors=True)
        if failures:
            pytest.fail("; ".join(failures))


@pytest.fixture(params=DAEMON_KINDS)
def fresh(request: Any, daemon_factory: Any) -> Daemon:  # noqa: F811
    """One settled daemon of each kind, for a test of its own."""
    daemon = daemon_factory(PROGRAMS, kind=request.param)
    settle(daemon)
    return daemon


class Streaming:
    """A client process whose output arrives over time (tail -f, fg)."""

    def __init__(self, argv: list[str], cwd: Path, stdin: Any = subprocess.DEVNULL) -> None:
        self.proc = subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            start_new_session=True,
        )
        self.out = bytearray()
        self.err = bytearray()
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _pump(stream: Any, into: bytearray) -> None:
        for chunk in iter(lambda: stream.read1(4096), b""):
            into.extend(chunk)

    def wait_for(self, text: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.out:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(
                    f"no {text!r} in output {bytes(self.out)!r} / {bytes(self.err)!r}"
                )
            if self.proc.poll() is not None and text.encode() not in self.out:
                time.sleep(0.1)  # let the readers drain
                if text.encode() not in self.out:
                    raise AssertionError(
                        f"exited before {text!r}: {bytes(self.out)!r} / {bytes(self.err)!r}"
                    )
            time.sleep(0.01)

    def interrupt(self, timeout: float = 10.0) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.finish(timeout)

    def finish(self, timeout: float = 10.0) -> tuple[int, str, str]:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        for reader in self._readers:
            reader.join(5)
        return code, self.out.decode(errors="replace"), self.err.decode(errors="replace")
