"""Our supervisorctl against the stock one, talking to a scripted XML-RPC
server: answers a real daemon rarely gives (other API versions, unknown
result codes, long names, odd states, non-ASCII text, HTTP errors)."""

from __future__ import annotations

import threading
import xmlrpc.server
from typing import Any

import pytest

from tests.interop.conftest import same_without_daemon
from tests.interop.scripted import scripted_server


def info(name: str, group: str, state: int, statename: str, description: str, pid: int = 0) -> dict:
    return {
        "name": name,
        "group": group,
        "state": state,
        "statename": statename,
        "description": description,
        "pid": pid,
        "start": 0,
        "stop": 0,
        "now": 0,
        "spawnerr": "",
        "exitstatus": 0,
        "logfile": "",
        "stdout_logfile": "",
        "stderr_logfile": "",
    }


INFOS = [
    info(
        "a-really-long-process-name-beyond-thirty",
        "a-really-long-process-name-beyond-thirty",
        20,
        "RUNNING",
        "pid 7, uptime 1 day, 2:03:04",
        7,
    ),
    info("p", "grp-with-long-name-too", 1000, "UNKNOWN", ""),
    info("starting", "starting", 10, "STARTING", ""),
    info("backoff", "backoff", 30, "BACKOFF", "Exited too quickly (process log may have details)"),
    info("stopping", "stopping", 40, "STOPPING", ""),
    info("uni", "uni", 20, "RUNNING", "pid 8, uptime 0:00:01 — ünïcödé ✓", 8),
]


class Scripted:
    """The server's behaviour, changed by each test."""

    def __init__(self) -> None:
        self.api = "3.0"
        self.result_code = 80
        self.fault: Any = None

    def methods(self) -> dict[str, Any]:
        def maybe_fault():
            if self.fault is not None:
                raise xmlrpc.client.Fault(*self.fault)

        def results(*_args):
            maybe_fault()
            return [
                {
                    "name": "x",
                    "group": "g",
                    "status": self.result_code,
                    "description": "FAILED: something odd",
                },
                {"name": "y", "group": "y", "status": 80, "description": "OK"},
            ]

        def single(*_args):
            maybe_fault()
            return True

        def getVersion():  # noqa: N802 - the API's name
            maybe_fault()
            return self.api

        return {
            "getVersion": getVersion,
            "getSupervisorVersion": lambda: "4.3.0-ünï",
            "getAllProcessInfo": lambda: INFOS,
            "getProcessInfo": lambda name: INFOS[0],
            "getPID": lambda: 42,
            "readProcessStdoutLog": lambda name, offset, length: "ünïcödé log ✓\nline two",
            "readProcessStderrLog": lambda name, offset, length: "",
            "readLog": lambda offset, length: "main log ✓",
            "startProcess": single,
            "stopProcess": single,
            "signalProcess": single,
            "clearProcessLogs": single,
            "startAllProcesses": results,
            "stopAllProcesses": results,
            "signalAllProcesses": results,
            "clearAllProcessLogs": results,
            "startProcessGroup": results,
            "stopProcessGroup": results,
            "signalProcessGroup": results,
            "getAllConfigInfo": lambda: [
                {
                    "name": "n" * 40,
                    "group": "g",
                    "inuse": False,
                    "autostart": True,
                    "group_prio": 1,
                    "process_prio": 2,
                }
            ],
            "reloadConfig": lambda: [[["b", "a"], ["c"], ["a", "d"]]],
            "shutdown": single,
            "restart": single,
        }


import xmlrpc.client  # noqa: E402  (used by the Scripted methods above)


@pytest.fixture
def server():
    with scripted_server(Scripted()) as scripted:
        yield scripted


LINES = [
    "status",
    "status p grp-with-long-name-too:p grp-with-long-name-too:*",
    "status starting backoff stopping",
    "status uni",
    "pid",
    "pid all",
    "pid a-really-long-process-name-beyond-thirty",
    "version",
    "tail uni",
    "tail uni stderr",
    "maintail",
    "avail",
    "reread",
    "start all",
    "start g:*",
    "start x",
    "stop all",
    "stop g:*",
    "signal HUP all",
    "signal HUP g:*",
    "clear all",
    "restart all",
    "update",
    "update a nosuch",
    "shutdown",
    "reload",
]


@pytest.mark.parametrize("line", LINES)
def test_answers(server, line, tmp_path):
    same_without_daemon(["-s", server.url, *line.split()], tmp_path)


@pytest.mark.parametrize("code", [30, 2, 70, 50, 10, 11, 20, 21, 40, 60])
def test_result_codes(server, code, tmp_path):
    server.result_code = code
    for line in ("start all", "stop all", "signal HUP g:*", "clear all", "update"):
        same_without_daemon(["-s", server.url, *line.split()], tmp_path)


@pytest.mark.parametrize(
    "fault",
    [(6, "SHUTDOWN_STATE"), (30, "FAILED: oops"), (10, "BAD_NAME: x"), (70, "NOT_RUNNING: x")],
)
def test_faults(server, fault, tmp_path):
    server.fault = fault
    for line in (
        "start x",
        "start g:*",
        "stop x",
        "stop g:*",
        "signal HUP x",
        "signal HUP g:*",
        "clear x",
        "status",
        "shutdown",
    ):
        same_without_daemon(["-s", server.url, *line.split()], tmp_path)


@pytest.mark.parametrize("api", ["2.0", "", "3.0.1"])
def test_other_api_version(server, api, tmp_path):
    server.api = api
    for line in ("status", "start x", "pid", "version", "tail x"):
        same_without_daemon(["-s", server.url, *line.split()], tmp_path)


def test_unknown_method(server, tmp_path):
    server.fault = (1, "UNKNOWN_METHOD")
    for line in ("status", "start x", "version", "maintail"):
        same_without_daemon(["-s", server.url, *line.split()], tmp_path)


def test_http_error(tmp_path):
    # A server that answers 404 on /RPC2 (a proxy in front of supervisord, say).
    class Elsewhere(xmlrpc.server.SimpleXMLRPCRequestHandler):
        rpc_paths = ("/elsewhere",)

    httpd = xmlrpc.server.SimpleXMLRPCServer(("127.0.0.1", 0), Elsewhere, logRequests=False)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        for line in ("status", "reread", "shutdown", "help"):
            same_without_daemon(["-s", url, *line.split()], tmp_path)
        same_without_daemon(["-s", url], tmp_path, input="pid\nversion\n")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_non_utf8_stdout(server, tmp_path):
    env = {"PYTHONIOENCODING": "ascii"}
    for line in ("tail uni", "status", "maintail", "version"):
        same_without_daemon(["-s", server.url, *line.split()], tmp_path, env=env)
