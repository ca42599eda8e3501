"""A program's journal output read back as if it were a log file.

When a channel goes to the journal and has no log file (``stdout_logfile=NONE``
with ``stdout_journal=true``), ``readProcess*Log``, ``tailProcess*Log`` and
``/logtail`` read the entries :class:`~.journal.ChannelJournal` wrote, with
systemd.journal.Reader (imported lazily).

The byte stream: the clients only know byte offsets into a file, so the
channel's "file" is the concatenation of its entries' ``MESSAGE`` each
followed by ``b"\\n"``, oldest first.  That is what the program wrote, line
by line (a ``\\r`` before the newline and the cut of over-long lines are
lost; a partial line flushed at exit gains a newline).

The entries read are from this boot (``_BOOT_ID``) and either have the
daemon's ``_PID`` and the ``SUPERVISOR_PROCESS_NAME`` /
``SUPERVISOR_GROUP_NAME`` / ``SUPERVISOR_CHANNEL`` fields (lines the daemon
sent), or the identifier, priority and cgroup of a direct
stream (runtime/direct_output.py: only used for process names unique in the
daemon).  Stream lines are not tied to this daemon's pid, so after a restart
of the service they read like a log file that outlived it: earlier lines of
the same program, this boot, come first.

Cost: the journal keeps no byte counts, so the stream's size means visiting
every entry once.  That walk runs on one worker thread, never on the event
loop, and only once per channel: :class:`JournalLog` counts on from where it
stopped and remembers the cursor of an entry every :data:`MARK_EVERY` bytes,
so a read at a positive offset starts from the nearest mark instead of the
oldest entry.  Reads near the end (negative offsets, tails, ``/logtail``)
walk back from the end, and only as far as the bytes asked for.

Vacuuming: positions are counted once and never move, so offsets stay what
they were (the size only grows).  Once journald deletes old entries, the
bytes they held are gone: a read that starts there gets what is left of the
range asked for, from the oldest entry still in the journal.
"""

from __future__ import annotations

import asyncio
import bisect
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional, TypeVar

from .journal import CHANNEL_PRIORITIES
from .reader import BadArguments, Failed

HEAD = 1024
READ_LIMIT = 256 * 1024  # most bytes a follower reads per call: one loop turn stays short
MARK_EVERY = 256 * 1024  # stream bytes between two remembered cursors

# Opens a reader with the matches applied (tests give a fake).
ReaderFactory = Callable[[], Any]
T = TypeVar("T")

# One thread for the whole daemon: reads queue behind one another instead of
# competing with the loop for the GIL, and a JournalLog's counts are only
# ever touched from that thread, so they need no lock.
_worker: Optional[ThreadPoolExecutor] = None


async def _off_loop(work: Callable[..., T], *args: Any) -> T:
    global _worker
    if _worker is None:
        _worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal-reader")
    return await asyncio.get_running_loop().run_in_executor(_worker, work, *args)


def available() -> bool:
    try:
        from systemd import journal  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True


