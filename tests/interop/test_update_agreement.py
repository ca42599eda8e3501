"""``update`` from the web page and from supervisorctl: one behaviour, stock's.

A scripted server answers the calls of an update; the stop of a removed
group reports FAILED for one of its processes.  Stock supervisorctl then
keeps that group ("has problems; not removing") and exits 1; our
supervisorctl and the page's update action must print the same lines and
leave the group in place too.
"""

from __future__ import annotations

import asyncio
import xmlrpc.client
import xmlrpc.server
from typing import Any

import pytest

from supervisor_ng.http import actions
from supervisor_ng.rpc.faults import RPCError
from tests.interop.conftest import run_client
from tests.interop.scripted import scripted_server


class Scripted:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def methods(self) -> dict[str, Any]:
        def record(name: str, value: Any) -> Any:
            def method(*args: Any) -> Any:
                self.calls.append((name, args))
                return value(*args) if callable(value) else value

            return method

        def stop_group(name: str) -> list[dict[str, Any]]:
            if name == "gone":
                return [
                    {"name": "a", "group": "gone", "status": 30, "description": "FAILED: could not stop"},
                    {"name": "b", "group": "gone", "status": 80, "description": "OK"},
                ]
            return [{"name": name, "group": name, "status": 80, "description": "OK"}]

        return {
            "reloadConfig": record("reloadConfig", [[["fresh"], ["changed"], ["gone", "empty"]]]),
            "getAllProcessInfo": record("getAllProcessInfo", []),
            "stopProcessGroup": record("stopProcessGroup", stop_group),
            "removeProcessGroup": record("removeProcessGroup", True),
            "addProcessGroup": record("addProcessGroup", True),
        }


@pytest.fixture
def server():
    with scripted_server(Scripted()) as scripted:
        yield scripted


class RemoteRegistry:
    """The page's registry, forwarding to the scripted server."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def call(self, name: str, params: list[Any]) -> Any:
        def blocking() -> Any:
            proxy = xmlrpc.client.ServerProxy(self.url)
            try:
                return getattr(proxy, name)(*params)
            except xmlrpc.client.Fault as fault:
                raise RPCError(fault.faultCode, fault.faultString.partition(": ")[2] or None) from None

        return await asyncio.get_running_loop().run_in_executor(None, blocking)


def _removed(server: Scripted) -> list[str]:
    return [args[0] for name, args in server.calls if name == "removeProcessGroup"]


def test_page_and_supervisorctl_update_like_stock(server, tmp_path):
    results = {}
    for client in ("stock", "ours"):
        server.calls.clear()
        results[client] = run_client(client, ["-s", server.url, "update"], cwd=tmp_path)
        assert "gone" not in _removed(server), client
    stock = results["stock"]
    assert (results["ours"].returncode, results["ours"].stdout) == (stock.returncode, stock.stdout)
    assert stock.returncode == 1
    assert "gone: has problems; not removing" in stock.stdout.splitlines()

    server.calls.clear()
    outcome = asyncio.run(actions.run(RemoteRegistry(server.url), "update"))
    assert "gone" not in _removed(server)
    assert outcome.lines == stock.stdout.splitlines()
    assert outcome.ok is False
