"""Loop stalls: the worst wait of a ``getState`` ping during each client action.

500 programs (``sleep``) in one group, and one program that has written
1,000,000 lines (20 programs and 20,000 lines with ``--quick``).  A separate
process calls ``supervisor.getState`` over its own connection every ~10 ms and
stamps each call (sent, answered).  The bench then makes each action a client
can make, one after the other, and the figure for an action is the longest
ping that was waiting at any moment while the action ran: how long the daemon
left everybody else waiting.

Ours runs as the packaged default has it: the program's output goes to the
journal only (a standalone systemd-journald in a private mount namespace, as
in bench/journal_bench.py; root needed), so tail and read count and walk
the journal.  Stock has no journal: its program writes the same lines to a
log file, which its tail and read use.  ``/metrics`` and
``ng.getAllProcessStats`` exist in ours only.

Registered as the scenario ``loop_stall`` (see run.py).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import replace
from pathlib import Path
from typing import Callable, NamedTuple

from daemons import BenchError, launch
from scenarios import Bench, Outcome, scenario, sleepers
from supconf import SOCKET_NAME, write_config
from unixrpc import unix_server_proxy

JOURNALD = "/lib/systemd/systemd-journald"
JOURNALD_CONF = "[Journal]\nStorage=volatile\nRateLimitBurst=0\nRuntimeMaxUse=4G\n"
TARGET = 0.100  # issue #14: no loop turn over 100 ms
PING_EVERY = 0.010
GROUP = "many"
WRITER = "writer"


class _Size(NamedTuple):
    programs: int
    lines: int


_FULL = _Size(programs=500, lines=1_000_000)
_QUICK = _Size(programs=20, lines=20_000)

# The program's output; it writes once (a marker file), so that
# startAllProcesses does not write it all again.
_WRITER = """\
import os, sys, time
done = sys.argv[2]
if not os.path.exists(done):
    lines = int(sys.argv[1])
    out = sys.stdout.buffer
    for start in range(0, lines, 10000):
        out.write(b"".join(b"line %09d of the chatty program\\n" % i for i in range(start, min(start + 10000, lines))))
    out.write(b"END\\n")
    out.flush()
    open(done, "w").close()
time.sleep(100000)
"""

_NAMESPACE = """\
set -e
mkdir -p /run/systemd/journal /run/log/journal
mount -t tmpfs tmpfs /run/systemd/journal
mount --bind "$JDIR" /run/log/journal
if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal; fi
mount --bind "$JCONF" /etc/systemd/journald.conf
{journald} &
while [ ! -S /run/systemd/journal/socket ]; do sleep 0.05; done
exec "$@"
"""

# The pinger: its own process, so the bench's parsing of large answers
# cannot delay a ping.
_PINGER = """\
import sys, time
sys.path.insert(0, sys.argv[3])
from unixrpc import unix_server_proxy
rpc = unix_server_proxy(sys.argv[1])
with open(sys.argv[2], "w", buffering=1) as out:
    while True:
        sent = time.monotonic()
        rpc.supervisor.getState()
        out.write("%r %r\\n" % (sent, time.monotonic()))
        time.sleep(max(0.0, {every} - (time.monotonic() - sent)))
