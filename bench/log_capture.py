"""Child output to a log file: the daemon's CPU per GiB, and proof that no line is lost.

One program writes numbered 100-byte lines to its stdout in 64 KiB blocks
(what a chatty program with stdio buffering does) and exits.  The daemon's
CPU time (utime + stime from /proc/PID/stat) is read just before the program
is started and again once every byte is in the log files and the program has
exited; the difference, scaled to one GiB, is the figure.  While the program
runs the bench makes no XML-RPC call (each would cost the daemon CPU): it
watches the sizes of the log files instead.

Then the files are read back, oldest backup first, and compared with the
stream the writer produced: equal means every line is there exactly once and
in order.  Otherwise the lines are counted, and lost or doubled lines are
reported as problems (which fail the run).  With rotation,
``logfile_backups`` is large enough to keep the whole output.

Registered as two scenarios: ``log_capture`` (``logfile_maxbytes=0``) and
``log_capture_rotated`` (``logfile_maxbytes=50MB``; 2MB in quick mode).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from daemons import BenchError
from scenarios import Bench, Outcome, scenario

LINE = 100  # bytes per line, newline included
BLOCK = 64 * 1024  # bytes per write of the writer
LINES_PER_BATCH = 1000
_PAD = b"x" * (LINE - 12)
_TICK = os.sysconf("SC_CLK_TCK")
GIB = 1 << 30
TARGET = 0.2  # issue #8: daemon CPU seconds per GiB (stock: about 0.8 s)


class _Size(NamedTuple):
    mib: int
    rotate_bytes: int  # logfile_maxbytes of the rotated case


_FULL = _Size(mib=512, rotate_bytes=50 * 1000 * 1000)
_QUICK = _Size(mib=16, rotate_bytes=2 * 1000 * 1000)

# The writer: same line format as :func:`_expected`.  Blocks of exactly 64 KiB,
# so lines straddle writes as with stdio buffering.
_WRITER = """\
import os, sys
lines = int(sys.argv[1])
pad = b"x" * {pad}
buf = bytearray()
i = 0
while i < lines:
    n = min({batch}, lines - i)
    buf += b"".join([b"%010d %s\\n" % (j, pad) for j in range(i, i + n)])
    i += n
    while len(buf) >= {block} or (i == lines and buf):
        view = memoryview(buf)[:{block}]
        done = os.write(1, view)
        view.release()
        del buf[:done]
"""


def _expected(lines: int) -> Iterator[bytes]:
    for i in range(0, lines, LINES_PER_BATCH):
        n = min(LINES_PER_BATCH, lines - i)
        yield b"".join([b"%010d %s\n" % (j, _PAD) for j in range(i, i + n)])


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of *pid* so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / _TICK, int(fields[12]) / _TICK


def _files(log: Path, backups: int) -> list[Path]:
    """The log and its backups, oldest first (as they were written)."""
    names = [Path(f"{log}.{i}") for i in range(backups, 0, -1)] + [log]
    return [p for p in names if p.exists()]


def _total_size(log: Path, backups: int) -> int:
    total = 0
    for path in _files(log, backups):
        try:
            total += path.stat().st_size
        except FileNotFoundError:  # rotated between listing and stat
            pass
    return total


def _read_stream(paths: list[Path]) -> Iterator[bytes]:
    for path in paths:
        with open(path, "rb") as f:
            while True:
                data = f.read(1 << 20)
                if not data:
                    break
                yield data


def _same_stream(paths: list[Path], lines: int) -> bool:
    """The files, concatenated, are exactly the writer's output."""
    got = _read_stream(paths)
    pending = b""
    for want in _expected(lines):
        while len(pending) < len(want):
            more = next(got, None)
            if more is None:
                return False
            pending += more
        if pending[: len(want)] != want:
            return False
        pending = pending[len(want) :]
    return not pending and next(got, None) is None


def _count_lines(paths: list[Path], lines: int) -> tuple[int, int, int]:
    """(lost, doubled, malformed) lines, for the report when the stream differs."""
    seen = bytearray(lines)
    doubled = malformed = 0
    rest = b""
    for data in _read_stream(paths):
        parts = (rest + data).split(b"\n")
        rest = parts.pop()
        for part in parts:
            number = part[:10]
            if len(part) != LINE - 1 or not number.isdigit() or int(number) >= lines:
                malformed += 1
                continue
            n = int(number)
            if seen[n]:
                doubled += 1
            seen[n] = 1
    if rest:
        malformed += 1
    return lines - sum(seen), doubled, malformed


