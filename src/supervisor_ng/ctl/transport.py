"""HTTP/1.1 to supervisord over a UNIX socket or TCP, keeping the connection.

A plain socket and a few lines of HTTP instead of ``http.client``: that module
(with the email package behind it) is a large share of a short command's
run time, and the exchanges here are simple - one POST at a time, answered
with a Content-Length or chunked body.  Connection errors surface as the
standard ``OSError`` subclasses because callers (and the messages they
print) tell "refused" from "no such file" by errno.
"""

from __future__ import annotations

import socket
from typing import Any, Optional

from . import wire

# Stock's client reports HTTP failures against this fixed address whatever
# the server URL is; the text ends up in error lines users see.
PROTOCOL_ERROR_URL = "127.0.0.1/RPC2"


DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_serverurl(serverurl: str) -> tuple[str, Any]:
    """``("unix", path)``, ``("http", (host, port))`` or ``("https", (host,
    port))``; ValueError otherwise.  https is ours: stock's client has none."""
    if serverurl.startswith("unix://"):
        return "unix", serverurl[len("unix://") :]
    if serverurl.startswith(("http://", "https://")):
        from urllib.parse import urlsplit

        parts = urlsplit(serverurl)
        return parts.scheme, (parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme])
    raise ValueError(f"Unknown protocol for serverurl {serverurl}")


def open_socket(kind: str, where: Any, cafile: Optional[str] = None) -> socket.socket:
    """A connected socket; for https, TLS with the server's certificate
    checked against ``cafile`` (else the system's CA store) and its name."""
    if kind == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(where)
        except BaseException:
            sock.close()
            raise
        return sock
    sock = socket.create_connection(where)
    if kind != "https":
        return sock
    import ssl  # only here: it is a noticeable share of a short command's start-up

    try:
        context = ssl.create_default_context(cafile=cafile)
        return context.wrap_socket(sock, server_hostname=where[0])
    except BaseException:
        sock.close()
        raise


def basic_auth(username: Optional[str], password: Optional[str]) -> Optional[str]:
    if username is None or password is None:
        return None
    import base64

    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class HTTPResponseReader:
    """Reads one response's head and body from a buffered socket file."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def status(self) -> tuple[str, int, str]:
        line = self.stream.readline(65537)
        if not line:
            raise ConnectionResetError("server closed the connection")
        parts = line.decode("iso-8859-1").rstrip("\r\n").split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise ConnectionError(f"bad HTTP status line {line!r}")
        reason = parts[2].strip() if len(parts) > 2 else ""
        return parts[0], int(parts[1]), reason

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        while True:
            line = self.stream.readline(65537)
            if not line:
                raise ConnectionResetError("server closed the connection")
            line = line.rstrip(b"\r\n")
            if not line:
                return headers
            name, _, value = line.decode("iso-8859-1").partition(":")
            headers[name.strip().lower()] = value.strip()

    def body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return b"".join(self.chunks())
        length = headers.get("content-length")
        if length is not None:
            return self._exactly(int(length))
        return self.stream.read()

    def chunks(self) -> Any:
        """Yield a chunked body's pieces as they arrive."""
        while True:
            line = self.stream.readline(65537)
            if not line:
                return
            size_text = line.split(b";", 1)[0].strip()
            if not size_text:
                continue
            size = int(size_text, 16)
            if size == 0:
                self._skip_trailer()
                return
            yield self._exactly(size)
            self.stream.readline(65537)  # the CRLF after the chunk

    def _skip_trailer(self) -> None:
        while True:
            line = self.stream.readline(65537)
            if not line or line in (b"\r\n", b"\n"):
                return

    def _exactly(self, size: int) -> bytes:
        data = self.stream.read(size)
        if len(data) < size:
            raise ConnectionResetError("server closed the connection mid-response")
        return data


class Connection:
    """One keep-alive HTTP connection used for successive XML-RPC calls."""

    def __init__(
        self, serverurl: str, username: Optional[str], password: Optional[str], cafile: Optional[str] = None
    ) -> None:
        self.kind, self.where = parse_serverurl(serverurl)
        self.cafile = cafile
        if self.kind == "unix":
            # The socket path may be too long for a Host header; any name will do.
            self.host = "localhost"
        else:
            host, port = self.where
            self.host = host if port == DEFAULT_PORTS[self.kind] else f"{host}:{port}"
        self.authorization = basic_auth(username, password)
        self._sock: Optional[socket.socket] = None
        self._stream: Any = None
        self._reused = False

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _head(self, length: int) -> bytes:
        lines = [
            "POST /RPC2 HTTP/1.1",
            f"Host: {self.host}",
            "User-Agent: supervisor-ng supervisorctl",
            "Content-Type: text/xml",
            "Accept: text/xml",
            f"Content-Length: {length}",
        ]
        if self.authorization:
            lines.append(f"Authorization: {self.authorization}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def post(self, body: bytes) -> bytes:
        """POST an XML-RPC body; the response body, or ProtocolError."""
        try:
            return self._exchange(body)
        except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
            # A kept-alive connection the server has since closed; one retry
            # on a fresh connection, as any HTTP/1.1 client does.
            if not self._reused:
                raise
            self.close()
            return self._exchange(body)

    def _exchange(self, body: bytes) -> bytes:
        if self._sock is None:
            self._sock = open_socket(self.kind, self.where, self.cafile)
            self._stream = self._sock.makefile("rb")
            self._reused = False
        else:
            self._reused = True
        self._sock.sendall(self._head(len(body)) + body)
        reader = HTTPResponseReader(self._stream)
        version, status, reason = reader.status()
        headers = reader.headers()
        if status != 200:
            self.close()
            raise wire.ProtocolError(PROTOCOL_ERROR_URL, status, reason)
        data = reader.body(headers)
        connection = headers.get("connection", "").lower()
        if connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive"):
            self.close()
        return data


class ServerProxy:
    """``proxy.supervisor.getVersion()`` style calls over one connection."""

    def __init__(self, connection: Connection, namespace: str = "supervisor") -> None:
        self._connection = connection
        self._namespace = namespace

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        method = f"{self._namespace}.{name}"

        def call(*params: Any) -> Any:
            data = self._connection.post(wire.encode_call(method, params))
            return wire.decode_response(data)

        call.__name__ = name
        return call
