"""The bus (subscriptions, serials) and a pool's buffer (overflow, re-buffering)."""

from __future__ import annotations

from supervisor_ng.events import types as ev
from supervisor_ng.events.bus import EventBus, SerialCounter
from supervisor_ng.events.pool import EventBuffer


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []

    def log(self, level: int, msg: str) -> None:
        self.lines.append((level, msg))


class Sink:
    def __init__(self) -> None:
        self.got: list[ev.Event] = []

    def accept(self, event: ev.Event) -> None:
        self.got.append(event)


def test_subscriptions_by_type_and_abstract_type() -> None:
    bus = EventBus(serial=SerialCounter())
    states, everything, ticks = Sink(), Sink(), Sink()
    bus.subscribe(states, ["PROCESS_STATE"])
    bus.subscribe(everything, ["EVENT"])
    bus.subscribe(ticks, ["TICK_60"])
    running = ev.SupervisorRunning()
    tick5, tick60 = ev.Tick5(5), ev.Tick60(60)
    for event in (running, tick5, tick60):
        bus.notify(event)
    assert states.got == []
    assert everything.got == [running, tick5, tick60]
    assert ticks.got == [tick60]


def test_serial_only_for_accepted_events_and_shared_by_pools() -> None:
    bus = EventBus(serial=SerialCounter())
    a, b = Sink(), Sink()
    bus.subscribe(a, ["PROCESS_GROUP"])
    bus.subscribe(b, ["PROCESS_GROUP_ADDED", "EVENT"])
    nobody = ev.RemoteCommunication("t", "d")
    bus.unsubscribe(b)
    bus.notify(nobody)
    assert nobody.serial is None
    bus.subscribe(b, ["PROCESS_GROUP_ADDED", "EVENT"])
    first, second = ev.ProcessGroupAdded("x"), ev.ProcessGroupAdded("y")
    bus.notify(first)
    bus.notify(second)
    assert (first.serial, second.serial) == (0, 1)
    # Overlapping names in one subscription deliver once.
    assert b.got == [first, second]
    assert a.got == [first, second]


def test_wants_and_change_callbacks() -> None:
    bus = EventBus(serial=SerialCounter())
    calls = []
    bus.on_change.append(lambda: calls.append(1))
    assert not bus.wants(ev.Tick5)
    sink = Sink()
    bus.subscribe(sink, ["TICK"])
    assert bus.wants(ev.Tick5) and bus.wants(ev.Tick3600)
    assert not bus.wants(ev.SupervisorRunning)
    bus.unsubscribe(sink)
    assert not bus.wants(ev.Tick5)
    assert calls == [1, 1]


def test_serial_wraps_like_stock() -> None:
    import sys

    counter = SerialCounter()
    counter.last = sys.maxsize - 1
    assert counter.next() == sys.maxsize
    assert counter.next() == 0


def numbered(n: int) -> list[ev.Event]:
    events = []
    for i in range(n):
        e = ev.RemoteCommunication("t", str(i))
        e.serial = i
        events.append(e)
    return events


def test_pool_serials_and_fifo() -> None:
    buf = EventBuffer("pool", 10, Log())
    items = [buf.accept(e) for e in numbered(3)]
    assert [i.poolserial for i in items] == [0, 1, 2]
    assert [buf.pop().event.serial for _ in range(3)] == [0, 1, 2]


def test_overflow_drops_the_oldest_with_stock_line() -> None:
    log = Log()
    buf = EventBuffer("pool", 3, log)
    for e in numbered(5):
        buf.accept(e)
    assert [i.event.serial for i in buf] == [2, 3, 4]
    assert log.lines == [
        (40, "pool pool event buffer overflowed, discarding event 0"),
        (40, "pool pool event buffer overflowed, discarding event 1"),
    ]


def test_rebuffer_goes_to_the_head_keeping_its_serials() -> None:
    log = Log()
    buf = EventBuffer("pool", 3, log)
    for e in numbered(3):
        buf.accept(e)
    taken = buf.pop()
    buf.accept(numbered(4)[3])
    buf.rebuffer(taken)  # full: the oldest still queued (1) goes, the returned one stays
    assert [(i.event.serial, i.poolserial) for i in buf] == [(0, 0), (2, 2), (3, 3)]
    assert log.lines == [
        (10, "rebuffering event 0 for pool pool (buf size=3, max=3)"),
        (40, "pool pool event buffer overflowed, discarding event 1"),
    ]