def own_cgroups(path: str = "/proc/self/cgroup") -> list[str]:
    """Where journald may record the daemon (``_SYSTEMD_CGROUP``): its path in
    the unified hierarchy and in systemd's named v1 one.  On a hybrid host
    the two differ once cgroup mode moves the daemon (in the unified one
    only), and which one journald reads depends on how it detects the
    layout, so a match takes either.  Empty when either is the root or where
    it cannot be told (journald may record none then)."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    found: list[str] = []
    for line in lines:
        _, controllers, cgroup = line.split(":", 2)
        if controllers not in ("", "name=systemd"):
            continue
        if cgroup in ("", "/"):
            return []  # journald may read this one and record nothing: no match by cgroup
        if cgroup not in found:
            found.append(cgroup)
    # Two different places, or the leaf of cgroup mode: the daemon moved
    # (runtime/cgroup.py) and which place journald credits its streams to is
    # not certain; identifier, priority and transport still tell lines apart.
    if len(found) > 1 or any(c.endswith("/supervisord") for c in found):
        return []
    return found


def _system_reader(process_name: str, group_name: str, channel: str, pid: int) -> ReaderFactory:
    cgroups = own_cgroups()

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
        reader.add_match(
            *(f"_SYSTEMD_CGROUP={cgroup}" for cgroup in cgroups),  # one field: any of them
            SYSLOG_IDENTIFIER=process_name,
            PRIORITY=str(CHANNEL_PRIORITIES[channel]),
            _TRANSPORT="stdout",
        )
        return reader

    return open_reader


def _message(reader: Any) -> bytes:
    # The C-level _get: bytes as stored, no per-field conversion of the entry.
    try:
        return bytes(reader._get("MESSAGE")) + b"\n"
    except KeyError:
        return b"\n"


def _length(reader: Any) -> int:
    try:
        return len(reader._get("MESSAGE")) + 1
    except KeyError:
        return 1


def _on_entry(reader: Any, cursor: str) -> bool:
    """Put ``reader`` on the entry ``cursor`` names; False when it is gone."""
    reader.seek_cursor(cursor)
    return bool(reader._next()) and bool(reader.test_cursor(cursor))


def _check_read_args(offset: int, length: int) -> None:
    if offset < 0 and length != 0:
        raise BadArguments("negative offset needs length 0")
    if offset >= 0 and length < 0:
        raise BadArguments("negative length")


class JournalLog:
    """One channel of one process, in the journal, as a byte stream.

    The coroutines do their walking on the journal worker thread; the
    counts below are only touched there."""

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
        # The last entry counted and where it starts in the stream.
        self._last: Optional[tuple[int, str]] = None
        # (where an entry starts, its cursor), ascending, one per MARK_EVERY bytes.
        self._marks: list[tuple[int, str]] = []
        self._next_mark = 0

    async def read(self, offset: int, length: int) -> bytes:
        """readProcess*Log's offset/length rules (as :func:`.reader.read_file`)."""
        _check_read_args(offset, length)
        if offset < 0:
            return await _off_loop(self._with_reader, _last_bytes, -offset)
        return await _off_loop(self._with_reader, self._read_from, offset, length)

    async def tail(self, offset: int, length: int) -> tuple[bytes, int, bool]:
        """tailProcess*Log's rules (as :func:`.reader.tail_file`): whatever the
        offset, the data sent is the stream's last ``length`` bytes or nothing."""
        return await _off_loop(self._with_reader, self._tail, offset, length)

    async def size(self) -> int:
        """Bytes in the stream so far (counted on from where the last call stopped)."""
        return await _off_loop(self._with_reader, self._count)

    def follower(self, head: int = HEAD) -> JournalFollower:
        """For ``/logtail``, on the loop: it only reads ``head`` bytes back."""
        return JournalFollower(self._open_reader(), head)

    # -- on the worker thread -------------------------------------------------

    def _open_reader(self) -> Any:
        try:
            return self._open()
        except (OSError, ImportError) as exc:
            raise Failed(str(exc)) from exc

    def _with_reader(self, work: Callable[..., T], *args: Any) -> T:
        reader = self._open_reader()
        try:
            return work(reader, *args)
        finally:
            reader.close()

    def _count(self, reader: Any) -> int:
        """Count the entries added since the last call; returns the size."""
        if self._last is None:
            reader.seek_head()
            more = reader._next()
        else:
            reader.seek_cursor(self._last[1])
            more = reader._next()
            if more and reader.test_cursor(self._last[1]):
                more = reader._next()
            # else that entry is gone (vacuumed): the one found is newer
        pos = self._size
        start = None
        while more:
            if pos >= self._next_mark:
                self._marks.append((pos, reader._get_cursor()))
                self._next_mark = pos + MARK_EVERY
            start = pos
            pos += _length(reader)
            more = reader._next()
        if start is not None:
            # sd_journal stays on the last entry when _next finds no more.
            self._last = (start, reader._get_cursor())
        self._size = pos
        return pos

    def _tail(self, reader: Any, offset: int, length: int) -> tuple[bytes, int, bool]:
        size = self._count(reader)
        overflow = size > offset + length
        if length <= 0 or (offset >= size and not overflow):
            return b"", size, overflow
        return self._last_counted(reader, length), size, overflow

    def _last_counted(self, reader: Any, nbytes: int) -> bytes:
        """The last ``nbytes`` of the stream as counted (newer entries left out,
        so that the data and the size returned with it agree)."""
        if self._last is None or not _on_entry(reader, self._last[1]):
            return b""
        out: list[bytes] = []
        got = 0
        while True:
            msg = _message(reader)
            out.append(msg)
            got += len(msg)
            if got >= nbytes or not reader._previous():
                break
        return b"".join(reversed(out))[-nbytes:]

    def _read_from(self, reader: Any, offset: int, length: int) -> bytes:
        end = self._count(reader)
        if length:
            end = min(end, offset + length)
        pos = self._locate(reader, offset) if offset < end else None
        out: list[bytes] = []
        while pos is not None and pos < end:
            msg = _message(reader)
            if pos + len(msg) > offset:
                out.append(msg[max(offset - pos, 0) : end - pos])
            pos += len(msg)
            if not reader._next():
                break
        return b"".join(out)

    def _locate(self, reader: Any, offset: int) -> Optional[int]:
        """Put ``reader`` on the last remembered entry at or before ``offset``;
        returns where that entry starts.  Where journald has vacuumed those,
        the reader is put on the oldest entry left (which starts after
        ``offset``); None when nothing counted is left."""
        marks = self._marks + ([self._last] if self._last is not None else [])
        at = max(bisect.bisect_right([start for start, _ in marks], offset) - 1, 0)
        if at < len(marks) and _on_entry(reader, marks[at][1]):
            return marks[at][0]
        # Vacuuming removes the oldest entries: the marks gone are a prefix.
        low, high = at + 1, len(marks)
        while low < high:
            mid = (low + high) // 2
            if _on_entry(reader, marks[mid][1]):
                high = mid
            else:
                low = mid + 1
        del self._marks[: min(low, len(self._marks))]
        if low == len(marks):
            return None
        # Walk back from the first mark left to the oldest entry: less than
        # MARK_EVERY bytes, as the mark before it is gone.
        pos = marks[low][0]
        _on_entry(reader, marks[low][1])
        while reader._previous():
            pos -= _length(reader)
        self._marks.insert(0, (pos, reader._get_cursor()))
        return pos


