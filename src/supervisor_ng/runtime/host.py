"""What the runtime asks of the machine: the clocks, timers and spawning.

The processes of a :class:`~.supervisor.Supervisor` read the time, arm their
one timer and spawn children only through its ``host``.  The daemon uses
:class:`Host`; the runtime's unit tests inject a host with a clock they move
by hand and a spawner that forks nothing (tests/unit/test_runtime_*.py), the
way the sans-I/O core is tested.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Protocol

from .spawn import ChildPipes, SpawnRequest, spawn


class Timer(Protocol):
    def cancel(self) -> None: ...

    def when(self) -> float: ...


class Host:
    """The real one: the loop's monotonic clock, the wall clock, posix_spawn."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def monotonic(self) -> float:
        # The loop's clock, so that deadlines and call_at agree.
        return self._loop.time()

    def time(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], Any]) -> Timer:
        return self._loop.call_at(when, callback)

    def spawn(self, request: SpawnRequest) -> tuple[int, ChildPipes]:
        return spawn(request)
