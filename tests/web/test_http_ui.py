"""The page's HTTP surface without a browser: stock URLs, the JSON layer,
the status stream, assets, auth."""

from __future__ import annotations

import base64
import http.client
import json
import re
from urllib.parse import unquote

import psutil
import pytest

from tests.daemon_harness import Daemon, http_request

PROGRAMS = """
[program:cat]
command=cat
startsecs=0

[program:sleeper]
command=sleep 1000
startsecs=0

[program:w1]
command=sleep 1000
startsecs=0

[group:workers]
programs=w1
"""


@pytest.fixture
def d(daemon_factory) -> Daemon:
    daemon = daemon_factory(PROGRAMS, inet=True)
    daemon.wait_all()
    return daemon


def get(d: Daemon, path: str, **kw):
    return http_request(path, port=d.port, **kw)


def post_json(d: Daemon, body: object, headers: dict | None = None):
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    status, _h, data = http_request(
        "/api/action", port=d.port, method="POST", body=json.dumps(body).encode(), headers=hdrs
    )
    return status, json.loads(data)


def _message(headers: dict[str, str]) -> str:
    location = headers["location"]
    assert "/?message=" in location
    return unquote(location.split("?message=", 1)[1])


def test_stock_index_actions(d: Daemon):
    status, headers, _ = get(d, "/index.html?action=stop&processname=sleeper")
    assert status == 301
    assert "sleeper: stopped" in _message(headers)
    assert headers["location"].startswith(f"http://127.0.0.1:{d.port}/?message=")
    assert d.state("sleeper") == "STOPPED"
    status, headers, _ = get(d, "/index.html?action=start&processname=sleeper", method="POST")
    assert status == 301 and "sleeper: started" in _message(headers)
    assert d.state("sleeper") == "RUNNING"
    pid = d.rpc.supervisor.getProcessInfo("sleeper")["pid"]
    status, headers, _ = get(d, "/index.html?action=restart&processname=sleeper")
    assert "sleeper: restarted" in _message(headers)
    assert d.rpc.supervisor.getProcessInfo("sleeper")["pid"] != pid
    status, headers, _ = get(d, "/index.html?action=start&processname=sleeper")
    assert "ERROR (already started)" in _message(headers)
    status, headers, _ = get(d, "/index.html?action=stop&processname=nosuch")
    assert status == 301 and "nosuch: ERROR (no such process)" in _message(headers)
    status, headers, _ = get(d, "/index.html?action=clearlog&processname=cat")
    assert "cat: log cleared" in _message(headers)
    status, headers, _ = get(d, "/?action=stopall")
    assert status == 301
    assert all(p["statename"] == "STOPPED" for p in d.rpc.supervisor.getAllProcessInfo())
    status, headers, _ = get(d, "/?action=restartall")
    assert status == 301
    d.wait_all()
    status, headers, _ = get(d, "/index.html?action=refresh")
    assert status == 301 and "refreshed" in _message(headers)
    status, _h, _b = get(d, "/index.html?action=explode&processname=cat")
    assert status == 400


def test_page_without_javascript_lists_programs_with_stock_links(d: Daemon):
    """What curl or a text browser gets: the table filled in by the server,
    with links that do what stock's page links do."""
    status, _h, body = get(d, "/")
    page = body.decode()
    rows = {m[1]: m[0] for m in re.findall(r'<span class="badge (\w+)">\w+</span></td><td>([^<]+)</td>', page)}
    assert rows == {"cat": "RUNNING", "sleeper": "RUNNING", "workers:w1": "RUNNING"}
    link = "index.html?processname=workers%3Aw1&amp;action=stop"
    assert link in page and "tail.html?processname=workers%3Aw1" in page
    pid = d.rpc.supervisor.getProcessInfo("workers:w1")["pid"]
    status, headers, _ = get(d, "/" + link.replace("&amp;", "&"))
    assert status == 301
    page = get(d, headers["location"].split(str(d.port), 1)[1])[2].decode()
    assert '<div id="message" class="message">workers:w1: stopped</div>' in page
    assert '<span class="badge STOPPED">STOPPED</span></td><td>workers:w1</td>' in page
    assert "index.html?processname=workers%3Aw1&amp;action=start" in page
    assert not psutil.pid_exists(pid)


