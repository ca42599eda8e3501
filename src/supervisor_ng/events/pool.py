"""The event buffer of one listener pool, and the envelope a listener reads.

Stock rules, which alerting setups depend on (superlance issues #55/#131 are
about exactly this): a pool keeps at most ``buffer_size`` events; when a new
one arrives at a full buffer the *oldest* is dropped with an ERRO line; an
event a listener rejected, or was busy with when it died, goes back to the
head, keeping its serials.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Optional, Protocol

from .bus import SerialCounter
from .types import Event

ERROR, DEBUG = 40, 10


class Log(Protocol):
    def log(self, level: int, msg: str) -> None: ...


@dataclass
class Queued:
    """An event as one pool holds it: with the pool's own serial."""

    event: Event
    poolserial: int


class CarriedEvent(Event):
    """An event carried across a hand-over by exec (issue 16): a listener
    gets it exactly as it would have from the former daemon binary."""

    def __init__(self, name: str, serial: Optional[int], body: str) -> None:
        self.NAME = name  # type: ignore[misc]  # per event, not per class
        self.serial = serial
        self._body = body

    def payload(self) -> str:
        return self._body


def saved_item(item: Queued) -> dict:
    event = item.event
    return {"name": event.NAME, "serial": event.serial, "body": event.payload(), "poolserial": item.poolserial}


def restored_item(saved: dict) -> Queued:
    return Queued(CarriedEvent(saved["name"], saved["serial"], saved["body"]), saved["poolserial"])


def envelope(identifier: str, pool: str, item: Queued) -> bytes:
    """The header line and body sent to a listener's stdin.

    ``len`` counts characters of the body, not bytes: ``childutils`` reads the
    body with ``stdin.read(len)`` on a text stream, which counts characters.
    """
    event = item.event
    payload = event.payload()
    text = (
        f"ver:3.0 server:{identifier} serial:{event.serial} pool:{pool} "
        f"poolserial:{item.poolserial} eventname:{event.NAME} len:{len(payload)}\n{payload}"
    )
    return text.encode("utf-8", "surrogateescape")


class EventBuffer:
    def __init__(self, pool: str, size: int, log: Log) -> None:
        self.pool = pool
        self.size = size
        self.log = log
        self._serial = SerialCounter()
        self._items: deque[Queued] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def accept(self, event: Event) -> Queued:
        """A new event for this pool: numbered and queued at the tail."""
        item = Queued(event, self._serial.next())
        self._insert(item, head=False)
        return item

    def rebuffer(self, item: Queued) -> None:
        """An event that was taken out and not processed: back to the head."""
        self.log.log(
            DEBUG,
            f"rebuffering event {item.event.serial} for pool {self.pool} "
            f"(buf size={len(self._items)}, max={self.size})",
        )
        self._insert(item, head=True)

    def hand_over(self) -> dict:
        """Hand-over by exec: the buffered events and the pool's serial."""
        return {"poolserial": self._serial.last, "items": [saved_item(item) for item in self._items]}

    def take_over(self, saved: dict) -> None:
        self._serial.last = saved["poolserial"]
        self._items = deque(restored_item(item) for item in saved["items"])

    def peek(self) -> Optional[Queued]:
        return self._items[0] if self._items else None

    def pop(self) -> Queued:
        return self._items.popleft()

    def _insert(self, item: Queued, head: bool) -> None:
        if len(self._items) >= self.size and self._items:
            dropped = self._items.popleft()
            self.log.log(
                ERROR,
                f"pool {self.pool} event buffer overflowed, discarding event {dropped.event.serial}",
            )
        if head:
            self._items.appendleft(item)
        else:
            self._items.append(item)
