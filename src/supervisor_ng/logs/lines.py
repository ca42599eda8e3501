"""Cutting a child's output, as it comes off the pipe, into lines.

Line-oriented outputs (syslog, the journal) get whole lines: a line cut
between two reads waits for its end, and a line that never ends is sent in
pieces of at most ``max_line`` bytes, so a child that writes no newline
cannot grow the buffer without bound.
"""

from __future__ import annotations


class LineSplitter:
    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._partial = b""

    def feed(self, data: bytes) -> list[bytes]:
        """The lines ``data`` completes (without their newline)."""
        if not data:
            return []
        lines = (self._partial + data).split(b"\n")
        partial = lines.pop()
        while len(partial) >= self.max_line:
            lines.append(partial[: self.max_line])
            partial = partial[self.max_line :]
        self._partial = partial
        return lines

    def flush(self) -> list[bytes]:
        """An unfinished line, as it is (the pipe closed)."""
        if not self._partial:
            return []
        partial, self._partial = self._partial, b""
        return [partial]
