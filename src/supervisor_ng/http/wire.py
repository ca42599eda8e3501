"""HTTP/1.1 on asyncio for the control sockets, with h11 doing the protocol.

The control plane serves a handful of routes to XML-RPC clients, browsers,
``curl`` and Prometheus: requests with a small head and at most a body of
XML or JSON, answers whole or streamed (log tails, the page's event
stream).  aiohttp did this before, but importing it cost ~10 MiB of
resident memory (its package imports its client as well) and ~0.1 s of
start-up, a third of the daemon at rest.  h11 parses and frames (heads,
Content-Length or chunked bodies, keep-alive rules, ``100 Continue``);
this module is the asyncio side: one task per connection answering its
requests in turn, backpressure both ways, an idle timeout, lingering on an
unread body, and a graceful shutdown.

A handler is ``async def handle(request) -> StreamResponse``; it may raise
:class:`HTTPException`.  When the client goes away, the handler's task is
cancelled (a log tail waiting for output must end).
"""

from __future__ import annotations

import asyncio
import json
import time
import traceback
from collections.abc import Awaitable, Iterator, MutableMapping
from http import HTTPStatus
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl, unquote

import h11

MAX_HEAD = 64 * 1024  # request line and headers
LINGER = 10.0  # seconds an answered request's unread body is still read and dropped
_READ_HIGH = 256 * 1024  # pause reading above this much unread


class Headers(MutableMapping):
    """Header fields by case-insensitive name, in the order they were set."""

    def __init__(self, items: Any = ()) -> None:
        self._fields: dict[str, tuple[str, str]] = {}
        pairs = items.items() if hasattr(items, "items") else items
        for name, value in pairs:
            self[name] = value

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()][1]

    def __setitem__(self, name: str, value: str) -> None:
        self._fields[name.lower()] = (name, str(value))

    def __delitem__(self, name: str) -> None:
        del self._fields[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._fields.values())

    def __len__(self) -> int:
        return len(self._fields)

    def add(self, name: str, value: str) -> None:
        """A repeated field, joined as RFC 9110 allows (Set-Cookie is never sent to us)."""
        key = name.lower()
        if key in self._fields:
            self._fields[key] = (self._fields[key][0], f"{self._fields[key][1]}, {value}")
        else:
            self._fields[key] = (name, value)


class HTTPException(Exception):
    """Raised by a handler: answered with ``status`` and ``text``."""

    status = 500

    def __init__(self, *, text: Optional[str] = None) -> None:
        reason = _reason(self.status)
        self.text = text if text is not None else f"{self.status}: {reason}"
        super().__init__(self.text)

    def response(self) -> Response:
        return Response(status=self.status, text=self.text, content_type="text/plain")


class HTTPBadRequest(HTTPException):
    status = 400


class HTTPNotFound(HTTPException):
    status = 404


class _BadRequest(Exception):
    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class Query(dict):
    """The query string's fields; a repeated one keeps its first value."""

    @classmethod
    def parse(cls, query: str) -> Query:
        fields = cls()
        for name, value in parse_qsl(query, keep_blank_values=True):
            fields.setdefault(name, value)
        return fields


class Body:
    """A request's body as it arrives, by h11's events."""

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn
        self._pending = b""
        self._done = conn.request_body_done()

    @property
    def done(self) -> bool:
        return self._done and not self._pending

    async def read(self, size: int) -> bytes:
        """Up to ``size`` bytes (at least 1); b"" at the end."""
        while not self._pending and not self._done:
            self._conn.continue_if_waited_for()
            event = await self._conn.next_event()
            if isinstance(event, h11.Data):
                self._pending = bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._done = True
            else:
                raise _BadRequest("the body ended early")
        data, self._pending = self._pending[:size], self._pending[size:]
        return data


