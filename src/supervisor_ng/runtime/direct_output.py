"""A child's stdout/stderr that need not pass through the daemon.

A pipe to the daemon costs it an fd for the program's whole life, and every
fd the daemon holds makes each spawn slower (posix_spawn copies the fd
table: 1.1 ms a spawn with no other fd open, 8.2 ms with 15,000).  So, per
channel at each spawn:

* **Nowhere**: a channel whose bytes go nowhere (log file ``NONE``, no
  syslog, journal, events or capture mode, not a listener's, not echoed by a
  debug-level daemon) gets ``/dev/null``, as a shell's ``>/dev/null``: what
  stock's daemon reads only to drop, ours is never sent.

To the journal (``stdout_journal`` / ``stderr_journal``), two ways:

* **Direct**: when the journal is the only place the
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

import os
from typing import TYPE_CHECKING, Optional

from ..logs import journal

if TYPE_CHECKING:
    from .child import Process


def direct_streams(proc: Process) -> tuple[Optional[int], Optional[int]]:
    """The fds (``/dev/null`` or journald streams) for the channels of
    ``proc`` that may bypass the daemon, for one spawn (the caller closes
    them once the child has them); None where the channel needs a pipe."""
    if not _may_skip_daemon(proc):
        return None, None
    config = proc.config
    channels = [("stdout", config.stdout, proc.stdout)]
    if not config.redirect_stderr:  # else stderr is the stdout fd
        channels.append(("stderr", config.stderr, proc.stderr))
    fds: dict[str, int] = {}
    for name, log, channel in channels:
        used = channel.destinations.names()
        try:
            if not used:
                fds[name] = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
            elif used == ["journal"] and log.journal and _unique_name(proc):
                # Not even ANSI stripping: journald gets the bytes as they are.
                fds[name] = journal.stream_fd(config.name, name)
        except (OSError, ImportError):
            pass  # /dev/null or journald not there now: the pipe, as for any channel
    return fds.get("stdout"), fds.get("stderr")


def _may_skip_daemon(proc: Process) -> bool:
    if proc.group.config.kind == "eventlistener":
        return False  # its stdout is the protocol; its stderr stays on the common path
    # A debug-level daemon copies child output into its own log.
    return proc.supervisor.log.level > 10


def _unique_name(proc: Process) -> bool:
    return proc.config.name not in proc.supervisor.shared_names()
