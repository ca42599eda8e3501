"""Reading a large journal back never holds the event loop.

A program writes a few hundred thousand lines to the journal (a standalone
journald in a private mount namespace, as in test_systemd_journal.py).  The
first read of a channel has to count the whole journal to know its size; while
it runs, a second client pings ``supervisor.getState`` back to back and must
get answers.  Were the count on the loop (as it was), no ping sent after the
request could be answered before the request itself.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.daemon_harness import short_workdir, unix_proxy
from tests.integration.test_systemd_journal import JournalDaemon, _namespace_works, pytestmark  # noqa: F401

LINES = 200_000
WRITER = f"""\
import sys, time
for channel in (sys.stdout, sys.stderr):
    channel.buffer.write(b"".join(b"line %07d\\n" % i for i in range({LINES})) + b"END\\n")
    channel.flush()
time.sleep(3600)
"""
PROGRAMS = f"""
[program:chatty]
command={sys.executable} %(here)s/writer.py
stdout_logfile=NONE
stdout_journal=true
stderr_logfile=NONE
stderr_journal=true
startsecs=0
"""
# journald drops most of a burst like this one under its default rate limit.
JOURNALD_CONF = "[Journal]\nStorage=volatile\nRateLimitBurst=0\nRuntimeMaxUse=2G\n"
STREAM = b"".join(b"line %07d\n" % i for i in range(LINES)) + b"END\n"


class Pinger:
    """Calls getState back to back on its own connection; keeps (sent, answered)."""

    def __init__(self, sock: Path) -> None:
        self._rpc = unix_proxy(str(sock))
        self.pings: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            sent = time.monotonic()
            self._rpc.supervisor.getState()
            self.pings.append((sent, time.monotonic()))

    def __enter__(self) -> Pinger:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def answered_within(self, start: float, end: float) -> int:
        return sum(start <= sent and answered <= end for sent, answered in list(self.pings))


def _journal_last_line(d: JournalDaemon, priority: str) -> str:
    dirs = [p for p in d.journal_dir.iterdir() if p.is_dir()]
    if not dirs:
        return ""
    done = subprocess.run(
        ["journalctl", f"--directory={dirs[0]}", "-t", "chatty", "-p", f"{priority}..{priority}",
         "-n", "1", "-o", "cat", "--no-pager"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture
def chatty(tmp_path: Path):
    if not _namespace_works():
        pytest.skip("cannot create a mount namespace with tmpfs mounts here")
    d = JournalDaemon(short_workdir(tmp_path, "jstall"), PROGRAMS, journald_conf=JOURNALD_CONF)
    (d.workdir / "writer.py").write_text(WRITER)
    try:
        d.start()
        for priority in ("6", "3"):  # stdout, stderr: all of it is in the journal
            d.wait_until(lambda p=priority: _journal_last_line(d, p) == "END", 60.0, "the last line")
        yield d
    finally:
        d.stop()
        d.stop_journald()


def _timed(call):  # type: ignore[no-untyped-def]
    start = time.monotonic()
    result = call()
    return result, start, time.monotonic()


def test_reads_of_a_large_journal_leave_the_loop_free(chatty: JournalDaemon) -> None:
    sv = chatty.rpc.supervisor
    size = len(STREAM)
    with Pinger(chatty.sock) as pinger:
        chatty.wait_until(lambda: len(pinger.pings) > 0, 10.0, "a first ping")
        # First look at stdout: an offset read near the end (the count runs).
        data, start, end = _timed(lambda: sv.readProcessStdoutLog("chatty", size - 100, 100))
        assert data == STREAM[-100:].decode()
        assert pinger.answered_within(start, end) >= 3
        # First look at stderr: a tail (the count runs again, for that channel).
        result, start, end = _timed(lambda: sv.tailProcessStderrLog("chatty", 0, 4096))
        assert result == [STREAM[-4096:].decode(), size, True]
        assert pinger.answered_within(start, end) >= 3
    # Counted once: later calls carry on from there, with stock's offsets.
    assert sv.tailProcessStdoutLog("chatty", 0, 4096) == [STREAM[-4096:].decode(), size, True]
    assert sv.tailProcessStdoutLog("chatty", size, 4096) == ["", size, False]
    assert sv.tailProcessStdoutLog("chatty", size - 10, 100) == [STREAM[-100:].decode(), size, False]
    assert sv.readProcessStderrLog("chatty", 1_000_003, 20) == STREAM[1_000_003:1_000_023].decode()
    assert sv.readProcessStderrLog("chatty", 0, 16) == STREAM[:16].decode()
    assert sv.readProcessStdoutLog("chatty", -5, 0) == "\nEND\n"
