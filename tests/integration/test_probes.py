"""Probes against real servers and real commands, exec through a real Reaper."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from typing import Any

from aiohttp import web

from supervisor_ng.config.model import Probe
from supervisor_ng.runtime.host import Host
from supervisor_ng.runtime.probes import ProbeContext, run_probe
from supervisor_ng.runtime.reaper import Reaper
from supervisor_ng.runtime.spawn import resolve_command
from tests.waiting import process_state


def tcp(port: int) -> Probe:
    return Probe(kind="tcp", text=f"tcp:127.0.0.1:{port}", host="127.0.0.1", port=port)


def test_tcp_listening_and_closed() -> None:
    async def body() -> None:
        listening = socket.create_server(("127.0.0.1", 0))
        bound = socket.socket()  # bound, never listening: refused, and no one else gets the port
        bound.bind(("127.0.0.1", 0))
        try:
            ok = await run_probe(tcp(listening.getsockname()[1]), 5)
            refused = await run_probe(tcp(bound.getsockname()[1]), 5)
        finally:
            listening.close()
            bound.close()
        assert ok.ok
        assert not refused.ok and refused.detail == "connection refused"

    asyncio.run(body())


def test_http_200_then_503_and_a_slow_one() -> None:
    async def body() -> None:
        answers = [200, 503]
        never = asyncio.Event()

        async def health(request: web.Request) -> web.Response:
            return web.Response(status=answers.pop(0) if len(answers) > 1 else answers[0])

        async def slow(request: web.Request) -> web.Response:
            await never.wait()
            return web.Response()

        app = web.Application()
        app.router.add_get("/health", health)
        app.router.add_get("/slow", slow)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        def http(path: str) -> Probe:
            return Probe(kind="http", text=f"http://127.0.0.1:{port}{path}", host="127.0.0.1", port=port, path=path)

        try:
            first = await run_probe(http("/health"), 5)
            second = await run_probe(http("/health"), 5)
            slow_one = await run_probe(http("/slow"), 0.5)
        finally:
            never.set()
            await runner.cleanup()
        assert first.ok and first.detail == "HTTP 200"
        assert not second.ok and second.detail == "HTTP 503"
        assert not slow_one.ok and slow_one.detail == "timed out after 0.5 s"

    asyncio.run(body())


def exec_context(reaper: Reaper, loop: asyncio.AbstractEventLoop) -> ProbeContext:
    return ProbeContext(
        spawn=Host(loop).spawn,
        watch=reaper.watch,
        resolve=resolve_command,
        env={"PATH": os.environ.get("PATH", os.defpath)},
    )


def exec_probe(command: str) -> Probe:
    return Probe(kind="exec", text=f"exec:{command}", command=command)


def test_exec_true_false_and_a_timeout_that_leaves_nothing() -> None:
    async def body() -> None:
        loop = asyncio.get_running_loop()
        reaper = Reaper()
        reaper.install(loop)
        spawned: list[int] = []
        context = exec_context(reaper, loop)
        real_spawn = context.spawn

        def spawn(request: Any) -> Any:
            pid, pipes = real_spawn(request)
            spawned.append(pid)
            return pid, pipes

        context = ProbeContext(spawn=spawn, watch=context.watch, resolve=context.resolve, env=context.env)
        try:
            ok = await run_probe(exec_probe("true"), 5, context)
            bad = await run_probe(exec_probe("false"), 5, context)
            missing = await run_probe(exec_probe("no-such-command-here"), 5, context)
            slow = await run_probe(exec_probe("sleep 10"), 0.5, context)
        finally:
            reaper.uninstall()
        assert ok.ok
        assert not bad.ok and bad.detail == "exit status 1"
        assert not missing.ok and "no-such-command-here" in missing.detail
        assert not slow.ok and slow.detail == "timed out after 0.5 s"
        assert len(spawned) == 3
        # Killed and reaped: not even a zombie is left.
        assert process_state(spawned[-1]) == ""
        assert reaper.watched == []

    asyncio.run(body())


def test_cancelled_exec_probe_kills_its_command() -> None:
    async def body() -> None:
        loop = asyncio.get_running_loop()
        reaper = Reaper()
        reaper.install(loop)
        context = exec_context(reaper, loop)
        try:
            task = loop.create_task(run_probe(exec_probe("sleep 30"), 60, context))
            deadline = time.monotonic() + 20
            while not reaper.watched:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            pid = reaper.watched[0]
            task.cancel()
            while process_state(pid) not in ("", "Z"):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            while reaper.watched:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            assert process_state(pid) == ""
        finally:
            reaper.uninstall()

    asyncio.run(body())
