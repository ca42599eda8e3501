"""Failures inside callbacks: logged with their traceback, contained, never lost.

Everything the daemon does runs as a callback on its one event loop.  An
exception that escapes one must neither end the daemon (every program would go
down with it) nor vanish: once daemonized, stderr is /dev/null, so asyncio's
default handler would print into nothing.  It goes to the daemon's log (and
so to the journal when that is on), and the daemon carries on.

Callbacks that act on many items (a reaper sweep, a state change heard by
several subscribers, a group stopped process by process) run each item
through :meth:`Faults.run`, so one failing item never drops the others.
"""

from __future__ import annotations

import asyncio
import traceback
from typing import Any, Callable, Optional, Protocol


class _Log(Protocol):
    def error(self, msg: str) -> None: ...


class Faults:
    """The one place a contained failure is reported."""

    def __init__(self, log: Optional[_Log] = None) -> None:
        self.log = log
        self.count = 0  # failures seen, for the daemon's figures and tests

    def report(self, what: str, exc: BaseException) -> None:
        self.count += 1
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
        message = f"unexpected error in {what} (the daemon carries on):\n{text}"
        if self.log is not None:
            try:
                self.log.error(message)
                return
            except Exception:  # a broken log must not hide the first failure
                pass
        traceback.print_exception(type(exc), exc, exc.__traceback__)

    def run(self, what: str, fn: Callable[..., Any], *args: Any) -> bool:
        """``fn(*args)``; a failure is reported and contained.  Returns
        whether it succeeded."""
        try:
            fn(*args)
        except Exception as exc:
            self.report(what, exc)
            return False
        return True

    def loop_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """For ``loop.set_exception_handler``: whatever escapes a callback or a
        task nobody awaits."""
        exc = context.get("exception")
        message = context.get("message") or "an event loop callback"
        source = context.get("handle") or context.get("task") or context.get("future")
        what = f"{message} ({_describe(source)})" if source is not None else message
        if isinstance(exc, BaseException):
            self.report(what, exc)
        elif self.log is not None:
            self.count += 1
            self.log.error(f"unexpected condition in the event loop: {what}")


def _describe(source: object) -> str:
    text = repr(source)
    return text if len(text) <= 200 else text[:197] + "..."
