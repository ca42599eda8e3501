"""The systemd journal as a log output (systemd-python, imported lazily).

Two outputs:

* the daemon's own log (``[supervisord] journal=true``): one entry per line,
  the stock level mapped to a journal priority, ``SYSLOG_IDENTIFIER`` =
  ``supervisord``;
* a program's stdout/stderr (``stdout_journal`` / ``stderr_journal``, or
  ``[supervisord] child_journal=true`` for every program): one entry per
  line, ``SYSLOG_IDENTIFIER`` = the program name (so ``journalctl -u
  supervisord -t NAME`` works), ``SUPERVISOR_PROCESS_NAME`` and
  ``SUPERVISOR_GROUP_NAME`` fields, stderr at a higher priority than stdout.
  A partial line waits for its end (and is sent as it is when the program
  exits); a line longer than :data:`LINE_MAX` is cut into entries of that size.

:func:`stream_fd` keeps the daemon out of the byte path: a journald stdout
stream the child writes to directly (see runtime/direct_output.py for when).
Its entries carry the identifier and priority, but no custom fields (the
stream protocol has none).

Where systemd-python is absent, :func:`available` is False and nothing here
is used.
"""

from __future__ import annotations

from typing import Callable, Optional

from ..config.model import LEVEL_PRIORITIES
from .lines import LineSplitter
from .mainlog import LogRecord

# syslog priorities (journal PRIORITY=)
LOG_CRIT, LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG = 2, 3, 4, 5, 6, 7
# stderr at err: what `journalctl -p err` is expected to show of a program
CHANNEL_PRIORITIES = {"stdout": LOG_INFO, "stderr": LOG_ERR}
LINE_MAX = 48 * 1024  # journald's default LineMax for streams is 48K

# sendv(b"FIELD=value", ...): systemd.journal.sendv's shape.  Not send(),
# which wants MESSAGE as text and walks the stack for CODE_* on every call.
Sender = Callable[..., object]


def _journal_sender() -> Optional[Sender]:
    try:
        from systemd import journal  # type: ignore[import-not-found]
    except ImportError:
        return None
    return journal.sendv


def available() -> bool:
    return _journal_sender() is not None


class MainLogJournal:
    """A :meth:`MainLog.add_handler` output: the daemon's log to the journal."""

    def __init__(self, identifier: str = "supervisord", sender: Optional[Sender] = None) -> None:
        self.identifier = identifier
        self._send = sender if sender is not None else _journal_sender()

    def __call__(self, record: LogRecord) -> None:
        if self._send is None:
            return
        fields = (f"PRIORITY={LEVEL_PRIORITIES.get(record.level, LOG_DEBUG)}", f"SYSLOG_IDENTIFIER={self.identifier}")
        for line in record.message.rstrip("\n").split("\n"):
            try:
                self._send(f"MESSAGE={line}", *fields)
            except (OSError, ValueError):
                pass  # the journal is gone: the other outputs still have it


class ChannelJournal:
    """One channel (stdout or stderr) of one process, line by line."""

    def __init__(
        self,
        process_name: str,
        group_name: str,
        channel: str,
        sender: Optional[Sender] = None,
        line_max: int = LINE_MAX,
    ) -> None:
        self._send = sender if sender is not None else _journal_sender()
        self._fields = tuple(
            f"{key}={value}".encode()
            for key, value in (
                ("PRIORITY", CHANNEL_PRIORITIES.get(channel, LOG_INFO)),
                ("SYSLOG_IDENTIFIER", process_name),
                ("SUPERVISOR_PROCESS_NAME", process_name),
                ("SUPERVISOR_GROUP_NAME", group_name),
                ("SUPERVISOR_CHANNEL", channel),
            )
        )
        self._line_max = line_max
        self._lines = LineSplitter(line_max)

    def write(self, data: bytes) -> None:
        """Output as read from the pipe: complete lines go now, the rest waits."""
        if self._send is None:
            return
        for line in self._lines.feed(data):
            self._emit(line)

    def flush(self) -> None:
        """The pipe closed (the process exited): an unfinished line goes as it is."""
        for line in self._lines.flush():
            self._emit(line)

    def hand_over(self) -> bytes:
        """Hand-over by exec (issue 16): the unfinished line, taken from here."""
        return b"".join(self._lines.flush())

    def take_over(self, held: bytes) -> None:
        """The unfinished line a former daemon binary held (see hand_over)."""
        self._lines.feed(held)

    def _emit(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        for start in range(0, max(len(line), 1), self._line_max):
            chunk = line[start : start + self._line_max]
            try:
                # bytes as they came: journald keeps non-UTF-8 output as a blob
                self._send(b"MESSAGE=" + chunk, *self._fields)
            except (OSError, ValueError):
                return


def stream_fd(identifier: str, channel: str) -> int:
    """A journald stdout-stream fd (close-on-exec) for a child's stdout or
    stderr: the daemon then never sees the bytes.  Raises OSError (or
    ImportError without systemd-python); the caller falls back to a pipe."""
    from systemd import journal  # type: ignore[import-not-found]

    return journal.stream_fd(identifier, CHANNEL_PRIORITIES.get(channel, LOG_INFO), False)


def sync_main_log(log: object, enabled: bool, current: Optional[MainLogJournal]) -> Optional[MainLogJournal]:
    """Add or remove the daemon log's journal output as ``[supervisord]
    journal`` says (at start and at each reload); returns the output now in use."""
    if enabled and current is None and available():
        current = MainLogJournal()
        log.add_handler(current)  # type: ignore[attr-defined]
    elif not enabled and current is not None:
        log.remove_handler(current)  # type: ignore[attr-defined]
        current = None
    return current
