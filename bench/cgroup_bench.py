"""Issue 17: cgroup mode against psutil mode against stock.

- ``stop``: ``stopAllProcesses`` of 200 programs, each a shell that keeps
  a child, with ``stopasgroup=true``;
- ``metrics``: ``GET /metrics`` with 1000 programs, and the worst wait of a
  ``getState`` ping (every 10 ms, its own connection) meanwhile, i.e. the
  longest loop turn (ours only: stock has no /metrics).

Ours runs twice: in cgroup mode (root on a writable unified hierarchy) and
with ``SUPERVISOR_NG_CGROUP=off`` (psutil mode).  Goal: both figures at
least 5x better in cgroup mode than in psutil mode, no turn over 20 ms.

    sudo .venv/bin/python bench/cgroup_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

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


def metrics_bench(count: int, cgroup: bool, rounds: int) -> tuple[float, float]:
    """(median /metrics time, worst getState ping meanwhile)."""
    _with_mode(cgroup)
    with tempfile.TemporaryDirectory(prefix="cgbench-") as tmp:
        workdir = Path(tmp)
        conf = write_config(workdir, _programs(count))
        with launch(Supervisord("ours", "ours", OURS), conf, workdir) as d:
            d.wait_answering()
            d.wait_all_running(count, timeout=600)
            sock = str(workdir / SOCKET_NAME)
            pings: list[float] = []
            done = threading.Event()

            def pinger() -> None:
                rpc = unix_server_proxy(sock)
                while not done.is_set():
                    began = time.perf_counter()
                    rpc.supervisor.getState()
                    pings.append(time.perf_counter() - began)
                    time.sleep(0.010)

            thread = threading.Thread(target=pinger, daemon=True)
            thread.start()
            times = []
            for _ in range(rounds):
                times.append(_get_metrics(sock))
                time.sleep(1.1)  # past the readings' MAX_AGE: each request reads afresh
            done.set()
            thread.join()
            return statistics.median(times), max(pings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    # launch() kills what the daemon leaves: orphans must come to us, not to init.
    if not become_subreaper():
        sys.exit("bench: cannot become a child subreaper")
    stops, metrics, rounds = (20, 100, 3) if args.quick else (200, 1000, 5)
    ours = Supervisord("ours", "ours", OURS)
    print(f"stop of {stops} programs, stopasgroup=true (stopAllProcesses, s):")
    for label, daemon, cgroup in (
        ("ours, cgroup mode", ours, True),
        ("ours, psutil mode", ours, False),
        ("stock 4.3.0", Supervisord("stock", "stock", STOCK), False),
    ):
        print(f"  {label:20} {stop_bench(daemon, stops, cgroup):8.3f}", flush=True)
    print(f"/metrics with {metrics} programs (median s, worst getState ping s):")
    for label, cgroup in (("ours, cgroup mode", True), ("ours, psutil mode", False)):
        median, worst = metrics_bench(metrics, cgroup, rounds)
        print(f"  {label:20} {median:8.3f} {worst:8.3f}", flush=True)


if __name__ == "__main__":
    main()
