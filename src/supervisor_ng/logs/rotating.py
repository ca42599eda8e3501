"""A size-rotated log file written with plain ``os.write`` (or ``os.splice``).

Used for child output (raw bytes) and, through :mod:`.mainlog`, for the
daemon's own log.  It runs on the event loop, so it never raises from
:meth:`RotatingFile.write`: a disk that fills up must not take the daemon
down with it.  Failures go to an ``on_error`` callback, once per streak of
failures; the bytes that could not be written are dropped (never kept in
memory: a full disk must not grow the daemon) and every later write tries
again, so logging resumes by itself once space is freed or the directory
comes back, which ``on_resume`` hears about.

:meth:`RotatingFile.splice_from` moves a child's output from its pipe to the
file inside the kernel, for channels where nothing else needs the bytes.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from typing import Callable, Optional

# os.splice is Python 3.10+ (and Linux only); without it the caller reads and
# calls write() instead.
_splice = getattr(os, "splice", None)
_SPLICE_F_NONBLOCK = getattr(os, "SPLICE_F_NONBLOCK", 2)
# A splice failing with one of these will fail the same way every time: the
# file (or file system) cannot take it.  Other errors (ENOSPC, EIO) belong to
# the moment and go through write(), which reports them and drops the bytes.
_NO_SPLICE_ERRORS = frozenset(
    {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF, errno.EXDEV, errno.ESPIPE}
)

# Bytes kept for a pipe, FIFO, tty or socket whose reader is slow; beyond
# this they are dropped (and reported like a full disk) rather than blocking
# the loop or growing the daemon.
PENDING_LIMIT = 1 << 20

_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOCTTY

# Paths that name another file descriptor rather than a log file.  Even when
# /dev/stdout resolves to a regular file (stdout redirected by a shell),
# rotating would rename the symlink in /dev, so these are never rotated.
_NO_ROTATE_PREFIXES = ("/dev/std", "/dev/fd/", "/proc/")


class LogFileError(OSError):
    """What ``on_error`` receives: the failing operation, the path, the
    underlying error and how many bytes were lost with it."""

    def __init__(self, operation: str, path: str, cause: OSError, dropped: int = 0) -> None:
        super().__init__(cause.errno, cause.strerror, path)
        self.operation = operation
        self.cause = cause
        self.dropped = dropped

    def __str__(self) -> str:
        reason = self.cause.strerror or self.cause
        what = f"cannot {self.operation} log file {self.filename}: {reason}"
        if self.dropped:
            what += f" ({self.dropped} bytes of output dropped)"
        if self.operation == "rotate":
            return what + "; it keeps growing until it can be rotated"
        return (
            what
            + "; output is dropped until it can be written again (not reported again until then)"
        )


class LogFileResumed:
    """What ``on_resume`` receives: a file that failed takes writes again."""

    def __init__(self, path: str, dropped: int) -> None:
        self.path = path
        self.dropped = dropped  # bytes lost during the failure

    def __str__(self) -> str:
        return (
            f"log file {self.path} is writable again; "
            f"{self.dropped} bytes of output were dropped while it was not"
        )


ErrorCallback = Callable[[LogFileError], None]
ResumeCallback = Callable[[LogFileResumed], None]


class RotatingFile:
    """An append-only log file that rolls over to ``path.1 .. path.N``.

    After a write leaves the file at ``maxbytes`` or more, it is renamed to
    ``path.1`` (older backups shift up, the oldest falls off) and a fresh
    ``path`` is opened.  A write is never split across files (a splice is
    cut at ``maxbytes`` instead), so a rotation can neither lose nor repeat
    a byte.  ``maxbytes=0`` never rotates;
    ``backups=0`` truncates in place.  Devices, pipes and sockets (and
    /dev/stdout, /dev/fd/N, /proc/...) are written but never rotated.

    The constructor raises :class:`OSError` if the file cannot be opened, so
    the caller can refuse to start a process whose log is unusable; from
    then on nothing raises.
    """

    def __init__(
        self,
        path: str,
        maxbytes: int = 0,
        backups: int = 0,
        on_error: Optional[ErrorCallback] = None,
        *,
        lazy: bool = False,
        mode: int = 0o666,
        on_resume: Optional[ResumeCallback] = None,
    ) -> None:
        self.path = path
        self.maxbytes = maxbytes
        self.backups = backups
        self.on_error = on_error
        self.on_resume = on_resume
        self.dropped = 0  # bytes lost to write errors since construction
        self._fd: Optional[int] = None
        self._splice_fd: Optional[int] = None  # the same file without O_APPEND
        self._splice_ok = _splice is not None
        self._size = 0
        self._regular = False
        self._rotatable = False
        self._closed = False
        self._failing = False  # inside a streak of open/write failures
        self._streak_dropped = 0  # bytes dropped in the current streak
        self._rotate_failing = False
        self._mode = mode
        self._pending = bytearray()  # waiting for a slow reader (not regular files)
        self._writer_loop: Optional[asyncio.AbstractEventLoop] = None
        if not lazy:  # lazy: the file appears with the first byte written
            self._open()

    # -- public ------------------------------------------------------------

    @property
    def size(self) -> int:
        """Bytes in the current file as far as this writer knows."""
        return self._size

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, data: bytes) -> None:
        if not data or self._closed:
            return
        if self._fd is None:
            try:
                self._open()
            except OSError as exc:
                self._fail("open", exc, len(data))
                return
        if not self._regular:
            self._write_nonblocking(data)
            return
        view = memoryview(data)
        written = 0
        try:
            # A short write (the disk filled up mid-way) is followed by another
            # attempt, which reports the error; what did land stays, what did
            # not is dropped, so nothing is ever written twice.
            while written < len(view):
                written += os.write(self._fd, view[written:])  # type: ignore[arg-type]
        except OSError as exc:
            self._size += written
            self._fail("write", exc, len(view) - written)
            if exc.errno == errno.EBADF:
                # Someone closed our fd behind our back; reopen on the next write.
                self._fd = None
            return
        self._size += written
        self._written()

    def _write_nonblocking(self, data: bytes) -> None:
        """A pipe, FIFO, tty or socket: never wait for its reader.  What does
        not fit waits in ``_pending`` and goes when the fd is writable (a
        loop writer); past PENDING_LIMIT it is dropped and reported once."""
        if self._pending:
            self._queue(data)
            return
        try:
            written = os.write(self._fd, data)  # type: ignore[arg-type]
        except BlockingIOError:
            written = 0
        except OSError as exc:
            self._fail("write", exc, len(data))
            if exc.errno == errno.EBADF:
                self._fd = None
            return
        if written < len(data):
            self._queue(memoryview(data)[written:])
        else:
            self._written()

    def _queue(self, data: bytes | memoryview) -> None:
        if len(self._pending) + len(data) > PENDING_LIMIT:
            slow = OSError(errno.EAGAIN, "its reader is not keeping up")
            self._fail("write", slow, len(data))
            return
        self._pending += data
        if self._writer_loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                # Before the loop runs (start-up lines of the daemon's log):
                # waiting is harmless there.
                self._flush_blocking()
                return
            loop.add_writer(self._fd, self._flush_pending)  # type: ignore[arg-type]
            self._writer_loop = loop

    def _flush_pending(self) -> None:
        fd = self._fd
        if fd is None:
            self._stop_writer()
            return
        try:
            written = os.write(fd, self._pending)
        except BlockingIOError:
            return
        except OSError as exc:
            self._fail("write", exc, len(self._pending))
            self._pending.clear()
            self._stop_writer()
            return
        del self._pending[:written]
        if not self._pending:
            self._stop_writer()
            self._written()
        elif self._failing and len(self._pending) <= PENDING_LIMIT // 2:
            # The reader keeps up again (a chatty writer may never let the
            # buffer empty); the half-way mark keeps the notes from flapping.
            self._written()

    def _flush_blocking(self) -> None:
        fd = self._fd
        assert fd is not None
        try:
            os.set_blocking(fd, True)
            while self._pending:
                del self._pending[: os.write(fd, self._pending)]
        except OSError as exc:
            self._fail("write", exc, len(self._pending))
            self._pending.clear()
        finally:
            try:
                os.set_blocking(fd, False)
            except OSError:
                pass

    def hand_over(self) -> bytes:
        """Hand-over by exec (issue 16): what waits for a slow reader (a log
        that is a pipe, FIFO or tty), taken from here.  A regular file needs
        nothing: the new daemon reads its size, for rotation, when it opens it."""
        self._stop_writer()
        pending = bytes(self._pending)
        self._pending.clear()
        return pending

    def _stop_writer(self) -> None:
        loop, self._writer_loop = self._writer_loop, None
        if loop is not None and self._fd is not None and not loop.is_closed():
            loop.remove_writer(self._fd)

    def splice_from(self, pipe: int, count: int) -> int:
        """Move up to ``count`` bytes from the non-blocking ``pipe`` to the
        file inside the kernel: the bytes never enter Python.

        Returns the number of bytes moved, 0 when every writer of the pipe
        has closed it, and -1 when the caller must read the pipe and call
        :meth:`write` instead: splice is not available for this file, or the
        write failed (``write`` then reports the error and drops the bytes,
        so the pipe keeps being drained).  Raises :class:`BlockingIOError`
        when the pipe is empty.

        With rotation, at most the bytes left before ``maxbytes`` are moved,
        then the file rotates: the file is full to the byte, and no byte is
        lost or written twice across the rotation."""
        if (
            self._closed
            or not self._splice_ok
            or self._fd is None
            or not self._regular
            or self._failing
        ):
            # write() opens a file not open yet, and tries (and reports) while
            # writes fail; splicing takes over again once one succeeds.
            return -1
        target = self._splice_fd
        if target is None:
            try:
                # splice refuses O_APPEND files: a second descriptor of the
                # same open file (the same inode even if it was renamed),
                # positioned at the end before each splice.
                target = os.open(
                    f"/proc/self/fd/{self._fd}", os.O_WRONLY | os.O_CLOEXEC | os.O_NOCTTY
                )
            except OSError:
                self._splice_ok = False
                return -1
            self._splice_fd = target
        if self._rotatable and 0 <= self._size < self.maxbytes:
            count = min(count, self.maxbytes - self._size)
        try:
            end = os.lseek(target, 0, os.SEEK_END)
            moved = _splice(pipe, target, count, flags=_SPLICE_F_NONBLOCK)  # type: ignore[misc]
        except BlockingIOError:
            raise
        except OSError as exc:
            if exc.errno in _NO_SPLICE_ERRORS:
                self._splice_ok = False
            return -1
        if moved:
            self._size = end + moved
            self._written()
        return moved

    def reopen(self) -> None:
        """Close and reopen ``path`` (after it was moved away, for SIGUSR2).

        An open failure is reported through ``on_error`` and retried by the
        next write."""
        self._closed = False
        self._close_fd()
        try:
            self._open()
        except OSError as exc:
            self._fail("open", exc, 0)

    def clear(self) -> None:
        """Remove the current file and start a fresh one; backups stay.

        Raises :class:`OSError` if the file cannot be removed (the file is
        reopened either way so logging goes on)."""
        self._close_fd()
        error: Optional[OSError] = None
        if self._is_regular_path():
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                error = exc
        self.reopen()
        if error is not None:
            raise error

    def close(self) -> None:
        self._closed = True
        self._close_fd()

    def fileno(self) -> Optional[int]:
        return self._fd

    def __repr__(self) -> str:
        return (
            f"<RotatingFile {self.path!r} size={self._size}"
            f" maxbytes={self.maxbytes} backups={self.backups}>"
        )

    # -- internals ---------------------------------------------------------

    def _written(self) -> None:
        if self._failing:
            self._failing = False
            self._resumed()
        if self._rotatable and self.maxbytes > 0 and self._size >= self.maxbytes:
            self._rotate()

    def _open(self, truncate: bool = False) -> None:
        flags = _OPEN_FLAGS | (os.O_TRUNC if truncate else 0)
        fd = self._open_fd(flags)
        try:
            st = os.fstat(fd)
        except OSError:
            os.close(fd)
            raise
        regular = stat.S_ISREG(st.st_mode)
        self._fd = fd
        self._size = st.st_size if regular else 0
        self._regular = regular
        self._rotatable = regular and not self.path.startswith(_NO_ROTATE_PREFIXES)

    def _open_fd(self, flags: int) -> int:
        # O_NONBLOCK so that a FIFO nobody reads fails with ENXIO instead of
        # hanging the daemon inside open().
        fd = os.open(self.path, flags | os.O_NONBLOCK, self._mode)
        try:
            # A regular file never blocks; anything else (pipe, FIFO, tty,
            # socket) stays non-blocking so a slow reader cannot stall the loop.
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.set_blocking(fd, True)
        except OSError:
            os.close(fd)
            raise
        return fd

    def _close_fd(self) -> None:
        if self._pending and self._fd is not None:
            self._flush_pending()  # what the reader takes now; the rest is lost with the fd
            self.dropped += len(self._pending)
        self._stop_writer()
        self._pending.clear()
        for fd in (self._splice_fd, self._fd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._fd = self._splice_fd = None

    def _is_regular_path(self) -> bool:
        try:
            return stat.S_ISREG(os.stat(self.path).st_mode) and not self.path.startswith(
                _NO_ROTATE_PREFIXES
            )
        except OSError:
            return False

    def _rotate(self) -> None:
        if self.backups > 0:
            for i in self._backups_to_shift():
                try:
                    os.rename(f"{self.path}.{i}", f"{self.path}.{i + 1}")
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    self._rotate_fail(exc)
                    return
            try:
                os.rename(self.path, self.path + ".1")
            except FileNotFoundError:
                pass  # removed under us: the fresh file below is all we need
            except OSError as exc:
                # Keep appending to the unrotated file rather than truncating it.
                self._rotate_fail(exc)
                return
        self._close_fd()
        try:
            # With backups the old file is out of the way already; truncating
            # anyway could only destroy what another writer just created.
            self._open(truncate=self.backups <= 0)
        except OSError as exc:
            self._fail("open", exc, 0)
            return
        self._rotate_failing = False

    def _backups_to_shift(self) -> list[int]:
        """Indices of the backups that move up one, highest first: what a
        loop from ``backups - 1`` down to 1 would find, but without trying
        every index (``logfile_backups=10**18`` hung the loop forever)."""
        if self.backups <= 64:
            return list(range(self.backups - 1, 0, -1))
        directory, base = os.path.split(self.path)
        prefix = base + "."
        found = []
        try:
            names = os.listdir(directory or ".")
        except OSError:
            names = []
        for name in names:
            suffix = name[len(prefix) :]
            if name.startswith(prefix) and suffix.isdigit() and suffix[0] != "0":
                index = int(suffix)
                if index < self.backups:
                    found.append(index)
        return sorted(found, reverse=True)

    def _rotate_fail(self, exc: OSError) -> None:
        if not self._rotate_failing:
            self._rotate_failing = True
            self._report(LogFileError("rotate", self.path, exc))

    def _fail(self, operation: str, exc: OSError, dropped: int) -> None:
        self.dropped += dropped
        if not self._failing:
            self._failing = True
            self._streak_dropped = 0
            self._report(LogFileError(operation, self.path, exc, dropped))
        self._streak_dropped += dropped

    def _report(self, err: LogFileError) -> None:
        if self.on_error is None:
            return
        try:
            self.on_error(err)
        except Exception:  # noqa: BLE001 - a broken callback must not break logging
            pass

    def _resumed(self) -> None:
        if self.on_resume is None:
            return
        try:
            self.on_resume(LogFileResumed(self.path, self._streak_dropped))
        except Exception:  # noqa: BLE001 - as in _report
            pass
