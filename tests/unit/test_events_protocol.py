"""The listener protocol machine, fed byte by byte and in odd pieces."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervisor_ng.events.protocol import (
    Answered,
    BecameReady,
    Broke,
    ListenerProtocol,
    ListenerState,
    Log,
    Verdict,
)

UNKNOWN_WARNING = (
    "l: has entered the UNKNOWN state and will no longer receive events, "
    "this usually indicates the process violated the eventlistener protocol"
)


def outputs(out: list) -> list:
    return [o for o in out if not isinstance(o, Log)]


def logs(out: list, level: int | None = None) -> list[str]:
    return [o.text for o in out if isinstance(o, Log) and (level is None or o.level == level)]


def ready(p: ListenerProtocol) -> None:
    assert outputs(p.feed(b"READY\n")) == [BecameReady()]
    assert p.state == ListenerState.READY


def test_ready_send_ok_cycle() -> None:
    p = ListenerProtocol("l")
    assert p.state == ListenerState.ACKNOWLEDGED
    out = p.feed(b"READY\n")
    assert outputs(out) == [BecameReady()]
    assert logs(out) == ["l: ACKNOWLEDGED -> READY"]
    p.sent()
    assert p.state == ListenerState.BUSY
    out = p.feed(b"RESULT 2\nOK")
    assert outputs(out) == [Answered(True)]
    assert logs(out) == ["l: event was processed", "l: BUSY -> ACKNOWLEDGED"]
    assert p.state == ListenerState.ACKNOWLEDGED


def test_fail_is_rejected_and_acknowledged() -> None:
    p = ListenerProtocol("l")
    ready(p)
    p.sent()
    out = p.feed(b"RESULT 4\nFAIL")
    assert outputs(out) == [Answered(False)]
    assert logs(out, 30) == ["l: event was rejected"]
    assert p.state == ListenerState.ACKNOWLEDGED


def test_result_and_next_ready_in_one_read() -> None:
    p = ListenerProtocol("l")
    ready(p)
    p.sent()
    assert outputs(p.feed(b"RESULT 2\nOKREADY\n")) == [Answered(True), BecameReady()]
    assert p.state == ListenerState.READY


@given(st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=40))
def test_any_split_of_the_stream_gives_the_same_answers(cuts: list[int]) -> None:
    p = ListenerProtocol("l")
    seen = outputs(p.feed(b"READY\n"))
    i = 0
    # A listener writes its answer and READY only after it got an event.
    for answer in (b"RESULT 4\nFAILREADY\n", b"RESULT 2\nOKREADY\n"):
        p.sent()
        pos = 0
        while pos < len(answer):
            size = cuts[i % len(cuts)]
            i += 1
            seen += outputs(p.feed(answer[pos : pos + size]))
            pos += size
    assert seen == [BecameReady(), Answered(False), BecameReady(), Answered(True), BecameReady()]


def test_result_zero_is_judged_at_once() -> None:
    p = ListenerProtocol("l")
    ready(p)
    p.sent()
    assert outputs(p.feed(b"RESULT 0\n")) == [Answered(False)]


@pytest.mark.parametrize("junk", [b"HELLO!\n", b"READX\n", b"ready\n"])
def test_junk_before_ready_is_unknown(junk: bytes) -> None:
    p = ListenerProtocol("l")
    out = p.feed(junk)
    assert p.state == ListenerState.UNKNOWN
    assert outputs(out) == []  # no event was out
    assert UNKNOWN_WARNING in logs(out, 30)
    # Nothing it says afterwards counts.
    assert p.feed(b"READY\n") == []
    assert p.state == ListenerState.UNKNOWN


def test_short_data_waits_for_more() -> None:
    p = ListenerProtocol("l")
    assert p.feed(b"REA") == []
    assert p.state == ListenerState.ACKNOWLEDGED
    assert outputs(p.feed(b"DY\n")) == [BecameReady()]


def test_data_while_ready_is_unknown() -> None:
    p = ListenerProtocol("l")
    out = p.feed(b"READY\nREADY\n")
    assert outputs(out) == [BecameReady()]
    assert p.state == ListenerState.UNKNOWN
    assert UNKNOWN_WARNING in logs(out)


def test_bad_result_line_gives_the_event_back() -> None:
    p = ListenerProtocol("l")
    ready(p)
    p.sent()
    out = p.feed(b"RESULT x\n")
    assert outputs(out) == [Broke()]
    assert logs(out, 30) == ["l: bad result line: 'RESULT x'", UNKNOWN_WARNING]
    assert p.state == ListenerState.UNKNOWN


def test_an_endless_result_line_is_not_kept() -> None:
    p = ListenerProtocol("l")
    ready(p)
    p.sent()
    assert p.feed(b"x" * 1000) == []
    out = p.feed(b"x" * (100 * 1024))
    assert outputs(out) == [Broke()]
    assert p.state == ListenerState.UNKNOWN


def test_handler_error_is_unknown_and_gives_the_event_back() -> None:
    p = ListenerProtocol("l", judge=lambda result: Verdict.ERROR)
    ready(p)
    p.sent()
    out = p.feed(b"RESULT 2\nOK")
    assert outputs(out) == [Broke()]
    assert "l: event caused an error" in logs(out, 30)
    assert p.state == ListenerState.UNKNOWN


def test_custom_judge_sees_the_result_bytes() -> None:
    seen = []

    def judge(result: bytes) -> Verdict:
        seen.append(result)
        return Verdict.ACCEPTED

    p = ListenerProtocol("l", judge=judge)
    ready(p)
    p.sent()
    assert outputs(p.feed(b"RESULT 5\nhello")) == [Answered(True)]
    assert seen == [b"hello"]


def test_reset_starts_over() -> None:
    p = ListenerProtocol("l")
    p.feed(b"junk!!!")
    assert p.state == ListenerState.UNKNOWN
    p.reset()
    assert p.state == ListenerState.ACKNOWLEDGED
    ready(p)
