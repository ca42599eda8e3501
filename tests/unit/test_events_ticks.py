"""Ticks: stock's period arithmetic, and no timer unless someone subscribes."""

from __future__ import annotations

import asyncio

from supervisor_ng.events import types as ev
from supervisor_ng.events.bus import EventBus, SerialCounter
from supervisor_ng.events.ticks import TickSchedule, TickTimer, timeslice


def test_timeslice() -> None:
    assert timeslice(5, 1004.9) == 1000
    assert timeslice(60, 1795266659.99) == 1795266600
    assert timeslice(3600, 7200.0) == 7200


def test_first_tick_at_the_first_boundary_after_start() -> None:
    s = TickSchedule(5, 1001.2)
    assert s.due(1004.99) is None
    assert s.next_boundary(1001.2) == 1005
    assert s.due(1005.0) == 1005
    assert s.due(1006.0) is None
    # Boundaries slept through give one tick, for the current period.
    assert s.due(1031.0) == 1030


class Sink:
    def __init__(self) -> None:
        self.got: list[ev.Event] = []

    def accept(self, event: ev.Event) -> None:
        self.got.append(event)


def test_no_timer_without_a_subscriber_and_timers_follow_subscriptions() -> None:
    loop = asyncio.new_event_loop()
    try:
        bus = EventBus(serial=SerialCounter())
        timer = TickTimer(bus, loop)
        assert timer.armed == []
        assert not loop._scheduled  # type: ignore[attr-defined]
        sink = Sink()
        bus.subscribe(sink, ["TICK_60"])
        assert timer.armed == ["TICK_60"]
        other = Sink()
        bus.subscribe(other, ["EVENT"])
        assert sorted(timer.armed) == ["TICK_3600", "TICK_5", "TICK_60"]
        bus.unsubscribe(other)
        bus.unsubscribe(sink)
        assert timer.armed == []
        timer.close()
        assert not [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
    finally:
        loop.close()


def test_timer_fires_at_the_boundary_with_when() -> None:
    loop = asyncio.new_event_loop()
    try:
        now = [1_000_003.5]
        bus = EventBus(serial=SerialCounter())
        sink = Sink()
        bus.subscribe(sink, ["TICK_5"])
        timer = TickTimer(bus, loop, clock=lambda: now[0])

        def armed_in() -> float:
            handle = timer._timers[ev.Tick5][1]
            return handle.when() - loop.time()

        assert 1.4 < armed_in() <= 1.51  # the next boundary, 1_000_005
        now[0] = 1_000_004.999  # a timer that runs a hair early sends nothing and re-arms
        timer._fire(ev.Tick5)
        assert sink.got == []
        now[0] = 1_000_005.002
        timer._fire(ev.Tick5)
        assert [e.when for e in sink.got] == [1_000_005]  # type: ignore[attr-defined]
        assert 4.9 < armed_in() <= 5.0
        timer.close()
    finally:
        loop.close()