def test_page_ok_and_assets(d: Daemon):
    status, headers, body = get(d, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"static/app.js" in body and b"http://" not in body and b"https://" not in body  # no CDN
    assert get(d, "/index.html")[0] == 200
    assert get(d, "/ok.html")[2] == b"OK"
    for asset in ("app.js", "app.css", "logstream.js", "icon.svg"):
        assert get(d, f"/static/{asset}")[0] == 200, asset
    for bad in (
        "/static/",
        "/static/../http/ui.py",
        "/static/%2e%2e/__init__.py",
        "/static/.hidden",
        "/nothing",
    ):
        assert get(d, bad)[0] == 404, bad


def test_tail_html(d: Daemon):
    d.rpc.supervisor.sendProcessStdin("cat", "<b>hello</b> tail\n")
    d.wait_until(lambda: "tail" in d.rpc.supervisor.readProcessStdoutLog("cat", 0, 0))
    status, _h, body = get(d, "/tail.html?processname=cat")
    assert status == 200
    assert b"&lt;b&gt;hello&lt;/b&gt; tail" in body and b"<b>hello" not in body
    status, _h, body = get(d, "/tail.html?processname=cat&limit=5")
    assert b"tail\n</pre>" in body and b"hello" not in body
    assert get(d, "/tail.html?processname=nosuch")[0] == 404
    assert get(d, "/tail.html?processname=workers:w1&channel=stderr")[0] == 200


def test_json_actions(d: Daemon):
    status, out = post_json(d, {"action": "stop", "target": "workers:*"})
    assert status == 200 and out["ok"] and out["lines"] == ["workers:w1: stopped"]
    assert d.state("workers:w1") == "STOPPED"
    status, out = post_json(d, {"action": "start", "target": "all"})
    assert out["ok"] and "workers:w1: started" in out["lines"]
    status, out = post_json(d, {"action": "signal", "target": "sleeper", "signal": "KILL"})
    assert out["ok"] and out["lines"] == ["sleeper: signalled"]
    status, out = post_json(d, {"action": "stop", "target": "nosuch"})
    assert status == 200 and not out["ok"] and out["lines"] == ["nosuch: ERROR (no such process)"]
    status, out = post_json(d, {"action": "dance", "target": "cat"})
    assert status == 400 and not out["ok"]
    status, out = post_json(d, {"action": "reread"})
    assert out["lines"] == ["No config updates to processes"]


def test_json_layer_refuses_cross_site_requests(d: Daemon):
    status, out = post_json(
        d, {"action": "stop", "target": "cat"}, {"Origin": "http://evil.example"}
    )
    assert status == 403
    status, _h, _b = http_request(
        "/api/action",
        port=d.port,
        method="POST",
        body=b"action=stop&target=cat",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 415
    assert get(d, "/api/action")[0] == 405
    assert d.state("cat") == "RUNNING"
    status, out = post_json(
        d, {"action": "stop", "target": "cat"}, {"Origin": f"http://127.0.0.1:{d.port}"}
    )
    assert status == 200 and out["ok"]


def _read_event(resp: http.client.HTTPResponse) -> tuple[str, dict]:
    """The next event of an SSE stream, (name, data) (read raw: the
    chunk-size lines in between are skipped, each event is one chunk)."""
    kind, data = "message", None
    while True:
        line = resp.fp.readline().decode()
        if line.startswith("event: "):
            kind = line[7:].strip()
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "\n" and data is not None:
            return kind, data


class StreamView:
    """What a page makes of the status stream: the whole status, then updates
    applied to it.  Remembers the last update's size and the programs it named."""

    def __init__(self, resp: http.client.HTTPResponse) -> None:
        self.resp = resp
        kind, first = _read_event(resp)
        assert kind == "status", kind
        self.daemon = {k: v for k, v in first.items() if k != "processes"}
        self.procs = {f"{p['group']}:{p['name']}": p for p in first["processes"]}
        self.named: set[str] = set()
        self.removed: list[str] = []

    def next(self) -> dict:
        kind, data = _read_event(self.resp)
        assert kind == "update", (kind, sorted(data))
        self.named = {f"{p['group']}:{p['name']}" for p in data.get("processes", [])}
        self.removed = data.get("removed", [])
        for p in data.get("processes", []):
            self.procs[f"{p['group']}:{p['name']}"] = p
        for key in self.removed:
            del self.procs[key]
        self.daemon.update({k: v for k, v in data.items() if k not in ("processes", "removed")})
        return data

    def states(self) -> dict[str, str]:
        return {key: p["statename"] for key, p in self.procs.items()}


def test_status_stream_follows_state_changes(d: Daemon):
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=15)
    try:
        conn.request("GET", "/api/events")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/event-stream")
        view = StreamView(resp)
        assert view.states() == {"cat:cat": "RUNNING", "sleeper:sleeper": "RUNNING", "workers:w1": "RUNNING"}
        assert view.daemon["counts"] == {"RUNNING": 3}
        d.rpc.supervisor.stopProcess("sleeper")
        while True:  # STOPPING may come first
            view.next()
            # Only the program that changed is sent, never the whole table.
            assert view.named <= {"sleeper:sleeper"} and not view.removed
            if view.states()["sleeper:sleeper"] == "STOPPED":
                break
            assert view.states()["sleeper:sleeper"] == "STOPPING"
        assert view.states() == {"cat:cat": "RUNNING", "sleeper:sleeper": "STOPPED", "workers:w1": "RUNNING"}
        assert view.daemon["counts"] == {"RUNNING": 2, "STOPPED": 1}
    finally:
        conn.close()


def test_status_stream_names_removed_and_added_groups(d: Daemon):
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=15)
    try:
        conn.request("GET", "/api/events")
        view = StreamView(conn.getresponse())
        d.write_programs(PROGRAMS.replace("[group:workers]\nprograms=w1\n", ""))
        result = d.ctl("update")
        assert result.returncode == 0, result
        # w1 leaves its group for a group of its own: "workers" goes away.
        while "workers:w1" in view.procs or "w1:w1" not in view.procs:
            view.next()
            assert not view.named & {"cat:cat", "sleeper:sleeper"}
        d.wait_state("w1", "RUNNING")
        while view.states()["w1:w1"] != "RUNNING":
            view.next()
        assert view.states() == {"cat:cat": "RUNNING", "sleeper:sleeper": "RUNNING", "w1:w1": "RUNNING"}
        assert view.daemon["counts"] == {"RUNNING": 3}
    finally:
        conn.close()


