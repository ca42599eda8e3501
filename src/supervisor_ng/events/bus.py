"""The event bus: who wants which event types, and the global serial.

Emitting an event nobody subscribed to costs one walk over the (usually
empty) subscription list: no serial is taken, nothing is queued.  That keeps
the daemon's hot paths (every state change, every chunk of output with
``*_events_enabled``) free when no listener is configured.

The global serial is the one stock numbers events with: it counts the events
at least one pool accepted, starts at 0, and lives as long as the daemon
process, across reloads: the daemon owns one :class:`SerialCounter` and hands
it to the :class:`EventBus` of each configuration generation.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Callable, Optional, Protocol

from .types import Event, event_type

_MAXINT = sys.maxsize


class SerialCounter:
    """0, 1, 2, ... and back to 0 after maxint, as stock counts."""

    def __init__(self) -> None:
        self.last = -1

    def next(self) -> int:
        self.last = -1 if self.last >= _MAXINT else self.last
        self.last += 1
        return self.last


class Subscriber(Protocol):
    def accept(self, event: Event) -> None: ...


class EventBus:
    """Subscriptions by event type, in the order they were made (stock hands
    an event to the pools in the order they subscribed)."""

    def __init__(self, identifier: str = "supervisor", serial: Optional[SerialCounter] = None) -> None:
        self.identifier = identifier
        self._serial = serial if serial is not None else SerialCounter()
        self._subscriptions: list[tuple[tuple[type[Event], ...], Subscriber]] = []
        # Called after any subscribe/unsubscribe (the tick timer re-arms).
        self.on_change: list[Callable[[], None]] = []

    def subscribe(self, subscriber: Subscriber, names: Iterable[str]) -> None:
        """Deliver events of the named types (and their subtypes) to ``subscriber``.

        One subscription per subscriber: a pool that names both PROCESS_STATE
        and PROCESS_STATE_RUNNING gets each RUNNING event once.
        """
        types = tuple(event_type(name) for name in names)
        self._subscriptions = [s for s in self._subscriptions if s[1] is not subscriber]
        self._subscriptions.append((types, subscriber))
        self._changed()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        before = len(self._subscriptions)
        self._subscriptions = [s for s in self._subscriptions if s[1] is not subscriber]
        if len(self._subscriptions) != before:
            self._changed()

    @property
    def serial(self) -> int:
        """The serial of the last event handed out (-1 before the first)."""
        return self._serial.last

    def wants(self, cls: type[Event]) -> bool:
        """Would an event of type ``cls`` reach anyone?  Lets callers skip
        building events nobody receives."""
        return any(issubclass(cls, types) for types, _ in self._subscriptions)

    def notify(self, event: Event) -> None:
        """Hand ``event`` to every subscriber of its type."""
        for types, subscriber in list(self._subscriptions):
            if isinstance(event, types):
                if event.serial is None:
                    event.serial = self._serial.next()
                subscriber.accept(event)

    def _changed(self) -> None:
        for callback in list(self.on_change):
            callback()
