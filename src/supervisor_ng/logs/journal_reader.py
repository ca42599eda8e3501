"""A program's journal output read back as if it were a log file.

When a channel goes to the journal and has no log file (``stdout_logfile=NONE``
with ``stdout_journal=true``), ``readProcess*Log``, ``tailProcess*Log`` and
``/logtail`` read the entries :class:`~.journal.ChannelJournal` wrote, with
systemd.journal.Reader (imported lazily).

The byte stream: the clients only know byte offsets into a file, so the
channel's "file" is the concatenation of its entries' ``MESSAGE`` each
followed by ``b"\\n"``, oldest first.  That is what the program wrote, line
by line (a ``\\r`` before the newline and the cut of over-long lines are
lost; a partial line flushed at exit gains a newline).  Offsets stay
meaningful between calls because entries are only ever appended; once
journald vacuums old entries, offsets from the start shift, the size
reported by :meth:`JournalLog.size` does not (it only ever grows).

The entries read are from this boot (``_BOOT_ID``) and either have the
daemon's ``_PID`` and the ``SUPERVISOR_PROCESS_NAME`` /
``SUPERVISOR_GROUP_NAME`` / ``SUPERVISOR_CHANNEL`` fields (lines the daemon
sent), or the identifier, priority and cgroup of a direct
stream (runtime/journal_output.py: only used for process names unique in the
daemon).  Stream lines are not tied to this daemon's pid, so after a restart
of the service they read like a log file that outlived it: earlier lines of
the same program, this boot, come first.

Cost: reads near the end (negative offsets, tails, ``tail -f``) walk back
from the end; a read at a positive offset walks from the oldest entry, as a
file has no index either.  :meth:`JournalLog.size` is kept incrementally
from a cursor.
"""

from __future__ import annotations

import os
import weakref
from typing import Any, Callable, Optional

from .journal import CHANNEL_PRIORITIES
from .reader import BadArguments, Failed

HEAD = 1024
READ_LIMIT = 256 * 1024

# Opens a reader with the matches applied (tests give a fake).
ReaderFactory = Callable[[], Any]


def available() -> bool:
    try:
        from systemd import journal  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True


def own_cgroup(path: str = "/proc/self/cgroup") -> Optional[str]:
    """The daemon's cgroup as journald records it (``_SYSTEMD_CGROUP``), or
    None at the root or where it cannot be told (journald records none then)."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    found = None
    for line in lines:
        _, controllers, cgroup = line.split(":", 2)
        if controllers == "":  # the unified hierarchy: what journald uses when present
            found = cgroup
            break
        if controllers == "name=systemd":
            found = cgroup
    return found if found not in (None, "", "/") else None


def _system_reader(process_name: str, group_name: str, channel: str, pid: int) -> ReaderFactory:
    cgroup = own_cgroup()

    def open_reader() -> Any:
        from systemd import journal  # type: ignore[import-not-found]

        reader = journal.Reader()
        reader.data_threshold = 0  # whole MESSAGE fields, however long
        reader.this_boot()
        # Lines the daemon sent itself, with our fields...
        reader.add_match(
            SUPERVISOR_PROCESS_NAME=process_name,
            SUPERVISOR_GROUP_NAME=group_name,
            SUPERVISOR_CHANNEL=channel,
            _PID=str(pid),
        )
        # ...or lines the child wrote to a stream the daemon opened for it.
        # journald credits those to the writer (the child, or its children),
        # so they are told apart by identifier, priority and cgroup instead.
        reader.add_disjunction()
        stream_match = {
            "SYSLOG_IDENTIFIER": process_name,
            "PRIORITY": str(CHANNEL_PRIORITIES[channel]),
            "_TRANSPORT": "stdout",
        }
        if cgroup:
            stream_match["_SYSTEMD_CGROUP"] = cgroup
        reader.add_match(**stream_match)
        return reader

    return open_reader


def _message(reader: Any) -> bytes:
    # The C-level _get: bytes as stored, no per-field conversion of the entry.
    try:
        return bytes(reader._get("MESSAGE")) + b"\n"
    except KeyError:
        return b"\n"


def _resume(reader: Any, cursor: Optional[str]) -> None:
    """Place ``reader`` so that its next ``_next()`` is the entry after ``cursor``."""
    if cursor is None:
        reader.seek_head()
        return
    reader.seek_cursor(cursor)
    if reader._next() and not reader.test_cursor(cursor):
        # That entry is gone (vacuumed): the one found is the first new one.
        reader._previous()


class JournalLog:
    """One channel of one process, in the journal, as a byte stream."""

    def __init__(
        self,
        process_name: str,
        group_name: str,
        channel: str,
        pid: Optional[int] = None,
        factory: Optional[ReaderFactory] = None,
    ) -> None:
        self._open = factory or _system_reader(
            process_name, group_name, channel, os.getpid() if pid is None else pid
        )
        self._size = 0
        self._cursor: Optional[str] = None

    def open_reader(self) -> Any:
        try:
            return self._open()
        except (OSError, ImportError) as exc:
            raise Failed(str(exc)) from exc

    def size(self) -> int:
        """Bytes in the stream so far (counted on from where the last call stopped)."""
        reader = self.open_reader()
        try:
            _resume(reader, self._cursor)
            while reader._next():
                self._size += len(_message(reader))
                self._cursor = reader._get_cursor()
        finally:
            reader.close()
        return self._size

    def last(self, nbytes: int) -> bytes:
        """The last ``nbytes`` bytes of the stream (fewer if it is shorter)."""
        if nbytes <= 0:
            return b""
        reader = self.open_reader()
        try:
            return _last(reader, nbytes)
        finally:
            reader.close()

    def read(self, offset: int, length: int) -> bytes:
        """readProcess*Log's offset/length rules (as :func:`.reader.read_file`)."""
        if offset < 0 and length != 0:
            raise BadArguments("negative offset needs length 0")
        if offset >= 0 and length < 0:
            raise BadArguments("negative length")
        if offset < 0:
            return self.last(-offset)
        reader = self.open_reader()
        try:
            reader.seek_head()
            out: list[bytes] = []
            pos = 0
            wanted = 0
            while reader._next():
                msg = _message(reader)
                end = pos + len(msg)
                if end > offset:
                    piece = msg[max(offset - pos, 0) :]
                    out.append(piece)
                    wanted += len(piece)
                    if length and wanted >= length:
                        break
                pos = end
            data = b"".join(out)
            return data[:length] if length else data
        finally:
            reader.close()

    def tail(self, offset: int, length: int) -> tuple[bytes, int, bool]:
        """tailProcess*Log's rules (as :func:`.reader.tail_file`): whatever the
        offset, the data sent is the stream's last ``length`` bytes or nothing."""
        size = self.size()
        overflow = size > offset + length
        if length <= 0 or (offset >= size and not overflow):
            return b"", size, overflow
        return self.last(length), size, overflow

    def follower(self, head: int = HEAD) -> JournalFollower:
        return JournalFollower(self.open_reader(), head)