class Request:
    """One request: its head, parsed, and its body as a stream (``content``)."""

    def __init__(self, conn: _Connection, method: str, target: str, headers: Headers) -> None:
        self._conn = conn
        self.method = method
        self.raw_path = target
        self.headers = headers
        path, _, query = target.partition("?")
        self.path = unquote(path)
        self.query_string = query
        self._query: Optional[Query] = None
        self.content = Body(conn)

    @property
    def query(self) -> Query:
        if self._query is None:
            self._query = Query.parse(self.query_string)
        return self._query

    @property
    def transport(self) -> Optional[asyncio.Transport]:
        return self._conn.transport

    @property
    def host(self) -> str:
        """The Host field ("" without one: HTTP/1.0 clients may omit it)."""
        return self.headers.get("Host", "")

    @property
    def scheme(self) -> str:
        transport = self._conn.transport
        return "https" if transport is not None and transport.get_extra_info("sslcontext") else "http"

    @property
    def remote(self) -> Optional[str]:
        """The peer's address; None on a unix socket."""
        peer = self._conn.transport.get_extra_info("peername") if self._conn.transport is not None else None
        return peer[0] if isinstance(peer, tuple) and peer else None

    @property
    def content_length(self) -> Optional[int]:
        value = self.headers.get("Content-Length")
        return int(value) if value is not None else None

    @property
    def content_type(self) -> str:
        value = self.headers.get("Content-Type", "")
        return value.split(";", 1)[0].strip().lower() or "application/octet-stream"

    async def read(self, limit: int) -> bytes:
        """The whole body; more than ``limit`` bytes is a 413."""
        parts, size = [], 0
        while True:
            part = await self.content.read(1 << 16)
            if not part:
                return b"".join(parts)
            size += len(part)
            if size > limit:
                raise _BadRequest("the body is too large", 413)
            parts.append(part)

    async def json(self, limit: int = 1 << 20) -> Any:
        return json.loads(await self.read(limit))


class StreamResponse:
    """An answer written as it goes: :meth:`prepare`, :meth:`write`, :meth:`write_eof`."""

    def __init__(self, *, status: int = 200, headers: Any = None) -> None:
        self.status = status
        self.headers = Headers(headers or ())
        self.content_length: Optional[int] = None
        self.keep_alive = True
        self._chunked = False
        self._conn: Optional[_Connection] = None
        self._head_only = False
        self.prepared = False
        self.finished = False

    def enable_chunked_encoding(self) -> None:
        self._chunked = True

    def force_close(self) -> None:
        self.keep_alive = False

    @property
    def charset(self) -> Optional[str]:
        _, _, param = self.headers.get("Content-Type", "").partition("charset=")
        return param.split(";", 1)[0].strip() or None

    @charset.setter
    def charset(self, charset: Optional[str]) -> None:
        main = self.headers.get("Content-Type", "application/octet-stream").split(";", 1)[0].strip()
        self.headers["Content-Type"] = f"{main}; charset={charset}" if charset else main

    async def prepare(self, request: Request) -> None:
        """Send the status line and the head.  h11 frames the body: by
        Content-Length when it is known, else chunked (HTTP/1.1) or up to
        the connection's close (HTTP/1.0)."""
        if self.prepared:
            return
        conn = request._conn
        self._conn = conn
        self._head_only = request.method == "HEAD"
        head = self.headers
        head.pop("Content-Length", None)
        head.pop("Transfer-Encoding", None)
        if self.content_length is not None and not self._chunked:
            head["Content-Length"] = str(self.content_length)
        if "Date" not in head:
            head["Date"] = _http_date()
        if not self.keep_alive or conn.closing:
            head["Connection"] = "close"
        self.prepared = True
        conn.send(h11.Response(status_code=self.status, reason=_reason(self.status), headers=list(head.items())))
        await conn.drain()

    async def write(self, data: bytes) -> None:
        conn = self._conn
        if conn is None or self.finished:
            raise RuntimeError("write() before prepare() or after write_eof()")
        if conn.transport is None or conn.transport.is_closing():
            raise ConnectionResetError("the client went away")
        if not data or self._head_only:
            return
        conn.send(h11.Data(data=data))
        await conn.drain()

    async def write_eof(self) -> None:
        if self.finished or self._conn is None:
            return
        self.finished = True
        self._conn.send(h11.EndOfMessage())
        await self._conn.drain()


class Response(StreamResponse):
    """A whole answer: sent by the server once the handler returns it."""

    def __init__(
        self,
        *,
        body: Optional[bytes] = None,
        status: int = 200,
        text: Optional[str] = None,
        headers: Any = None,
        content_type: Optional[str] = None,
        charset: Optional[str] = None,
    ) -> None:
        super().__init__(status=status, headers=headers)
        if text is not None:
            charset = charset or "utf-8"
            body = text.encode(charset)
            content_type = content_type or "text/plain"
        self.body = body or b""
        if content_type is not None:
            self.headers["Content-Type"] = f"{content_type}; charset={charset}" if charset else content_type
        self.content_length = len(self.body)

    async def send(self, request: Request) -> None:
        self.content_length = len(self.body)
        await self.prepare(request)
        await self.write(self.body)
        await self.write_eof()


