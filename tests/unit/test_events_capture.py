"""Capture mode: tokens found across any split of the stream."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from supervisor_ng.events.capture import Capture, Captured, Message, Output

B, E = b"<!--XSUPERVISOR:BEGIN-->", b"<!--XSUPERVISOR:END-->"


def run(chunks: list[bytes], maxbytes: int = 100) -> tuple[bytes, bytes, list[bytes]]:
    cap = Capture(maxbytes)
    pieces = []
    for chunk in chunks:
        pieces += cap.feed(chunk)
    pieces += cap.flush()
    logged = b"".join(p.data for p in pieces if isinstance(p, Output))
    captured = b"".join(p.data for p in pieces if isinstance(p, Captured))
    messages = [p.data for p in pieces if isinstance(p, Message)]
    return logged, captured, messages


def test_plain_output_passes_at_once() -> None:
    cap = Capture(100)
    assert cap.feed(b"hi\n") == [Output(b"hi\n")]


def test_message_between_tokens() -> None:
    assert run([b"a" + B + b"msg" + E + b"b"]) == (b"ab", b"msg", [b"msg"])


def test_two_messages_and_an_unfinished_one() -> None:
    logged, captured, messages = run([b"1" + B + b"x" + E + b"2" + B + b"y" + E + b"3" + B + b"lost"])
    assert logged == b"123"
    assert messages == [b"x", b"y"]


def test_token_prefix_at_the_end_is_held_then_released() -> None:
    cap = Capture(100)
    assert cap.feed(b"abc<!--XSUP") == [Output(b"abc")]
    assert cap.feed(b"ER") == []
    assert cap.flush() == [Output(b"<!--XSUPER")]
    assert not cap.capturing


def test_stock_bounded_buffer() -> None:
    # Stock drops len(write) bytes from the front when a write passes the limit.
    assert run([B + b"aaaa", b"bbbb", b"cc" + E], maxbytes=8)[2] == [b"aabbbbcc"]
    assert run([B + b"0123456789" + E], maxbytes=4)[2] == [b"0123456789"]


@given(st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=20))
def test_any_split_gives_the_same_result(cuts: list[int]) -> None:
    stream = b"before " + B + b"first message" + E + b" middle <!-- not a token " + B + b"second" + E + b" after"
    chunks, pos, i = [], 0, 0
    while pos < len(stream):
        size = cuts[i % len(cuts)]
        chunks.append(stream[pos : pos + size])
        pos += size
        i += 1
    assert run(chunks) == (
        b"before  middle <!-- not a token  after",
        b"first messagesecond",
        [b"first message", b"second"],
    )
