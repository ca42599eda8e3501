"""Work on many processes, a slice per turn of the loop.

Spawning costs about a millisecond and a whole-tree stop signal a little
less: a group of 500 done in one go holds the loop for the better part of a
second, during which no client is answered and no watchdog ping is sent.
Every operation that acts on many processes (the API's group and "all"
calls, and with them the web page's) goes through :func:`in_slices`, which
hands the loop back between slices and otherwise keeps the order and the
outcome of doing them all at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Callable, Optional, TypeVar

T = TypeVar("T")

# A slice ends after this many items or this much time, whichever comes
# first: few enough that a ping waits a few milliseconds, many enough that
# the yields themselves cost nothing worth measuring.
SLICE_ITEMS = 32
SLICE_SECONDS = 0.005


async def in_slices(
    items: Iterable[T],
    act: Callable[[T], None],
    *,
    still_wanted: Optional[Callable[[], None]] = None,
    max_items: int = SLICE_ITEMS,
) -> None:
    """Call ``act`` on each item in order, yielding to the loop between slices.

    ``still_wanted`` runs after each yield, before the next slice: the world
    may have changed meanwhile (the daemon began shutting down), and it
    raises to end the work there.  ``max_items``: more for items that cost
    microseconds (reading, not acting), whose slices the time limit ends.
    """
    count = 0
    started = time.monotonic()
    for item in items:
        if count >= max_items or (count and time.monotonic() - started >= SLICE_SECONDS):
            await asyncio.sleep(0)
            if still_wanted is not None:
                still_wanted()
            count = 0
            started = time.monotonic()
        act(item)
        count += 1
