"""Scale: one daemon with 1,000, 2,500 and 5,000 programs, stock and ours in the same run.

    .venv/bin/python bench/run.py scale                    # 1000, 2500, 5000
    .venv/bin/python bench/run.py scale --sizes 1000,2500  # pick sizes
    .venv/bin/python bench/run.py scale --daemon ours --sizes 5000

Not a scenario of the table run.py writes (a size of 5,000 takes minutes per
daemon), so neither ``run.py`` nor ``run.py --quick`` runs it.  Each size runs
once per daemon, stock first, then ours.

Programs are ``sleep`` with ``startsecs=0`` and both logs ``NONE``; the config
raises ``minfds``/``minprocs``.  A size whose fds cannot fit under the hard
limit (three pipe ends per program in stock, plus slack) is skipped and says
so.  For each size: launch to all RUNNING; ``getAllProcessInfo`` from a client
(unparsed bytes, and parsed); stock's ``supervisorctl status`` against each
daemon; ``stopAllProcesses``/``startAllProcesses`` with ``wait=True``;
``update`` after changing one program's command (reloadConfig, then the
stop/remove/add that supervisorctl sends for the changed group); ``reread``
and ``update`` adding 100 programs; ``/metrics`` (ours only); the daemon's
RSS, USS and fd count right after all are RUNNING.  During every action a
separate process pings ``getState`` every 10 ms (loop_stall's pinger); the
figure is the worst ping that was waiting while the action ran.  Every call
has a 30 s cap; a call that passes it is reported as such, and the bench
waits for the daemon to finish the work before the next action.

Server-side time of ``getAllProcessInfo`` is not measured: neither daemon
exposes it, and the bench does not change daemon code.  The unparsed client
figure (request out, last byte in, over a kept-alive unix socket) is its
upper bound.
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path
from typing import Any, Callable, Optional

import psutil

from daemons import (
    BenchError,
    RunningDaemon,
    Supervisord,
    become_subreaper,
    kill_descendants,
    launch,
)
from loop_stall import _PINGER, PING_EVERY, _metrics, _worst_ping
from report import load_average, machine
from scenarios import sleepers
from supconf import SOCKET_NAME, write_config
from unixrpc import RawCaller, unix_server_proxy

BENCH = Path(__file__).resolve().parent
SIZES = (1000, 2500, 5000)
CAP = 30.0  # seconds: a call that takes longer is reported as "> 30 s"
ADDED = 100
FDS_PER_PROGRAM = 3  # stock: stdin, stdout and stderr pipe ends
FD_SLACK = 512
MIB = 1024 * 1024
# The goals at 5,000 programs (ours), for the report.
GOALS = {
    "launch to all RUNNING": 4.0,
    "getAllProcessInfo (client, unparsed)": 0.050,
    "GET /metrics": 0.100,
    "stopAllProcesses(wait)": 1.0,
    "update, one command changed": 0.100,
    "RSS": 80.0,
}
Figures = dict[str, Any]  # label -> value (float), or a string such as "> 30 s"


class CapPassed(Exception):
    """A call took longer than CAP."""


def _programs(count: int, prefix: str = "sleep") -> dict[str, dict[str, str]]:
    progs = sleepers(count, stdout_logfile="NONE", stderr_logfile="NONE")
    return {name.replace("sleep", prefix, 1): opts for name, opts in progs.items()}


def _write_conf(workdir: Path, programs: dict[str, dict[str, str]], most: int) -> Path:
    conf = write_config(workdir, programs)
    limits = f"[supervisord]\nminfds={FDS_PER_PROGRAM * most + FD_SLACK}\nminprocs={most + 256}\n"
    conf.write_text(conf.read_text().replace("[supervisord]\n", limits, 1))
    return conf


def _memory(pid: int) -> Figures:
    proc = psutil.Process(pid)
    full = proc.memory_full_info()
    return {"RSS": full.rss / MIB, "USS": full.uss / MIB, "fds": float(proc.num_fds())}


class _Pinger:
    """loop_stall's getState pinger, as a context; worst() reads its stamps."""

    def __init__(self, workdir: Path) -> None:
        self.sock = str(workdir / SOCKET_NAME)
        self.pings = workdir / "pings"
        self.popen: Optional[subprocess.Popen] = None

    def __enter__(self) -> _Pinger:
        self.popen = subprocess.Popen(
            [sys.executable, "-c", _PINGER.format(every=PING_EVERY), self.sock, str(self.pings), str(BENCH)],
        )  # fmt: skip
        while not self.pings.exists() or not self.pings.read_text():
            if self.popen.poll() is not None:
                raise BenchError("the pinger exited")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        self.popen.wait(10)

    def worst(self, start: float, end: float) -> float | str:
        time.sleep(2 * PING_EVERY)  # the ping waiting at the end has its answer
        assert self.popen is not None
        if self.popen.poll() is not None:
            # Its call timed out (60 s): the pings file ends before the stall.
            return "pinger timed out (> 60 s)"
        return _worst_ping(self.pings, start, end)[0]


