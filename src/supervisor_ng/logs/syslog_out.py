"""Sending log lines to syslog (``logfile=syslog``, ``*_syslog=true``).

Everything goes through the stdlib :mod:`syslog` module under the ident
``supervisord`` (what stock ends up with, since it never calls openlog and
its argv[0] is supervisord).  A child line is sent as ``<process name>
<line>``; unlike stock, a line cut between two reads is held until its
newline so it reaches syslog in one piece.
"""

from __future__ import annotations

import syslog
from typing import Callable

from .lines import LineSplitter

IDENT = "supervisord"
# Lines longer than this are sent in pieces: a child that never writes a
# newline must not grow the buffer without bound (syslog truncates long
# messages anyway).
MAX_LINE = 8192

SyslogSink = Callable[[int, str], None]

_opened = False


def send(priority: int, message: str) -> None:
    """The default sink: the real syslog, opened on first use."""
    global _opened
    if not _opened:
        syslog.openlog(IDENT, 0, syslog.LOG_USER)
        _opened = True
    # syslog() rejects embedded NULs with ValueError.
    syslog.syslog(priority, message.replace("\0", "\\0"))


class SyslogLineWriter:
    """Writes a child's output channel to syslog one line at a time."""

    def __init__(
        self,
        name: str,
        priority: int = syslog.LOG_INFO,
        sink: SyslogSink = send,
    ) -> None:
        self.name = name
        self.priority = priority
        self._sink = sink
        self._lines = LineSplitter(MAX_LINE)

    def write(self, data: bytes) -> None:
        for line in self._lines.feed(data):
            self._send(line)

    def flush(self) -> None:
        """Send a pending partial line (the child exited without a newline)."""
        for line in self._lines.flush():
            self._send(line)

    def hand_over(self) -> bytes:
        """Hand-over by exec (issue 16): the unfinished line, taken from here."""
        return b"".join(self._lines.flush())

    def take_over(self, held: bytes) -> None:
        """The unfinished line a former daemon binary held (see hand_over)."""
        self._lines.feed(held)

    def close(self) -> None:
        self.flush()

    def reopen(self) -> None:
        pass  # nothing to reopen; here so all child log writers look alike

    def _send(self, line: bytes) -> None:
        text = f"{self.name} {line.decode('utf-8', 'replace')}"
        try:
            self._sink(self.priority, text)
        except (OSError, ValueError):
            pass  # no syslog daemon listening: nothing useful to do on the loop
