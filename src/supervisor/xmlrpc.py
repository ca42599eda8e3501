"""``SupervisorTransport``: XML-RPC to a supervisord over ``unix://`` or ``http://``.

Listener tools build their client as ``xmlrpc.client.ServerProxy("http://127.0.0.1",
SupervisorTransport(user, password, serverurl))``: the proxy's URL only
supplies the path (``/RPC2``), the transport decides where to connect.  One
connection is kept and reused across calls.
"""

from __future__ import annotations

import base64
import http.client
import socket
import urllib.parse
import xmlrpc.client
from typing import Callable, Optional

from supervisor_ng.rpc.faults import Faults as _Faults


class Faults:
    """The fault codes, as plain ints (``Faults.BAD_NAME == 10``)."""


for _fault in _Faults:
    setattr(Faults, _fault.name, int(_fault))


class UnixStreamHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket; the Host header says ``localhost``."""

    def __init__(self, socket_path: str, timeout: Optional[float] = None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if self.timeout is not None:
                sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _connector(serverurl: str) -> Callable[[], http.client.HTTPConnection]:
    if serverurl.startswith("unix://"):
        path = serverurl[len("unix://") :]
        return lambda: UnixStreamHTTPConnection(path)
    if serverurl.startswith("http://"):
        parsed = urllib.parse.urlparse(serverurl)
        host, port = parsed.hostname or "localhost", parsed.port or 80
        return lambda: http.client.HTTPConnection(host, port)
    raise ValueError(f"Unknown protocol for serverurl {serverurl}")


class SupervisorTransport(xmlrpc.client.Transport):
    def __init__(
        self,
        username: Optional[str] = None,
        password: Optional[str] = None,
        serverurl: Optional[str] = None,
    ) -> None:
        super().__init__()
        self.username = username
        self.password = password
        self.serverurl = serverurl
        self._connect = _connector(serverurl or "")
        self._auth_headers: list[tuple[str, str]] = []
        if username is not None and password is not None:
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            self._auth_headers = [("Authorization", f"Basic {token}")]

    def make_connection(self, host: object) -> http.client.HTTPConnection:
        # The proxy's host is a placeholder: the connection goes to serverurl.
        # Set here because the base class resets its extra headers per request.
        self._extra_headers = list(self._auth_headers)
        cached_host, connection = self._connection
        if connection is None:
            connection = self._connect()
            self._connection = (host, connection)
        return connection