def _timed(call: Callable[[], object]) -> tuple[float, float, float]:
    """Run *call*; (seconds, start, end) on the monotonic clock the pinger uses."""
    start = time.monotonic()
    try:
        call()
    except (socket.timeout, TimeoutError, subprocess.TimeoutExpired) as exc:
        raise CapPassed() from exc
    end = time.monotonic()
    return end - start, start, end


def _settle(
    sock: str, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 900.0
) -> None:
    """After a call passed the cap: wait until the daemon has done the work."""
    rpc = unix_server_proxy(sock, timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if until(rpc.supervisor.getAllProcessInfo()):
                return
        except (OSError, xmlrpc.client.ProtocolError):
            rpc = unix_server_proxy(sock, timeout=timeout)
        time.sleep(0.5)
    raise BenchError(f"the daemon did not settle within {timeout:.0f} s")


def _all(state: str, count: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda infos: len(infos) == count and all(i["statename"] == state for i in infos)


def _measure(
    daemon: Supervisord, count: int, workdir: Path, ctl: Path
) -> tuple[Figures, list[str]]:
    figures: Figures = {}
    notes: list[str] = []
    most = count + ADDED
    conf = _write_conf(workdir, _programs(count), most)
    sock = str(workdir / SOCKET_NAME)
    ours = daemon.key == "ours"
    with launch(daemon, conf, workdir) as running, _wait_answering_then(running) as pinger:
        start = pinger.started
        all_running = running.wait_all_running(count, timeout=900)
        figures["launch to all RUNNING"] = all_running
        figures["worst ping: launch (socket answering → all RUNNING)"] = pinger.worst(
            start, time.monotonic()
        )
        # RUNNING comes right after fork (startsecs=0): a child that has not
        # exec'd yet still shares the daemon's pages, which hides them from USS.
        time.sleep(1.0)
        figures.update(_memory(running.pid))
        loads = [load_average()]

        def act(
            label: str,
            call: Callable[[], object],
            settle: Optional[Callable[[list[dict[str, Any]]], bool]],
        ) -> None:
            try:
                seconds, start, end = _timed(call)
            except CapPassed:
                figures[label] = f"> {CAP:.0f} s"
                notes.append(f"{daemon.key}, {count} programs: {label} passed {CAP:.0f} s")
                if settle is not None:
                    _settle(sock, settle)
                return
            figures[label] = seconds
            figures[f"worst ping: {label}"] = pinger.worst(start, end)

        raw = RawCaller(sock, timeout=CAP)
        raw_times: list[float] = []

        def raw_info() -> None:
            seconds, _, _ = _timed(lambda: raw.call("supervisor.getAllProcessInfo"))
            raw_times.append(seconds)

        act("getAllProcessInfo (client, unparsed)", raw_info, None)
        try:
            for _ in range(2):
                raw_info()
            figures["getAllProcessInfo (client, unparsed)"] = statistics.median(raw_times)
        except CapPassed:
            pass
        raw.close()
        rpc = unix_server_proxy(sock, timeout=CAP)
        sv = rpc.supervisor
        act("getAllProcessInfo (client, parsed)", sv.getAllProcessInfo, None)
        status = [str(ctl), "-c", str(conf), "status"]
        act(
            "stock supervisorctl status",
            lambda: subprocess.run(status, stdout=subprocess.DEVNULL, timeout=CAP, check=False),
            None,
        )
        if ours:
            act("GET /metrics", lambda: _metrics(sock), None)
        act("stopAllProcesses(wait)", lambda: sv.stopAllProcesses(True), _all("STOPPED", count))
        rpc = unix_server_proxy(sock, timeout=CAP)
        sv = rpc.supervisor
        act("startAllProcesses(wait)", lambda: sv.startAllProcesses(True), _all("RUNNING", count))
        rpc = unix_server_proxy(sock, timeout=CAP)
        sv = rpc.supervisor
        loads.append(load_average())

        changed = next(iter(_programs(count)))
        text = conf.read_text()
        conf.write_text(text.replace("command=sleep 1000\n", "command=sleep 1001\n", 1))

        def update_one() -> None:
            ((added, changed_, removed),) = sv.reloadConfig()
            if changed_ != [changed] or added or removed:
                raise BenchError(
                    f"reloadConfig saw added {added}, changed {changed_}, removed {removed}"
                )
            sv.stopProcessGroup(changed, True)
            sv.removeProcessGroup(changed)
            sv.addProcessGroup(changed)

        act("update, one command changed", update_one, None)
        rpc = unix_server_proxy(sock, timeout=CAP)
        sv = rpc.supervisor
        extra = _programs(ADDED, prefix="extra")
        with open(conf, "a") as f:
            for name, options in extra.items():
                f.write(
                    f"[program:{name}]\n" + "".join(f"{k}={v}\n" for k, v in options.items()) + "\n"
                )

        def add_hundred() -> None:
            ((added, _, _),) = sv.reloadConfig()
            if sorted(added) != sorted(extra):
                raise BenchError(f"reloadConfig added {len(added)} groups, expected {ADDED}")
            for name in added:
                sv.addProcessGroup(name)

        act(f"reread + update adding {ADDED} programs", add_hundred, None)
        _settle(sock, _all("RUNNING", count + ADDED))
        time.sleep(1.0)
        after = _memory(running.pid)
        figures.update({f"{k} after the actions": v for k, v in after.items()})
        loads.append(load_average())
        figures["load average (start, middle, end)"] = loads
    return figures, notes


class _wait_answering_then:  # noqa: N801  (used as a context manager, reads as one)
    """Wait until the daemon answers, then run the pinger while the block runs."""

    def __init__(self, running: RunningDaemon) -> None:
        self.running = running
        self.pinger = _Pinger(running.workdir)

    def __enter__(self) -> _Pinger:
        self.running.wait_answering(timeout=300)
        self.pinger.__enter__()
        self.pinger.started = time.monotonic()  # type: ignore[attr-defined]
        return self.pinger

    def __exit__(self, *exc: object) -> None:
        self.pinger.__exit__(*exc)


def _empty(daemon: Supervisord, workdir: Path) -> Figures:
    conf = _write_conf(workdir, {}, 0)
    with launch(daemon, conf, workdir) as running:
        running.wait_answering()
        time.sleep(1.0)  # let start-up garbage go before reading memory
        return _memory(running.pid)


def _fits(count: int) -> bool:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return hard == resource.RLIM_INFINITY or FDS_PER_PROGRAM * (count + ADDED) + FD_SLACK <= hard


def _raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str], daemons: list[Supervisord], ctl: Path) -> int:
    """Run the scale benchmark; *ctl* is stock's supervisorctl (the client for status)."""
    parser = argparse.ArgumentParser(prog="bench/run.py scale", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="comma-separated program counts"
    )
    parser.add_argument("--daemon", choices=("both", "stock", "ours"), default="both")
    args = parser.parse_args(argv)
    daemons = [d for d in daemons if args.daemon in ("both", d.key)]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if not become_subreaper():
        print("bench: cannot become a child subreaper; clean-up may miss orphans", file=sys.stderr)
    _raise_fd_limit()
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %z"), "machine": machine(),
                               "fd hard limit": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
                               "sizes": {}, "empty": {}, "notes": []}  # fmt: skip
    try:
        for daemon in daemons:
            results["empty"][daemon.key] = _run_in_scratch(lambda w, d=daemon: _empty(d, w), daemon)
            print(f"0 programs · {daemon.key}: {results['empty'][daemon.key]}", file=sys.stderr)
        for count in sizes:
            if not _fits(count):
                note = f"{count} programs: skipped, needs more fds than the hard limit allows"
                results["notes"].append(note)
                print(note, file=sys.stderr)
                continue
            results["sizes"][count] = {}
            for daemon in daemons:
                try:
                    figures, notes = _run_in_scratch(
                        lambda w, d=daemon, c=count: _measure(d, c, w, ctl), daemon
                    )
                except Exception as exc:  # one failed size must not lose the others
                    error = f"{type(exc).__name__}: {exc}"
                    figures, notes = {"error": error}, [f"{daemon.key}, {count} programs: {error}"]
                results["sizes"][count][daemon.key] = figures
                results["notes"] += notes
                print(f"{count} programs · {daemon.key}: {figures}", file=sys.stderr)
    finally:
        left = kill_descendants()
        if left:
            print(f"bench: could not kill pids {left}", file=sys.stderr)
    print(markdown(results))
    folder = BENCH / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"scale-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {path}", file=sys.stderr)
    return 0


