from __future__ import annotations

import errno
import os
import random

import pytest
from tests.tmpfs import small_tmpfs

from supervisor_ng.logs.rotating import LogFileError, RotatingFile


def numbered_chunks(count: int, seed: int = 0) -> list[bytes]:
    """Writes of 1..40 numbered lines each, like a chatty child's reads."""
    rnd = random.Random(seed)
    chunks = []
    n = 0
    while n < count:
        k = min(rnd.randint(1, 40), count - n)
        chunks.append(b"".join(b"line %07d\n" % i for i in range(n, n + k)))
        n += k
    return chunks


def read_all(path: str, backups: int) -> tuple[bytes, list[str]]:
    """Oldest backup first, current file last."""
    names = [f"{path}.{i}" for i in range(backups, 0, -1)] + [path]
    present = [p for p in names if os.path.exists(p)]
    return b"".join(open(p, "rb").read() for p in present), present


def numbers(data: bytes) -> list[int]:
    return [int(line.split()[1]) for line in data.splitlines()]


def test_rotation_loses_and_repeats_nothing(tmp_path):
    path = str(tmp_path / "out.log")
    chunks = numbered_chunks(20000)
    f = RotatingFile(path, maxbytes=2000, backups=1000)
    for chunk in chunks:
        f.write(chunk)
    f.close()
    data, present = read_all(path, 1000)
    assert data == b"".join(chunks)
    assert numbers(data) == list(range(20000))
    assert len(present) > 50  # it did rotate, a lot
    for p in present[:-1]:
        # Rotation happens after the write that reached maxbytes, never mid-write.
        assert os.path.getsize(p) >= 2000
        assert open(p, "rb").read().endswith(b"\n")
    assert os.path.getsize(path) < 2000


def test_big_write_lands_whole_then_rotates(tmp_path):
    path = str(tmp_path / "out.log")
    f = RotatingFile(path, maxbytes=100, backups=3)
    f.write(b"a" * 10)
    f.write(b"b" * 500)
    f.write(b"c" * 10)
    assert open(path + ".1", "rb").read() == b"a" * 10 + b"b" * 500
    assert open(path, "rb").read() == b"c" * 10
    assert f.size == 10


def test_oldest_backups_dropped_leaves_contiguous_suffix(tmp_path):
    path = str(tmp_path / "out.log")
    chunks = numbered_chunks(5000, seed=1)
    f = RotatingFile(path, maxbytes=1500, backups=3)
    for chunk in chunks:
        f.write(chunk)
    f.close()
    data, present = read_all(path, 10)
    assert present == [path + ".3", path + ".2", path + ".1", path]
    assert not os.path.exists(path + ".4")
    stream = b"".join(chunks)
    assert stream.endswith(data)
    got = numbers(data)
    assert got == list(range(got[0], 5000))


def test_backups_zero_truncates_in_place(tmp_path):
    path = str(tmp_path / "out.log")
    chunks = numbered_chunks(3000, seed=2)
    f = RotatingFile(path, maxbytes=1000, backups=0)
    for chunk in chunks:
        f.write(chunk)
    f.close()
    assert sorted(os.listdir(tmp_path)) == ["out.log"]
    data = open(path, "rb").read()
    assert len(data) < 1000
    assert b"".join(chunks).endswith(data)


def test_maxbytes_zero_never_rotates(tmp_path):
    path = str(tmp_path / "out.log")
    chunks = numbered_chunks(3000, seed=3)
    f = RotatingFile(path, maxbytes=0, backups=5)
    for chunk in chunks:
        f.write(chunk)
    f.close()
    assert sorted(os.listdir(tmp_path)) == ["out.log"]
    assert open(path, "rb").read() == b"".join(chunks)


def test_appends_to_existing_and_counts_its_size(tmp_path):
    path = tmp_path / "out.log"
    path.write_bytes(b"x" * 90)
    f = RotatingFile(str(path), maxbytes=100, backups=2)
    assert f.size == 90
    f.write(b"y" * 10)  # reaches 100: rotates
    assert (tmp_path / "out.log.1").read_bytes() == b"x" * 90 + b"y" * 10
    assert path.read_bytes() == b""


def test_created_with_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        f = RotatingFile(str(tmp_path / "m.log"), maxbytes=10, backups=1)
        f.write(b"0123456789")  # rotated: the fresh file gets the same mode
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "m.log").st_mode & 0o777 == 0o640
    assert os.stat(tmp_path / "m.log.1").st_mode & 0o777 == 0o640


def test_fd_is_close_on_exec(tmp_path):
    f = RotatingFile(str(tmp_path / "c.log"))
    assert not os.get_inheritable(f.fileno())


def test_reopen_after_move_away(tmp_path):
    path = str(tmp_path / "out.log")
    f = RotatingFile(path, maxbytes=1000, backups=2)
    f.write(b"before\n")
    os.rename(path, path + ".moved")
    f.write(b"still old\n")
    f.reopen()
    f.write(b"after\n")
    assert open(path + ".moved", "rb").read() == b"before\nstill old\n"
    assert open(path, "rb").read() == b"after\n"
    assert f.size == 6


def test_clear_removes_current_keeps_backups(tmp_path):
    path = str(tmp_path / "out.log")
    f = RotatingFile(path, maxbytes=10, backups=2)
    f.write(b"0123456789")
    f.write(b"abc")
    f.clear()
    assert open(path, "rb").read() == b""
    assert open(path + ".1", "rb").read() == b"0123456789"
    assert f.size == 0
    f.write(b"new")
    assert open(path, "rb").read() == b"new"


def test_clear_when_file_already_gone(tmp_path):
    path = str(tmp_path / "out.log")
    f = RotatingFile(path)
    os.unlink(path)
    f.clear()
    f.write(b"x")
    assert open(path, "rb").read() == b"x"


