"""Reading a child's stdout or stderr on the loop and sending it where it goes.

Each channel is a non-blocking pipe watched with ``loop.add_reader``: the
daemon wakes only when the child wrote something.  The bytes go to the
channel's :class:`~.destinations.Destinations`, built once from the program's
config (runtime/destinations.py says which and in what order); ``wakers``
(``tail -f`` clients) are only told that output arrived.

When the log file is the only destination, bytes are moved from the pipe to
the file with ``os.splice``, never entering Python (the fast path).

A chatty child (64 KiB within 10 ms) is read on a timer instead of at every
write: the daemon would otherwise wake for each page the child writes.  Its
pipe is enlarged to 1 MiB and drained every 0.5-20 ms, the delay adapted to
find the pipe a quarter to three quarters full, so each wake moves hundreds
of KiB.  The child waits on the daemon at most that delay (and only if it
fills the pipe meanwhile); a quiet child goes back to being read at once.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from typing import Callable, Optional

from ..events.capture import Captured, Message, Piece
from ..logs.rotating import RotatingFile
from .destinations import Destinations

READ_SIZE = 1 << 17  # stock reads at most 128 KiB at a time
SPLICE_SIZE = 1 << 20  # most bytes asked of one splice
WAKE_LIMIT = 1 << 20  # most bytes moved per wake, so other channels get their turn
DRAIN_LIMIT = 1 << 24  # most bytes read when a channel is detached

# Pacing of chatty channels (see the module docstring).
PIPE_SIZE = 1 << 20  # asked for (fs.pipe-max-size, 1 MiB by default, for non-root)
CHATTY_BYTES = 64 * 1024  # this much within CHATTY_WINDOW makes a channel chatty
CHATTY_WINDOW = 0.01
MIN_DELAY = 0.0005
MAX_DELAY = 0.02
QUIET_BYTES = 16 * 1024  # less than this per wake at MAX_DELAY: back to reading at once

_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux values; Python 3.10+ names them
_F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)

Waker = Callable[[], None]


class OutputChannel:
    """One channel of one process; lives as long as the process object.

    The log file stays open across restarts; the pipe changes with each spawn.
    """

    __slots__ = (  # two per program
        "channel", "destinations", "fast_path", "wakers", "_fd", "_loop", "_watching", "_timer",
        "_delay", "_pipe_size", "_window_start", "_window_bytes",
    )  # fmt: skip

    def __init__(self, channel: str, destinations: Destinations) -> None:
        self.channel = channel
        self.destinations = destinations
        self.fast_path = destinations.file_only  # they never change once built
        # Told that output arrived, without the bytes: a ``tail -f`` client
        # reads the file (or journal) itself, and the splice path stays on.
        self.wakers: list[Waker] = []
        self._fd: Optional[int] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._watching = False  # add_reader is in place (else a timer or nothing)
        self._timer: Optional[asyncio.TimerHandle] = None
        self._delay = 0.0  # 0: read at once; else the pause between reads
        self._pipe_size = 0  # of a chatty channel's pipe, once enlarged
        self._window_start = 0.0
        self._window_bytes = 0

    def attach(self, fd: int, loop: asyncio.AbstractEventLoop) -> None:
        self.detach()
        self._fd = fd
        self._loop = loop
        self._delay = 0.0
        self._pipe_size = 0
        self._window_bytes = 0
        loop.add_reader(fd, self._readable)
        self._watching = True

    def detach(self) -> None:
        """Read what is left in the pipe, then stop watching it and close it."""
        fd = self._fd
        if fd is None:
            return
        self._drain()
        self._unwatch()
        os.close(fd)
        self._fd = None
        self._end_capture()

    def release(self) -> Optional[int]:
        """Hand-over: stop reading and give up the pipe without reading or
        closing it; what it holds is read by whoever :meth:`attach` es it next
        (the new daemon, or this one again if the hand-over is called off)."""
        fd = self._fd
        if fd is not None:
            self._unwatch()
            self._fd = None
        return fd

    def held(self) -> dict:
        """Hand-over: the bytes held in Python (unfinished lines for the
        journal and syslog, what waits for a log FIFO's reader), taken from
        here, as :meth:`hold` takes them back."""
        dest = self.destinations
        held: dict = {
            name: writer.hand_over().hex()
            for name, writer in (("journal", dest.journal), ("syslog", dest.syslog), ("logfile", dest.logfile))
            if writer is not None
        }
        # Where the stream's own state stands: a capture-mode message or a
        # token's start, an escape sequence cut between two reads.
        for name, state in (("capture", dest.capture), ("stripper", dest.stripper)):
            if state is not None:
                held[name] = state.hand_over()
        return held

    def hold(self, held: dict) -> None:
        dest = self.destinations
        for name, writer in (("journal", dest.journal), ("syslog", dest.syslog)):
            if writer is not None and held.get(name):
                writer.take_over(bytes.fromhex(held[name]))
        for name, state in (("capture", dest.capture), ("stripper", dest.stripper)):
            if state is not None and held.get(name):
                state.take_over(held[name])
        if dest.logfile is not None and held.get("logfile"):
            dest.logfile.write(bytes.fromhex(held["logfile"]))  # queued again behind nothing

    @property
    def attached(self) -> bool:
        """A pipe is being read (until its end, or :meth:`detach`)."""
        return self._fd is not None

    @property
    def logfile(self) -> Optional[RotatingFile]:
        return self.destinations.logfile

    def feed(self, data: bytes) -> None:
        dest = self.destinations
        if dest.capture is None:
            self._record(data, captured=False)
        else:
            for piece in dest.capture.feed(data):
                self._piece(piece)
        if dest.protocol is not None:
            dest.protocol(data)

    def _record(self, data: bytes, captured: bool) -> None:
        dest = self.destinations
        if dest.stripper is not None:
            data = dest.stripper.feed(data)
            if not data:
                return
        if not captured:  # captured text goes to its event, not to the logs
            if dest.logfile is not None:
                dest.logfile.write(data)
            if dest.syslog is not None:
                dest.syslog.write(data)
            if dest.journal is not None:
                dest.journal.write(data)
            for wake in self.wakers:
                wake()
        if dest.debug_echo is not None:
            dest.debug_echo(data)
        if dest.log_events is not None:
            dest.log_events(data)

    def _piece(self, piece: Piece) -> None:
        if isinstance(piece, Message):
            if self.destinations.on_message is not None:
                self.destinations.on_message(piece.data)
        else:
            self._record(piece.data, captured=isinstance(piece, Captured))

    def _end_capture(self) -> None:
        # Each spawn starts outside capture mode; a token prefix held back at
        # the end of the stream was plain output after all.
        capture = self.destinations.capture
        if capture is not None:
            for piece in capture.flush():
                self._piece(piece)

    def flush(self) -> None:
        """The program exited: a partial line waiting for the journal goes as it is."""
        if self.destinations.journal is not None:
            self.destinations.journal.flush()

    def close(self) -> None:
        self.detach()
        self.destinations.close()

    def _readable(self) -> None:
        fd = self._fd
        if fd is None:
            return
        moved, ended = self._move(fd, WAKE_LIMIT)
        if self._fd != fd:
            return  # a hook detached the channel meanwhile
        if ended:
            self.detach()  # EOF: every writer closed its end (the child and all it forked)
            return
        delay = self._pace(moved)
        loop = self._loop
        assert loop is not None
        if delay:
            if self._watching:
                loop.remove_reader(fd)
                self._watching = False
            self._timer = loop.call_later(delay, self._on_timer)
        elif not self._watching:
            loop.add_reader(fd, self._readable)
            self._watching = True

    def _on_timer(self) -> None:
        self._timer = None
        self._readable()

    def _move(self, fd: int, limit: int) -> tuple[int, bool]:
        """Move what the pipe holds (up to about ``limit`` bytes) to where it
        goes; returns (bytes moved, whether the stream ended)."""
        moved = spliced = 0
        ended = False
        while moved < limit:
            logfile = self.logfile
            if self.fast_path and logfile is not None:
                try:
                    n = logfile.splice_from(fd, SPLICE_SIZE)
                except BlockingIOError:
                    break
                if n > 0:
                    # Go on until EAGAIN: a short splice may only mean the
                    # file rotated after it, and a drain must get it all.
                    moved += n
                    spliced += n
                    continue
                if n == 0:
                    ended = True
                    break
                # n < 0: read it after all, so write() can report and drop it
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                ended = True
                break
            moved += len(data)
            self.feed(data)
            if self._fd != fd:
                break  # a hook detached the channel: fd may be closed, even reused
        if spliced:
            for wake in self.wakers:
                wake()
        return moved, ended

    def _pace(self, moved: int) -> float:
        """The pause before the next read: 0 to read as soon as there is data."""
        loop = self._loop
        assert loop is not None
        if not self._delay:
            now = loop.time()
            if now - self._window_start > CHATTY_WINDOW:
                self._window_start = now
                self._window_bytes = 0
            self._window_bytes += moved
            if self._window_bytes < CHATTY_BYTES:
                return 0.0
            self._pipe_size = self._enlarge_pipe()
            self._delay = MIN_DELAY
            return self._delay
        quarter = self._pipe_size // 4
        if moved >= 3 * quarter:
            self._delay = max(MIN_DELAY, self._delay / 2)
        elif moved < quarter:
            if self._delay >= MAX_DELAY and moved < QUIET_BYTES:
                self._delay = 0.0
                self._window_bytes = 0
                return 0.0
            self._delay = min(MAX_DELAY, self._delay * 2)
        return self._delay

    def _enlarge_pipe(self) -> int:
        fd = self._fd
        assert fd is not None
        try:
            fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            pass  # over the user's pipe quota or above pipe-max-size: keep what it has
        try:
            return int(fcntl.fcntl(fd, _F_GETPIPE_SZ))
        except OSError:
            return 1 << 16

    def _unwatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._watching and self._loop is not None and self._fd is not None:
            self._loop.remove_reader(self._fd)
        self._watching = False

    def _drain(self) -> None:
        fd = self._fd
        assert fd is not None
        # Bounded: a grandchild that keeps the pipe open and writes without
        # pause must not keep the loop here forever.
        self._move(fd, DRAIN_LIMIT)
