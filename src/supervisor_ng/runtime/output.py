"""Reading a child's stdout or stderr on the loop and sending it where it goes.

Each channel is a non-blocking pipe watched with ``loop.add_reader``: the
daemon wakes only when the child wrote something.  Bytes go, in order, through
ANSI stripping (if asked), to the channel's log file, to syslog, to the main log
at debug level, and to any output observers (events, journald, tails).

Event hooks (set up by runtime/listener.py, all off by default): ``capture``
splits out what the child writes between the XSUPERVISOR tokens (not logged;
``on_message`` gets each finished message), ``log_events`` gets every chunk
for PROCESS_LOG_* events, and ``protocol`` gets the raw bytes of an event
listener's stdout.
"""

from __future__ import annotations

import asyncio
import errno
import os
from typing import Callable, Optional

from ..events.capture import Capture, Captured, Message, Piece
from ..logs.ansi import AnsiStripper
from ..logs.rotating import RotatingFile
from ..logs.syslog_out import SyslogLineWriter

READ_SIZE = 1 << 17  # stock reads at most 128 KiB at a time

OutputObserver = Callable[[str, bytes], None]  # (channel, data)
DataHook = Callable[[bytes], None]


class OutputChannel:
    """One channel of one process; lives as long as the process object.

    The log file stays open across restarts; the pipe changes with each spawn.
    """

    def __init__(
        self,
        channel: str,
        logfile: Optional[RotatingFile],
        *,
        strip_ansi: bool = False,
        syslog_tag: Optional[str] = None,
        debug_echo: Optional[Callable[[bytes], None]] = None,
    ) -> None:
        self.channel = channel
        self.logfile = logfile
        self._stripper = AnsiStripper() if strip_ansi else None
        self._syslog = SyslogLineWriter(syslog_tag) if syslog_tag else None
        self._debug_echo = debug_echo
        self.observers: list[OutputObserver] = []
        # -- event hooks --
        self.capture: Optional[Capture] = None
        self.on_message: Optional[DataHook] = None
        self.log_events: Optional[DataHook] = None
        self.protocol: Optional[DataHook] = None
        self._fd: Optional[int] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def attach(self, fd: int, loop: asyncio.AbstractEventLoop) -> None:
        self.detach()
        self._fd = fd
        self._loop = loop
        loop.add_reader(fd, self._readable)

    def detach(self) -> None:
        """Read what is left in the pipe, then stop watching it and close it."""
        fd = self._fd
        if fd is None:
            return
        self._drain()
        if self._loop is not None:
            self._loop.remove_reader(fd)
        os.close(fd)
        self._fd = None
        self._end_capture()

    def feed(self, data: bytes) -> None:
        if self.capture is None:
            self._record(data, captured=False)
        else:
            for piece in self.capture.feed(data):
                self._piece(piece)
        if self.protocol is not None:
            self.protocol(data)

    def _record(self, data: bytes, captured: bool) -> None:
        if self._stripper is not None:
            data = self._stripper.feed(data)
            if not data:
                return
        if not captured:  # captured text goes to its event, not to the logs
            if self.logfile is not None:
                self.logfile.write(data)
            if self._syslog is not None:
                self._syslog.write(data)
            for observer in self.observers:
                observer(self.channel, data)
        if self._debug_echo is not None:
            self._debug_echo(data)
        if self.log_events is not None:
            self.log_events(data)

    def _piece(self, piece: Piece) -> None:
        if isinstance(piece, Message):
            if self.on_message is not None:
                self.on_message(piece.data)
        else:
            self._record(piece.data, captured=isinstance(piece, Captured))

    def _end_capture(self) -> None:
        # Each spawn starts outside capture mode; a token prefix held back at
        # the end of the stream was plain output after all.
        if self.capture is not None:
            for piece in self.capture.flush():
                self._piece(piece)

    def close(self) -> None:
        self.detach()
        if self._syslog is not None:
            self._syslog.close()
        if self.logfile is not None:
            self.logfile.close()

    def _readable(self) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno == errno.EINTR:
                return
            data = b""
        if data:
            self.feed(data)
            return
        self.detach()  # EOF: every writer closed its end (the child and all it forked)
        self._end_capture()

    def _drain(self) -> None:
        fd = self._fd
        assert fd is not None
        while True:
            try:
                data = os.read(fd, READ_SIZE)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            self.feed(data)
