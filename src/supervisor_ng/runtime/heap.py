"""The daemon's long-lived objects and the cyclic garbage collector.

A full pass of the collector walks every tracked object.  With thousands of
programs that is hundreds of thousands of objects that live as long as
their group (~250,000 at 5,000 programs), walked again and again for
nothing, each pass held on the loop (12-18 ms at 1,000 programs, ~120 ms
at 5,000).  Frozen objects are never walked.
"""

from __future__ import annotations

import gc
import time


def settled(full: bool) -> float:
    """Groups were made or changed: freeze what exists, after collecting the
    young generations (what is new and already garbage).  A frozen cycle is
    never collected, so the objects of removed groups stay until a ``full``
    settle unfreezes and walks everything once.  Returns the seconds it took.
    """
    began = time.perf_counter()
    if full:
        gc.unfreeze()
    gc.collect(2 if full else 1)
    gc.freeze()
    return time.perf_counter() - began


def freeze_new() -> None:
    """Freeze what exists, without a pass: for objects being made in bulk
    that will live (a garbage cycle among them stays until a full settle)."""
    gc.freeze()
