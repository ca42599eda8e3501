#!/usr/bin/env python3
"""The programs of examples/dependencies.conf: a "database", a one-shot
"migration" and a "web worker", standard library only.

    readiness_demo.py db PORT        listens on PORT after a slow start (ready=tcp)
    readiness_demo.py migrate        works a moment, says READY=1, exits 0
    readiness_demo.py web PORT       serves GET /health on PORT, says READY=1 once
                                     listening, pings WATCHDOG=1 while it serves

The sd_notify datagrams are sent from this process itself: the daemon
matches a datagram to a program by the sender's pid, so a helper that exits
at once (systemd-notify) could be gone before the daemon asks who it was.
"""

from __future__ import annotations

import http.server
import os
import socket
import sys
import threading
import time


def notify(*fields: str) -> None:
    """Send one sd_notify datagram to $NOTIFY_SOCKET (nothing without it)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):  # the abstract namespace
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto("\n".join(fields).encode(), address)


def db(port: int) -> None:
    print("db: loading data", flush=True)
    time.sleep(2)  # a slow start: ready=tcp waits for the port, not startsecs
    server = socket.create_server(("127.0.0.1", port))
    print(f"db: accepting connections on {port}", flush=True)
    while True:
        conn, _ = server.accept()
        conn.close()


def migrate() -> None:
    print("migrate: applying migrations", flush=True)
    time.sleep(1)
    print("migrate: done", flush=True)
    # Ready = done: dependents start now, and the exit (0, expected) follows.
    notify("READY=1", "STATUS=migrations applied")


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the http.server naming)
        ok = self.path == "/health"
        self.send_response(200 if ok else 404)
        self.end_headers()
        self.wfile.write(b"ok\n" if ok else b"not found\n")

    def log_message(self, format: str, *args: object) -> None:
        pass  # a health check every few seconds would fill the log


def web(port: int) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"web: serving on {port}", flush=True)
    notify("READY=1", f"STATUS=serving on port {port}")
    # Ping at half the period the daemon asked for (WATCHDOG_USEC), as
    # systemd recommends; a hung main loop would stop the pings.
    period = int(os.environ.get("WATCHDOG_USEC", "0")) / 1e6
    while True:
        time.sleep(period / 2 if period else 60)
        if period:
            notify("WATCHDOG=1")


def main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[1] == "db":
        db(int(argv[2]))
    elif len(argv) == 2 and argv[1] == "migrate":
        migrate()
    elif len(argv) == 3 and argv[1] == "web":
        web(int(argv[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
