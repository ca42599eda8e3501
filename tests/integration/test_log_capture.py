"""Child output to its log file: the splice fast path and the read path.

Each test runs a real writer process on a pipe into an :class:`OutputChannel`
on its own event loop (as the daemon does) and then checks that the log files,
read oldest backup first, hold every numbered line exactly once and in order.
The last test does the same through a real daemon.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable, Optional

import pytest

from supervisor_ng.logs import rotating
from supervisor_ng.logs.ansi import AnsiStripper
from supervisor_ng.logs.rotating import LogFileError, LogFileResumed, RotatingFile
from supervisor_ng.runtime.destinations import Destinations
from supervisor_ng.runtime.output import OutputChannel
from tests.tmpfs import small_tmpfs

HAVE_SPLICE = hasattr(os, "splice")
needs_splice = pytest.mark.skipif(not HAVE_SPLICE, reason="os.splice needs Python 3.10+")

LINE = 50
WRITER = textwrap.dedent(
    """\
    import os, sys, time
    first, lines, block, pause = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    buf = bytearray()

    def put(data):
        view = memoryview(data)
        while view:
            view = view[os.write(1, view):]

    for i in range(first, first + lines):
        buf += b"%08d %s\\n" % (i, b"." * 40)
        if len(buf) >= block:
            put(bytes(buf[:block]))
            del buf[:block]
            if pause:
                time.sleep(pause)
    put(bytes(buf))
    """
)


def expected(lines: int, first: int = 0) -> bytes:
    return b"".join(b"%08d %s\n" % (i, b"." * 40) for i in range(first, first + lines))


def writer(
    tmp: Path, lines: int, block: int = 65536, pause: float = 0.0, first: int = 0
) -> list[str]:
    script = tmp / "writer.py"
    script.write_text(WRITER)
    return [sys.executable, str(script), str(first), str(lines), str(block), str(pause)]


def pump(
    channel: OutputChannel,
    argv: list[str],
    tick: Optional[Callable[[], None]] = None,
    timeout: float = 120,
) -> int:
    """Run *argv* with its stdout on a pipe read by *channel* until the pipe
    ends; returns the writer's exit status."""
    loop = asyncio.new_event_loop()
    r, w = os.pipe()
    proc = subprocess.Popen(argv, stdout=w)
    os.close(w)
    os.set_blocking(r, False)

    async def until_ended() -> None:
        deadline = loop.time() + timeout
        while channel.attached:
            if tick is not None:
                tick()
            assert loop.time() < deadline, "the pipe never ended"
            await asyncio.sleep(0.005)

    try:
        channel.attach(r, loop)
        loop.run_until_complete(until_ended())
    finally:
        channel.detach()
        loop.close()
    return proc.wait(timeout=30)


def read_all(path: Path, backups: int) -> tuple[bytes, list[Path]]:
    names = [Path(f"{path}.{i}") for i in range(backups, 0, -1)] + [path]
    present = [p for p in names if p.exists()]
    return b"".join(p.read_bytes() for p in present), present


class SpliceSpy:
    """Counts the bytes a RotatingFile moved with splice."""

    def __init__(self, logfile: RotatingFile) -> None:
        self.moved = 0
        self._splice_from = logfile.splice_from
        logfile.splice_from = self  # type: ignore[method-assign]

    def __call__(self, pipe: int, count: int) -> int:
        n = self._splice_from(pipe, count)
        if n > 0:
            self.moved += n
        return n


