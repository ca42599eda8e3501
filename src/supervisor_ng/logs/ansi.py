"""Removing ANSI escape sequences from child output (``strip_ansi=true``).

Same rule as stock: a sequence starts at ``ESC [`` and runs up to and
including the first byte that is one of the known final letters; a lone ESC
not followed by ``[`` is kept, and a sequence that never ends swallows the
rest of the data.  Output arrives in arbitrary chunks, so
:class:`AnsiStripper` carries a sequence that is cut between two reads over
to the next one.
"""

from __future__ import annotations

import re

_FINALS = b"HfABCDRsuJKhlpm"
# One sequence: complete (group 1 matched) or running to the end of the data.
_SEQUENCE = re.compile(rb"\x1b\[[^" + _FINALS + rb"]*([" + _FINALS + rb"]|\Z)")
_FINAL = re.compile(rb"[" + _FINALS + rb"]")
_ESC = b"\x1b"


def strip_ansi(data: bytes) -> bytes:
    """Remove escape sequences from one self-contained piece of output."""
    if _ESC not in data:
        return data
    return _SEQUENCE.sub(b"", data)


class AnsiStripper:
    """Stateful :func:`strip_ansi` for a stream of chunks."""

    def __init__(self) -> None:
        self._in_sequence = False  # inside ESC [ ..., waiting for the final byte
        self._held_esc = False  # the last chunk ended with a bare ESC

    def feed(self, data: bytes) -> bytes:
        if self._held_esc:
            self._held_esc = False
            data = _ESC + data
        if self._in_sequence:
            m = _FINAL.search(data)
            if m is None:
                return b""
            self._in_sequence = False
            data = data[m.end() :]
        if _ESC not in data:
            return data
        out = []
        pos = 0
        for m in _SEQUENCE.finditer(data):
            out.append(data[pos : m.start()])
            pos = m.end()
            if not m.group(1):
                self._in_sequence = True
        tail = data[pos:]
        if tail.endswith(_ESC):
            # Might be the start of a sequence whose "[" is in the next chunk.
            self._held_esc = True
            tail = tail[:-1]
        out.append(tail)
        return b"".join(out)

    def hand_over(self) -> dict:
        """Hand-over by exec: inside a sequence, or an ESC held back."""
        return {"in_sequence": self._in_sequence, "held_esc": self._held_esc}

    def take_over(self, saved: dict) -> None:
        self._in_sequence = bool(saved["in_sequence"])
        self._held_esc = bool(saved["held_esc"])

    def flush(self) -> bytes:
        """What is held back at end of stream (a trailing bare ESC)."""
        self._in_sequence = False
        if self._held_esc:
            self._held_esc = False
            return _ESC
        return b""
