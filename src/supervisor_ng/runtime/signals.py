"""Signals on the event loop, never lost and never deadlocking.

asyncio's ``add_signal_handler`` turns each signal into one byte on its
self-pipe (the wakeup fd) and runs the callback for each byte it reads.
With thousands of programs that breaks in two ways:

- The pipe holds a few hundred bytes.  5,000 children stopping at once fill
  it while the loop is busy, and asyncio sets the wakeup fd with
  ``warn_on_full_buffer=True``: for every byte that does not fit, the
  C-level handler queues a pending call, which is not signal-safe.  A
  signal that arrives while the main thread is queueing or running pending
  calls deadlocks the daemon on their lock: seen as a shutdown that never
  ended, the main thread in ``futex_wait`` under two nested signal frames,
  2,333 programs still running, for good.
- A byte that does not fit is dropped, and its callback with it: a SIGTERM
  in such a burst would be lost.

So the wakeup fd drops a byte that does not fit without a word (the loop
wakes anyway, for the bytes already there), and each signal's Python-level
handler, which Python runs on the main thread between two bytecodes,
queues the callback itself with ``call_soon_threadsafe`` (queued even when
the pipe is full).  The bytes only wake the loop.  Deliveries that come
while the callback is still queued are one, as the kernel makes pending
deliveries of a signal one.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any, Callable


class _Registration:
    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.loop = loop
        self.callback = callback
        self.args = args
        self.queued = False

    def delivered(self, _signum: int, _frame: object) -> None:
        if not self.queued:
            self.queued = True
            self.loop.call_soon_threadsafe(self.run)

    def run(self) -> None:
        self.queued = False
        self.callback(*self.args)


def _wake_only() -> None:
    """What asyncio runs for each byte: the registration ran the callback."""


def add(loop: asyncio.AbstractEventLoop, sig: int, callback: Callable[..., Any], *args: Any) -> None:
    """Run ``callback(*args)`` on ``loop`` after ``sig`` is delivered."""
    # asyncio still owns the wakeup fd and the signal's registration (and
    # undoes them in remove_signal_handler); only the dispatch is ours.
    loop.add_signal_handler(sig, _wake_only)
    signal.signal(sig, _Registration(loop, callback, args).delivered)
    signal.siginterrupt(sig, False)  # as asyncio leaves it: syscalls restart
    fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd, warn_on_full_buffer=False)


def remove(loop: asyncio.AbstractEventLoop, sig: int) -> None:
    loop.remove_signal_handler(sig)