@needs_splice
def test_splice_with_rotation_keeps_every_line_once(tmp_path):
    path = tmp_path / "out.log"
    log = RotatingFile(str(path), maxbytes=100_000, backups=1000)
    spy = SpliceSpy(log)
    channel = OutputChannel("stdout", Destinations(logfile=log))
    wakes: list[None] = []
    channel.wakers.append(lambda: wakes.append(None))
    assert channel.fast_path
    lines = 200_000  # 10 MB
    assert pump(channel, writer(tmp_path, lines)) == 0
    log.close()
    data, files = read_all(path, 1000)
    assert data == expected(lines)
    assert spy.moved == len(data)  # all of it in the kernel
    assert wakes  # tail -f followers were told
    # Rotation cut each file at maxbytes to the byte: the rest went on to the next.
    assert [p.stat().st_size for p in files[:-1]] == [100_000] * (len(files) - 1)
    # 100 full files; the last write filled the 100th, so a fresh empty one follows.
    assert len(files) == lines * LINE // 100_000 + 1 and files[-1].stat().st_size == 0


@needs_splice
def test_splice_without_rotation_small_and_slow_writes(tmp_path):
    path = tmp_path / "out.log"
    log = RotatingFile(str(path))
    spy = SpliceSpy(log)
    channel = OutputChannel("stdout", Destinations(logfile=log))
    lines = 3000
    assert pump(channel, writer(tmp_path, lines, block=700, pause=0.0005)) == 0
    log.close()
    assert path.read_bytes() == expected(lines)
    assert spy.moved == lines * LINE


@needs_splice
def test_follower_added_midway_is_woken_and_splice_stays_on(tmp_path):
    """A ``tail -f`` follower that arrives while the child writes is woken
    as output arrives, without turning the fast path off: every byte is
    still spliced, none read into Python."""
    path = tmp_path / "out.log"
    log = RotatingFile(str(path), maxbytes=1_000_000, backups=100)
    spy = SpliceSpy(log)
    channel = OutputChannel("stdout", Destinations(logfile=log))
    wakes: list[int] = []

    def tick() -> None:
        if not channel.wakers and spy.moved > 1_000_000:
            channel.wakers.append(lambda: wakes.append(spy.moved))

    lines = 100_000
    assert pump(channel, writer(tmp_path, lines, pause=0.001), tick=tick) == 0
    log.close()
    data, _files = read_all(path, 100)
    want = expected(lines)
    assert data == want
    assert spy.moved == len(want)
    assert wakes and wakes[0] > 1_000_000 and wakes[-1] == len(want)


@needs_splice
def test_splice_into_lazy_file_without_backups(tmp_path):
    """An AUTO log appears with the first output (written, which opens it);
    splice takes over after that.  backups=0 truncates in place at maxbytes."""
    path = tmp_path / "auto.log"
    log = RotatingFile(str(path), maxbytes=30_000, backups=0, lazy=True, mode=0o600)
    spy = SpliceSpy(log)
    channel = OutputChannel("stdout", Destinations(logfile=log))
    lines = 20_000  # 1 MB
    assert pump(channel, writer(tmp_path, lines)) == 0
    log.close()
    want = expected(lines)
    data = path.read_bytes()
    assert len(data) < 30_000 and want.endswith(data)
    assert spy.moved > len(want) // 2
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    assert not Path(f"{path}.1").exists()


def test_fast_path_only_when_nothing_else_needs_the_bytes(tmp_path):
    """The destinations are fixed once built, and with them the fast path."""

    def fast(**options: object) -> bool:
        logfile = RotatingFile(str(tmp_path / "x.log"))
        return OutputChannel("stdout", Destinations(logfile=logfile, **options)).fast_path  # type: ignore[arg-type]

    def hook(data: bytes) -> None:
        pass

    assert fast()
    assert not OutputChannel("stdout", Destinations()).fast_path
    for option, value in (
        ("stripper", AnsiStripper()), ("syslog", object()), ("journal", object()),
        ("capture", object()), ("debug_echo", hook), ("log_events", hook), ("protocol", hook),
    ):
        assert not fast(**{option: value}), option
    follower = OutputChannel("stdout", Destinations(logfile=RotatingFile(str(tmp_path / "y.log"))))
    follower.wakers.append(lambda: None)
    assert follower.fast_path  # a tail -f follower reads the file itself