def test_rotation_survives_file_removed_under_us(tmp_path):
    path = str(tmp_path / "out.log")
    f = RotatingFile(path, maxbytes=10, backups=2)
    f.write(b"12345")
    os.unlink(path)
    f.write(b"67890")  # rotation: rename of the vanished file is skipped
    f.write(b"z")
    assert open(path, "rb").read() == b"z"


def test_close_then_write_is_ignored(tmp_path):
    path = str(tmp_path / "out.log")
    f = RotatingFile(path)
    f.close()
    f.close()
    f.write(b"dropped")
    assert open(path, "rb").read() == b""
    assert f.closed


def test_open_failure_raises_at_construction(tmp_path):
    with pytest.raises(FileNotFoundError):
        RotatingFile(str(tmp_path / "nodir" / "x.log"))


def test_reopen_failure_reported_then_recovers(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    path = str(d / "x.log")
    errors: list[LogFileError] = []
    f = RotatingFile(path, on_error=errors.append)
    os.unlink(path)
    os.rmdir(d)
    f.reopen()
    f.write(b"lost")
    f.write(b"lost too")
    assert len(errors) == 1 and errors[0].errno == errno.ENOENT
    d.mkdir()
    f.write(b"back\n")
    assert open(path, "rb").read() == b"back\n"
    assert f.dropped == len(b"lost") + len(b"lost too")


def test_non_regular_dev_null_never_rotates():
    errors: list[LogFileError] = []
    f = RotatingFile("/dev/null", maxbytes=1, backups=3, on_error=errors.append)
    for _ in range(10):
        f.write(b"hello\n")
    f.close()
    assert errors == []
    assert not os.path.exists("/dev/null.1")


def test_pipe_via_proc_fd_works_with_maxbytes():
    # What "stdout_logfile=/dev/stdout" is when stdout is a pipe (docker).
    r, w = os.pipe()
    try:
        errors: list[LogFileError] = []
        f = RotatingFile(f"/proc/self/fd/{w}", maxbytes=5, backups=2, on_error=errors.append)
        f.write(b"0123456789\n")
        f.write(b"more\n")
        f.close()
        assert os.read(r, 100) == b"0123456789\nmore\n"
        assert errors == []
    finally:
        os.close(r)
        os.close(w)


def test_fifo_with_reader(tmp_path):
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        f = RotatingFile(fifo, maxbytes=3, backups=1)
        f.write(b"abcdef")
        f.write(b"gh")
        assert os.read(rfd, 100) == b"abcdefgh"
        assert not os.path.exists(fifo + ".1")
        f.close()
    finally:
        os.close(rfd)


def test_fifo_without_reader_fails_instead_of_hanging(tmp_path):
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    with pytest.raises(OSError) as info:
        RotatingFile(fifo)
    assert info.value.errno == errno.ENXIO


def test_dev_full_reports_once_per_streak():
    errors: list[LogFileError] = []
    f = RotatingFile("/dev/full", maxbytes=10, on_error=errors.append)
    for _ in range(5):
        f.write(b"0123456789")  # must not raise
    assert len(errors) == 1
    err = errors[0]
    assert err.errno == errno.ENOSPC and err.operation == "write" and err.dropped == 10
    assert "/dev/full" in str(err) and "10 bytes of output dropped" in str(err)
    assert f.dropped == 50


def test_broken_callback_does_not_raise():
    def boom(exc):
        raise RuntimeError("callback bug")

    f = RotatingFile("/dev/full", on_error=boom)
    f.write(b"x")


@pytest.fixture
def tiny_tmpfs(tmp_path):
    with small_tmpfs(tmp_path, "64k") as mnt:
        yield mnt


def test_enospc_reported_once_and_writes_resume(tiny_tmpfs):
    filler = tiny_tmpfs / "filler"
    filler.write_bytes(b"f" * 16384)
    path = str(tiny_tmpfs / "out.log")
    errors: list[LogFileError] = []
    f = RotatingFile(path, maxbytes=0, on_error=errors.append)
    chunks = [b"%07d" % i + b"." * 992 + b"\n" for i in range(200)]  # 1000 bytes each
    for chunk in chunks[:100]:
        f.write(chunk)
    assert len(errors) == 1
    assert errors[0].errno == errno.ENOSPC
    size_when_full = os.path.getsize(path)
    assert size_when_full < 100 * 1000
    assert f.size == size_when_full
    # What landed is a prefix of the stream: nothing doubled, nothing reordered.
    assert b"".join(chunks[:100]).startswith(open(path, "rb").read())
    assert f.dropped == 100 * 1000 - size_when_full

    filler.unlink()
    for chunk in chunks[100:105]:
        f.write(chunk)
    data = open(path, "rb").read()
    assert data.endswith(b"".join(chunks[100:105]))
    assert len(data) == size_when_full + 5000
    assert len(errors) == 1

    # A new streak is reported again.
    for chunk in chunks[105:]:
        f.write(chunk)
    assert len(errors) == 2
    f.close()


def test_enospc_during_rotation_keeps_logging(tiny_tmpfs):
    path = str(tiny_tmpfs / "out.log")
    errors: list[LogFileError] = []
    f = RotatingFile(path, maxbytes=8000, backups=20, on_error=errors.append)
    chunks = [b"%07d\n" % i * 125 for i in range(200)]  # 1000 bytes each
    for chunk in chunks:
        f.write(chunk)  # fills the fs: backups count towards it
    assert errors  # reported, never raised
    for i in range(20, 0, -1):
        if os.path.exists(f"{path}.{i}"):
            os.unlink(f"{path}.{i}")
    f.write(b"after cleanup\n")
    assert open(path, "rb").read().endswith(b"after cleanup\n")
