"""Start a supervisord under test, watch it through XML-RPC, and leave nothing behind.

The bench makes itself a child subreaper, so every process a daemon starts
stays a descendant of the bench even after the daemon dies. That makes the
clean-up exact: kill every descendant, by pid, until there are none.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import psutil

from supconf import SOCKET_NAME
from unixrpc import RawCaller, unix_server_proxy

STOCK_VERSION = "4.3.0"
RUNNING = "RUNNING"
# The one state a program never leaves on its own: waiting longer is pointless.
# (STOPPED and EXITED are not final: a daemon may answer before autostart.)
FATAL = "FATAL"
_PR_SET_CHILD_SUBREAPER = 36


class BenchError(Exception):
    """A daemon did not do what the scenario needs; the run is not measurable."""


@dataclass(frozen=True)
class Supervisord:
    """One daemon under test: ``key`` names it in results (stock, ours)."""

    key: str
    label: str
    executable: Path


def ensure_stock(venv: Path) -> Path:
    """Return the stock supervisord of *venv*, creating the venv on first use."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"bench: creating {venv} with supervisor=={STOCK_VERSION}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if _installed_version(python) != STOCK_VERSION:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"supervisor=={STOCK_VERSION}"],
            check=True,
        )
    return venv / "bin" / "supervisord"


def _installed_version(python: Path) -> Optional[str]:
    probe = "import importlib.metadata as m; print(m.version('supervisor'))"
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to the bench instead of to init."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def kill_descendants(first: Optional[subprocess.Popen] = None, timeout: float = 10.0) -> list[int]:
    """SIGKILL every descendant of the bench, *first* (a daemon) before the rest.

    Killing the daemon first stops it from replacing the programs killed after
    it. Returns the pids still alive after *timeout* (empty when all went).
    """
    if first is not None and first.poll() is None:
        first.kill()
        first.wait()
    me = psutil.Process()
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in me.children(recursive=True) if _alive(p)]
        if not left or time.monotonic() > deadline:
            _reap_orphans(me)
            return [p.pid for p in left]
        for proc in left:
            try:
                proc.send_signal(signal.SIGKILL)  # psutil checks the pid was not reused
            except psutil.Error:
                pass
        _reap_orphans(me)
        time.sleep(0.01)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _reap_orphans(me: psutil.Process) -> None:
    # Programs whose daemon died are our children now; collect their exit.
    for child in me.children():
        try:
            os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:
            pass


def wait_exit(popen: subprocess.Popen, timeout: float) -> bool:
    """Wait for *popen* to exit, noticing the exit at once; False on timeout.

    Popen.wait(timeout) sleeps in steps of up to 50 ms, too coarse to time a
    shutdown; a pidfd becomes readable the moment the process exits.
    """
    try:
        pidfd = os.pidfd_open(popen.pid)
    except (AttributeError, OSError):
        pidfd = None
    if pidfd is None:
        deadline = time.monotonic() + timeout
        while popen.poll() is None:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)
        return True
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(timeout * 1000):
            return False
    finally:
        os.close(pidfd)
    popen.wait()
    return True


class RunningDaemon:
    """A supervisord the bench launched, seen only through its XML-RPC API."""

    def __init__(self, popen: subprocess.Popen, launched_at: float, workdir: Path) -> None:
        self.popen = popen
        self.launched_at = launched_at
        self.workdir = workdir
        self.rpc = unix_server_proxy(str(workdir / SOCKET_NAME))

    @property
    def pid(self) -> int:
        return self.popen.pid

    def since_launch(self) -> float:
        return time.perf_counter() - self.launched_at

    def wait_answering(self, timeout: float = 60.0) -> float:
        """Seconds from launch until the socket answers an XML-RPC call."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.rpc.supervisor.getState()
                return self.since_launch()
            except (OSError, xmlrpc.client.ProtocolError):
                self._check_alive()
                if time.monotonic() > deadline:
                    raise BenchError(f"socket not answering after {timeout:.0f} s") from None
                time.sleep(0.002)

    def wait_all_running(self, count: int, timeout: float = 120.0) -> float:
        """Seconds from launch until getAllProcessInfo shows *count* RUNNING.

        The figure is taken when the last byte of the first answer showing
        them all arrives, so it includes that call but not the bench parsing
        the answer (tens of milliseconds for 500 programs). A short pause
        between calls keeps the bench from keeping the daemon permanently busy
        answering it.
        """
        deadline = time.monotonic() + timeout
        caller = RawCaller(str(self.workdir / SOCKET_NAME))
        try:
            return self._wait_all_running(caller, count, deadline)
        finally:
            caller.close()

    def _wait_all_running(self, caller: RawCaller, count: int, deadline: float) -> float:
        while True:
            answer = caller.call("supervisor.getAllProcessInfo")
            elapsed = self.since_launch()
            (infos,), _ = xmlrpc.client.loads(answer)
            running = sum(info["statename"] == RUNNING for info in infos)
            if running == count:
                return elapsed
            fatal = any(info["statename"] == FATAL for info in infos)
            if fatal or time.monotonic() > deadline:
                raise BenchError(_not_running_message(infos, count))
            time.sleep(0.01)

    def wait_process(self, name: str, pid: int, timeout: float = 30.0) -> None:
        """Wait until program *name* is RUNNING with *pid*."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.rpc.supervisor.getProcessInfo(name)
            if info["statename"] == RUNNING and info["pid"] == pid:
                return
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{name} is {info['statename']} with pid {info['pid']}, expected RUNNING with pid {pid}"
                )
            time.sleep(0.01)

    def close_connection(self) -> None:
        """Close the bench's keep-alive connection to the daemon."""
        self.rpc("close")()

    def terminate(self, timeout: float = 120.0) -> float:
        """SIGTERM the daemon; seconds until it has exited."""
        started = time.perf_counter()
        self.popen.send_signal(signal.SIGTERM)
        if not wait_exit(self.popen, timeout):
            raise BenchError(f"daemon still running {timeout:.0f} s after SIGTERM")
        return time.perf_counter() - started

    def output_tail(self, lines: int = 15) -> str:
        text = (self.workdir / "daemon.out").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise BenchError(
                f"daemon exited with status {self.popen.returncode}:\n{self.output_tail()}"
            )


def _not_running_message(infos: list[dict[str, Any]], count: int) -> str:
    states: dict[str, int] = {}
    for info in infos:
        states[info["statename"]] = states.get(info["statename"], 0) + 1
    summary = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    message = f"expected {count} RUNNING, got {summary or 'no programs'}"
    failed = next((info for info in infos if info["statename"] != RUNNING), None)
    if failed is not None:
        message += f" (e.g. {failed['name']}: {failed['description'] or failed['spawnerr']!r})"
    return message


@contextmanager
def launch(supervisord: Supervisord, conf: Path, workdir: Path) -> Iterator[RunningDaemon]:
    """Run ``supervisord -n -c conf``; on leaving, kill it and all it started."""
    with open(workdir / "daemon.out", "wb") as out:
        launched_at = time.perf_counter()
        popen = subprocess.Popen(
            [str(supervisord.executable), "-n", "-c", str(conf)],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C meant for the bench reaches the bench
            # only, which then cleans up in order.
            start_new_session=True,
        )
    try:
        yield RunningDaemon(popen, launched_at, workdir)
    finally:
        left = kill_descendants(first=popen)
        if left:
            raise BenchError(f"could not kill pids {left}")
