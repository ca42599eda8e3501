"""runtime/signals.py: a signal's callback runs even when asyncio's wakeup
pipe was full when it came, and a full pipe is not reported from inside the
signal handler (that report is what deadlocked a daemon stopping 5,000
programs)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from supervisor_ng.runtime import signals


def _fill_the_wakeup_pipe() -> None:
    # Far more deliveries than the pipe has room for (a few hundred bytes).
    for _ in range(5000):
        os.kill(os.getpid(), signal.SIGUSR2)


def test_a_signal_that_came_while_the_wakeup_pipe_was_full_is_not_lost(monkeypatch):
    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    loop = asyncio.new_event_loop()
    got: list[str] = []
    try:
        signals.add(loop, signal.SIGUSR2, got.append, "usr2")
        signals.add(loop, signal.SIGUSR1, got.append, "usr1")
        _fill_the_wakeup_pipe()
        os.kill(os.getpid(), signal.SIGUSR1)  # its byte cannot fit any more
        loop.run_until_complete(asyncio.sleep(0.05))
        # Deliveries that came while one was queued are one, as in the kernel.
        assert got.count("usr1") == 1
        assert 1 <= got.count("usr2") < 5000
        assert unraisable == []  # asyncio's default reports each byte that did not fit
        # And it goes on working once the pipe is drained.
        os.kill(os.getpid(), signal.SIGUSR1)
        loop.run_until_complete(asyncio.sleep(0.05))
        assert got.count("usr1") == 2
    finally:
        signals.remove(loop, signal.SIGUSR1)
        signals.remove(loop, signal.SIGUSR2)
        loop.close()
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    assert signal.set_wakeup_fd(-1) == -1
