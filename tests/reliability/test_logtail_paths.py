"""Log tail URLs with ``..``, odd process names and percent-encoding: a tail
only ever serves the log of a configured process (or the daemon's own log
for /mainlogtail), found by name, never a path built from the URL."""

from __future__ import annotations

import socket
import time
from urllib.parse import quote

from .conftest import figures
from .rawhttp import connect, status_of

# process name -> the line it prints (process_name is expanded, so % is %%).
NAMES = {
    "plain": "plain",
    "dot.dot..name": "dot.dot..name",
    "p%41": "p%%41",
    "é-ü": "é-ü",
    "a&b=c": "a&b=c",
    "q?x": "q?x",
    "hash#1": "hash#1",
    "..": "..",
}


def programs() -> str:
    out = []
    for i, spelled in enumerate(NAMES.values()):
        out.append(
            f"[program:p{i}]\nprocess_name={spelled}\n"
            f"command=sh -c 'echo MARK-{i}; echo ERR-{i} >&2; exec sleep 1000'\nstartsecs=0\n"
        )
    return "\n".join(out)


def tail(address: str, target: str, timeout: float = 2.0) -> tuple[int | None, bytes]:
    """Status and whatever body arrives within ``timeout`` (tails never end)."""
    sock = connect(address, timeout)
    got = b""
    try:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode("utf-8", "surrogateescape"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            got += chunk
            head, sep, body = got.partition(b"\r\n\r\n")
            if sep and (b"MARK-" in body or b"ERR-" in body or b"Content-Length" in head):
                if b"Content-Length" not in head or len(body) >= int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0]):
                    break
    finally:
        sock.close()
    return status_of(got), got.partition(b"\r\n\r\n")[2]


TRAVERSALS = [
    "/logtail/../supervisord.log",
    "/logtail/..%2fsupervisord.log",
    "/logtail/..%2f..%2f..%2fetc%2fpasswd",
    "/logtail/%2e%2e/%2e%2e/etc/passwd",
    "/logtail/%252e%252e%252fetc%252fpasswd",
    "/logtail/plain/../../../../etc/passwd",
    "/logtail/plain/..%2f..%2fetc%2fpasswd",
    "/logtail/plain/stdout/../../../etc/passwd",
    "/logtail/plain/%2e%2e",
    "/logtail/plain/STDOUT",
    "/logtail/plain/stdin",
    "/logtail/plain%00",
    "/logtail/plain%00/../../etc/passwd",
    "/logtail//etc/passwd",
    "/logtail/%2fetc%2fpasswd",
    "/logtail/plain:plain/stdout",
    "/logtail/p0:*",
    "/logtail/p0:",
    "/logtail/:",
    "/logtail/",
    "/logtail",
    "/logtail/nope",
    "/logtail/%ff%fe",
    "/logtail/%",
    "/logtail/%zz",
    "/logtail/" + "a" * 5000,
    "/logtailx/../../etc/passwd",
    "/mainlogtail/../../etc/passwd",
    "/mainlogtail%2f..%2f..%2fetc%2fpasswd",
]


def test_odd_names_are_served_when_percent_encoded(daemon_factory) -> None:
    d = daemon_factory(programs())
    d.wait_all(timeout=15)
    path = str(d.sock)
    served = 0
    for i, name in enumerate(NAMES):
        spec = f"p{i}:{name}"
        for channel, mark in (("", b"MARK-%d" % i), ("/stdout", b"MARK-%d" % i), ("/stderr", b"ERR-%d" % i)):
            status, body = tail(path, "/logtail/" + quote(spec, safe="") + channel)
            assert status == 200 and mark in body, (spec, channel, status, body[:200])
            served += 1
    figures("logtail_odd_names", names=len(NAMES), tails_served=served)


def test_traversal_and_garbage_paths_never_escape(daemon_factory) -> None:
    d = daemon_factory(programs())
    d.wait_all(timeout=15)
    path = str(d.sock)
    statuses = {}
    for target in TRAVERSALS:
        status, body = tail(path, target)
        statuses[target] = status
        assert b"root:x:0:0" not in body, target
        assert status is not None, target
        if target.startswith("/mainlogtail"):
            # Stock routes by prefix: that is the daemon's own log, nothing else.
            assert status in (200, 404), target
        elif status == 200:
            # Only ever a configured process's own log.
            assert b"MARK-" in body or b"ERR-" in body, (target, body[:200])
        else:
            assert 400 <= status < 500, (target, status)
    assert d.rpc.supervisor.getState()["statename"] == "RUNNING"
    figures(
        "logtail_traversal",
        paths_tried=len(TRAVERSALS),
        answered_200=sorted(t for t, s in statuses.items() if s == 200),
        statuses=sorted({s for s in statuses.values()}),
    )