def _last(reader: Any, nbytes: int) -> bytes:
    reader.seek_tail()
    out: list[bytes] = []
    got = 0
    while got < nbytes and reader._previous():
        msg = _message(reader)
        out.append(msg)
        got += len(msg)
    data = b"".join(reversed(out))
    return data[-nbytes:]


class JournalFollower:
    """What ``/logtail`` streams: the last ``head`` bytes, then each new entry.

    :meth:`fileno` is the reader's inotify fd: readable when the journal
    changes; :meth:`process` must be called then to rearm it."""

    def __init__(self, reader: Any, head: int = HEAD) -> None:
        self._reader = reader
        self._pending = _last(reader, head) if head > 0 else b""
        # _last left the reader on the oldest entry it read (or before the
        # first): walk to the end so only entries added later come next.
        reader.seek_tail()
        if reader._previous():
            self._cursor: Optional[str] = reader._get_cursor()
        else:
            self._cursor = None
        _resume(reader, self._cursor)

    def fileno(self) -> int:
        return int(self._reader.fileno())

    def process(self) -> None:
        try:
            self._reader.process()
        except OSError:
            pass

    def close(self) -> None:
        self._reader.close()

    def read_new(self) -> list[bytes]:
        out: list[bytes] = []
        if self._pending:
            out.append(self._pending)
            self._pending = b""
        chunk: list[bytes] = []
        size = 0
        while self._reader._next():
            msg = _message(self._reader)
            chunk.append(msg)
            size += len(msg)
            if size >= READ_LIMIT:
                out.append(b"".join(chunk))
                chunk, size = [], 0
        if chunk:
            out.append(b"".join(chunk))
        return out


_logs: weakref.WeakKeyDictionary[Any, dict[str, JournalLog]] = weakref.WeakKeyDictionary()


def for_process(proc: Any, channel: str) -> Optional[JournalLog]:
    """The journal stream of ``proc``'s ``channel`` when that is where its
    output goes with no log file to read instead; else None."""
    config = proc.config
    if channel == "stderr" and config.redirect_stderr:
        return None
    log_config = config.stdout if channel == "stdout" else config.stderr
    if not log_config.journal or log_config.logfile is not None or not available():
        return None
    # One per process object: its size count carries on between calls.
    per_proc = _logs.setdefault(proc, {})
    log = per_proc.get(channel)
    if log is None:
        log = per_proc[channel] = JournalLog(config.name, config.group, channel)
    return log
