"""Writing sendProcessStdin data to a child without ever blocking the loop.

The child's stdin pipe is non-blocking.  What does not fit into the pipe at
once is kept and written when the pipe becomes writable again, as stock
supervisord does, so a child that reads slowly costs memory, not latency.

The pending data is written through our own duplicate of the pipe's fd: the
runtime closes its fd when the child exits, and a watched fd number that gets
closed and reused would send our writes somewhere else.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from ..runtime.child import Process


class _Backlog:
    def __init__(self, loop: asyncio.AbstractEventLoop, pipes: object, fd: int) -> None:
        self.loop = loop
        self.pipes = pipes  # the spawn this belongs to
        self.fd: Optional[int] = os.dup(fd)
        self.data = bytearray()
        loop.add_writer(self.fd, self._writable)

    def _writable(self) -> None:
        if self.fd is None:
            return
        try:
            written = os.write(self.fd, self.data)
        except BlockingIOError:
            return
        except OSError:
            # The reader is gone: stock drops what was buffered, so do we.
            self.close()
            return
        del self.data[:written]
        if not self.data:
            self.close()

    def close(self) -> None:
        if self.fd is not None:
            self.loop.remove_writer(self.fd)
            os.close(self.fd)
            self.fd = None
        self.data.clear()


_backlogs: weakref.WeakKeyDictionary[Process, _Backlog] = weakref.WeakKeyDictionary()


def write_stdin(proc: Process, data: bytes, loop: asyncio.AbstractEventLoop) -> None:
    """Write (or queue) ``data``; raises BrokenPipeError when the child has no
    stdin or nobody reads it any more."""
    pipes = proc.pipes
    fd = pipes.stdin if pipes is not None else None
    if fd is None:
        raise BrokenPipeError("the process has no stdin")
    backlog = _backlogs.get(proc)
    if backlog is not None:
        if backlog.fd is not None and backlog.pipes is pipes:
            backlog.data += data  # keep the order: queue behind what waits
            return
        backlog.close()
        del _backlogs[proc]
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            _backlogs[proc] = backlog = _Backlog(loop, pipes, fd)
            backlog.data += view
            return
