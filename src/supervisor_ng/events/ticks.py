"""TICK_5, TICK_60 and TICK_3600: the wall clock passed a period boundary.

Stock checks the clock on every pass of its loop and sends a tick when the
current period (``now - now % period``) differs from the last one it saw; the
first period is the one the daemon started in, so the first tick comes at the
first boundary after start, with ``when:`` that boundary.  Several boundaries
slept through (a suspended machine) give one tick, not a burst.

Here a timer fires at the next boundary instead, and only for periods some
pool subscribed to (directly or through TICK or EVENT): a daemon without such
a listener never wakes up for ticks at all.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable, Optional

from .bus import EventBus
from .types import TICK_EVENTS, TickEvent

# Fire a little after the boundary: a timer that runs a hair early would see
# the old period and have to be re-armed.
_LATE = 0.001


def timeslice(period: int, now: float) -> int:
    return int(now - now % period)


class TickSchedule:
    """Sans-I/O: which ticks are due at ``now`` and when to look next."""

    def __init__(self, period: int, now: float) -> None:
        self.period = period
        self.last = timeslice(period, now)

    def due(self, now: float) -> Optional[int]:
        """The ``when`` of a tick to send now, or None."""
        this = timeslice(self.period, now)
        if this == self.last:
            return None
        self.last = this
        return this

    def next_boundary(self, now: float) -> float:
        return timeslice(self.period, now) + self.period


class TickTimer:
    """Arms one loop timer per period that someone subscribed to, and re-arms
    whenever the subscriptions change."""

    def __init__(
        self,
        bus: EventBus,
        loop: asyncio.AbstractEventLoop,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.loop = loop
        self.clock = clock
        self._timers: dict[type[TickEvent], tuple[TickSchedule, asyncio.TimerHandle]] = {}
        bus.on_change.append(self.update)
        self.update()

    def update(self) -> None:
        for cls in TICK_EVENTS:
            wanted = self.bus.wants(cls)
            if wanted and cls not in self._timers:
                schedule = TickSchedule(cls.period, self.clock())
                self._timers[cls] = (schedule, self._arm(cls, schedule))
            elif not wanted and cls in self._timers:
                self._timers.pop(cls)[1].cancel()

    def close(self) -> None:
        if self.update in self.bus.on_change:
            self.bus.on_change.remove(self.update)
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    @property
    def armed(self) -> list[str]:
        return [cls.NAME for cls in self._timers]

    def _arm(self, cls: type[TickEvent], schedule: TickSchedule) -> asyncio.TimerHandle:
        now = self.clock()
        delay = max(0.0, schedule.next_boundary(now) - now) + _LATE
        return self.loop.call_later(delay, self._fire, cls)

    def _fire(self, cls: type[TickEvent]) -> None:
        entry = self._timers.get(cls)
        if entry is None:
            return
        schedule = entry[0]
        # Re-arm first: a listener pool reacting to the tick must find the
        # timer in place.
        self._timers[cls] = (schedule, self._arm(cls, schedule))
        when = schedule.due(self.clock())
        if when is not None:
            self.bus.notify(cls(when))
