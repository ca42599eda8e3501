"""Capture mode: what a process writes between two tokens becomes an event.

With ``<channel>_capture_maxbytes`` set, a process that writes
``<!--XSUPERVISOR:BEGIN-->`` switches its channel into capture mode: what
follows is kept (not written to the channel's log) until
``<!--XSUPERVISOR:END-->``, and then sent as one PROCESS_COMMUNICATION_*
event.  The tokens themselves go nowhere.

Sans-I/O: :meth:`Capture.feed` takes the chunks the pipe delivered and returns
the pieces in order, each marked as normal output, captured output or a
finished message.  A token split across two reads is still found: the tail of
a chunk that could be the start of a token is held back until the next chunk
(or the end of the stream) decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .types import BEGIN_TOKEN, END_TOKEN


@dataclass(frozen=True)
class Output:
    """Ordinary output: to the log as usual."""

    data: bytes


@dataclass(frozen=True)
class Captured:
    """Output inside the tokens: not to the log file (stock still shows it in
    PROCESS_LOG events and the debug log)."""

    data: bytes


@dataclass(frozen=True)
class Message:
    """The END token came: the captured text, for the event."""

    data: bytes


Piece = Union[Output, Captured, Message]


class Capture:
    def __init__(self, maxbytes: int) -> None:
        self.maxbytes = maxbytes
        self.capturing = False
        self._pending = b""
        self._kept = b""

    def feed(self, data: bytes) -> list[Piece]:
        pieces: list[Piece] = []
        data = self._pending + data
        self._pending = b""
        while data:
            token = END_TOKEN if self.capturing else BEGIN_TOKEN
            before, found, after = data.partition(token)
            if not found:
                hold = _partial_token_at_end(data, token)
                if hold:
                    self._pending = data[-hold:]
                    data = data[:-hold]
                self._emit(data, pieces)
                break
            self._emit(before, pieces)
            self._toggle(pieces)
            data = after
        return pieces

    def hand_over(self) -> dict:
        """Hand-over by exec: the mode, a token's start held back, the message so far."""
        return {"capturing": self.capturing, "pending": self._pending.hex(), "kept": self._kept.hex()}

    def take_over(self, saved: dict) -> None:
        self.capturing = bool(saved["capturing"])
        self._pending = bytes.fromhex(saved["pending"])
        self._kept = bytes.fromhex(saved["kept"])

    def flush(self) -> list[Piece]:
        """The stream ended: what was held back was not a token after all.
        A message never ended is lost (as in stock); the next stream starts
        outside capture mode."""
        pieces: list[Piece] = []
        data, self._pending = self._pending, b""
        self._emit(data, pieces)
        self.capturing = False
        self._kept = b""
        return pieces

    def _emit(self, data: bytes, pieces: list[Piece]) -> None:
        if not data:
            return
        if self.capturing:
            self._keep(data)
            pieces.append(Captured(data))
        else:
            pieces.append(Output(data))

    def _keep(self, data: bytes) -> None:
        # Stock's bounded buffer, exactly: when a write would pass the limit it
        # drops as many bytes from the front as the write adds (so one write
        # larger than the limit is kept whole).
        if len(self._kept) + len(data) > self.maxbytes:
            self._kept = self._kept[len(data) :]
        self._kept += data

    def _toggle(self, pieces: list[Piece]) -> None:
        self.capturing = not self.capturing
        if not self.capturing:
            pieces.append(Message(self._kept))
            self._kept = b""


def _partial_token_at_end(data: bytes, token: bytes) -> int:
    """Length of the longest end of ``data`` that begins ``token``."""
    for size in range(min(len(token) - 1, len(data)), 0, -1):
        if data.endswith(token[:size]):
            return size
    return 0
