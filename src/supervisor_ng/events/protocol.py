"""The listener side of the event protocol, as a sans-I/O state machine.

A listener process talks on its stdout::

    READY\\n                    -> it wants one event
    RESULT <n>\\n<n bytes>      -> its answer to the event it was sent

The machine is fed what the listener wrote (in whatever pieces the pipe
delivered) and answers with what happened: the listener became ready, it
answered an event (judged by the pool's result handler, a plain function), or
it broke the protocol.  The runtime sends the events and
owns the process; this module never does I/O.

States and their numbers are stock's: ACKNOWLEDGED (just started, or answered,
and not ready yet), READY, BUSY (an event is out), UNKNOWN (broke the protocol:
it gets no more events until it is restarted).  Any data the protocol does not
allow moves the listener to UNKNOWN, as stock does; a listener cannot recover
by itself from that.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Union

READY_TOKEN = b"READY\n"
RESULT_TOKEN = b"RESULT "

WARN, DEBUG = 30, 10
_MAX_RESULT_LINE = 64 * 1024


class ListenerState(enum.IntEnum):
    READY = 10
    BUSY = 20
    ACKNOWLEDGED = 30
    UNKNOWN = 40


@dataclass(frozen=True)
class BecameReady:
    """The listener wrote READY: send it the next event."""


@dataclass(frozen=True)
class Answered:
    """The listener answered the event it was sent.  ``accepted`` False means
    the result handler rejected it (anything but ``OK`` by default): the event
    goes back to the head of the buffer."""

    accepted: bool


@dataclass(frozen=True)
class Broke:
    """The listener broke the protocol while it had an event (a bad RESULT
    line, or an answer the result handler choked on): the event goes back to
    the buffer."""


@dataclass(frozen=True)
class Log:
    level: int
    text: str


Output = Union[BecameReady, Answered, Broke, Log]


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ERROR = "error"


Judge = Callable[[bytes], Verdict]


def default_judge(result: bytes) -> Verdict:
    """Stock's default result handler: ``OK`` or nothing."""
    return Verdict.ACCEPTED if result == b"OK" else Verdict.REJECTED


class ListenerProtocol:
    def __init__(self, name: str, judge: Judge = default_judge) -> None:
        self.name = name
        self.judge = judge
        self.state = ListenerState.ACKNOWLEDGED
        self._buffer = b""
        self._result_len: int | None = None
        self._result = b""
        self._out: list[Output] = []

    def reset(self) -> None:
        """A new process: it starts over in ACKNOWLEDGED."""
        self.state = ListenerState.ACKNOWLEDGED
        self._buffer = b""
        self._result_len = None
        self._result = b""

    def snapshot(self) -> dict:
        """Hand-over by exec (issue 16): where the listener is in the protocol."""
        return {"state": self.state.name, "buffer": self._buffer.hex(),
                "result_len": self._result_len, "result": self._result.hex()}

    def restore(self, saved: dict) -> None:
        self.state = ListenerState[saved["state"]]
        self._buffer = bytes.fromhex(saved["buffer"])
        self._result_len = saved["result_len"]
        self._result = bytes.fromhex(saved["result"])

    def sent(self) -> None:
        """The runtime sent an event to this READY listener."""
        assert self.state == ListenerState.READY
        self.state = ListenerState.BUSY

    def feed(self, data: bytes) -> list[Output]:
        """Bytes the listener wrote on its stdout."""
        if self.state == ListenerState.UNKNOWN:
            return []
        self._buffer += data
        self._run()
        return self._take()

    # -- the rules -------------------------------------------------------------------

    def _run(self) -> None:
        while self._buffer and self._step():
            pass

    def _step(self) -> bool:
        """Consume what the current state can; False when more data is needed."""
        state = self.state
        if state == ListenerState.UNKNOWN:
            self._buffer = b""
            return False
        if state == ListenerState.ACKNOWLEDGED:
            if len(self._buffer) < len(READY_TOKEN):
                return False
            if self._buffer.startswith(READY_TOKEN):
                self._buffer = self._buffer[len(READY_TOKEN) :]
                self._change(ListenerState.READY)
                self._out.append(BecameReady())
            else:
                self._broke(with_event=False)
            return True
        if state == ListenerState.READY:
            # Nothing may come between READY and the event.
            self._broke(with_event=False)
            return False
        # BUSY
        if self._result_len is None:
            end = self._buffer.find(b"\n")
            if end == -1 and len(self._buffer) <= _MAX_RESULT_LINE:
                return False
            if end == -1:
                # No RESULT line is this long: a listener spewing output must
                # not make the daemon hold all of it.
                end = _MAX_RESULT_LINE
            line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
            length = _result_length(line)
            if length is None:
                shown = line if len(line) <= 1024 else line[:1024] + b"..."
                text = shown.decode("utf-8", "replace") if _decodes(shown) else f"Undecodable: {shown!r}"
                self._out.append(Log(WARN, f"{self.name}: bad result line: '{text}'"))
                self._broke(with_event=True)
                return False
            self._result_len = length
            self._result = b""
        needed = self._result_len - len(self._result)
        self._result += self._buffer[:needed]
        self._buffer = self._buffer[needed:]
        if len(self._result) < self._result_len:
            return False
        result, self._result, self._result_len = self._result, b"", None
        self._verdict(result)
        return True

    def _verdict(self, result: bytes) -> None:
        verdict = self.judge(result)
        if verdict is Verdict.ACCEPTED:
            self._out.append(Log(DEBUG, f"{self.name}: event was processed"))
            self._change(ListenerState.ACKNOWLEDGED)
            self._out.append(Answered(True))
        elif verdict is Verdict.REJECTED:
            self._out.append(Log(WARN, f"{self.name}: event was rejected"))
            self._change(ListenerState.ACKNOWLEDGED)
            self._out.append(Answered(False))
        else:
            self._out.append(Log(WARN, f"{self.name}: event caused an error"))
            self._change(ListenerState.UNKNOWN)
            self._out.append(Broke())

    def _broke(self, with_event: bool) -> None:
        self._buffer = b""
        self._result_len = None
        self._result = b""
        self._change(ListenerState.UNKNOWN)
        if with_event:
            self._out.append(Broke())

    def _change(self, new: ListenerState) -> None:
        old = self.state
        self.state = new
        self._out.append(Log(DEBUG, f"{self.name}: {old.name} -> {new.name}"))
        if new == ListenerState.UNKNOWN:
            self._out.append(
                Log(
                    WARN,
                    f"{self.name}: has entered the UNKNOWN state and will no longer receive "
                    "events, this usually indicates the process violated the eventlistener protocol",
                )
            )

    def _take(self) -> list[Output]:
        out, self._out = self._out, []
        return out


def _result_length(line: bytes) -> int | None:
    # Stock takes whatever follows the first 7 bytes as the length, without
    # checking they say "RESULT "; we do the same so that what stock accepts
    # works here.
    try:
        length = int(line[len(RESULT_TOKEN) :])
    except ValueError:
        return None
    return length if length >= 0 else None


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
