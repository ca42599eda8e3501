"""Readiness and health checks: ``tcp:``, ``http://`` and ``exec:`` probes.

Each runs on the loop and never blocks it: connects and HTTP through
asyncio streams, commands as children spawned and reaped by the daemon's own
machinery (asyncio's subprocess support would race the daemon's
``waitpid(-1)``), killed with their process group at the timeout.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..config.model import Probe
from ..core.process import describe_wait_status
from .spawn import SpawnError, SpawnRequest

if TYPE_CHECKING:
    from .child import Process


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str  # why it failed ("connection refused", "HTTP 503", "exit status 1"), or what passed


@dataclass(frozen=True)
class ProbeContext:
    """What an ``exec:`` probe needs from the daemon: the program's spawn
    settings, the spawner and the reaper."""

    spawn: Callable[[SpawnRequest], Any]
    watch: Callable[[int, Callable[[int, int], None]], None]
    resolve: Callable[[str, str], tuple[str, list[str]]]
    env: dict[str, str]
    directory: Optional[str] = None
    umask: Optional[int] = None
    uid: Optional[int] = None
    gid: Optional[int] = None
    user: Optional[str] = None

    @classmethod
    def for_process(cls, proc: Process) -> ProbeContext:
        sv = proc.supervisor
        config = proc.config
        return cls(
            spawn=sv.host.spawn,
            watch=sv.reaper.watch,
            resolve=sv.resolve_command,
            env=proc.environment(),
            directory=config.directory,
            umask=config.umask,
            uid=config.uid,
            gid=config.gid,
            user=config.user,
        )


def _seconds(value: float) -> str:
    return f"{value:g}"


async def run_probe(probe: Probe, timeout: float, context: Optional[ProbeContext] = None) -> ProbeResult:
    """Run ``probe`` once; a failure or the timeout is a failed result, never an exception."""
    try:
        if probe.kind == "tcp":
            return await asyncio.wait_for(_tcp(probe), timeout)
        if probe.kind == "http":
            return await asyncio.wait_for(_http(probe), timeout)
        if probe.kind == "exec":
            if context is None:
                return ProbeResult(False, "exec probe without a context")
            return await _exec(probe, timeout, context)
        return ProbeResult(False, f"unknown probe kind {probe.kind!r}")
    except asyncio.TimeoutError:
        return ProbeResult(False, f"timed out after {_seconds(timeout)} s")
    except ConnectionRefusedError:
        return ProbeResult(False, "connection refused")
    except OSError as exc:
        return ProbeResult(False, exc.strerror or str(exc))


async def _tcp(probe: Probe) -> ProbeResult:
    _reader, writer = await asyncio.open_connection(probe.host, probe.port)
    writer.close()
    return ProbeResult(True, "connected")


async def _http(probe: Probe) -> ProbeResult:
    reader, writer = await asyncio.open_connection(probe.host, probe.port)
    try:
        writer.write(
            f"GET {probe.path} HTTP/1.0\r\nHost: {probe.host}:{probe.port}\r\n"
            "User-Agent: supervisor-ng-check\r\nConnection: close\r\n\r\n".encode("latin-1")
        )
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
    parts = status_line.split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return ProbeResult(False, "not an HTTP response")
    code = int(parts[1])
    return ProbeResult(200 <= code < 400, f"HTTP {code}")


async def _exec(probe: Probe, timeout: float, context: ProbeContext) -> ProbeResult:
    loop = asyncio.get_running_loop()
    path = context.env.get("PATH", os.defpath)
    try:
        filename, argv = context.resolve(probe.command, path)
    except SpawnError as exc:
        return ProbeResult(False, str(exc))
    except ValueError:
        return ProbeResult(False, f"cannot parse {shlex.quote(probe.command)}")
    devnull = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    try:
        pid, pipes = context.spawn(
            SpawnRequest(
                filename=filename,
                argv=argv,
                env=context.env,
                directory=context.directory,
                umask=context.umask,
                uid=context.uid,
                gid=context.gid,
                user=context.user,
                stdout_fd=devnull,
                stderr_fd=devnull,
            )
        )
    except SpawnError as exc:
        return ProbeResult(False, str(exc))
    finally:
        os.close(devnull)
    pipes.close()  # it reads nothing and writes to /dev/null
    done: asyncio.Future[int] = loop.create_future()
    context.watch(pid, lambda _pid, status: done.done() or done.set_result(status))
    try:
        status = await asyncio.wait_for(asyncio.shield(done), timeout)
    except asyncio.TimeoutError:
        _kill_group(pid)
        await done  # reaped by the daemon: no zombie, no leftover
        return ProbeResult(False, f"timed out after {_seconds(timeout)} s")
    except asyncio.CancelledError:
        _kill_group(pid)
        raise
    code, text = describe_wait_status(status)
    return ProbeResult(code == 0, text)


def _kill_group(pid: int) -> None:
    # The spawner made the probe a process group leader.
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
            return
        except OSError:
            continue
