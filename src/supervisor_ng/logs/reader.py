"""Reading log files for readLog / readProcess*Log / tailProcess*Log.

The offset and length rules are the stock ones, quirks included, because
clients (supervisorctl tail, web UIs, scripts) are written against them:

read_file(path, offset, length)
  offset >= 0, length == 0   from offset to end of file
  offset >= 0, length > 0    up to length bytes from offset
  offset < 0,  length == 0   the last -offset bytes (the whole file if smaller)
  offset < 0 with length != 0, or length < 0    BadArguments

tail_file(path, offset, length) -> (data, new_offset, overflow)
  new_offset is always the file size.  If the file holds more than
  offset + length bytes, overflow is True and data is its last length bytes.
  Otherwise data is the last length bytes if that window reaches back
  before offset (so, as in stock, data may start before offset), and empty
  if offset is at or past the end.

Both return bytes; decoding is the RPC layer's business.
"""

from __future__ import annotations

import os
import stat
from typing import Optional


class LogReadError(Exception):
    """Base of the errors below; the RPC layer maps them to faults."""


class BadArguments(LogReadError):
    """Offset/length combination that means nothing (fault BAD_ARGUMENTS)."""


class NoFile(LogReadError):
    """No log file configured, or it does not exist (fault NO_FILE)."""


class Failed(LogReadError):
    """The file exists but could not be read (fault FAILED)."""


def _check_exists(path: Optional[str]) -> str:
    if path is None or not os.path.exists(path):
        raise NoFile(path)
    return path


def _is_regular(path: str) -> bool:
    # Opening a FIFO (or /dev/stdout when it is a pipe) for reading would
    # block the loop or steal the data, so only regular files are read.
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def read_file(path: Optional[str], offset: int, length: int) -> bytes:
    path = _check_exists(path)
    if offset < 0 and length != 0:
        raise BadArguments("negative offset needs length 0")
    if offset >= 0 and length < 0:
        raise BadArguments("negative length")
    if not _is_regular(path):
        raise Failed(f"not a regular file: {path}")
    try:
        with open(path, "rb") as f:
            if offset < 0:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(size + offset, 0))
                return f.read(-offset)
            f.seek(offset)
            return f.read() if length == 0 else f.read(length)
    except OSError as exc:
        raise Failed(str(exc)) from exc


def tail_file(path: Optional[str], offset: int, length: int) -> tuple[bytes, int, bool]:
    if path is None or not os.path.exists(path):
        return b"", 0, False
    if not _is_regular(path):
        return b"", offset, False
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            overflow = size > offset + length
            if overflow:
                offset = size - 1
            if offset + length > size:
                if offset >= size:
                    length = 0
                offset = size - length
            offset = max(offset, 0)
            length = max(length, 0)
            if length == 0:
                return b"", size, overflow
            f.seek(offset)
            return f.read(length), size, overflow
    except OSError:
        # Stock answers an unreadable file with an empty chunk, not a fault.
        return b"", offset, False