def _run(bench: Bench, rotated: bool) -> Outcome:
    size = _FULL if bench.at_full_size else _QUICK
    lines = size.mib * 1024 * 1024 // LINE
    total = lines * LINE
    maxbytes = size.rotate_bytes if rotated else 0
    backups = total // maxbytes + 2 if rotated else 0
    writer = bench.workdir / "writer.py"
    writer.write_text(_WRITER.format(pad=len(_PAD), batch=LINES_PER_BATCH, block=BLOCK))
    log = bench.workdir / "capture.log"
    program = {
        "command": f"{sys.executable} {writer} {lines}",
        "autostart": "false",
        "startsecs": "0",
        "autorestart": "false",
        "stdout_logfile": str(log),
        "stdout_logfile_maxbytes": str(maxbytes),
        "stdout_logfile_backups": str(backups),
        "stderr_logfile": str(bench.workdir / "writer.err"),
    }
    outcome = Outcome()
    with bench.launch({"writer": program}) as daemon:
        daemon.wait_answering()
        time.sleep(0.2)  # let start-up work finish before the first reading
        user_before, sys_before = cpu_times(daemon.pid)
        started = time.perf_counter()
        daemon.rpc.supervisor.startProcess("writer", False)
        deadline = time.monotonic() + max(60.0, size.mib * 0.5)
        while _total_size(log, backups) < total:
            if daemon.popen.poll() is not None:
                raise BenchError(f"daemon exited with status {daemon.popen.returncode}")
            if time.monotonic() > deadline:
                have = _total_size(log, backups)
                raise BenchError(f"only {have} of {total} bytes in the log after the deadline")
            time.sleep(0.02)
        wall = time.perf_counter() - started
        state = daemon.rpc.supervisor.getProcessInfo("writer")
        while state["statename"] not in ("EXITED", "FATAL", "STOPPED", "BACKOFF"):
            if time.monotonic() > deadline:
                raise BenchError(f"writer still {state['statename']} after its output is in")
            time.sleep(0.02)
            state = daemon.rpc.supervisor.getProcessInfo("writer")
        time.sleep(0.1)  # whatever the daemon still does about the exit
        user_after, sys_after = cpu_times(daemon.pid)
        user, system = user_after - user_before, sys_after - sys_before
        cpu = user + system
        if state["exitstatus"] != 0:
            outcome.problems.append(f"writer exited with {state['exitstatus']}")
        paths = _files(log, backups)
        if not _same_stream(paths, lines):
            lost, doubled, malformed = _count_lines(paths, lines)
            outcome.problems.append(
                f"log differs from the output: {lost} lines lost, {doubled} doubled, "
                f"{malformed} malformed, in {len(paths)} files"
            )
        else:
            lost = 0
    what = f"rotated at {maxbytes // 1000000} MB" if rotated else "no rotation"
    label = f"daemon CPU per GiB logged, {size.mib} MiB in 64 KiB writes, {what}"
    outcome.figures[label] = cpu * GIB / total
    bench.target(outcome, label, TARGET)
    outcome.samples[label] = [cpu * GIB / total]
    outcome.samples[f"{label}: daemon CPU seconds, user"] = [user]
    outcome.samples[f"{label}: daemon CPU seconds, system"] = [system]
    outcome.samples[f"{label}: wall seconds"] = [wall]
    outcome.samples[f"{label}: lines lost"] = [float(lost)]
    outcome.samples[f"{label}: files"] = [float(len(paths))]
    return outcome


@scenario("log_capture", "child output to a log file: daemon CPU per GiB, every line checked")
def log_capture(bench: Bench) -> Outcome:
    return _run(bench, rotated=False)


@scenario(
    "log_capture_rotated",
    "as log_capture, with logfile_maxbytes and enough backups to keep it all",
)
def log_capture_rotated(bench: Bench) -> Outcome:
    return _run(bench, rotated=True)
