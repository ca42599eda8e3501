"""What an event listener or a program needs to talk to supervisord.

- ``listener``: the event listener protocol on stdin/stdout (``wait`` sends
  READY and returns the next event's headers and payload; ``ok``, ``fail``
  and ``send`` answer it with a RESULT).
- ``pcomm``: process communication events (the XSUPERVISOR tokens around a
  message on stdout or stderr).
- ``getRPCInterface(os.environ)``: an XML-RPC proxy to the daemon that
  started this process, from the SUPERVISOR_* variables it sets.
- ``eventdata``, ``get_headers``, ``get_asctime``: parsing a payload and
  stamping a line the way the daemon's log does.
"""

from __future__ import annotations

import sys
import time
import xmlrpc.client
from collections.abc import Mapping
from typing import IO, Optional

from supervisor_ng.events.protocol import READY_TOKEN, RESULT_TOKEN
from supervisor_ng.events.types import BEGIN_TOKEN, END_TOKEN

from .xmlrpc import SupervisorTransport


def getRPCTransport(env: Mapping[str, str]) -> SupervisorTransport:
    return SupervisorTransport(
        env.get("SUPERVISOR_USERNAME", ""),
        env.get("SUPERVISOR_PASSWORD", ""),
        env["SUPERVISOR_SERVER_URL"],
    )


def getRPCInterface(env: Mapping[str, str]) -> xmlrpc.client.ServerProxy:
    # ServerProxy insists on an http URL; the transport ignores its host.
    return xmlrpc.client.ServerProxy("http://127.0.0.1", getRPCTransport(env))


def get_headers(line: str) -> dict[str, str]:
    """``"a:1 b:2"`` -> ``{"a": "1", "b": "2"}``."""
    headers = {}
    for token in line.split():
        key, value = token.split(":")
        headers[key] = value
    return headers


def eventdata(payload: str) -> tuple[dict[str, str], str]:
    """A payload whose first line is headers: (headers, the rest)."""
    first, rest = payload.split("\n", 1)
    return get_headers(first), rest


def get_asctime(now: Optional[float] = None) -> str:
    """``YYYY-MM-DD HH:MM:SS,mmm`` in local time, as the daemon's log stamps lines."""
    if now is None:
        now = time.time()
    millis = int((now - int(now)) * 1000)
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(now))},{millis:03d}"


class ProcessCommunicationsProtocol:
    def send(self, msg: str, fp: IO[str] = sys.stdout) -> None:
        fp.write(BEGIN_TOKEN.decode() + msg + END_TOKEN.decode())
        fp.flush()

    def stdout(self, msg: str) -> None:
        self.send(msg, sys.stdout)

    def stderr(self, msg: str) -> None:
        self.send(msg, sys.stderr)


pcomm = ProcessCommunicationsProtocol()


class EventListenerProtocol:
    # The streams are looked up per call, not bound as defaults at import:
    # a tool that replaces sys.stdout later still gets it.
    def wait(self, stdin: Optional[IO[str]] = None, stdout: Optional[IO[str]] = None) -> tuple[dict[str, str], str]:
        stdin = sys.stdin if stdin is None else stdin
        self.ready(stdout)
        headers = get_headers(stdin.readline())
        payload = stdin.read(int(headers["len"]))
        return headers, payload

    def ready(self, stdout: Optional[IO[str]] = None) -> None:
        stdout = sys.stdout if stdout is None else stdout
        stdout.write(READY_TOKEN.decode())
        stdout.flush()

    def ok(self, stdout: Optional[IO[str]] = None) -> None:
        self.send("OK", stdout)

    def fail(self, stdout: Optional[IO[str]] = None) -> None:
        self.send("FAIL", stdout)

    def send(self, data: str, stdout: Optional[IO[str]] = None) -> None:
        stdout = sys.stdout if stdout is None else stdout
        stdout.write(f"{RESULT_TOKEN.decode()}{len(data)}\n{data}")
        stdout.flush()


listener = EventListenerProtocol()