def _last_bytes(reader: Any, nbytes: int) -> bytes:
    """The last ``nbytes`` of the stream now, walking back from its end."""
    if nbytes <= 0:
        return b""
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
    changes; :meth:`process` must be called then to rearm it.  A call to
    :meth:`read_new` reads at most about :data:`READ_LIMIT` bytes; ``more``
    then says that it should be called again without waiting."""

    def __init__(self, reader: Any, head: int = HEAD) -> None:
        self._reader = reader
        self._pending = _last_bytes(reader, head) if head > 0 else b""
        self.more = False
        # _last_bytes left the reader on the oldest entry it read (or before the
        # first): go to the newest so only entries added later come next.
        reader.seek_tail()
        if reader._previous():
            _on_entry(reader, reader._get_cursor())
        else:
            reader.seek_head()  # nothing yet: every entry is new

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
        self.more = False
        while size < READ_LIMIT:
            if not self._reader._next():
                break
            msg = _message(self._reader)
            chunk.append(msg)
            size += len(msg)
        else:
            self.more = True
        if chunk:
            out.append(b"".join(chunk))
        return out


def for_process(proc: Any, channel: str) -> Optional[JournalLog]:
    """The journal stream of ``proc``'s ``channel`` when that is where its
    output goes with no log file to read instead; else None."""
    config = proc.config
    if channel == "stderr" and config.redirect_stderr:
        return None
    log_config = config.stdout if channel == "stdout" else config.stderr
    if not log_config.journal or log_config.logfile is not None or not available():
        return None
    # Kept by the process: its counts carry on between calls.
    logs = proc.journal_logs
    log = logs.get(channel)
    if log is None:
        log = logs[channel] = JournalLog(config.name, config.group, channel)
    return log