def _run_in_scratch(work: Callable[[Path], Any], daemon: Supervisord) -> Any:
    import shutil
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix=f"snscale-{daemon.key}-"))
    try:
        return work(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _fmt(value: Any, label: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(f"{v:.2f}" for v in value)
    if label.startswith(("RSS", "USS")):
        return f"{value:.1f} MiB"
    if label.startswith("fds"):
        return f"{value:.0f}"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _ratio(ours: Any, stock: Any) -> str:
    if isinstance(ours, (int, float)) and isinstance(stock, (int, float)) and stock > 0:
        return f"{ours / stock:.2f}"
    if isinstance(ours, (int, float)) and isinstance(stock, str):
        return f"< {ours / CAP:.3f}"
    return "—"


def markdown(results: dict[str, Any]) -> str:
    """The tables: figures per size (ours, stock, ours/stock) and per-program costs."""
    lines = []
    for count, by_daemon in results["sizes"].items():
        stock, ours = by_daemon.get("stock", {}), by_daemon.get("ours", {})
        labels = list(dict.fromkeys([*ours, *stock]))
        lines += [
            f"\n#### {count} programs\n",
            "| figure | ours | stock 4.3.0 | ours/stock |",
            "|---|---:|---:|---:|",
        ]
        for label in labels:
            o, s = ours.get(label), stock.get(label)
            lines.append(f"| {label} | {_fmt(o, label)} | {_fmt(s, label)} | {_ratio(o, s)} |")
    lines += ["\n#### What one program costs\n", _costs(results)]
    if results["notes"]:
        lines += ["", *[f"- {n}" for n in results["notes"]]]
    return "\n".join(lines)


def _costs(results: dict[str, Any]) -> str:
    rows = ["| | ours | stock 4.3.0 | ours/stock |", "|---|---:|---:|---:|"]
    empty = results["empty"]
    per: dict[str, dict[str, float]] = {}
    largest = max((c for c in results["sizes"]), default=None)
    for key in ("ours", "stock"):
        base = empty.get(key)
        top = results["sizes"].get(largest, {}).get(key, {}) if largest else {}
        if not base or "RSS" not in top:
            continue
        per[key] = {m: (top[m] - base[m]) / int(largest) for m in ("RSS", "USS", "fds")}
        per[key]["RSS0"], per[key]["USS0"], per[key]["fds0"] = base["RSS"], base["USS"], base["fds"]
    for label, metric, scale, unit in (
        ("daemon with no programs: RSS", "RSS0", 1, "MiB"),
        ("daemon with no programs: USS", "USS0", 1, "MiB"),
        ("daemon with no programs: fds", "fds0", 1, ""),
        (f"per program: RSS (from 0 to {largest})", "RSS", MIB / 1024, "KiB"),
        (f"per program: USS (from 0 to {largest})", "USS", MIB / 1024, "KiB"),
        (f"per program: fds (from 0 to {largest})", "fds", 1, ""),
    ):
        cells = [per.get(k, {}).get(metric) for k in ("ours", "stock")]
        text = [f"{c * scale:.1f} {unit}".strip() if c is not None else "—" for c in cells]
        ratio = f"{cells[0] / cells[1]:.2f}" if None not in cells and cells[1] else "—"
        rows.append(f"| {label} | {text[0]} | {text[1]} | {ratio} |")
    for metric, unit in (("RSS", "MiB"), ("USS", "MiB"), ("fds", "")):
        cells = [
            per[k][f"{metric}0"] + 10000 * per[k][metric] if k in per else None
            for k in ("ours", "stock")
        ]
        text = [f"{c:.0f} {unit}".strip() if c is not None else "—" for c in cells]
        ratio = f"{cells[0] / cells[1]:.2f}" if None not in cells and cells[1] else "—"
        rows.append(f"| projected at 10,000 programs: {metric} | {text[0]} | {text[1]} | {ratio} |")
    return "\n".join(rows)
