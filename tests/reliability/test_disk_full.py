"""Disk full (issue #9): the log directory is a small tmpfs that a filler file
fills up while a real daemon runs a chatty program.

The daemon must stay up and keep managing processes, say once in its log
what failed (and that output is being dropped), never block the program, keep
what was written before the fault, and resume writing (saying so) when space
comes back.  The same for the daemon's own log, whose failure can only be
told on stderr.
"""

from __future__ import annotations

import errno
import re
import sys
import textwrap
from pathlib import Path

import pytest

from tests.reliability.conftest import figures
from tests.tmpfs import small_tmpfs
from tests.waiting import wait_until

CHATTY = textwrap.dedent(
    """\
    import os, sys, time
    progress = sys.argv[1]
    i = 0
    while True:
        os.write(1, b"%08d %s\\n" % (i, b"." * 90))
        i += 1
        if i % 20 == 0:
            with open(progress + ".tmp", "w") as f:
                f.write(str(i))
            os.replace(progress + ".tmp", progress)
            time.sleep(0.01)
    """
)
LINE = re.compile(rb"^(\d{8}) \.{90}$")


@pytest.fixture
def small_fs(tmp_path):
    with small_tmpfs(tmp_path, "2m") as mnt:
        yield mnt


def fill(fs: Path) -> Path:
    """Write a file until the file system is full."""
    filler = fs / "filler"
    block = b"f" * 4096
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def progress(path: Path) -> int:
    try:
        return int(path.read_text() or 0)
    except (OSError, ValueError):
        return 0


def numbered(data: bytes) -> list[int]:
    """The numbers of the whole lines; a line cut by the fault is skipped."""
    return [int(m.group(1)) for m in map(LINE.match, data.split(b"\n")) if m]


def test_child_log_on_full_disk(daemon_factory, small_fs, tmp_path):
    script = tmp_path / "chatty.py"
    script.write_text(CHATTY)
    counter = tmp_path / "progress"
    log = small_fs / "chatty.log"
    d = daemon_factory(
        f"""
        [program:chatty]
        command={sys.executable} {script} {counter}
        startsecs=0
        stdout_logfile={log}
        stdout_logfile_maxbytes=0

        [program:other]
        command=sleep 1000
        startsecs=0
        """
    )
    d.wait_all(("RUNNING",))
    wait_until(lambda: log.exists() and log.stat().st_size > 20_000, what="output before the fault")
    before = log.read_bytes()

    filler = fill(small_fs)
    failed = re.escape(f"chatty: cannot write log file {log}: No space left on device")
    wait_until(lambda: re.search(failed, d.read_log()), what="the failure in the daemon log")
    size_at_fault = log.stat().st_size

    # The program is not blocked: it writes far more than a pipe holds.
    written = progress(counter)
    wait_until(lambda: progress(counter) > written + 2000, what="the program to keep writing")
    # The daemon keeps managing processes.
    status = d.ctl("status")
    assert status.returncode == 0, status
    assert "chatty" in status.stdout and "other" in status.stdout
    d.rpc.supervisor.stopProcess("other")
    assert d.state("other") == "STOPPED"
    d.rpc.supervisor.startProcess("other")
    assert d.state("other") == "RUNNING"
    assert d.state("chatty") == "RUNNING"
    main_log = d.read_log()
    assert len(re.findall(failed, main_log)) == 1
    assert "output is dropped" in main_log
    assert log.stat().st_size == size_at_fault  # nothing was kept back to write later
    assert log.read_bytes().startswith(before)  # nothing written before was lost

    filler.unlink()
    wait_until(lambda: log.stat().st_size > size_at_fault + 10_000, what="writing to resume")
    resumed = "WARN " + re.escape(f"chatty: log file {log} is writable again")
    wait_until(lambda: re.search(resumed, d.read_log()), what="the resume message")
    data = log.read_bytes()
    assert data.startswith(before)
    numbers = numbered(data)
    assert numbers == sorted(set(numbers))  # in order, none twice
    gaps = [b - a for a, b in zip(numbers, numbers[1:]) if b - a > 1]
    assert len(gaps) == 1  # the lines dropped while the disk was full
    main_log = d.read_log()
    assert len(re.findall(failed, main_log)) == 1
    assert len(re.findall(resumed, main_log)) == 1
    figures(
        "disk_full_child_log",
        bytes_before=len(before),
        size_at_fault=size_at_fault,
        lines_dropped=gaps[0] - 1,
        size_after=len(data),
    )


def test_main_log_on_full_disk(daemon_factory, small_fs):
    d = daemon_factory(
        """
        [program:other]
        command=sleep 1000
        startsecs=0
        """,
        start=False,
        supervisord_options="silent=true",  # no echo: stderr is all that is left
    )
    target = small_fs / "supervisord.log"
    d.logfile.symlink_to(target)
    d.start()
    d.wait_state("other", "RUNNING")
    before = target.read_bytes()
    assert b"spawned: 'other'" in before

    filler = fill(small_fs)
    failed = f"cannot write log file {d.logfile}: No space left on device"

    def restart_other() -> str:
        # Each restart logs two lines; the file's last page may still take a few.
        d.rpc.supervisor.stopProcess("other")
        d.rpc.supervisor.startProcess("other")
        output = d.read_output()
        return output if failed in output else ""

    wait_until(restart_other, what="the failure on stderr")
    for _ in range(5):
        restart_other()
    assert d.state("other") == "RUNNING"
    output = d.read_output()
    assert output.count(failed) == 1
    assert "output is dropped until it can be written again" in output
    assert target.read_bytes().startswith(before)

    filler.unlink()
    d.rpc.supervisor.stopProcess("other")
    d.rpc.supervisor.startProcess("other")
    text = wait_until(
        lambda: "is writable again" in target.read_text() and target.read_text(),
        what="the resume message",
    )
    assert target.read_bytes().startswith(before)
    assert re.search(r"WARN log file .* is writable again; \d+ bytes of output were dropped", text)
    assert "spawned: 'other'" in text.split("is writable again")[1]
    assert d.read_output().count(failed) == 1
