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
* **Through the daemon** otherwise (the channel's ``journal`` destination,
  runtime/destinations.py): the daemon reads the pipe anyway, so each line
  goes with ``sendv`` and the
  ``SUPERVISOR_PROCESS_NAME`` / ``SUPERVISOR_GROUP_NAME`` /
  ``SUPERVISOR_CHANNEL`` fields; the partial line a program leaves when it
  exits is sent then.  A channel whose stream could not be opened (journald
  down at that moment) falls back to this path for that run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ..logs import journal

if TYPE_CHECKING:
    from .child import Process
    from .output import OutputChannel


def direct_streams(proc: Process) -> tuple[Optional[int], Optional[int]]:
    """journald stream fds for the channels of ``proc`` that may bypass the
    daemon, for one spawn (the caller closes them once the child has them)."""
    config = proc.config
    wanted = [
        name
        for name, log, channel in (("stdout", config.stdout, proc.stdout), ("stderr", config.stderr, proc.stderr))
        if log.journal and _only_journal(channel)
    ]
    fds: dict[str, int] = {}
    if wanted and _may_bypass(proc):
        for name in wanted:
            try:
                fds[name] = journal.stream_fd(config.name, name)
            except (OSError, ImportError):
                pass  # journald is not there now: the pipe and the per-line path
    return fds.get("stdout"), fds.get("stderr")


def _only_journal(channel: OutputChannel) -> bool:
    # Not even ANSI stripping: journald would get the bytes as they are.
    return channel.destinations.names() == ["journal"]


def _may_bypass(proc: Process) -> bool:
    if proc.group.config.kind == "eventlistener":
        return False  # its stdout is the protocol; its stderr stays on the common path
    if proc.supervisor.log.level <= 10:
        return False  # a debug-level daemon copies child output into its own log
    name = proc.config.name
    return sum(1 for p in proc.supervisor.processes() if p.config.name == name) == 1
