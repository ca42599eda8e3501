"""A page on another port of 127.0.0.1 tries to drive the daemon through the
operator's browser (issue 20): an <img> to a stock action URL, an
auto-submitted text/plain form to /RPC2, a no-cors fetch to /api/action.
The program must still be RUNNING afterwards."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from tests.daemon_harness import free_port

PROGRAMS = """
[program:sleeper]
command=sleep 1000
startsecs=0
"""

ATTACK = """<!doctype html>
<html><body>
<iframe name="sink" id="sink"></iframe>
<form id="rpc" method="POST" enctype="text/plain" target="sink" action="{target}/RPC2">
<input name="<?xml version" value="'1.0'?><methodCall><methodName>supervisor.stopProcess</methodName><params><param><value><string>sleeper</string></value></param></params></methodCall>">
</form>
<script>
const done = {{img: false, form: false, fetch: false}};
function finish(what) {{
  done[what] = true;
  if (done.img && done.form && done.fetch) document.title = "attempted";
}}
const img = new Image();
img.onload = img.onerror = () => finish("img");
img.src = "{target}/index.html?processname=sleeper&action=stop";
document.getElementById("sink").addEventListener("load", () => finish("form"));
document.getElementById("rpc").submit();
fetch("{target}/api/action", {{method: "POST", mode: "no-cors", credentials: "include",
  body: JSON.stringify({{action: "stop", target: "sleeper"}})}})
  .then(() => finish("fetch"), () => finish("fetch"));
</script>
</body></html>
"""


class _Attacker:
    """The other site: one page, served from another port on 127.0.0.1."""

    def __init__(self, page: str) -> None:
        body = page.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def attacker_for() -> Iterator:
    made: list[_Attacker] = []

    def make(target: str) -> _Attacker:
        made.append(_Attacker(ATTACK.format(target=target)))
        return made[-1]

    yield make
    for a in made:
        a.close()


@pytest.mark.parametrize("auth", [None, ("admin", "s3cret")], ids=["no-auth", "auth"])
def test_another_site_cannot_stop_programs(daemon_factory, browser, attacker_for, shoot, auth):
    d = daemon_factory(PROGRAMS, inet=True, auth=auth)
    d.wait_state("sleeper", "RUNNING")
    target = f"http://127.0.0.1:{d.port}"
    attacker = attacker_for(target)
    options = {}
    if auth is not None:  # the operator's browser has the credentials cached
        options["http_credentials"] = {"username": auth[0], "password": auth[1]}
    context = browser.new_context(**options)
    try:
        # The operator has the page open, so the browser is "logged in".
        assert context.new_page().goto(target + "/").status == 200
        page = context.new_page()
        page.goto(attacker.url)
        page.wait_for_function("document.title === 'attempted'", timeout=20_000)
        shoot(page, "attacker")
    finally:
        context.close()
    log = d.read_log()
    assert d.state("sleeper") == "RUNNING", log
    assert "stopped: sleeper" not in log
