"""Events under load: stock supervisord 4.3.0 and ours, side by side.

    .venv/bin/python bench/events_bench.py                # 100 programs, 10 s window, 3 runs
    .venv/bin/python bench/events_bench.py --programs 20 --seconds 3 --runs 1

100 programs restart over and over (``sleep 1`` by default, ``--lifetime``;
``startsecs=0``, ``autorestart=true``): each cycle is three PROCESS_STATE
events (STARTING, RUNNING, EXITED).  One event listener, written with the stock
``supervisor.childutils`` and run by the stock venv's Python, subscribes to
PROCESS_STATE and answers OK at once; it counts what it got in a file.

Figures, over a window after a warm-up:
- *events/s delivered*: what the listener received, per second;
- *state changes/s*: spawns x 3, from the daemon's log (what was emitted);
- *daemon CPU %*: user + system time of the daemon process over the window;
- *CPU ms per 1000 events*: daemon CPU time / events delivered;
- *dropped*: "event buffer overflowed" lines (buffer_size=10000).

A second scenario, *burst*, measures the delivery path alone: 100 idle
programs, 5000 REMOTE_COMMUNICATION events queued with one system.multicall,
and the time until the listener has them all (*burst events/s*), with the
daemon's CPU time for it.

Both daemons run the same config in turns; nothing outlives a run (the bench's
daemons.py clean-up).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import xmlrpc.client
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from daemons import STOCK_VERSION, Supervisord, become_subreaper, ensure_stock, launch  # noqa: E402
from supconf import write_config  # noqa: E402

REPO = BENCH.parent

COUNTER = r"""
import os, sys
from supervisor import childutils
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
n = 0
while True:
    childutils.listener.wait(sys.stdin, sys.stdout)
    n += 1
    os.pwrite(fd, b"%12d" % n, 0)
    childutils.listener.ok(sys.stdout)
"""


def read_count(path: Path) -> int:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return 0
    return int(text) if text else 0


def _config(workdir: Path, python: Path, programs: int, command: str, events: str) -> Path:
    script = workdir / "counter.py"
    script.write_text(COUNTER)
    conf = write_config(
        workdir,
        {f"p{i:03d}": {"command": command, "startsecs": "0", "autorestart": "true"} for i in range(programs)},
    )
    with open(conf, "a") as f:
        f.write(
            "\n[eventlistener:counter]\n"
            f"command={python} {script} {workdir / 'count'}\n"
            f"events={events}\nbuffer_size=10000\nstartsecs=0\n"
        )
    return conf


def churn_run(
    supervisord: Supervisord, python: Path, programs: int, lifetime: float, seconds: float, warmup: float
) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"evbench-{supervisord.key}-") as tmp:
        workdir = Path(tmp)
        count_file = workdir / "count"
        conf = _config(workdir, python, programs, f"sleep {lifetime:g}", "PROCESS_STATE")
        log = workdir / "supervisord.log"
        with launch(supervisord, conf, workdir) as daemon:
            daemon.wait_answering()
            time.sleep(warmup)
            proc = psutil.Process(daemon.pid)
            c0, t0 = read_count(count_file), time.monotonic()
            cpu0 = sum(proc.cpu_times()[:2])
            spawns0 = log.read_text(errors="replace").count("spawned: ")
            time.sleep(seconds)
            c1, t1 = read_count(count_file), time.monotonic()
            cpu1 = sum(proc.cpu_times()[:2])
            text = log.read_text(errors="replace")
            spawns1 = text.count("spawned: ")
        elapsed = t1 - t0
        delivered = c1 - c0
        return {
            "events/s delivered": delivered / elapsed,
            "state changes/s": 3 * (spawns1 - spawns0) / elapsed,
            "daemon CPU %": 100 * (cpu1 - cpu0) / elapsed,
            "CPU ms per 1000 events": 1e6 * (cpu1 - cpu0) / max(delivered, 1),
            "dropped": float(text.count("event buffer overflowed")),
        }


def burst_run(supervisord: Supervisord, python: Path, programs: int, events: int = 5000) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"evbench-{supervisord.key}-") as tmp:
        workdir = Path(tmp)
        count_file = workdir / "count"
        conf = _config(workdir, python, programs, "sleep 100000", "REMOTE_COMMUNICATION")
        with launch(supervisord, conf, workdir) as daemon:
            daemon.wait_answering()
            daemon.wait_all_running(programs + 1)
            time.sleep(1.0)  # the listener has said READY
            proc = psutil.Process(daemon.pid)
            multicall = xmlrpc.client.MultiCall(daemon.rpc)
            for i in range(events):
                multicall.supervisor.sendRemoteCommEvent("bench", f"event {i}")
            cpu0, t0 = sum(proc.cpu_times()[:2]), time.monotonic()
            multicall()
            deadline = t0 + 120
            while read_count(count_file) < events and time.monotonic() < deadline:
                time.sleep(0.002)
            elapsed = time.monotonic() - t0
            cpu = sum(proc.cpu_times()[:2]) - cpu0
            got = read_count(count_file)
        return {
            "burst events/s": got / elapsed,
            "burst daemon CPU ms per 1000 events": 1e6 * cpu / max(got, 1),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--programs", type=int, default=100)
    parser.add_argument("--lifetime", type=float, default=1.0, help="seconds each program runs")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    become_subreaper()
    stock_exe = ensure_stock(BENCH / ".venv-stock")
    python = stock_exe.with_name("python")  # has supervisor.childutils for the listener
    ours_exe = Path(sys.executable).with_name("supervisord")
    if not ours_exe.exists():
        ours_exe = REPO / ".venv" / "bin" / "supervisord"
    daemons = [
        Supervisord("stock", f"stock {STOCK_VERSION}", stock_exe),
        Supervisord("ours", "ours", ours_exe),
    ]
    results: dict[str, list[dict[str, float]]] = {d.key: [] for d in daemons}
    for run in range(args.runs):
        for d in daemons:
            figures = churn_run(d, python, args.programs, args.lifetime, args.seconds, args.warmup)
            figures.update(burst_run(d, python, args.programs))
            results[d.key].append(figures)
            print(f"run {run + 1} {d.key}: " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items()), file=sys.stderr)

    keys = list(results["stock"][0])
    print(f"\n{args.programs} programs restarting every ~{args.lifetime:g} s, one PROCESS_STATE listener, "
          f"{args.seconds:g} s window; burst: 5000 events, {args.programs} idle programs; "
          f"median of {args.runs}\n")
    print("| figure | stock | ours |")
    print("|---|---:|---:|")
    for key in keys:
        row = [statistics.median(r[key] for r in results[d.key]) for d in daemons]
        print(f"| {key} | {row[0]:.1f} | {row[1]:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
