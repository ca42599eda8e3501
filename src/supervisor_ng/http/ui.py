"""The web page: static assets, a small JSON layer, a status stream, and
the stock URLs (``/``, ``index.html?action=...``, ``tail.html``).

Every action and every read but the status table goes through the XML-RPC
registry (see :mod:`.actions`), so the page can do nothing the API cannot,
and does it the same way.  The status table shows getAllProcessInfo's fields,
read from the processes without the API's XML (:mod:`.status_feed`); it is
live over a Server-Sent Events stream woken by the daemon's own state changes
(:mod:`.live`) that sends the whole status once, then only what changed.
Live log tails are the existing
``/logtail`` and ``/mainlogtail`` streams, read by the page with ``fetch``.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from ..rpc.faults import RPCError
from . import actions, wire
from .history import RecordingHub
from .status_feed import StatusFeed, encode, json_array, process_count

if TYPE_CHECKING:
    from ..rpc.registry import Registry

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
KEEPALIVE = 20.0  # seconds between SSE comments; also how soon a vanished client is noticed
COALESCE = 0.05  # a burst of state changes (stop all) becomes one update
TAIL_LIMIT = 1024  # bytes tail.html shows by default, as stock
# Up to this many programs the page arrives with every row already in it, as
# stock's does, for browsers without JavaScript; above it the browser would
# lay out thousands of rows the script then throws away, so the page comes
# with a link to that full table (index.html?rows=all) instead.
STATIC_ROWS_MAX = 500
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")

_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "application/javascript",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}

# index.html?action=... as stock's page links them -> (our action, target override)
_LEGACY = {
    "start": ("start", None),
    "stop": ("stop", None),
    "restart": ("restart", None),
    "clearlog": ("clear", None),
    "stopall": ("stop", "all"),
    "restartall": ("restart", "all"),
    "startall": ("start", "all"),
}


_ROWS_PLACEHOLDER = '<tr class="empty"><td colspan="8">Loading…</td></tr>'
_MESSAGE_PLACEHOLDER = '<div id="message" class="message" hidden></div>'


def _static_row(proc: dict[str, Any]) -> str:
    """One process as a table row with links (the page without JavaScript)."""
    spec = proc["name"] if proc["group"] == proc["name"] else f"{proc['group']}:{proc['name']}"
    q = html.escape(quote(spec))
    state = html.escape(str(proc["statename"]))
    running = proc["statename"] in ("RUNNING", "STARTING", "BACKOFF")
    links = [("restart", "Restart"), ("stop", "Stop")] if running else [("start", "Start")]
    links.append(("clearlog", "Clear log"))
    actions_html = " ".join(
        f'<a href="index.html?processname={q}&amp;action={action}">{label}</a>' for action, label in links
    )
    actions_html += f' <a href="tail.html?processname={q}">Tail</a>'
    return (
        f'<tr><td><span class="badge {state}">{state}</span></td>'
        f"<td>{html.escape(spec)}</td><td>{html.escape(str(proc['description']))}</td>"
        f'<td class="num"></td><td class="num"></td><td class="num"></td><td></td>'
        f"<td>{actions_html}</td></tr>"
    )


def _no_store(response: wire.StreamResponse) -> wire.StreamResponse:
    response.headers["Cache-Control"] = "no-cache"
    return response


def _json(data: Any, status: int = 200) -> wire.Response:
    return _no_store(wire.json_response(data, status=status))  # type: ignore[return-value]


class WebUI:
    def __init__(self, get_registry: Any, get_supervisor: Any) -> None:
        self._registry = get_registry
        self._supervisor = get_supervisor
        self.hub = RecordingHub(get_supervisor)

    @property
    def registry(self) -> Registry:
        return self._registry()

    async def handle(self, request: wire.Request) -> wire.StreamResponse:
        path = request.path
        method = request.method
        if path in ("/", "/index.html") and method in ("GET", "POST", "HEAD"):
            if request.query.get("action"):
                return await self._legacy_action(request)
            return await self._index(
                request.query.get("message", ""), request.query.get("rows") == "all"
            )
        if path == "/tail.html" and method in ("GET", "POST", "HEAD"):
            return await self._tail_page(request)
        if path.startswith("/static/") and method in ("GET", "HEAD"):
            return self._asset(path[len("/static/") :])
        if path == "/api/status" and method == "GET":
            return _json(await self.snapshot())
        if path == "/api/events" and method == "GET":
            return await self._events(request)
        if path == "/api/stats" and method == "GET":
            return await self._stats()
        if path == "/api/channels" and method == "GET":
            return await self._channels(request.query.get("name", ""))
        if path == "/api/action":
            if method != "POST":
                return _json({"ok": False, "message": "POST only"}, 405)
            return await self._action(request)
        raise wire.HTTPNotFound()

    # -- assets ------------------------------------------------------------------

    def _asset(self, name: str) -> wire.StreamResponse:
        # Only plain names of files shipped in web/: no directories, no "..".
        if not name or "/" in name or name.startswith(".") or "\\" in name:
            raise wire.HTTPNotFound()
        path = WEB_DIR / name
        if not path.is_file():
            raise wire.HTTPNotFound()
        content_type = _TYPES.get(path.suffix, "application/octet-stream")
        response = wire.Response(body=path.read_bytes(), content_type=content_type)
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            response.charset = "utf-8"
        return _no_store(response)

    async def _index(self, message: str, all_rows: bool = False) -> wire.StreamResponse:
        """The page with the table already filled in, as stock's page is:
        without JavaScript (curl, a text browser) it still shows every
        program with stock-style action links; the script then takes over.
        Past :data:`STATIC_ROWS_MAX` programs only when asked (``rows=all``)."""
        count = process_count(self._supervisor())
        if count > STATIC_ROWS_MAX and not all_rows:
            rows = (
                f'<tr class="empty"><td colspan="8">{count} programs: '
                '<a href="index.html?rows=all">the whole table</a> '
                "(for a browser without JavaScript; large)</td></tr>"
            )
        else:
            rows = "".join(_static_row(proc) for proc in (await self.snapshot())["processes"])
        if not rows:
            rows = '<tr class="empty"><td colspan="8">No programs.</td></tr>'
        template = (WEB_DIR / "index.html").read_text(encoding="utf-8")
        page = template.replace(_ROWS_PLACEHOLDER, rows, 1)
        if message:  # what an index.html?action=... did (the script shows it too)
            page = page.replace(
                _MESSAGE_PLACEHOLDER, f'<div id="message" class="message">{html.escape(message)}</div>', 1
            )
        return _no_store(wire.Response(text=page, content_type="text/html", charset="utf-8"))

    # -- reads ---------------------------------------------------------------------

    async def snapshot(self) -> dict[str, Any]:
        """What the status table shows: the fields of getAllProcessInfo,
        read from the processes in slices (see :mod:`.status_feed`)."""
        return await StatusFeed(self._supervisor, self.hub.exits).whole()

    async def _stats(self) -> wire.StreamResponse:
        try:
            procs = await self.registry.call("ng.getAllProcessStats", [])
            daemon = await self.registry.call("ng.getDaemonStats", [])
        except RPCError as exc:
            return _json({"ok": False, "message": exc.text}, 503)
        # Thousands of rows: encoded in turns, not in one json.dumps.
        rows = await json_array(procs)
        body = f'{{"ok":true,"daemon":{json.dumps(daemon, default=str)},"processes":{rows}}}'
        response = wire.Response(text=body, content_type="application/json")
        return _no_store(response)

    async def _redirects_stderr(self, name: str) -> bool:
        """Whether ``name`` (``group:name`` or a lone program's name) sends
        its stderr into its stdout, so that there is no stderr log to show."""
        group, _, proc = name.partition(":")
        proc = proc or group
        for conf in await self.registry.call("supervisor.getAllConfigInfo", []):
            if conf["group"] == group and conf["name"] == proc:
                return bool(conf.get("redirect_stderr"))
        return False

    async def _channels(self, name: str) -> wire.StreamResponse:
        try:
            redirected = await self._redirects_stderr(name)
        except RPCError as exc:
            return _json({"ok": False, "message": exc.text}, 503)
        return _json({"ok": True, "redirect_stderr": redirected})

    async def _events(self, request: wire.Request) -> wire.StreamResponse:
        response = wire.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        wake = self.hub.open()
        feed = StatusFeed(self._supervisor, self.hub.exits)
        try:
            await response.write(b"retry: 1000\n\n")
            procs, rescan = wake.take()
            while not self.hub.closing:
                # The whole status first, then only what changed since.
                event = await feed.next(procs, rescan)
                if event is not None:
                    await response.write(await encode(*event))
                try:
                    await asyncio.wait_for(wake.wait(), KEEPALIVE)
                except asyncio.TimeoutError:
                    await response.write(b": keepalive\n\n")
                    procs, rescan = set(), False
                    continue
                await asyncio.sleep(COALESCE)
                procs, rescan = wake.take()
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the browser went away
        finally:
            self.hub.release(wake)
        return response

    # -- actions -------------------------------------------------------------------

    async def _action(self, request: wire.Request) -> wire.StreamResponse:
        # A JSON body cannot be sent cross-site without a CORS preflight we
        # never answer, and a browser's Origin must be ours: together that
        # keeps other sites from driving the daemon with the user's
        # cached Basic credentials.
        if request.content_type != "application/json":
            return _json({"ok": False, "message": "expected application/json"}, 415)
        origin = request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.host:
            return _json({"ok": False, "message": "cross-origin request refused"}, 403)
        try:
            body = await request.json()
        except ValueError:
            return _json({"ok": False, "message": "invalid JSON"}, 400)
        if not isinstance(body, dict):
            return _json({"ok": False, "message": "expected an object"}, 400)
        try:
            outcome = await actions.run(
                self.registry,
                str(body.get("action", "")),
                str(body.get("target", "")),
                None if body.get("signal") is None else str(body.get("signal")),
            )
        except actions.ActionError as exc:
            return _json({"ok": False, "message": str(exc)}, 400)
        finally:
            self.hub.poke()
        return _json(outcome.as_json())

    async def _legacy_action(self, request: wire.Request) -> wire.StreamResponse:
        """``index.html?action=...&processname=...``: do it, then redirect to
        the page with a message, as bookmarks and scripts expect."""
        action = request.query.get("action", "")
        name = request.query.get("processname", "")
        if action == "refresh":
            message = f"Page refreshed at {time.ctime()}"
        elif action in _LEGACY:
            ours, target = _LEGACY[action]
            try:
                outcome = await actions.run(self.registry, ours, target or name)
            except actions.ActionError as exc:
                raise wire.HTTPBadRequest(text=f"{exc}\n") from None
            finally:
                self.hub.poke()
            message = outcome.message
            if target == "all":
                message = f"{message} (at {time.ctime()})"
        else:
            raise wire.HTTPBadRequest(text=f"unknown action {action!r}\n")
        location = f"/?message={quote(message)}"
        if request.host:
            location = f"{request.scheme}://{request.host}{location}"
        response = wire.Response(
            status=301, headers={"Location": location}, text="", content_type="text/plain"
        )
        return _no_store(response)

    # -- tail.html ---------------------------------------------------------------------

    async def _tail_page(self, request: wire.Request) -> wire.StreamResponse:
        name = request.query.get("processname", "")
        channel = "stderr" if request.query.get("channel") == "stderr" else "stdout"
        try:
            limit = max(1, min(int(request.query.get("limit", TAIL_LIMIT)), 1 << 20))
        except ValueError:
            limit = TAIL_LIMIT
        status = 200
        text = ""
        error = ""
        redirected = False
        if name:
            try:
                redirected = await self._redirects_stderr(name)
            except RPCError:
                pass  # reading the log below says what is wrong
        if not name:
            error, status = "No process given (processname=...).", 404
        elif redirected and channel == "stderr":
            error = f"The stderr of {name} is redirected to its stdout (redirect_stderr=true): see stdout."
        else:
            method = (
                "supervisor.readProcessStdoutLog"
                if channel == "stdout"
                else "supervisor.readProcessStderrLog"
            )
            try:
                text = await self.registry.call(method, [name, -limit, 0])
            except RPCError as exc:
                if exc.code == 10:  # BAD_NAME
                    error, status = f"No such process: {name}", 404
                elif exc.code == 20:  # NO_FILE: no log file yet, or none at all
                    text = ""
                else:
                    error = exc.text
        values = {
            "name": html.escape(name),
            "qname": html.escape(quote(name)),
            "channel": channel,
            "error": html.escape(error),
            "text": html.escape(text),
            "stderr_hidden": "hidden" if redirected else "",
        }
        template = (WEB_DIR / "tail.html").read_text(encoding="utf-8")
        page = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), template)
        return _no_store(
            wire.Response(status=status, text=page, content_type="text/html", charset="utf-8")
        )
