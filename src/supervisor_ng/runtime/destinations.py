"""Where a channel's bytes go: built once, from the program's config.

A process's stdout and stderr each get a :class:`Destinations`, made when the
process object is made and never changed from outside afterwards.  In the
order a chunk of output meets them:

* ``stripper``: ANSI escapes removed first (``strip_ansi``);
* ``capture``: XSUPERVISOR capture mode (``*_capture_maxbytes``): captured
  text goes to ``on_message`` (PROCESS_COMMUNICATION_*) instead of the logs;
* ``logfile``: the rotating log file; ``syslog``; ``journal`` (line by line
  with the SUPERVISOR_* fields, when the daemon reads the pipe anyway);
* ``followers``: told that output arrived (``tail -f`` clients read the file
  or journal themselves); these come and go with the clients, so this is the
  one part that changes at run time, through the channel's own methods;
* ``debug_echo``: a copy in the daemon's log at debug level, as stock;
* ``log_events``: PROCESS_LOG_* (``*_events_enabled``);
* ``protocol``: an event listener's stdout is its protocol
  (runtime/listener.py).

When the log file is the only destination, the bytes can move from the pipe
to the file without entering Python (runtime/output.py's splice path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..config.model import AUTO, ChannelLogConfig
from ..dataclass_slots import SLOTS
from ..events.capture import Capture
from ..events.types import COMMUNICATION_EVENTS, LOG_EVENTS
from ..logs import journal
from ..logs.ansi import AnsiStripper
from ..logs.paths import auto_log_path
from ..logs.rotating import RotatingFile
from ..logs.syslog_out import SyslogLineWriter

if TYPE_CHECKING:
    from .child import Process

DataHook = Callable[[bytes], None]
DEBUG = 10


@dataclass(**SLOTS)
class Destinations:
    logfile: Optional[RotatingFile] = None
    stripper: Optional[AnsiStripper] = None
    syslog: Optional[SyslogLineWriter] = None
    journal: Optional[journal.ChannelJournal] = None
    capture: Optional[Capture] = None
    on_message: Optional[DataHook] = None
    debug_echo: Optional[DataHook] = None
    log_events: Optional[DataHook] = None
    protocol: Optional[DataHook] = None

    @property
    def file_only(self) -> bool:
        """The log file is the only place the bytes go."""
        return self.logfile is not None and all(
            hook is None
            for hook in (
                self.stripper, self.syslog, self.journal, self.capture,
                self.debug_echo, self.log_events, self.protocol,
            )
        )

    def names(self) -> list[str]:
        """The destinations in use, by name (the live state, and tests)."""
        return [name for name in _NAMES if getattr(self, name) is not None]

    def close(self) -> None:
        if self.syslog is not None:
            self.syslog.close()
        if self.logfile is not None:
            self.logfile.close()


def debug_text(data: bytes) -> str:
    """A program's output as the debug log shows it: bytes that are not
    UTF-8 as their repr, as stock does, so an operator chasing an encoding
    problem sees the bytes themselves instead of U+FFFD."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return f"Undecodable: {data!r}"


_NAMES = ("logfile", "stripper", "syslog", "journal", "capture", "debug_echo", "log_events", "protocol")


def log_path(proc: Process, log: ChannelLogConfig, channel: str) -> Optional[str]:
    """The file a channel is logged to (an AUTO name made concrete), or None."""
    if log.logfile is AUTO:
        sv = proc.supervisor.config.supervisord
        return auto_log_path(sv.childlogdir, proc.config.name, channel, sv.identifier)
    return log.logfile  # type: ignore[return-value]


def build(proc: Process, channel: str, path: Optional[str], shared_file: Optional[RotatingFile]) -> Destinations:
    """The destinations of ``proc``'s ``channel`` (``"stdout"`` or
    ``"stderr"``) from its config.  ``shared_file``: stdout's log file when
    stderr is logged to the same path (one writer per file, or the two would
    rotate it from under each other)."""
    config = proc.config
    log = config.stdout if channel == "stdout" else config.stderr
    out = Destinations()
    if shared_file is not None:
        out.logfile = shared_file
    elif path is not None:
        out.logfile = _open_logfile(proc, channel, log, path)
    if config.strip_ansi:
        out.stripper = AnsiStripper()
    if log.syslog:
        out.syslog = SyslogLineWriter(config.name)
    if log.journal and not (channel == "stderr" and config.redirect_stderr) and journal.available():
        out.journal = journal.ChannelJournal(config.name, config.group, channel)
    sv = proc.supervisor
    if sv.log.level <= DEBUG:
        def echo(data: bytes) -> None:
            sv.log.debug(f"{config.name!r} {channel} output:\n{debug_text(data)}")

        out.debug_echo = echo
    if proc.group.config.kind == "eventlistener" and channel == "stdout":
        # Its stdout carries the protocol, so it gets neither log events nor
        # capture mode (as in stock).
        out.protocol = proc.listener_output
        return out
    if log.events_enabled:
        out.log_events = _emitter(proc, LOG_EVENTS[channel])
    if log.capture_maxbytes > 0:
        out.capture = Capture(log.capture_maxbytes)
        out.on_message = _emitter(proc, COMMUNICATION_EVENTS[channel])
    return out


def _open_logfile(proc: Process, channel: str, log: ChannelLogConfig, path: str) -> Optional[RotatingFile]:
    try:
        # AUTO files appear with the first output (mode 0600 as stock's
        # mkstemp): starting hundreds of quiet programs creates no files.
        auto = log.logfile is AUTO
        return RotatingFile(
            path, log.maxbytes, log.backups,
            on_error=lambda err: proc.supervisor.log.error(f"{proc.config.name}: {err}"),
            # a warning: output was lost meanwhile
            on_resume=lambda note: proc.supervisor.log.warn(f"{proc.config.name}: {note}"),
            lazy=auto, mode=0o600 if auto else 0o666,
        )
    except OSError as exc:
        proc.supervisor.log.error(f"couldn't open {channel} log of {proc.config.name}: {exc}")
        return None


def _emitter(proc: Process, cls: Any) -> DataHook:
    def emit(data: bytes) -> None:
        bus = proc.supervisor.events
        if bus.wants(cls):
            bus.notify(cls(proc.name, proc.config.group, proc.pid, data))

    return emit
