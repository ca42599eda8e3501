"""A program's stdout/stderr to the journal (``stdout_journal`` / ``stderr_journal``).

Hooked in by :class:`~.child.Process` (one call after its channels exist):
each channel that asks for the journal gets a line splitter as an output
observer, and the partial line a program leaves when it exits is sent then.
The log file (if any) is kept as well, so ``supervisorctl tail`` and the RPC
log reads work unchanged.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from ..core.process import StateChanged
from ..core.states import STOPPED_STATES, ProcessState
from ..logs import journal

if TYPE_CHECKING:
    from .child import Process
    from .supervisor import Supervisor

_journals: weakref.WeakKeyDictionary[Process, list[journal.ChannelJournal]] = weakref.WeakKeyDictionary()
_flushing: weakref.WeakSet[Supervisor] = weakref.WeakSet()
_EXIT_STATES = STOPPED_STATES | {ProcessState.BACKOFF}


def wire_journal(proc: Process) -> None:
    config = proc.config
    wanted = [("stdout", config.stdout, proc.stdout)]
    if not config.redirect_stderr:
        wanted.append(("stderr", config.stderr, proc.stderr))
    wanted = [w for w in wanted if w[1].journal]
    if not wanted or not journal.available():
        return
    journals = []
    for name, _log, channel in wanted:
        out = journal.ChannelJournal(config.name, config.group, name)
        channel.observers.append(lambda _channel, data, out=out: out.write(data))
        journals.append(out)
    _journals[proc] = journals
    sv = proc.supervisor
    if sv not in _flushing:
        # one observer per supervisor, not one per process
        _flushing.add(sv)
        sv.observers.append(_flush_on_exit)


def _flush_on_exit(proc: Process, change: StateChanged) -> None:
    # The pipes were drained before the exit reached the state machine.
    if change.new in _EXIT_STATES:
        for out in _journals.get(proc, ()):
            out.flush()
