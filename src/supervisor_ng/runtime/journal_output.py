"""A program's stdout/stderr to the journal (``stdout_journal`` / ``stderr_journal``).

Two ways, chosen per channel at each spawn:

* **Direct** (:func:`direct_streams`): when the journal is the only place the
  channel's bytes go (no log file, no syslog, no events or capture mode, not
  a listener's protocol pipe, not echoed by a debug-level daemon), the child
  gets a journald stdout stream as its fd 1/2 and the daemon never sees the
  bytes.  journald splits the lines itself (partial and over-long ones
  included).  Stream entries carry ``SYSLOG_IDENTIFIER`` (the process name)
  and the priority, but the stream protocol has no custom fields: they are
  read back by identifier, priority and the daemon's pid, which is why the
  process name must be unique in the daemon for this path.
* **Through the daemon** (:func:`wire_journal`), otherwise: the daemon reads
  the pipe anyway, so each line goes with ``sendv`` and the
  ``SUPERVISOR_PROCESS_NAME`` / ``SUPERVISOR_GROUP_NAME`` /
  ``SUPERVISOR_CHANNEL`` fields; the partial line a program leaves when it
  exits is sent then.  A channel whose stream could not be opened (journald
  down at that moment) falls back to this path for that run.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Optional

from ..core.process import StateChanged
from ..core.states import STOPPED_STATES, ProcessState
from ..logs import journal

if TYPE_CHECKING:
    from ..config.model import ChannelLogConfig
    from .child import Process
    from .output import OutputChannel
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


def direct_streams(proc: Process) -> tuple[Optional[int], Optional[int]]:
    """journald stream fds for the channels of ``proc`` that may bypass the
    daemon, for one spawn (the caller closes them once the child has them)."""
    config = proc.config
    wanted = [
        name
        for name, log, channel in (("stdout", config.stdout, proc.stdout), ("stderr", config.stderr, proc.stderr))
        if log.journal and _only_journal(log, channel) and not (name == "stderr" and config.redirect_stderr)
    ]
    fds: dict[str, int] = {}
    if wanted and _may_bypass(proc):
        for name in wanted:
            try:
                fds[name] = journal.stream_fd(config.name, name)
            except (OSError, ImportError):
                pass  # journald is not there now: the pipe and the per-line path
    return fds.get("stdout"), fds.get("stderr")


def _only_journal(log: ChannelLogConfig, channel: OutputChannel) -> bool:
    return channel.logfile is None and not (log.syslog or log.events_enabled or log.capture_maxbytes)


def _may_bypass(proc: Process) -> bool:
    if proc.group.config.kind == "eventlistener":
        return False  # its stdout is the protocol; its stderr stays on the common path
    if proc.supervisor.log.level <= 10:
        return False  # a debug-level daemon copies child output into its own log
    name = proc.config.name
    return sum(1 for p in proc.supervisor.processes() if p.config.name == name) == 1
