"""The control plane: XML-RPC, log tails and the page on the control sockets (HTTP by :mod:`.wire`).

:class:`ControlPlane` lives as long as the daemon process, across restarts:
it binds the sockets once, before the daemon forks and before any program
starts, serves them on the event loop, and always talks to the Supervisor
of the current generation through a getter.  On a restart it keeps the
sockets whose address did not change (clients never see them vanish) and
binds or closes the others.

Routing is stock's, by prefix: ``/RPC2`` -> XML-RPC, ``/logtail`` ->
process log tail, ``/mainlogtail`` -> daemon log tail, ``/ok.html`` -> "OK",
``/metrics`` -> Prometheus figures, anything else -> the web UI hook (the
page of :mod:`.ui`).  Basic auth, when the server section sets a username,
guards all of them; before that, an inet listener without credentials
answers only to its own names (DNS rebinding), and after it, requests a
browser makes for another site may not act or read logs (:mod:`.origin`).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import traceback
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..config.model import Config, HttpServerConfig
from ..lazy_import import LazyModule
from ..logs.mainlog import TRACE
from ..rpc.api_reexec import ReexecNamespace
from ..rpc.codec import BodyTooLarge, ParseError, dump_fault, dump_response, parse_request_stream
from ..rpc.faults import RPCError
from ..rpc.registry import Registry, SystemNamespace
from ..rpc.stats_api import StatsNamespace
from ..rpc.supervisor_api import SupervisorNamespace
from ..runtime.control import Control
from ..runtime.resources import ResourceSampler
from ..systemd.activation import InheritedPool, inherited_pool
from . import origin, sockets, tls
from .auth import REALM, UNAUTHORIZED_BODY
from .live import may_change_state
from .logins import LoginGuard
from .sockets import ControlSocketError

if TYPE_CHECKING:
    import ssl

    from ..logs.mainlog import MainLog
    from ..runtime.handover import Handover
    from ..runtime.supervisor import Supervisor
    from . import wire
    from .logtail import TailStreams
    from .ui import WebUI
else:
    # The HTTP layer (h11), the web page and the log tails are loaded when
    # the first client connects: a daemon nobody talks to never holds them
    # (~1.5 MiB).  Nothing at module level here may read an attribute of it.
    wire = LazyModule(__name__.rpartition(".")[0] + ".wire")

__all__ = ["ControlPlane", "ControlSocketError"]

MAX_BODY = 10 * 1024 * 1024  # a multicall of thousands of calls is far below this
SHUTDOWN_GRACE = 2.0  # seconds in-flight requests get when the daemon exits
# Idle kept-alive connections are closed after this long.  The stock client
# never reconnects by itself (an interactive supervisorctl keeps one
# connection for its whole session), so this is stock's 30 minutes.
KEEPALIVE_TIMEOUT = 30 * 60.0
ACCEPT_PENDING = 0.02  # seconds to accept connections queued before a unix socket is unlinked

Handler = Callable[["wire.Request"], Awaitable["wire.StreamResponse"]]

# Python 3.13+ unlinks a unix server's socket file on close unless told not
# to; a socket passed by systemd belongs to its socket unit.
_UNIX_SERVER_CLEANS_UP = "cleanup_socket" in inspect.signature(asyncio.SelectorEventLoop.create_unix_server).parameters


class _Listener:
    """One bound socket and the asyncio server on it."""

    def __init__(self, bound: sockets.BoundSocket) -> None:
        self.bound = bound
        self.tls: Optional[ssl.SSLContext] = tls.server_context(bound.config)  # ssl only if asked for
        self.web_server: Optional[wire.Server] = None
        self.server: Optional[asyncio.AbstractServer] = None

    @property
    def config(self) -> HttpServerConfig:
        # Read per request: a restart may change the credentials.
        return self.bound.config


class ControlPlane:
    def __init__(self, log: MainLog, get_supervisor: Callable[[], Supervisor]) -> None:
        self.log = log
        self._get = get_supervisor
        self._listeners: list[_Listener] = []
        self._tails: Optional[TailStreams] = None
        self.registry = Registry()
        self._namespaces: tuple[str, ...] = ()
        # Kept across API rebuilds: CPU % is measured between two requests.
        self.resources = ResourceSampler()
        self._ui: Optional[WebUI] = None
        # The web UI plugs in here: called for every path not handled above.
        self.ui_handler: Optional[Handler] = self._web_page
        self._serving = False
        self._inherited = InheritedPool([])
        self.logins = LoginGuard(log)
        self._warned_open: set[str] = set()
        # Set by the daemon once it runs: ng.reexec's way to a hand-over.
        self.handover: Optional[Handover] = None
        # What to do once a request's answer is written, by the request's task.
        self._after_answer: dict[Any, Callable[[], None]] = {}
        # Control sockets a previous daemon image kept open for us, by address key.
        self._handed: dict[tuple, dict[str, Any]] = {}

    @property
    def tails(self) -> TailStreams:
        if self._tails is None:
            from .logtail import TailStreams

            self._tails = TailStreams()
        return self._tails

    @property
    def ui(self) -> WebUI:
        if self._ui is None:
            from .ui import WebUI

            self._ui = WebUI(lambda: self.registry, self._get)
        return self._ui

    async def _web_page(self, request: wire.Request) -> wire.StreamResponse:
        return await self.ui.handle(request)

    def _poke_page(self) -> None:
        """The page's live view looks again (if a page was ever served)."""
        if self._ui is not None:
            self._ui.hub.poke()

    # -- set-up (before the loop) ------------------------------------------------

    def bind(self, config: Config, handed: Optional[list[dict[str, Any]]] = None) -> None:
        """Create every control socket of ``config``; raises
        :class:`~.sockets.ControlSocketError` (and binds nothing) on failure.
        ``handed``: sockets kept open across a hand-over, by address key; they
        are used as they are (clients that connected meanwhile are in their
        backlog), the ones the config no longer names are closed."""
        self._handed = {tuple(entry["key"]): entry for entry in handed or ()}
        self._set_api(config)
        self._inherited = inherited_pool()
        bound: list[sockets.BoundSocket] = []
        listeners: list[_Listener] = []
        try:
            for server_config in config.http_servers:
                bound.append(self._bind_one(server_config))
                listeners.append(_Listener(bound[-1]))
        except BaseException:
            for b in bound:
                b.close()
            raise
        self._listeners = listeners
        for entry in self._handed.values():  # sections the config no longer has
            os.close(entry["fd"])
        self._handed = {}
        for listener in self._listeners:
            self._announce(listener.config)

    def handed_sockets(self) -> list[dict[str, Any]]:
        """Every control socket, for a hand-over (JSON: the key becomes a list)."""
        return [
            {"key": list(listener.bound.key), "fd": listener.bound.sock.fileno(), "inherited": listener.bound.inherited}
            for listener in self._listeners
        ]

    def _bind_one(self, config: HttpServerConfig) -> sockets.BoundSocket:
        """The socket handed over by our previous image, or the one systemd
        passed for this section, else one of our own."""
        entry = self._handed.pop(sockets.address_key(config), None)
        if entry is not None:
            return sockets.adopt_handed(config, entry["fd"], entry.get("inherited", False))
        inherited = self._inherited.claim(config.section, config)
        if inherited is None:
            return sockets.bind(config, self._report_stale)
        self.log.info(f"[{config.section}] using the socket passed by systemd: {inherited.describe()}")
        if config.family == "unix" and inherited.address != config.path:
            self.log.warn(
                f"[{config.section}] file={config.path} but the socket passed by systemd is "
                f"{inherited.address}; clients must use the latter"
            )
        return sockets.adopt(config, inherited.duplicate())

    def _report_unclaimed(self) -> None:
        for inherited in self._inherited.unclaimed():
            self.log.error(
                f"systemd passed a socket that matches no [unix_http_server], "
                f"[inet_http_server] or [fcgi-program:x] section: {inherited.describe()}; give the section "
                f"name as FileDescriptorName= in the socket unit, or the same address "
                f"in the section; it is not served"
            )

    def _set_api(self, config: Config) -> None:
        names = tuple(name for name, _factory in config.rpcinterfaces)
        if names == self._namespaces and self.registry.methods:
            return
        registry = Registry()
        api = SupervisorNamespace(self._get)
        for name in names:
            registry.add_namespace(name, api)
        if names:
            # Our additions ride along with the built-in API, never alone:
            # without it stock has no methods but system.* either.
            registry.add_namespace("ng", StatsNamespace(self._get, self.resources))
            registry.add_namespace("ng", ReexecNamespace(lambda: self.handover, self._set_after_answer))
        registry.add_namespace("system", SystemNamespace(registry))
        self.registry = registry
        self._namespaces = names

    def _announce(self, config: HttpServerConfig) -> None:
        for name in self._namespaces:
            self.log.info(f"RPC interface {name!r} initialized")
        if not config.username:
            self.log.critical(f"Server {config.section!r} running without any HTTP authentication checking")
            if (
                config.family == "inet"
                and config.section not in self._warned_open
                and not origin.is_loopback(config.host)
            ):
                self._warned_open.add(config.section)
                self.log.warn(
                    f"[{config.section}] listens on {config.host or 'every address'}, not only on "
                    f"loopback, without a username and password: anyone who can reach port "
                    f"{config.port} controls every program; set username and password (or use "
                    f"[unix_http_server] only)"
                )

    def _set_after_answer(self, callback: Callable[[], None]) -> None:
        self._after_answer[asyncio.current_task()] = callback

    def _report_http(self, level: str, text: str) -> None:
        # A client's malformed request is its problem (debug); anything
        # else that escaped a handler is ours (error, with the traceback).
        (self.log.error if level == "error" else self.log.debug)(text)

    def _report_stale(self, path: str) -> None:
        self.log.warn(f"Unlinking stale socket {path}")

    # -- serving (on the loop) -----------------------------------------------------

    @property
    def serving(self) -> bool:
        return self._serving

    async def start(self) -> None:
        self._serving = True
        # Now, not at bind: the first generation's fcgi groups have claimed theirs.
        self._report_unclaimed()
        for listener in self._listeners:
            await self._serve(listener)

    async def _serve(self, listener: _Listener) -> None:
        async def handle(request: wire.Request) -> wire.StreamResponse:
            return await self._handle(listener.config, request)

        def first_connection() -> asyncio.Protocol:
            # The protocol factory: makes the HTTP server when a client first connects.
            if listener.web_server is None:
                listener.web_server = wire.Server(handle, self._report_http, keepalive_timeout=KEEPALIVE_TIMEOUT)
            return listener.web_server()

        loop = asyncio.get_running_loop()
        sock = listener.bound.sock
        if listener.config.family == "unix":
            unix_kwargs: dict[str, Any] = {}
            if listener.bound.inherited and _UNIX_SERVER_CLEANS_UP:
                unix_kwargs["cleanup_socket"] = False
            server = await loop.create_unix_server(first_connection, sock=sock, backlog=sockets.BACKLOG, **unix_kwargs)
        else:
            server = await loop.create_server(first_connection, sock=sock, backlog=sockets.BACKLOG, ssl=listener.tls)
        listener.server = server

    async def reconfigure(self, config: Config) -> None:
        """A new generation: same addresses keep their socket (with the new
        auth and mode), new ones are bound, vanished ones closed."""
        self._set_api(config)
        if self._tails is not None:
            self._tails.retarget()
        self._poke_page()
        old = {listener.bound.key: listener for listener in self._listeners}
        keep: list[_Listener] = []
        for server_config in config.http_servers:
            key = sockets.address_key(server_config)
            listener = old.pop(key, None)
            if listener is not None:
                listener.bound.config = server_config
                self._retls(listener, server_config)
                if server_config.family == "unix" and server_config.path and not listener.bound.inherited:
                    try:
                        sockets.apply_mode(server_config.path, server_config)
                    except (OSError, sockets.ControlSocketError) as exc:
                        self.log.error(f"{server_config.section}: {exc}")
                keep.append(listener)
                self._announce(server_config)
                continue
            try:
                bound = self._bind_one(server_config)
            except sockets.ControlSocketError as exc:
                self.log.critical(str(exc))
                continue
            try:
                listener = _Listener(bound)
            except sockets.ControlSocketError as exc:
                bound.close()
                self.log.critical(str(exc))
                continue
            await self._serve(listener)
            keep.append(listener)
            self._announce(server_config)
        self._listeners = keep
        for listener in old.values():
            self._inherited.release(listener.config.section)
            await self._close_listener(listener, SHUTDOWN_GRACE)
        if old:
            self._report_unclaimed()

    def _retls(self, listener: _Listener, config: HttpServerConfig) -> None:
        if (listener.tls is None) != (not config.certfile or config.family != "inet"):
            self.log.error(
                f"[{config.section}] turning TLS on or off takes a restart of supervisord "
                f"(the listener is not re-bound on a reload)"
            )
        elif listener.tls is not None:
            try:
                tls.reload(listener.tls, config)
            except sockets.ControlSocketError as exc:
                self.log.error(f"{exc}; the previous certificate stays in use")

    async def close(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Stop accepting, end the tails, let in-flight requests finish (for
        up to ``grace`` seconds), remove the socket files."""
        if self._tails is not None:
            self._tails.close()
        if self._ui is not None:
            self._ui.hub.close()
        listeners, self._listeners = self._listeners, []
        await asyncio.gather(*(self._close_listener(listener, grace) for listener in listeners))

    async def _close_listener(self, listener: _Listener, grace: float) -> None:
        if listener.server is not None and listener.bound.config.family == "unix":
            # Unlink first, then take in who connected before that: closing
            # the listener with clients in its backlog would reset them.
            listener.bound.remove_file()
            await asyncio.sleep(ACCEPT_PENDING)
        if listener.server is not None:
            listener.server.close()
        listener.bound.close()
        if listener.web_server is not None:
            # Idle keep-alive connections close now; ones with a request in
            # flight close once it is answered (within the grace).
            try:
                await asyncio.wait_for(listener.web_server.shutdown(grace), grace + 1.0)
            except asyncio.TimeoutError:
                pass
        if listener.server is not None:
            try:
                await asyncio.wait_for(listener.server.wait_closed(), 1.0)
            except asyncio.TimeoutError:
                pass

    def close_sockets(self) -> None:
        """Without a loop (start-up failed): just close and unlink."""
        for listener in self._listeners:
            listener.bound.close()
        self._listeners = []

    @property
    def addresses(self) -> list[str]:
        return [listener.bound.describe() for listener in self._listeners]

    # -- requests ------------------------------------------------------------------

    async def _handle(self, config: HttpServerConfig, request: wire.Request) -> wire.StreamResponse:
        if config.family == "inet" and not config.username:
            reason = origin.unknown_host(request.headers.get("Host"), config.allowed_hosts)
            if reason is not None:
                return _refused(421, reason)
        if config.username and not await self.logins.check(
            request.headers.get("Authorization"),
            config.username,
            config.password or "",
            request.remote or "the unix socket",
            config.section,
        ):
            return _unauthorized()
        raw = request.raw_path
        if raw.startswith(("/RPC2", "/logtail", "/mainlogtail")) or _is_action(request):
            reason = origin.foreign_origin(request.headers, request.scheme, request.host)
            if reason is not None:
                if request.path == "/api/action":  # the page's JSON layer answers in JSON
                    return wire.json_response({"ok": False, "message": reason}, status=403)
                return _refused(403, reason)
        if raw.startswith("/RPC2"):
            reason = origin.form_body(request.headers.get("Content-Type", ""))
            if reason is not None:
                return _refused(415, reason)
            return await self._rpc(request)
        if raw.startswith("/logtail"):
            return await self._logtail(request)
        if raw.startswith("/mainlogtail"):
            return await self._mainlogtail(request)
        if request.path == "/ok.html" and request.method in ("GET", "POST"):
            return wire.Response(text="OK", content_type="text/plain")
        if request.path == "/metrics" and request.method == "GET":
            return await self._metrics()
        if self.ui_handler is not None:
            return await self.ui_handler(request)
        return _error(404)

    async def _rpc(self, request: wire.Request) -> wire.StreamResponse:
        if request.method not in ("POST", "PUT"):
            return _error(400)
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(413)
        head = bytearray()  # what the log quotes of the body

        async def read(size: int) -> bytes:
            chunk = await request.content.read(size)
            if len(head) < 200:
                head.extend(chunk[: 200 - len(head)])
            return chunk

        try:
            # Parsed as it arrives, never held whole (see parse_request_stream).
            method, params = await parse_request_stream(read, MAX_BODY)
        except BodyTooLarge:
            return _error(413)
        except ParseError as exc:
            self.log.error(f"XML-RPC request data {bytes(head)!r} is invalid: {exc}")
            return _error(400)
        trace = self.log.enabled_for(TRACE)
        if trace:
            self.log.trace(f"XML-RPC method called: {method}()")
        try:
            try:
                value = await self.registry.call(method, params)
                payload = dump_response(value)
                if trace:
                    self.log.trace(f"XML-RPC method {method}() returned successfully")
            except RPCError as err:
                payload = dump_fault(err.code, err.text)
                if trace:
                    self.log.trace(f"XML-RPC method {method}() returned fault: [{err.code}] {err.text}")
            finally:
                if may_change_state(method):
                    self._poke_page()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - report, answer 500, keep serving
            self.log.critical(
                f"Handling XML-RPC request with data {bytes(head)!r} raised an unexpected "
                f"exception: {traceback.format_exc()}"
            )
            return _error(500)
        try:
            return await _send_xml(request, payload)
        finally:
            # The hand-over's exec, once the answer is written (or the
            # caller went away: the dry run passed, the request stands).
            after = self._after_answer.pop(asyncio.current_task(), None)
            if after is not None:
                after()

    async def _logtail(self, request: wire.Request) -> wire.StreamResponse:
        if request.method != "GET":
            return _error(400)
        path = request.raw_path.split("?", 1)[0]
        if "%" in path:
            path = wire.unquote(path)
        rest = path.lstrip("/")
        _prefix, _, rest = rest.partition("/")
        spec, _, channel = rest.partition("/")
        channel = channel or "stdout"
        control = Control(self._get())
        proc = control.find_process(spec)
        if proc is None or channel not in ("stdout", "stderr"):
            return _error(404)

        def find() -> Any:
            # The same program in whatever generation is current by then.
            return Control(self._get()).output_of(spec, channel)

        logfile = control.log_path(proc, channel)
        if logfile is None:
            journal = control.journal_log(proc, channel)
            if journal is not None:
                return await self.tails.serve_journal(request, journal, find)
        if logfile is None or not (os.path.exists(logfile) or control.auto_log_pending(proc, channel)):
            return _error(404)
        return await self.tails.serve(request, logfile, find)

    async def _metrics(self) -> wire.StreamResponse:
        from . import metrics

        try:
            text = await metrics.render(self.registry)
        except RPCError as err:
            return wire.Response(status=503, text=f"{err.text}\n", content_type="text/plain")
        response = wire.Response(text=text)
        response.headers["Content-Type"] = metrics.CONTENT_TYPE
        return response

    async def _mainlogtail(self, request: wire.Request) -> wire.StreamResponse:
        if request.method != "GET":
            return _error(400)
        path = Control(self._get()).main_log.path
        if path is None or not os.path.exists(path):
            return _error(404)
        return await self.tails.serve(request, path, lambda: Control(self._get()).main_log)


_REASONS = {400: "Bad Request", 404: "Not Found", 413: "Payload Too Large", 500: "Internal Server Error"}


def _error(status: int) -> wire.Response:
    reason = _REASONS.get(status, "Error")
    body = f"<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1></body></html>\n"
    return wire.Response(status=status, text=body, content_type="text/html")


async def _send_xml(request: wire.Request, payload: bytes) -> wire.StreamResponse:
    """Written out as it goes: an answer can be megabytes, and nothing of it
    need stay referenced once written."""
    response = wire.StreamResponse(headers={"Content-Type": "text/xml"})
    response.content_length = len(payload)
    await response.prepare(request)
    await response.write(payload)
    await response.write_eof()
    return response


def _is_action(request: wire.Request) -> bool:
    """The page's requests that change something: its JSON action endpoint
    and stock's ``index.html?action=`` links (``refresh`` only redirects)."""
    if request.path == "/api/action":
        return True
    return request.path in ("/", "/index.html") and request.query.get("action", "refresh") != "refresh"


def _refused(status: int, reason: str) -> wire.Response:
    # No CORS headers, here or anywhere: a foreign page may not read answers.
    return wire.Response(status=status, text=f"{reason}\n", content_type="text/plain")


def _unauthorized() -> wire.Response:
    response = wire.Response(
        status=401,
        body=UNAUTHORIZED_BODY,
        content_type="text/html",
        headers={"WWW-Authenticate": f'Basic realm="{REALM}"'},
    )
    response.force_close()
    return response


