"""A log target whose reader is slow (a FIFO nobody reads) never stalls the
loop (issue 14, item 1): pings are answered while it is full, the daemon log
says output is dropped, and output flows again once the FIFO is read."""

from __future__ import annotations

import os
import xmlrpc.client
from pathlib import Path

from tests.waiting import wait_until

# 12 MiB at once (more than the pipe and the daemon's 1 MiB bound hold), then
# quiet: once the test reads the FIFO, the daemon's buffer empties for sure,
# however slowly the test reads on a loaded machine.
BURST = """import sys, time
for _ in range(3072):
    sys.stdout.write("x" * 4095 + "\\n")
sys.stdout.flush()
time.sleep(1000)
"""


def _fifo_reader(path: Path) -> int:
    os.mkfifo(path)
    # Opened before the daemon, so its non-blocking open finds a reader.
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK)


def _answered_pings(rpc: xmlrpc.client.ServerProxy, count: int) -> int:
    answered = 0
    for _ in range(count):
        if rpc.supervisor.getState()["statename"] == "RUNNING":
            answered += 1
    return answered


def test_program_log_fifo_with_slow_reader_does_not_stall_the_loop(daemon_factory, tmp_path: Path) -> None:
    fifo = tmp_path / "out.fifo"
    reader = _fifo_reader(fifo)
    script = tmp_path / "burst.py"
    script.write_text(BURST)
    try:
        d = daemon_factory(f"[program:chatty]\ncommand=python3 {script}\nstdout_logfile={fifo}\nstartsecs=0\n")
        d.wait_state("chatty", "RUNNING")
        wait_until(lambda: "dropped" in d.read_log(), 30, "the daemon log to say output is dropped")
        rpc = d.proxy(timeout=10)
        assert _answered_pings(rpc, 50) == 50  # while the FIFO is full
        # Reading the FIFO: output flows again and the daemon says so.
        got = 0

        def drained() -> bool:
            nonlocal got
            try:
                got += len(os.read(reader, 1 << 16))
            except BlockingIOError:
                pass
            return "writable again" in d.read_log() and got > 1 << 19

        wait_until(drained, 30, "output to flow again", interval=0.001)
        assert "Traceback" not in d.read_log()
    finally:
        os.close(reader)
