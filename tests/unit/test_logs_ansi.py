from __future__ import annotations

import random

import pytest

from supervisor_ng.logs.ansi import AnsiStripper, strip_ansi

ESC = b"\x1b"


@pytest.mark.parametrize(
    "raw, clean",
    [
        (b"plain", b"plain"),
        (b"\x1b[31mred\x1b[0m\n", b"red\n"),
        (b"\x1b[1;32;40mbold\x1b[K!", b"bold!"),
        (b"\x1b[2J\x1b[Hscreen", b"screen"),
        (b"\x1b[?25lcursor\x1b[?25h", b"cursor"),
        (b"lone \x1b escape", b"lone \x1b escape"),  # ESC not followed by [ stays
        (b"\x1b]0;title\x07text", b"\x1b]0;title\x07text"),  # OSC is not stripped (stock)
        (b"cut \x1b[31", b"cut "),  # never terminated: swallows the rest
        (b"\x1b[", b""),
        (b"a\x1b[xyzmb", b"ab"),  # anything up to the final letter goes
        (b"", b""),
    ],
)
def test_strip_ansi(raw, clean):
    assert strip_ansi(raw) == clean


def feed_in_pieces(data: bytes, cuts: list[int]) -> bytes:
    s = AnsiStripper()
    out = []
    prev = 0
    for cut in cuts + [len(data)]:
        out.append(s.feed(data[prev:cut]))
        prev = cut
    out.append(s.flush())
    return b"".join(out)


SAMPLE = b"x\x1b[31mred\x1b[0m y \x1b z \x1b[1;2Hend\x1b"


@pytest.mark.parametrize("cut", range(len(SAMPLE) + 1))
def test_split_once_anywhere(cut):
    assert feed_in_pieces(SAMPLE, [cut]) == strip_ansi(SAMPLE)


def test_sequence_split_across_reads():
    s = AnsiStripper()
    assert s.feed(b"hello \x1b") == b"hello "
    assert s.feed(b"[3") == b""
    assert s.feed(b"1") == b""
    assert s.feed(b"mworld") == b"world"
    assert s.feed(b"\x1b") == b""
    assert s.feed(b"") == b""
    assert s.feed(b"not a sequence") == b"\x1bnot a sequence"
    assert s.feed(b"end\x1b") == b"end"
    assert s.flush() == ESC
    assert s.flush() == b""


def test_random_chunking_matches_whole():
    rnd = random.Random(7)
    alphabet = [b"\x1b", b"[", b"m", b"H", b"3", b"1", b";", b"a", b"\n", b"K"]
    for _ in range(2000):
        data = b"".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 24)))
        cuts = sorted(rnd.randint(0, len(data)) for _ in range(rnd.randint(0, 5)))
        assert feed_in_pieces(data, cuts) == strip_ansi(data), (data, cuts)