def test_page_and_metrics_behind_auth(daemon_factory):
    d = daemon_factory(PROGRAMS, inet=True, auth=("admin", "pw"))
    good = {"Authorization": "Basic " + base64.b64encode(b"admin:pw").decode()}
    bad = {"Authorization": "Basic " + base64.b64encode(b"admin:nope").decode()}
    for path in (
        "/",
        "/index.html?action=stop&processname=cat",
        "/tail.html?processname=cat",
        "/metrics",
        "/api/status",
        "/api/stats",
        "/static/app.js",
    ):
        assert get(d, path)[0] == 401, path
        assert get(d, path, headers=bad)[0] == 401, path
    assert d.state("cat") == "RUNNING"
    assert get(d, "/metrics", headers=good)[0] == 200
    assert get(d, "/", headers=good)[0] == 200
    status, _h, _b = http_request("/metrics", sock_path=str(d.sock), headers=good)
    assert status == 200
    assert http_request("/metrics", sock_path=str(d.sock))[0] == 401


def _open_stream(d: Daemon) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=15)
    conn.request("GET", "/api/events")
    resp = conn.getresponse()
    assert resp.status == 200
    return conn, resp


def test_status_stream_survives_a_daemon_restart(d: Daemon):
    conn, resp = _open_stream(d)
    try:
        view = StreamView(resp)
        d.rpc.supervisor.restart()
        d.wait_until(lambda: _running_all(d), what="the new generation")
        d.rpc.supervisor.stopProcess("cat")
        while True:
            kind, event = _read_event(resp)
            if kind == "status":  # a new generation: the whole status again
                view.procs = {f"{p['group']}:{p['name']}": p for p in event["processes"]}
            for p in event.get("processes", []):
                view.procs[f"{p['group']}:{p['name']}"] = p
            if view.states().get("cat:cat") == "STOPPED":
                break
    finally:
        conn.close()


def _running_all(d: Daemon) -> bool:
    try:
        return all(p["statename"] == "RUNNING" for p in d.rpc.supervisor.getAllProcessInfo())
    except Exception:  # noqa: BLE001 - restarting
        return False


def test_open_streams_do_not_hold_up_shutdown(d: Daemon):
    conn, resp = _open_stream(d)
    StreamView(resp)
    tail = http.client.HTTPConnection("127.0.0.1", d.port, timeout=15)
    tail.request("GET", "/mainlogtail")
    assert tail.getresponse().status == 200
    try:
        assert d.stop() == 0
        while resp.fp.readline():  # the stream ends (a hang would time out)
            pass
    finally:
        conn.close()
        tail.close()
