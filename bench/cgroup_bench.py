"""Issue 17: cgroup mode against psutil mode against stock.

- ``stop``: ``stopAllProcesses`` of 200 programs, each a shell that keeps
  a child, with ``stopasgroup=true``;
- ``metrics``: ``GET /metrics`` and ``ng.getAllProcessStats`` with 1000
  programs, and the worst wait of a ``getState`` ping (every 10 ms, its own
  connection) overlapping one of them, i.e. about the longest loop turn
  (ours only: stock has neither); the worst ping between requests is the
  floor of that figure on the machine at the time.

Ours runs twice: in cgroup mode (root on a writable unified hierarchy) and
with ``SUPERVISOR_NG_CGROUP=off`` (psutil mode).  Goal: both figures at
least 5x better in cgroup mode than in psutil mode, no turn over 20 ms.

    sudo .venv/bin/python bench/cgroup_bench.py [--quick] [--only stop|metrics]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from daemons import Supervisord, become_subreaper, launch  # noqa: E402
from supconf import SOCKET_NAME, write_config  # noqa: E402
from unixrpc import unix_server_proxy  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OURS = REPO / ".venv" / "bin" / "supervisord"
STOCK = REPO / ".venv-stock" / "bin" / "supervisord"
TREE = "sh -c 'sleep 100000 & wait'"  # a main process with a child: a tree to stop


def _programs(count: int, **extra: str) -> dict[str, dict[str, str]]:
    return {f"p{i:04d}": {"command": TREE, "startsecs": "0", **extra} for i in range(count)}


def _get_metrics(sock: str) -> float:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)
    s.connect(sock)
    conn = http.client.HTTPConnection("localhost")
    conn.sock = s
    began = time.perf_counter()
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, resp.status
    finally:
        conn.close()
    return time.perf_counter() - began


def _with_mode(cgroup: bool):
    if cgroup:
        os.environ.pop("SUPERVISOR_NG_CGROUP", None)
    else:
        os.environ["SUPERVISOR_NG_CGROUP"] = "off"


def stop_bench(daemon: Supervisord, count: int, cgroup: bool) -> float:
    _with_mode(cgroup)
    with tempfile.TemporaryDirectory(prefix="cgbench-") as tmp:
        workdir = Path(tmp)
        conf = write_config(workdir, _programs(count, stopasgroup="true", stopwaitsecs="10"))
        with launch(daemon, conf, workdir) as d:
            d.wait_answering()
            d.wait_all_running(count, timeout=300)
            rpc = unix_server_proxy(str(workdir / SOCKET_NAME), timeout=300)
            began = time.perf_counter()
            rpc.supervisor.stopAllProcesses()
            return time.perf_counter() - began


def _ping(sock: str, done: Any, out: Any) -> None:
    rpc = unix_server_proxy(sock)
    pings = []
    while not done.is_set():
        began = time.perf_counter()
        rpc.supervisor.getState()
        pings.append((began, time.perf_counter()))
        time.sleep(0.010)
    out.send(pings)


class _Pinger:
    """``getState`` every 10 ms on its own connection, each timed: a ping
    that overlaps a request waited for the loop turns that request took.  A
    process of its own: in a thread it would wait for the bench's GIL while
    the bench parses a large answer, and time the bench, not the daemon."""

    def __init__(self, sock: str) -> None:
        context = multiprocessing.get_context("fork")
        self._done = context.Event()
        self._results, sender = context.Pipe(duplex=False)
        self._process = context.Process(target=_ping, args=(sock, self._done, sender), daemon=True)
        # (sent, answered), perf_counter: CLOCK_MONOTONIC, the same in every process
        self.pings: list[tuple[float, float]] = []

    def __enter__(self) -> _Pinger:
        self._process.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self.pings = self._results.recv()
        self._process.join()

    def worst(self, spans: list[tuple[float, float]], during: bool) -> float:
        """Longest ping that overlaps one of ``spans`` (``during``), or none of them."""
        waits = [
            end - began
            for began, end in self.pings
            if any(began < stop and end > start for start, stop in spans) == during
        ]
        return max(waits, default=0.0)


def _timed(spans: list[tuple[float, float]], request) -> float:  # noqa: ANN001 - a callable
    began = time.perf_counter()
    request()
    spans.append((began, time.perf_counter()))
    return spans[-1][1] - began


def metrics_bench(count: int, cgroup: bool, rounds: int) -> dict[str, float]:
    """Median time of /metrics and of ng.getAllProcessStats (XML-RPC), the
    worst getState ping during each, and the worst ping between requests
    (the noise floor of this machine: scheduling, the bench's own GIL)."""
    _with_mode(cgroup)
    with tempfile.TemporaryDirectory(prefix="cgbench-") as tmp:
        workdir = Path(tmp)
        conf = write_config(workdir, _programs(count))
        with launch(Supervisord("ours", "ours", OURS), conf, workdir) as d:
            d.wait_answering()
            d.wait_all_running(count, timeout=600)
            sock = str(workdir / SOCKET_NAME)
            rpc = unix_server_proxy(sock, timeout=120)
            scrapes: list[tuple[float, float]] = []
            stats: list[tuple[float, float]] = []
            with _Pinger(sock) as pinger:
                metrics_times, stats_times = [], []
                for _ in range(rounds):
                    time.sleep(1.1)  # past the readings' MAX_AGE: each request reads afresh
                    metrics_times.append(_timed(scrapes, lambda: _get_metrics(sock)))
                    time.sleep(1.1)
                    stats_times.append(_timed(stats, rpc.ng.getAllProcessStats))
            return {
                "metrics": statistics.median(metrics_times),
                "metrics_ping": pinger.worst(scrapes, during=True),
                "stats": statistics.median(stats_times),
                "stats_ping": pinger.worst(stats, during=True),
                "idle_ping": pinger.worst(scrapes + stats, during=False),
            }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("stop", "metrics"), help="run one of the two benchmarks")
    args = parser.parse_args()
    # launch() kills what the daemon leaves: orphans must come to us, not to init.
    if not become_subreaper():
        sys.exit("bench: cannot become a child subreaper")
    stops, metrics, rounds = (20, 100, 3) if args.quick else (200, 1000, 5)
    ours = Supervisord("ours", "ours", OURS)
    if args.only != "metrics":
        stop_benches(ours, stops)
    if args.only != "stop":
        metrics_benches(metrics, rounds)


def stop_benches(ours: Supervisord, stops: int) -> None:
    print(f"stop of {stops} programs, stopasgroup=true (stopAllProcesses, s):")
    for label, daemon, cgroup in (
        ("ours, cgroup mode", ours, True),
        ("ours, psutil mode", ours, False),
        ("stock 4.3.0", Supervisord("stock", "stock", STOCK), False),
    ):
        print(f"  {label:20} {stop_bench(daemon, stops, cgroup):8.3f}", flush=True)


def metrics_benches(metrics: int, rounds: int) -> None:
    print(
        f"/metrics and ng.getAllProcessStats with {metrics} programs "
        "(median s, worst getState ping meanwhile s; worst ping between requests s):"
    )
    for label, cgroup in (("ours, cgroup mode", True), ("ours, psutil mode", False)):
        r = metrics_bench(metrics, cgroup, rounds)
        print(
            f"  {label:20} /metrics {r['metrics']:6.3f} {r['metrics_ping']:6.3f}"
            f"   getAllProcessStats {r['stats']:6.3f} {r['stats_ping']:6.3f}"
            f"   idle {r['idle_ping']:6.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