def test_strip_ansi_still_strips(tmp_path):
    path = tmp_path / "out.log"
    script = tmp_path / "ansi.py"
    script.write_text(
        "import os\nfor i in range(2000):\n    os.write(1, b'\\x1b[31m%05d\\x1b[0m\\n' % i)\n"
    )
    log = RotatingFile(str(path), maxbytes=5000, backups=100)
    channel = OutputChannel("stdout", Destinations(logfile=log, stripper=AnsiStripper()))
    assert pump(channel, [sys.executable, str(script)]) == 0
    log.close()
    data, _files = read_all(path, 100)
    assert data == b"".join(b"%05d\n" % i for i in range(2000))


def test_without_splice_reads_and_writes(tmp_path, monkeypatch):
    """Python 3.9 has no os.splice: the same result through read/write."""
    monkeypatch.setattr(rotating, "_splice", None)
    path = tmp_path / "out.log"
    log = RotatingFile(str(path), maxbytes=100_000, backups=1000)
    spy = SpliceSpy(log)
    channel = OutputChannel("stdout", Destinations(logfile=log))
    lines = 100_000
    assert pump(channel, writer(tmp_path, lines)) == 0
    log.close()
    data, _files = read_all(path, 1000)
    assert data == expected(lines)
    assert spy.moved == 0


@pytest.fixture
def tiny_tmpfs(tmp_path):
    with small_tmpfs(tmp_path, "1m") as mnt:
        yield mnt


def test_disk_full_keeps_draining_and_resumes(tiny_tmpfs, tmp_path):
    """The file system fills up under the fast path: the child is not
    blocked (it finishes), one error is reported, what landed is a prefix of
    the output, and writing resumes (with a notice) once there is room."""
    path = tiny_tmpfs / "out.log"
    errors: list[LogFileError] = []
    resumed: list[LogFileResumed] = []
    log = RotatingFile(str(path), on_error=errors.append, on_resume=resumed.append)
    channel = OutputChannel("stdout", Destinations(logfile=log))
    lines = 100_000  # 5 MB into 1 MB
    assert pump(channel, writer(tmp_path, lines)) == 0
    assert len(errors) == 1 and errors[0].errno == 28 and "dropped" in str(errors[0])
    landed = path.read_bytes()
    assert 0 < len(landed) < lines * LINE
    assert expected(lines).startswith(landed)  # nothing doubled or out of order
    assert log.dropped == lines * LINE - len(landed)
    assert not resumed

    os.truncate(path, 0)  # room again (as if rotated away)
    assert pump(channel, writer(tmp_path, 1000, first=lines)) == 0
    log.close()
    assert path.read_bytes() == expected(1000, first=lines)
    assert len(errors) == 1
    assert len(resumed) == 1 and resumed[0].dropped == lines * LINE - len(landed)
    assert "writable again" in str(resumed[0])


@needs_splice
def test_daemon_rotated_log_has_every_line_once(daemon_factory, tmp_path):
    lines = 200_000  # 10 MB through 1 MB files
    argv = " ".join(writer(tmp_path, lines))
    d = daemon_factory(
        f"""
        [program:chatty]
        command={argv}
        startsecs=0
        autorestart=false
        stdout_logfile={tmp_path}/chatty.log
        stdout_logfile_maxbytes=1MB
        stdout_logfile_backups=50
        """
    )
    d.wait_state("chatty", "EXITED", timeout=120)
    data, files = read_all(tmp_path / "chatty.log", 50)
    assert data == expected(lines)
    assert [p.stat().st_size for p in files[:-1]] == [1024 * 1024] * (len(files) - 1)
    # tail -f's byte offsets agree with the file
    tail, offset, overflow = d.rpc.supervisor.tailProcessStdoutLog("chatty", 0, 1000)
    assert offset == files[-1].stat().st_size and tail.encode() == data[-1000:]
