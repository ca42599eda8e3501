"""``GET /logtail/<name>[/<channel>]`` and ``GET /mainlogtail``: a log file as
an endless chunked response (``supervisorctl tail -f`` / ``maintail -f``).

The response starts with the last 1024 bytes and then follows the file (or,
for a channel that goes to the journal with no file, the journal entries:
:meth:`TailStreams.serve_journal`).  It
is woken by the writer itself (a process output channel's observers, or a
handler on the main log), not by a poll, so new lines reach the client as
soon as they are written.  A new config generation replaces the process
objects: :meth:`TailStreams.retarget` wakes every tail to find its writer
again.

Rotation is followed without loss: what was written to the old file before
it was renamed is sent first, then the new file from its start.  A file that
shrinks in place (truncated) is announced with ``==> File truncated <==``.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, BinaryIO, Callable, Optional

from . import wire

HEAD = 1024  # bytes of history sent first, as stock
READ_LIMIT = 256 * 1024  # most bytes sent per chunk
TRUNCATED = b"==> File truncated <==\n"

# What a tail watches: returns the object whose writes wake it (an
# OutputChannel or the MainLog), or None when it is gone.
Finder = Callable[[], Optional[Any]]


class FileFollower:
    """Reads what gets appended to a file, across rotation and truncation.

    The file may not exist yet (an AUTO log appears with the first output):
    it is then read from its start once it does."""

    def __init__(self, path: str, head: int = HEAD) -> None:
        self.path = path
        self._file: Optional[BinaryIO] = None
        self._pos = 0
        try:
            self._file = open(path, "rb")  # noqa: SIM115 - lives as long as the follower
        except FileNotFoundError:
            return
        size = os.fstat(self._file.fileno()).st_size
        self._pos = max(size - head, 0)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def read_new(self) -> list[bytes]:
        out = self._drain()
        try:
            st = os.stat(self.path)
        except OSError:
            return out  # removed; keep the old file until a new one appears
        if self._file is not None:
            cur = os.fstat(self._file.fileno())
            if (st.st_dev, st.st_ino) == (cur.st_dev, cur.st_ino):
                return out
        # Rotated, recreated, or created at last: the old file was drained above.
        try:
            new = open(self.path, "rb")  # noqa: SIM115
        except OSError:
            return out
        if self._file is not None:
            self._file.close()
        self._file = new
        self._pos = 0
        out.extend(self._drain())
        return out

    def _drain(self) -> list[bytes]:
        out: list[bytes] = []
        if self._file is None:
            return out
        size = os.fstat(self._file.fileno()).st_size
        if size < self._pos:
            out.append(TRUNCATED)
            self._pos = 0
        while size > self._pos:
            self._file.seek(self._pos)
            data = self._file.read(min(size - self._pos, READ_LIMIT))
            if not data:
                break
            self._pos += len(data)
            out.append(data)
        return out


def _attach(target: Any, wake: Callable[[], None]) -> Callable[[], None]:
    """Hook ``wake`` into the writer ``target``; returns the undo."""
    wakers = getattr(target, "wakers", None)
    if isinstance(wakers, list):
        # Told that the file grew, without the bytes: an OutputChannel keeps
        # its splice fast path, and the MainLog does not count it as an output.
        wakers.append(wake)

        def unwake() -> None:
            if wake in wakers:
                wakers.remove(wake)

        return unwake
    def on_record(_record: Any) -> None:  # the MainLog
        wake()

    target.add_handler(on_record)
    return lambda: target.remove_handler(on_record)


class TailStreams:
    """The live tail responses of one server, so that shutdown can end them."""

    def __init__(self) -> None:
        self._wakers: set[asyncio.Event] = set()
        self.closing = False

    def close(self) -> None:
        self.closing = True
        self.retarget()

    def retarget(self) -> None:
        """Wake every tail so it looks up its writer again."""
        for event in self._wakers:
            event.set()

    async def serve(self, request: wire.Request, path: str, find: Finder) -> wire.StreamResponse:
        try:
            follower = FileFollower(path)
        except OSError:
            raise wire.HTTPNotFound() from None
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            mtime = time.time()
        return await self._stream(request, follower, mtime, find)

    async def serve_journal(self, request: wire.Request, log: Any, find: Finder) -> wire.StreamResponse:
        """The same, for a channel that goes to the journal with no log file
        (``log`` is a :class:`~..logs.journal_reader.JournalLog`).

        The daemon's own write does not mean the entry is readable yet
        (journald takes the datagram in its own time), so the tail is woken
        by the journal reader's inotify fd (the output channel's writes,
        through ``find``, only add harmless early looks)."""
        try:
            follower = log.follower()
        except Exception:  # noqa: BLE001 - no journal to read: as a missing file
            raise wire.HTTPNotFound() from None
        return await self._stream(request, follower, time.time(), find, follower)

    async def _stream(
        self,
        request: wire.Request,
        follower: Any,
        mtime: float,
        find: Finder,
        journal: Optional[Any] = None,
    ) -> wire.StreamResponse:
        wake = asyncio.Event()
        self._wakers.add(wake)
        target = find()
        detach = _attach(target, wake.set) if target is not None else None
        loop = asyncio.get_running_loop()
        journal_fd = -1
        if journal is not None:
            journal_fd = journal.fileno()

            def on_journal() -> None:
                journal.process()  # rearms the inotify fd
                wake.set()

            loop.add_reader(journal_fd, on_journal)
        try:
            response = wire.StreamResponse(
                headers={
                    "Content-Type": "text/plain;charset=utf-8",
                    "Last-Modified": wire.http_date(mtime),
                    "X-Accel-Buffering": "no",
                }
            )
            response.enable_chunked_encoding()
            await response.prepare(request)
            while True:
                for chunk in follower.read_new():
                    await response.write(chunk)
                if self.closing:
                    break
                transport = request.transport
                if transport is None or transport.is_closing():
                    break
                if getattr(follower, "more", False):
                    await asyncio.sleep(0)  # a journal follower reads a bounded amount per turn
                    continue
                await wake.wait()
                wake.clear()
                current = find()
                if current is not target:
                    if detach is not None:
                        detach()
                    target = current
                    detach = _attach(target, wake.set) if target is not None else None
            await response.write_eof()
            return response
        except (ConnectionError, RuntimeError):
            # The client went away.
            return response
        finally:
            self._wakers.discard(wake)
            if detach is not None:
                detach()
            if journal_fd >= 0:
                loop.remove_reader(journal_fd)
            follower.close()
