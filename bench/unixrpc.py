"""XML-RPC over a unix socket: how the bench reaches both daemons.

The standard library speaks XML-RPC over TCP only; swapping the connection
class is all it takes to speak it over the ``[unix_http_server]`` socket.
"""

from __future__ import annotations

import http.client
import socket
import xmlrpc.client


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__()
        self._path = path
        self._timeout = timeout

    def make_connection(self, host: str) -> http.client.HTTPConnection:
        # Keep one connection alive like the base class does, so a poll loop
        # measures the daemon's answer and not a connect per call.
        cached_host, connection = self._connection
        if connection is not None and cached_host == host:
            return connection
        connection = _UnixHTTPConnection(self._path, self._timeout)
        self._connection = host, connection
        return connection


def unix_server_proxy(path: str, timeout: float = 60.0) -> xmlrpc.client.ServerProxy:
    """A ServerProxy for the daemon listening on the unix socket *path*."""
    return xmlrpc.client.ServerProxy(
        "http://localhost/RPC2", transport=_UnixTransport(path, timeout), allow_none=True
    )


class RawCaller:
    """XML-RPC calls whose answer comes back as bytes, unparsed.

    Timing a call through ServerProxy includes parsing the answer in the
    bench's own Python, which for 500 process structs takes longer than the
    daemon's work; this measures the daemon: request out, last byte in.
    """

    def __init__(self, path: str, timeout: float = 60.0) -> None:
        self._connection = _UnixHTTPConnection(path, timeout)

    def call(self, method: str, *params: object) -> bytes:
        body = xmlrpc.client.dumps(params, method).encode()
        self._connection.request("POST", "/RPC2", body, {"Content-Type": "text/xml"})
        response = self._connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise xmlrpc.client.ProtocolError("/RPC2", response.status, response.reason, {})
        return data

    def close(self) -> None:
        self._connection.close()
