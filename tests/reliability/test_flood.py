"""Floods and clients that never read.

- A program writing to stdout as fast as it can while another is restarted
  over and over: control calls still answer promptly.
- ``tail -f`` clients (/logtail, /mainlogtail, the page's /api/events) that
  connect and never read while output floods: the daemon does not buffer
  for them without bound.
- An event listener that never reads its stdin: events wait in the pool's
  buffer (bounded by buffer_size, overflow logged), not in memory at large.
"""

from __future__ import annotations

import socket
import statistics
import sys
import time
from pathlib import Path

import psutil
import pytest

from .conftest import env_int, figures
from .rawhttp import MIB, connect, rss

pytestmark = pytest.mark.slow

FLOODER = "import sys\nline = 'x' * 1000 + '\\n'\nwhile True:\n    sys.stdout.write(line)\n"


def flood(tmp_path: Path) -> str:
    script = tmp_path / "flooder.py"
    script.write_text(FLOODER)
    return (
        f"[program:flood]\ncommand={sys.executable} {script}\nstartsecs=0\n"
        "stdout_logfile=%(here)s/flood.log\nstdout_logfile_maxbytes=5MB\nstdout_logfile_backups=1\n"
    )


def _grow(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def test_control_calls_answer_while_a_program_floods_and_another_restarts(daemon_factory, tmp_path: Path) -> None:
    seconds = env_int("FLOOD_SECONDS", 15)
    d = daemon_factory(
        flood(tmp_path)
        + "\n[program:victim]\ncommand=sleep 1000\nstartsecs=0\nstopwaitsecs=2\n"
    )
    d.wait_all(timeout=15)
    proxy = d.proxy(timeout=30)
    flooder = psutil.Process(proxy.supervisor.getProcessInfo("flood")["pid"])
    written_before = flooder.io_counters().write_chars
    timings: dict[str, list[float]] = {"stopProcess": [], "startProcess": [], "getAllProcessInfo": []}
    restarts = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for method, args in (("stopProcess", ("victim",)), ("startProcess", ("victim",)), ("getAllProcessInfo", ())):
            start = time.monotonic()
            getattr(proxy.supervisor, method)(*args)
            timings[method].append(time.monotonic() - start)
        restarts += 1
    flooded = flooder.io_counters().write_chars - written_before
    all_calls = [t for ts in timings.values() for t in ts]
    figures(
        "flood_control_latency",
        seconds=seconds,
        restarts=restarts,
        calls=len(all_calls),
        median_ms=round(statistics.median(all_calls) * 1000, 1),
        max_ms=round(max(all_calls) * 1000, 1),
        **{f"{m}_max_ms": round(max(ts) * 1000, 1) for m, ts in timings.items()},
        flood_mib_per_s=round(flooded / MIB / seconds, 1),
    )
    assert restarts > 10
    assert max(all_calls) < 5.0
    assert d.state("flood") == "RUNNING"


def test_tail_clients_that_never_read_do_not_make_the_daemon_grow(daemon_factory, tmp_path: Path) -> None:
    seconds = env_int("FLOOD_SECONDS", 15)
    d = daemon_factory(flood(tmp_path))
    d.wait_all(timeout=15)
    path = str(d.sock)
    time.sleep(1)
    before = rss(d.pid)
    stalled: list[socket.socket] = []
    try:
        for target in ("/logtail/flood", "/logtail/flood/stdout", "/mainlogtail", "/api/events") * 3:
            s = connect(path)
            # The smallest receive buffer: the daemon's writes back up at once.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            stalled.append(s)
        # The main log moves too: restarts of the flooding program.
        samples = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            d.proxy(timeout=30).supervisor.getState()
            samples.append(rss(d.pid))
            time.sleep(0.5)
        after = rss(d.pid)
        assert d.proxy(timeout=10).supervisor.getState()["statename"] == "RUNNING"
    finally:
        for s in stalled:
            s.close()
    figures(
        "stalled_tail_clients",
        clients=len(stalled),
        seconds=seconds,
        flood_log_bytes=_grow(d.workdir / "flood.log"),
        rss_before_mib=round(before / MIB, 1),
        rss_max_mib=round(max(samples) / MIB, 1),
        rss_after_mib=round(after / MIB, 1),
    )
    assert max(samples) - before < 50 * MIB
    # The closed clients' tails end; a fresh one works.
    d.wait_until(lambda: d.proxy().supervisor.getState(), timeout=5)


def test_event_listener_that_never_reads_is_bounded_by_its_buffer(daemon_factory, tmp_path: Path) -> None:
    listener = tmp_path / "deaf_listener.py"
    listener.write_text(
        "import sys, time\n"
        "sys.stdout.write('READY\\n'); sys.stdout.flush()\n"
        "time.sleep(100000)\n"  # never reads stdin, never answers
    )
    d = daemon_factory(
        f"[eventlistener:deaf]\ncommand={sys.executable} {listener}\nevents=REMOTE_COMMUNICATION\n"
        "buffer_size=10\nstartsecs=0\n"
    )
    d.wait_all(timeout=15)
    proxy = d.proxy(timeout=30)
    before = rss(d.pid)
    payload = "y" * (1024 * 1024)
    sent = 100
    for _ in range(sent):
        proxy.supervisor.sendRemoteCommEvent("flood", payload)
    after = rss(d.pid)
    overflows = d.read_log().count("event buffer overflowed")
    figures(
        "deaf_listener",
        events_sent=sent,
        event_bytes=len(payload),
        buffer_size=10,
        overflow_messages=overflows,
        rss_before_mib=round(before / MIB, 1),
        rss_after_mib=round(after / MIB, 1),
    )
    # One event in the pipe/being written, ten in the buffer: the rest dropped.
    assert overflows >= sent - 12
    assert after - before < 40 * MIB
    assert proxy.supervisor.getState()["statename"] == "RUNNING"