"""


def _wrapper(bench: Bench, journal_dir: Path) -> Path:
    """An executable that runs our supervisord in a mount namespace with its own journald."""
    (bench.workdir / "journald.conf").write_text(JOURNALD_CONF)
    (bench.workdir / "namespace.sh").write_text(_NAMESPACE.format(journald=JOURNALD))
    wrapper = bench.workdir / "supervisord-in-namespace"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"export JDIR='{journal_dir}' JCONF='{bench.workdir / 'journald.conf'}'\n"
        f"exec unshare -m --propagation private sh '{bench.workdir / 'namespace.sh'}' "
        f"'{bench.supervisord.executable}' \"$@\"\n"
    )
    wrapper.chmod(0o755)
    return wrapper


def _programs(bench: Bench, size: _Size, journal: bool) -> dict[str, dict[str, str]]:
    (bench.workdir / "writer.py").write_text(_WRITER)
    writer = {
        "command": f"{sys.executable} {bench.workdir / 'writer.py'} {size.lines} {bench.workdir / 'written'}",
        "startsecs": "0",
    }
    if journal:
        writer.update(stdout_logfile="NONE", stdout_journal="true")
    else:
        writer.update(stdout_logfile=str(bench.workdir / "writer.log"), stdout_logfile_maxbytes="0")
    return {WRITER: writer, **sleepers(size.programs)}


def _group_section(count: int) -> str:
    names = ",".join(sleepers(count))
    return f"\n[group:{GROUP}]\npriority=999\nprograms={names}\n"


def _wait_written(bench: Bench, journal_dir: Path, journal: bool, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _last_line(bench, journal_dir, journal) == "END":
            return
        time.sleep(0.5)
    raise BenchError(f"the writer's {('journal' if journal else 'log')} has no END line after {timeout:.0f} s")


def _last_line(bench: Bench, journal_dir: Path, journal: bool) -> str:
    if not journal:
        try:
            with open(bench.workdir / "writer.log", "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - 100))
                return f.read().decode(errors="replace").rstrip("\n").rpartition("\n")[2]
        except OSError:
            return ""
    dirs = [p for p in journal_dir.iterdir() if p.is_dir()]
    if not dirs:
        return ""
    done = subprocess.run(
        ["journalctl", f"--directory={dirs[0]}", "-t", WRITER, "-n", "1", "-o", "cat", "--no-pager"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.stdout.strip()


def _metrics(sock: str) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(sock)
    conn = http.client.HTTPConnection("localhost")
    conn.sock = s
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise BenchError(f"/metrics answered {resp.status}")
    finally:
        conn.close()


def start_pinger(script: str, args: list[str], pings: Path) -> subprocess.Popen:
    """Run a pinger *script* (formatted with ``every``) on *args* plus this
    directory, and return once it has written its first ping."""
    pinger = subprocess.Popen(
        [sys.executable, "-c", script.format(every=PING_EVERY), *args, str(Path(__file__).resolve().parent)]
    )
    while not pings.exists() or not pings.read_text():
        if pinger.poll() is not None:
            raise BenchError("the pinger exited")
        time.sleep(0.01)
    return pinger


def _worst_ping(pings: Path, start: float, end: float) -> tuple[float, int]:
    """The longest ping that was waiting at some moment in [start, end], and
    how many pings that overlap was made of."""
    worst, seen = 0.0, 0
    for line in pings.read_text().splitlines():
        sent, answered = (float(x) for x in line.split())
        if sent <= end and answered >= start:
            worst = max(worst, answered - sent)
            seen += 1
    return worst, seen


def _update_conf(conf: Path, extra: bool) -> None:
    text = conf.read_text()
    section = "\n[program:extra]\ncommand=sleep 1000\nstartsecs=0\n"
    text = text.replace(section, "")
    conf.write_text(text + section if extra else text)


@scenario("loop_stall", "worst getState ping (every 10 ms) during each client action")
def loop_stall(bench: Bench) -> Outcome:
    size = _FULL if bench.at_full_size else _QUICK
    journal = bench.supervisord.key == "ours"
    if journal and (os.geteuid() != 0 or not os.path.exists(JOURNALD)):
        raise BenchError("ours is measured with the journal: needs root and systemd-journald")
    journal_dir = bench.workdir / "journal"
    journal_dir.mkdir()
    supervisord = bench.supervisord
    if journal:
        supervisord = replace(supervisord, executable=_wrapper(bench, journal_dir))
    conf = write_config(bench.workdir, _programs(bench, size, journal))
    with open(conf, "a") as f:
        f.write(_group_section(size.programs))
    outcome = Outcome()
    sock = str(bench.workdir / SOCKET_NAME)
    with launch(supervisord, conf, bench.workdir) as daemon:
        daemon.wait_answering()
        daemon.wait_all_running(size.programs + 1)
        _wait_written(bench, journal_dir, journal)
        rpc = unix_server_proxy(sock, timeout=600)
        sv = rpc.supervisor
        stream_size = [0]

        def tail() -> None:
            data, stream_size[0], overflow = sv.tailProcessStdoutLog(WRITER, 0, 4096)
            if not data.endswith("END\n") or not overflow:
                outcome.problems.append(f"tail: {data[-40:]!r}, overflow {overflow}")

        def read_end() -> None:
            data = sv.readProcessStdoutLog(WRITER, stream_size[0] - 4096, 4096)
            if len(data) != 4096 or not data.endswith("END\n"):
                outcome.problems.append(f"read at the end: {len(data)} bytes, {data[-40:]!r}")

        def read_head() -> None:
            data = sv.readProcessStdoutLog(WRITER, 0, 4096)
            if not data.startswith("line 000000000 "):
                outcome.problems.append(f"read offset 0: {data[:40]!r}")

        def add_group() -> None:
            _update_conf(conf, extra=True)
            sv.reloadConfig()
            sv.addProcessGroup("extra")

        def remove_group() -> None:
            _update_conf(conf, extra=False)
            sv.reloadConfig()
            sv.stopProcessGroup("extra", True)
            sv.removeProcessGroup("extra")

        n = size.programs
        actions: list[tuple[str, Callable[[], object], bool]] = [
            ("tailProcessStdoutLog(0, 4096), first call", tail, True),
            ("readProcessStdoutLog(size - 4096, 4096)", read_end, True),
            ("readProcessStdoutLog(0, 4096)", read_head, True),
            ("tailProcessStdoutLog(0, 4096), again", tail, True),
            ("GET /metrics", lambda: _metrics(sock), False),
            ("ng.getAllProcessStats", lambda: rpc.ng.getAllProcessStats(), False),
            (f"stopProcessGroup({n} programs, wait)", lambda: sv.stopProcessGroup(GROUP, True), True),
            (f"startProcessGroup({n} programs, wait)", lambda: sv.startProcessGroup(GROUP, True), True),
            ("stopAllProcesses(wait)", lambda: sv.stopAllProcesses(True), True),
            ("startAllProcesses(wait)", lambda: sv.startAllProcesses(True), True),
            ("reloadConfig + addProcessGroup", add_group, True),
            ("reloadConfig + stop/removeProcessGroup", remove_group, True),
        ]
        pings = bench.workdir / "pings"
        pinger = start_pinger(_PINGER, [sock, str(pings)], pings)
        try:
            for label, action, stock_has in actions:
                if not journal and not stock_has:
                    continue
                start = time.monotonic()
                try:
                    action()
                except (xmlrpc.client.Fault, OSError) as exc:
                    outcome.problems.append(f"{label}: {exc}")
                    continue
                end = time.monotonic()
                time.sleep(2 * PING_EVERY)  # the ping waiting at the end has its answer
                worst, seen = _worst_ping(pings, start, end)
                figure = f"worst ping during {label}"
                outcome.figures[figure] = worst
                outcome.samples[f"{figure}: action seconds, pings"] = [end - start, seen]
                bench.target(outcome, figure, TARGET)
        finally:
            pinger.send_signal(signal.SIGTERM)
            pinger.wait(10)
    return outcome
