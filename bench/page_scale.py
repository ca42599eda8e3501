"""The web page with thousands of programs, in Chromium, stock and ours side by side.

    .venv/bin/python bench/page_scale.py                          # 1000 and 5000, both daemons
    .venv/bin/python bench/page_scale.py --sizes 1000,5000 --stock-sizes 1000
    .venv/bin/python bench/page_scale.py --daemon ours --sizes 5000

For each size and daemon: launch with that many ``sleep`` programs
(``startsecs=0``, logs ``NONE``, an ``[inet_http_server]`` on a free port)
and wait until all are RUNNING; then, with loop_stall's pinger sending
``getState`` every 10 ms over the unix socket:

- first paint: navigation start to the table's first rows painted (ours:
  the page's ``rows-painted`` mark) or to the load event (stock's page is
  static HTML), and the bytes the page loaded until then;
- one live update: ``stopProcess`` of the first program over XML-RPC, to the
  page's row showing STOPPED (both moments on the page's clock: a
  MutationObserver notes the second), and the bytes the status stream
  carried for it.  Stock's
  page has no live update (it shows a change only when reloaded);
- the worst ``getState`` ping while the page stays open and
  ``stopAllProcesses(wait)`` then ``startAllProcesses(wait)`` run, and the
  same with no page open.

Chromium is Debian's (/usr/bin/chromium) driven by Playwright; bytes are
Chromium's own count (Network.loadingFinished, EventSource messages).  Sizes
above 5,000 are refused (this machine's fd hard limit is 20,000).  Prints a
markdown table; the raw figures go to bench/results/page-scale-*.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

from daemons import (
    BenchError,
    RunningDaemon,
    Supervisord,
    become_subreaper,
    kill_descendants,
    launch,
)
from report import load_average, machine
from scale import _fits, _Pinger, _programs, _raise_fd_limit, _write_conf
from supconf import SOCKET_NAME
from unixrpc import unix_server_proxy

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CHROMIUM = "/usr/bin/chromium"
SIZES = (1000, 5000)
MAX_SIZE = 5000
CAP = 300.0  # seconds any one step may take (stock's page at thousands of programs is slow)
Figures = dict[str, Any]

# Notes, in the page's own clock (epoch ms), when the watched row turns STOPPED.
_WATCH_ROW = """(name) => new Promise((resolve) => {
  const done = () => {
    const row = document.querySelector(`tr[data-name='${name}']`);
    return row && row.dataset.state === "STOPPED";
  };
  window.__stoppedAt = null;
  const observer = new MutationObserver(() => {
    if (window.__stoppedAt === null && done()) {
      window.__stoppedAt = performance.timeOrigin + performance.now();
      observer.disconnect();
    }
  });
  observer.observe(document.getElementById("rows"), { subtree: true, childList: true, attributes: true });
  resolve(true);
})"""


class ByteCounter:
    """What Chromium received: finished loads and EventSource messages."""

    def __init__(self, page: Any) -> None:
        self.loads = 0
        self.stream = 0
        self.messages = 0
        cdp = page.context.new_cdp_session(page)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.eventSourceMessageReceived", self._message)
        cdp.send("Network.enable")
        self.cdp = cdp

    def _finished(self, event: dict[str, Any]) -> None:
        self.loads += int(event.get("encodedDataLength", 0))

    def _message(self, event: dict[str, Any]) -> None:
        self.stream += len(event.get("data", "").encode())
        self.messages += 1

    def total(self) -> int:
        return self.loads + self.stream


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _with_http(conf: Path, port: int) -> None:
    conf.write_text(conf.read_text() + f"\n[inet_http_server]\nport=127.0.0.1:{port}\n")


def _timed_window(pinger: _Pinger, call: Callable[[], object]) -> tuple[float, float | str]:
    start = time.monotonic()
    call()
    end = time.monotonic()
    return end - start, pinger.worst(start, end)


def _first_paint(page: Any, url: str, ours: bool) -> float:
    page.goto(url, wait_until="commit", timeout=CAP * 1000)
    if ours:
        page.wait_for_function(
            "performance.getEntriesByName('rows-painted').length > 0", timeout=CAP * 1000
        )
        return page.evaluate("performance.getEntriesByName('rows-painted')[0].startTime") / 1000
    page.wait_for_function("document.readyState === 'complete'", timeout=CAP * 1000)
    return page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd") / 1000


def _live_update(page: Any, rpc: Any, name: str, counter: ByteCounter) -> tuple[float, int, int]:
    """Seconds from stopProcess sent to the row showing STOPPED, the stream
    bytes and messages that brought it."""
    page.wait_for_selector(f"tr[data-name='{name}'][data-state='RUNNING']", timeout=CAP * 1000)
    page.evaluate(_WATCH_ROW, name)
    bytes_before, messages_before = counter.stream, counter.messages
    # Both ends on the page's clock (its time origin is not the bench's).
    sent = page.evaluate("performance.timeOrigin + performance.now()") / 1000
    rpc.supervisor.stopProcess(name, False)
    page.wait_for_function("window.__stoppedAt !== null", timeout=CAP * 1000)
    shown = page.evaluate("window.__stoppedAt") / 1000
    rpc.supervisor.getState()  # the stop has ended by now: let its last event arrive
    page.wait_for_timeout(200)
    return shown - sent, counter.stream - bytes_before, counter.messages - messages_before


def _measure(daemon: Supervisord, count: int, workdir: Path, figures: Figures) -> None:
    """Fills ``figures`` as it goes: a step that fails keeps the ones before."""
    conf = _write_conf(workdir, _programs(count), count)
    port = _free_port()
    _with_http(conf, port)
    ours = daemon.key == "ours"
    url = f"http://127.0.0.1:{port}/"
    from playwright.sync_api import sync_playwright

    # The browser starts and ends inside the daemon's launch: leaving it,
    # the bench kills every process it started, Chromium included.
    with launch(daemon, conf, workdir) as running, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        running.wait_answering(timeout=CAP)
        figures["launch to all RUNNING"] = running.wait_all_running(count, timeout=CAP * 3)
        rpc = unix_server_proxy(str(workdir / SOCKET_NAME), timeout=CAP)
        first = next(iter(_programs(count)))
        pinger = _Pinger(workdir)
        with pinger:
            figures["load average"] = load_average()
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            counter = ByteCounter(page)
            start = time.monotonic()
            figures["first paint"] = _first_paint(page, url, ours)
            figures["worst ping: page load"] = pinger.worst(start, time.monotonic())
            figures["bytes: page load"] = counter.total()
            if ours:
                seconds, streamed, messages = _live_update(page, rpc, first, counter)
                figures["live update: stop → row STOPPED"] = seconds
                figures["bytes: the live update"] = streamed
                figures["events: the live update"] = messages
            else:
                figures["live update: stop → row STOPPED"] = "none (static page)"
                rpc.supervisor.stopProcess(first, True)
            rpc.supervisor.startProcess(first, True)
            page.wait_for_timeout(200)
            before = counter.stream
            took, worst = _timed_window(pinger, lambda: _stop_start_all(rpc))
            figures["stopAll+startAll, page open"] = took
            figures["worst ping: stopAll+startAll, page open"] = worst
            # Playwright hands Chromium's events over only while it is called.
            page.wait_for_timeout(1000)
            if ours:
                figures["bytes: stream during stopAll+startAll"] = counter.stream - before
            page.close()
            took, worst = _timed_window(pinger, lambda: _stop_start_all(rpc))
            figures["stopAll+startAll, no page"] = took
            figures["worst ping: stopAll+startAll, no page"] = worst
        browser.close()
        _check(running)


def _stop_start_all(rpc: Any) -> None:
    rpc.supervisor.stopAllProcesses(True)
    rpc.supervisor.startAllProcesses(True)


def _check(running: RunningDaemon) -> None:
    if running.popen.poll() is not None:
        raise BenchError(f"the daemon exited:\n{running.output_tail()}")


def _fmt(value: Any, label: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if label.startswith("bytes"):
        return f"{value / 1024:.1f} KiB" if value >= 1024 else f"{value} B"
    if label.startswith(("events", "load")):
        return f"{value:.0f}" if label.startswith("events") else f"{value:.2f}"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def markdown(results: dict[str, Any]) -> str:
    lines = []
    for count, by_daemon in results["sizes"].items():
        ours, stock = by_daemon.get("ours", {}), by_daemon.get("stock", {})
        labels = list(dict.fromkeys([*ours, *stock]))
        lines += [
            f"\n#### The page with {count} programs\n",
            "| figure | ours | stock 4.3.0 |",
            "|---|---:|---:|",
        ]
        for label in labels:
            stock_cell = _fmt(stock.get(label), label) if stock else "not run"
            lines.append(f"| {label} | {_fmt(ours.get(label), label)} | {stock_cell} |")
    if results["notes"]:
        lines += ["", *[f"- {n}" for n in results["notes"]]]
    return "\n".join(lines)


def _daemons(which: str, ours: Optional[Path] = None) -> list[Supervisord]:
    chosen = []
    if which in ("both", "stock"):
        stock = REPO / ".venv-stock" / "bin" / "supervisord"
        if not stock.exists():
            raise SystemExit(f"no stock supervisord at {stock}")
        chosen.append(Supervisord("stock", "stock 4.3.0", stock))
    if which in ("both", "ours"):
        beside = Path(sys.executable).parent / "supervisord"
        default = beside if beside.exists() else REPO / ".venv/bin/supervisord"
        chosen.append(Supervisord("ours", "ours", ours or default))
    return chosen


def _in_scratch(work: Callable[[Path], Any], key: str) -> Any:
    workdir = Path(tempfile.mkdtemp(prefix=f"snpage-{key}-"))
    try:
        return work(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="comma-separated program counts"
    )
    parser.add_argument("--stock-sizes", default=None, help="sizes stock runs at (default: all)")
    parser.add_argument("--daemon", choices=("both", "stock", "ours"), default="both")
    parser.add_argument("--ours", type=Path, help="our supervisord to run (e.g. an older tree's)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    stock_sizes = set(
        sizes if args.stock_sizes is None else [int(s) for s in args.stock_sizes.split(",") if s]
    )
    if max(sizes, default=0) > MAX_SIZE:
        parser.error(f"sizes above {MAX_SIZE} are not run here (the fd hard limit)")
    become_subreaper()
    _raise_fd_limit()
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %z"), "machine": machine(),
                               "sizes": {}, "notes": []}  # fmt: skip
    try:
        for count in sizes:
            results["sizes"][count] = {}
            if not _fits(count):
                results["notes"].append(f"{count} programs: skipped, over the fd hard limit")
                continue
            for daemon in _daemons(args.daemon, args.ours):
                if daemon.key == "stock" and count not in stock_sizes:
                    results["notes"].append(f"stock, {count} programs: not run (--stock-sizes)")
                    continue
                figures: Figures = {}
                try:
                    _in_scratch(
                        lambda w, d=daemon, c=count, f=figures: _measure(d, c, w, f), daemon.key
                    )
                except Exception as exc:  # one failed size must not lose the others
                    error = f"{type(exc).__name__}: {exc}"
                    figures["error"] = (
                        f"{error} (in the step after {list(figures)[-1:] or 'launch'})"
                    )
                    results["notes"].append(f"{daemon.key}, {count} programs: {figures['error']}")
                results["sizes"][count][daemon.key] = figures
                print(f"{count} programs · {daemon.key}: {figures}", file=sys.stderr)
    finally:
        left = kill_descendants()
        if left:
            print(f"bench: could not kill pids {left}", file=sys.stderr)
    print(markdown(results))
    folder = BENCH / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"page-scale-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
