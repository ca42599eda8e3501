"""A child's stdin, written without ever blocking the loop.

Both writers of a child's stdin go through here: ``sendProcessStdin`` and an
event listener pool handing events to its listener.  The pipe is
non-blocking; what does not fit at once waits in our own buffer (in order,
behind anything already waiting) and is written when the pipe becomes
writable, so a child that reads slowly costs memory, not latency.

The writer owns the fd from the spawn to the exit: at the exit the fd is
closed and whatever still waited is dropped, as stock drops it.  No other
code holds that fd number, so a watched fd can never be closed and reused
under us.
"""

from __future__ import annotations

import asyncio
import errno
import os
from typing import Optional


class StdinWriter:
    __slots__ = ("_fd", "_loop", "_pending", "_watching")  # one per program

    def __init__(self) -> None:
        self._fd: Optional[int] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        # The backlog; None while there is none (most programs never get
        # stdin: no buffer sits allocated for each of them).
        self._pending: Optional[bytearray] = None
        self._watching = False

    @property
    def open(self) -> bool:
        """The child has a stdin pipe we can write to."""
        return self._fd is not None

    @property
    def pending(self) -> int:
        """Bytes waiting for the child to read (part of the live state)."""
        return len(self._pending or b"")

    def attach(self, fd: Optional[int], loop: asyncio.AbstractEventLoop) -> None:
        """A new spawn: ``fd`` (or None: no stdin pipe) is ours from now on."""
        self.detach()
        self._fd = fd
        self._loop = loop

    def release(self) -> tuple[Optional[int], bytes]:
        """Hand-over: the fd (left open) and the backlog not yet written, which
        whoever takes them over passes to :meth:`adopt`."""
        self._unwatch()
        fd, self._fd = self._fd, None
        pending = bytes(self._pending or b"")
        self._pending = None
        return fd, pending

    def adopt(self, fd: Optional[int], pending: bytes, loop: asyncio.AbstractEventLoop) -> None:
        """Take over a stdin and its backlog from :meth:`release`."""
        self.attach(fd, loop)
        if fd is not None and pending:
            self._pending = bytearray(pending)
            self._watch()

    def detach(self) -> None:
        """The child exited (or leaves the daemon): drop what waits, close the fd."""
        self._unwatch()
        self._pending = None
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    def write(self, data: bytes) -> None:
        """Write, or queue behind what waits.  Raises BrokenPipeError when the
        child has no stdin or nobody reads it any more."""
        if self._fd is None:
            raise BrokenPipeError(errno.EPIPE, "the process has no stdin")
        if self._pending:
            self._pending += data
            return
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                self._pending = bytearray(view)
                self._watch()
                return

    def _watch(self) -> None:
        if not self._watching and self._loop is not None and self._fd is not None:
            self._loop.add_writer(self._fd, self._writable)
            self._watching = True

    def _unwatch(self) -> None:
        if self._watching and self._loop is not None and self._fd is not None:
            self._loop.remove_writer(self._fd)
        self._watching = False

    def _writable(self) -> None:
        pending = self._pending
        if self._fd is None or pending is None:
            return
        try:
            written = os.write(self._fd, pending)
        except BlockingIOError:
            return
        except OSError:
            # The reader is gone: stock drops what was buffered, so do we; the
            # exit that follows closes the fd.
            self._unwatch()
            self._pending = None
            return
        del pending[:written]
        if not pending:
            self._unwatch()
            self._pending = None