def json_response(data: Any, *, status: int = 200) -> Response:
    return Response(text=json.dumps(data), status=status, content_type="application/json")


_date_cache: list = [0, ""]
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(timestamp: float) -> str:
    """RFC 9110's IMF-fixdate, in English whatever the locale (what
    email.utils.formatdate(usegmt=True) gives, without loading the email
    package: ~0.4 MiB with calendar and datetime)."""
    t = time.gmtime(timestamp)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def _http_date() -> str:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[:] = [now, http_date(now)]
    return _date_cache[1]


Handler = Callable[[Request], Awaitable[StreamResponse]]


class Server:
    """A protocol factory for ``loop.create_server``/``create_unix_server``.

    ``report(level, text)`` takes what the server has to say: a client's
    malformed request ("debug") and a handler's escaped exception ("error").
    """

    def __init__(self, handler: Handler, report: Callable[[str, str], None], *, keepalive_timeout: float) -> None:
        self.handler = handler
        self.report = report
        self.keepalive_timeout = keepalive_timeout
        self.connections: set[_Connection] = set()

    def __call__(self) -> _Connection:
        return _Connection(self)

    async def shutdown(self, timeout: float) -> None:
        """Close idle connections now, let requests in flight finish within
        ``timeout`` seconds, then cut what is left."""
        for conn in list(self.connections):
            conn.close()
        tasks = [conn.task for conn in self.connections if conn.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        for conn in list(self.connections):
            conn.abort()


class _Connection(asyncio.Protocol):
    """One client connection: bytes in and out on the loop, HTTP by h11,
    and a task that answers its requests one after the other."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: Optional[asyncio.Transport] = None
        self.task: Optional[asyncio.Task[None]] = None
        self.closing = False  # no further request on this connection
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self._buf = bytearray()  # received, not yet given to h11
        self._eof = False
        self._eof_fed = False
        self._lost = False
        self._reading_paused = False
        self._readable: Optional[asyncio.Future[None]] = None
        self._writable: Optional[asyncio.Future[None]] = None
        self._in_handler = False
        self._idle = False

    # -- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)
        self.task = asyncio.get_running_loop().create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if len(self._buf) > _READ_HIGH and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake_reader()
        return True  # the answer to what was sent may still be written

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._lost = True
        self.closing = True
        self.server.connections.discard(self)
        self._wake_reader()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        if self._in_handler and self.task is not None:
            self.task.cancel()  # a tail waiting for output must end

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def _wake_reader(self) -> None:
        if self._readable is not None and not self._readable.done():
            self._readable.set_result(None)

    # -- used by Body and the responses ----------------------------------------------

    async def next_event(self) -> Any:
        """h11's next event, fed from what arrived (h11 holds at most one
        feed: the rest waits in our buffer, which pauses reading when full)."""
        while True:
            event = self._h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            if self._buf:
                data = bytes(self._buf)
                self._buf.clear()
                if self._reading_paused and self.transport is not None:
                    self._reading_paused = False
                    self.transport.resume_reading()
                self._h11.receive_data(data)
            elif self._eof or self._lost:
                if self._eof_fed:
                    return h11.ConnectionClosed()
                self._eof_fed = True
                self._h11.receive_data(b"")
            else:
                self._readable = asyncio.get_running_loop().create_future()
                await self._readable

    def request_body_done(self) -> bool:
        return self._h11.their_state is not h11.SEND_BODY

    def continue_if_waited_for(self) -> None:
        if self._h11.they_are_waiting_for_100_continue:
            self.send(h11.InformationalResponse(status_code=100, headers=[]))

    def send(self, event: Any) -> None:
        data = self._h11.send(event)
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    async def drain(self) -> None:
        if self._writable is not None and not self._writable.done():
            await self._writable
        if self._lost:
            raise ConnectionResetError("the client went away")

    def close(self) -> None:
        """No further request: now if the connection is idle, else once answered."""
        self.closing = True
        if self._idle and self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.transport is not None:
            self.transport.abort()

    # -- the requests, one after the other ---------------------------------------------

    async def _serve(self) -> None:
        try:
            while not self.closing:
                request = await self._next_request()
                if request is None or not await self._answer(request):
                    break
                if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
                    self._h11.start_next_cycle()
                else:
                    break
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001 - one connection's failure is reported, never the loop's
            self.server.report("error", f"HTTP connection failed:\n{traceback.format_exc()}")
        finally:
            self.server.connections.discard(self)
            if self.transport is not None and not self.transport.is_closing():
                self.transport.close()

    async def _next_request(self) -> Optional[Request]:
        """The next request's head; None when the client is done (or sent
        something that is not HTTP, which is answered and closes)."""
        loop = asyncio.get_running_loop()
        self._idle = not self._buf
        timer = loop.call_later(self.server.keepalive_timeout, self._close_idle) if self._idle else None
        try:
            event = await self.next_event()
        except h11.RemoteProtocolError as exc:
            self._refuse(exc.error_status_hint, str(exc))
            return None
        finally:
            self._idle = False
            if timer is not None:
                timer.cancel()
        if not isinstance(event, h11.Request):
            return None  # ConnectionClosed
        try:
            return self._request(event)
        except _BadRequest as exc:
            self._refuse(exc.status, str(exc))
            return None

    def _close_idle(self) -> None:
        if self._idle and self.transport is not None:
            self.closing = True
            self.transport.close()

    def _request(self, event: h11.Request) -> Request:
        target = event.target.decode("latin-1")
        if not target.startswith("/"):
            if target.startswith(("http://", "https://")):  # absolute form, as to a proxy
                slash = target.find("/", target.index("//") + 2)
                target = target[slash:] if slash >= 0 else "/"
            elif target != "*":
                raise _BadRequest("a bad request target")
        headers = Headers()
        for name, value in event.headers:
            headers.add(name.decode("latin-1"), value.decode("latin-1"))
        return Request(self, event.method.decode("ascii"), target, headers)

    async def _answer(self, request: Request) -> bool:
        """Handle and answer one request; False to close the connection."""
        self._in_handler = True
        try:
            try:
                response = await self.server.handler(request)
            except HTTPException as exc:
                response = exc.response()
            except (ConnectionError, asyncio.CancelledError):
                return False
            except (_BadRequest, h11.RemoteProtocolError) as exc:
                if not self._lost:
                    status = exc.status if isinstance(exc, _BadRequest) else exc.error_status_hint
                    response = Response(status=status, text=f"{status}: {_reason(status)}\n{exc}\n")
                    response.force_close()
                    self.server.report("debug", f"HTTP: bad request: {exc}")
                else:
                    return False
            except Exception:  # noqa: BLE001 - answered 500, reported, the daemon serves on
                self.server.report("error", f"HTTP: error handling {request.method} {request.raw_path}:\n"
                                   f"{traceback.format_exc()}")  # fmt: skip
                if self._lost:
                    return False
                response = Response(status=500, text="500: Internal Server Error")
                response.force_close()
            if isinstance(response, Response) and not response.prepared:
                await response.send(request)
            elif not response.prepared:
                await response.prepare(request)
                await response.write_eof()
        except (ConnectionError, asyncio.CancelledError, h11.LocalProtocolError):
            return False
        finally:
            self._in_handler = False
        if not response.finished or self._lost:
            return False
        if self._h11.they_are_waiting_for_100_continue:
            return False  # told to wait for our "100 Continue", the client sends no body
        # Even before a close: a client still sending would get a broken pipe
        # instead of the answer.
        return await self._linger(request.content) and response.keep_alive

    async def _linger(self, body: Body) -> bool:
        """Read and drop what the handler left of the body (a 413 or 401
        answered from the head); for a while only.  False to close."""
        loop = asyncio.get_running_loop()
        end = loop.time() + LINGER
        try:
            while not body.done:
                left = end - loop.time()
                if left <= 0:
                    return False
                await asyncio.wait_for(body.read(1 << 16), left)
        except (_BadRequest, h11.RemoteProtocolError, asyncio.TimeoutError):
            return False
        return True

    def _refuse(self, status: int, reason: str) -> None:
        """A request h11 cannot read: say so, and close."""
        self.server.report("debug", f"HTTP: bad request: {reason}")
        self.closing = True
        if self._lost or self.transport is None:
            return
        status = status if 400 <= status < 500 else 400
        body = f"{status}: {_reason(status)}\n{reason}\n".encode()
        self.transport.write(
            f"HTTP/1.1 {status} {_reason(status)}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\nDate: {_http_date()}\r\n\r\n".encode()
            + body
        )
