from __future__ import annotations

import os

import pytest

from supervisor_ng.logs.reader import BadArguments, Failed, NoFile, read_file, tail_file

DATA = b"0123456789"  # 10 bytes


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "x.log"
    path.write_bytes(DATA)
    return str(path)


@pytest.mark.parametrize(
    "offset, length, expected",
    [
        (0, 0, DATA),  # whole file
        (4, 0, b"456789"),  # offset to end
        (10, 0, b""),
        (50, 0, b""),
        (0, 3, b"012"),
        (8, 5, b"89"),
        (-3, 0, b"789"),  # last 3 bytes
        (-10, 0, DATA),
        (-50, 0, DATA),  # more than the file: all of it
    ],
)
def test_read_file(log, offset, length, expected):
    assert read_file(log, offset, length) == expected


@pytest.mark.parametrize("offset, length", [(-3, 1), (-3, -1), (0, -1), (5, -5)])
def test_read_file_bad_arguments(log, offset, length):
    with pytest.raises(BadArguments):
        read_file(log, offset, length)


def test_read_file_no_file(tmp_path):
    with pytest.raises(NoFile):
        read_file(None, 0, 0)
    with pytest.raises(NoFile):
        read_file(str(tmp_path / "missing"), 0, 0)


def test_read_file_unreadable_is_failed(tmp_path):
    with pytest.raises(Failed):
        read_file(str(tmp_path), 0, 0)  # a directory
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    with pytest.raises(Failed):  # and never blocks waiting for a writer
        read_file(fifo, 0, 0)


@pytest.mark.parametrize(
    "offset, length, expected",
    [
        # file bigger than offset+length: overflow, last `length` bytes
        (0, 4, (b"6789", 10, True)),
        (2, 3, (b"789", 10, True)),
        (0, 0, (b"", 10, True)),
        (-5, 3, (b"789", 10, True)),
        # window reaches the end: the last `length` bytes (may start before offset)
        (6, 4, (b"6789", 10, False)),
        (5, 8, (b"23456789", 10, False)),
        (0, 10, (DATA, 10, False)),
        (0, 50, (DATA, 10, False)),
        # offset at or past the end: nothing new
        (10, 5, (b"", 10, False)),
        (30, 5, (b"", 10, False)),
        (10, 0, (b"", 10, False)),
    ],
)
def test_tail_file(log, offset, length, expected):
    assert tail_file(log, offset, length) == expected


def test_tail_file_no_file(tmp_path):
    assert tail_file(None, 5, 10) == (b"", 0, False)
    assert tail_file(str(tmp_path / "missing"), 5, 10) == (b"", 0, False)


def test_tail_empty_file(tmp_path):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    assert tail_file(str(path), 0, 100) == (b"", 0, False)


def test_tail_follows_growth(log):
    data, offset, overflow = tail_file(log, 0, 1600)
    assert (data, offset, overflow) == (DATA, 10, False)
    with open(log, "ab") as f:
        f.write(b"abc")
    assert tail_file(log, offset, 1600) == (DATA + b"abc", 13, False)
