"""Follow a log over HTTP: ``GET /logtail/...`` or ``/mainlogtail``, streamed.

The server never ends these responses; it keeps sending chunks as the log
grows.  Data goes to stdout as it arrives, problems go to stderr as
``<url> <message>`` lines (the stock client's wording).
"""

from __future__ import annotations

import errno
import socket
import sys
from typing import Any, Optional

from .transport import HTTPResponseReader, basic_auth, open_socket, parse_serverurl


def _write_out(text: str) -> None:
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        raise ValueError(
            f"Unable to write Unicode to stdout because it has encoding {sys.stdout.encoding}"
        ) from None
    sys.stdout.flush()


class LogFollower:
    """One streaming GET; ``run()`` blocks until the stream ends or ``stop()``."""

    def __init__(
        self,
        serverurl: str,
        path: str,
        username: Optional[str],
        password: Optional[str],
        cafile: Optional[str] = None,
    ) -> None:
        self.cafile = cafile
        self.url = serverurl + path
        self.serverurl = serverurl
        self.path = path
        self.username = username
        self.password = password
        self.sock: Optional[socket.socket] = None
        self.stopped = False

    def _connect(self) -> socket.socket:
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        if parts.scheme == "unix":
            family: Any = socket.AF_UNIX
            address: Any = self.serverurl[len("unix://") :]
        elif parts.scheme == "http":
            family = socket.AF_INET
            host, _, port = parts.netloc.partition(":")
            address = (host, int(port) if port else 80)
        elif parts.scheme == "https":  # ours only: stock's client has no https
            self.host = parts.netloc
            return open_socket(*parse_serverurl(self.serverurl), self.cafile)
        else:
            raise NotImplementedError
        self.host = parts.netloc
        sock = socket.socket(family, socket.SOCK_STREAM)
        err = sock.connect_ex(address)
        if err:
            sock.close()
            raise OSError(err, errno.errorcode.get(err, str(err)))
        return sock

    def _request(self) -> bytes:
        lines = [
            f"GET {self.path} HTTP/1.1",
            f"Host: {self.host}",
            "Accept-Encoding: chunked",
            "Accept: */*",
            "User-agent: supervisor-ng supervisorctl",
        ]
        if self.password:
            lines.append(f"Authorization: {basic_auth(self.username or '', self.password)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _error(self, message: str) -> None:
        if not self.stopped:
            sys.stderr.write(f"{self.url} {message}\n")
            sys.stderr.flush()

    def run(self) -> None:
        self.sock = self._connect()
        stream = self.sock.makefile("rb")
        try:
            self.sock.sendall(self._request())
            reader = HTTPResponseReader(stream)
            _version, status, _reason = reader.status()
            if status != 200:
                self._error(f"Cannot read, status code {status}")
                return
            headers = reader.headers()
            self._copy_body(reader, headers)
        except OSError as exc:
            self._error(f"Cannot connect, error: {type(exc)} ({exc})")
        except ValueError:
            if not self.stopped:
                raise
        finally:
            stream.close()
            self.close()

    def _copy_body(self, reader: HTTPResponseReader, headers: dict[str, str]) -> None:
        import codecs

        decoder = codecs.getincrementaldecoder("utf-8")()

        def emit(piece: bytes) -> None:
            nonlocal decoder
            try:
                text = decoder.decode(piece)
            except UnicodeDecodeError:
                decoder = codecs.getincrementaldecoder("utf-8")()
                text = f"Undecodable: {piece!r}"
            if text and not self.stopped:
                _write_out(text)

        if "chunked" in headers.get("transfer-encoding", "").lower():
            for piece in reader.chunks():
                emit(piece)
            return
        # Like stock's client, a body without a length is treated as empty.
        remaining = int(headers.get("content-length", "0") or 0)
        while remaining > 0:
            piece = reader.stream.read1(min(remaining, 65536))
            if not piece:
                return
            remaining -= len(piece)
            emit(piece)

    def stop(self) -> None:
        self.stopped = True
        self.close()

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
