"""``reread`` and ``update``, once, for supervisorctl and the web page.

Stock supervisorctl's ``update`` is the specification: stop and remove the
groups that disappeared (keeping a group whose stop reported FAILED, "has
problems; not removing"), stop, remove and add again the changed ones, add
the new ones; the same lines, in that order.  The web page offers the same
action and must not differ from it, so both carry out this plan.

The plan does no I/O (supervisorctl calls synchronously, the page awaits
the registry): :func:`update` is a generator that yields :class:`Call` for
each API call, gets the result sent back (or :class:`CallFailed` thrown in),
and yields :class:`Say` for each line of output; :func:`carry_out` runs it
for either caller.  A fault the plan does not expect comes back out of it,
for the caller to report as it reports any other fault.  Nothing here imports more than the fault codes: supervisorctl
starts fast (hence NamedTuple, not dataclasses).
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, Callable, NamedTuple, Optional, Union

from .rpc.faults import Faults


class Call(NamedTuple):
    """Call ``supervisor.<method>(*params)``; send back what it returns."""

    method: str
    params: tuple[Any, ...] = ()


class Say(NamedTuple):
    """One line of output; ``failed``: the command as a whole has failed
    (supervisorctl's exit status 1)."""

    line: str
    failed: bool = False


class CallFailed(Exception):
    """A fault answered to a :class:`Call`, thrown back into the plan."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(code, text)
        self.code = code
        self.text = text


Step = Union[Call, Say]
Plan = Generator[Step, Any, None]


def reread_lines(added: list[str], changed: list[str], removed: list[str]) -> list[str]:
    """What ``reread`` prints for a reloadConfig result."""
    changes: dict[str, str] = {}
    for names, what in ((added, "available"), (changed, "changed"), (removed, "disappeared")):
        for name in names:
            changes[name] = what
    if not changes:
        return ["No config updates to processes"]
    return [f"{name}: {changes[name]}" for name in sorted(changes)]


def update(names: list[str]) -> Plan:
    """``update`` of the groups ``names`` (none, or "all": every group)."""
    try:
        result = yield Call("reloadConfig")
    except CallFailed as exc:
        if exc.code != Faults.SHUTDOWN_STATE:
            raise
        yield Say("ERROR: already shutting down", failed=True)
        return
    added, changed, removed = result[0]

    wanted = list(dict.fromkeys(names))
    if "all" in wanted:
        wanted = []  # "all" means the same as naming nothing
    if wanted:
        infos = yield Call("getAllProcessInfo")
        known = {info["group"] for info in infos}
        known.update(added)
        for group in wanted:
            if group not in known:
                yield Say(f"ERROR: no such group: {group}", failed=True)

    def selected(group: str) -> bool:
        return not wanted or group in wanted

    for group in removed:
        if not selected(group):
            continue
        results = yield Call("stopProcessGroup", (group,))
        yield Say(f"{group}: stopped")
        if any(r["status"] == Faults.FAILED for r in results):
            yield Say(f"{group}: has problems; not removing", failed=True)
            continue
        yield Call("removeProcessGroup", (group,))
        yield Say(f"{group}: removed process group")

    for group in changed:
        if not selected(group):
            continue
        yield Call("stopProcessGroup", (group,))
        yield Say(f"{group}: stopped")
        yield Call("removeProcessGroup", (group,))
        yield Call("addProcessGroup", (group,))
        yield Say(f"{group}: updated process group")

    for group in added:
        if not selected(group):
            continue
        yield Call("addProcessGroup", (group,))
        yield Say(f"{group}: added process group")


async def carry_out(
    plan: Plan,
    call: Callable[[Call], Awaitable[Any]],
    say: Callable[[Say], None],
    as_failure: Callable[[Exception], Optional[CallFailed]],
) -> None:
    """Run ``plan``: ``call`` makes an API call, ``say`` shows a line,
    ``as_failure`` recognizes the caller's faults.  A fault the plan lets
    through is raised again as the caller's own exception."""
    value: Any = None
    fault: Optional[Exception] = None
    failure: Optional[CallFailed] = None
    while True:
        try:
            step = plan.send(value) if failure is None else plan.throw(failure)
        except StopIteration:
            return
        except CallFailed:
            assert fault is not None
            raise fault from None
        value, fault, failure = None, None, None
        if isinstance(step, Say):
            say(step)
            continue
        try:
            value = await call(step)
        except Exception as exc:
            failure = as_failure(exc)
            if failure is None:
                raise
            fault = exc


def run_sync(coro: Coroutine[Any, Any, None]) -> None:
    """Run :func:`carry_out` with a ``call`` that never suspends
    (supervisorctl's blocking calls), without an event loop."""
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise RuntimeError("a blocking call suspended")
