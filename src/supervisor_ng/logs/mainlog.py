"""The daemon's own log (``[supervisord] logfile``).

Lines look exactly like stock, because operators grep them::

    2026-11-21 12:36:49,123 INFO spawned: 'x' with pid 5

The log exists before the configuration does: :meth:`MainLog.buffering`
makes one that keeps records (with their original time) until
:meth:`MainLog.attach` says where they go, so messages from reading the
config end up in the configured file.  Outputs are a rotating file, an echo
to stdout (``nodaemon`` and not ``silent``), syslog (``logfile=syslog``) and
any handler plugged in with :meth:`MainLog.add_handler` (journald).
"""

from __future__ import annotations

import os
import syslog
import time
from collections.abc import Iterable
from typing import Any, Callable, NamedTuple, Optional

from ..config.model import LEVEL_PRIORITIES, LEVEL_TAGS, LOG_LEVELS, ParseMessage, SupervisordConfig
from . import syslog_out
from .rotating import LogFileError, LogFileResumed, RotatingFile

CRITICAL = LOG_LEVELS["critical"]
ERROR = LOG_LEVELS["error"]
WARN = LOG_LEVELS["warn"]
INFO = LOG_LEVELS["info"]
DEBUG = LOG_LEVELS["debug"]
TRACE = LOG_LEVELS["trace"]
BLATHER = LOG_LEVELS["blather"]

# Records kept while buffering; a config that produces more than this before
# the log is open is broken anyway, and the daemon must not grow without bound.
BUFFER_LIMIT = 10000

_SYSLOG_PRIORITIES = LEVEL_PRIORITIES


class LogRecord(NamedTuple):
    created: float  # time.time() when logged
    level: int
    message: str

    @property
    def tag(self) -> str:
        return LEVEL_TAGS.get(self.level, str(self.level))

    def line(self) -> str:
        """The stock line, newline included."""
        return f"{format_time(self.created)} {self.tag} {self.message}\n"


Handler = Callable[[LogRecord], None]

_time_cache: tuple[int, str] = (-1, "")


def format_time(created: float) -> str:
    """``YYYY-MM-DD HH:MM:SS,mmm`` in local time (milliseconds truncated)."""
    global _time_cache
    seconds = int(created)
    if _time_cache[0] != seconds:
        _time_cache = (seconds, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)))
    return f"{_time_cache[1]},{int((created - seconds) * 1000):03d}"


def _encode(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace")


class _FileHandler:
    def __init__(
        self, path: str, maxbytes: int, backups: int, on_error: Any, on_resume: Any
    ) -> None:
        self.file = RotatingFile(path, maxbytes, backups, on_error=on_error, on_resume=on_resume)

    def __call__(self, record: LogRecord) -> None:
        self.file.write(_encode(record.line()))

    def reopen(self) -> None:
        self.file.reopen()

    def close(self) -> None:
        self.file.close()


class _EchoHandler:
    """Copies lines to stdout.  Errors (a closed pipe, a vanished terminal)
    are ignored: the echo is a convenience, the file is the record."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __call__(self, record: LogRecord) -> None:
        data = memoryview(_encode(record.line()))
        try:
            while data:
                data = data[os.write(self.fd, data) :]
        except OSError:
            pass


class _SyslogHandler:
    """One syslog message per line of the message, each carrying the stock
    prefix (time and level) as stock does."""

    def __init__(self, sink: syslog_out.SyslogSink) -> None:
        self.sink = sink

    def __call__(self, record: LogRecord) -> None:
        priority = _SYSLOG_PRIORITIES.get(record.level, syslog.LOG_DEBUG)
        prefix = f"{format_time(record.created)} {record.tag} "
        for text in record.message.rstrip("\n").split("\n"):
            try:
                self.sink(priority, prefix + text)
            except (OSError, ValueError):
                pass


class MainLog:
    """The daemon's logger.  Nothing here raises once attached: a log that
    cannot be written is reported through the other outputs (or stderr)."""

    def __init__(self, level: int = INFO) -> None:
        self._level = level
        self._builtin: list[Handler] = []  # from attach(): replaced on re-attach
        self._extra: list[Handler] = []  # add_handler(): kept across attach()
        self._file: Optional[_FileHandler] = None
        self._buffer: Optional[list[LogRecord]] = None
        self._buffer_dropped = 0
        self._failing: set[int] = set()  # id() of extra handlers that raised
        self._reporting = False
        self._file_failing = False
        self._resumed: Optional[str] = None  # to log once the current record is out
        # Told after each record is out, without it (``maintail -f``): not an
        # output, so a failing file is still reported to stderr.
        self.wakers: list[Callable[[], None]] = []

    @classmethod
    def buffering(cls, level: int = INFO) -> MainLog:
        """A log that holds every record until :meth:`attach`."""
        log = cls(level)
        log._buffer = []
        return log

    # -- configuration -------------------------------------------------------

    @property
    def level(self) -> int:
        return self._level

    @level.setter
    def level(self, level: int) -> None:
        self._level = level

    @property
    def path(self) -> Optional[str]:
        """The log file, or None when logging to syslog or nowhere."""
        return self._file.file.path if self._file is not None else None

    @property
    def buffering_now(self) -> bool:
        return self._buffer is not None

    def attach(
        self,
        logfile: Optional[str],
        *,
        maxbytes: int = 50 * 1024 * 1024,
        backups: int = 10,
        level: Optional[int] = None,
        echo: bool = False,
        echo_fd: int = 1,
        syslog_sink: syslog_out.SyslogSink = syslog_out.send,
    ) -> None:
        """Set the outputs (replacing earlier ones) and flush buffered records.

        ``logfile`` is a path, ``"syslog"`` or None.  Raises :class:`OSError`
        if the file cannot be opened; buffered records are then kept, so the
        caller can still attach somewhere else (e.g. ``None`` with echo)."""
        builtin: list[Handler] = []
        file_handler: Optional[_FileHandler] = None
        if echo:
            builtin.append(_EchoHandler(echo_fd))
        if logfile == "syslog":
            builtin.append(_SyslogHandler(syslog_sink))
        elif logfile is not None:
            file_handler = _FileHandler(
                logfile, maxbytes, backups, self._file_error, self._file_resumed
            )
            builtin.append(file_handler)
        old = self._builtin
        self._builtin = builtin
        self._file = file_handler
        self._file_failing = False
        for handler in old:
            _call_close(handler)
        if level is not None:
            self._level = level
        self._flush_buffer()

    def attach_config(
        self,
        config: SupervisordConfig,
        messages: Iterable[ParseMessage] = (),
        *,
        syslog_sink: syslog_out.SyslogSink = syslog_out.send,
    ) -> None:
        """:meth:`attach` as ``[supervisord]`` says, then log the parser's
        messages (which stock also writes right after opening the log)."""
        self.attach(
            config.logfile,
            maxbytes=config.logfile_maxbytes,
            backups=config.logfile_backups,
            level=config.loglevel,
            echo=config.nodaemon and not config.silent,
            syslog_sink=syslog_sink,
        )
        for message in messages:
            self.log(message.level, message.text)

    def add_handler(self, handler: Handler) -> None:
        """Plug in another output: called with each :class:`LogRecord` at or
        above the log level.  ``reopen()``/``close()`` are called if present."""
        self._extra.append(handler)

    def remove_handler(self, handler: Handler) -> None:
        if handler in self._extra:
            self._extra.remove(handler)
            self._failing.discard(id(handler))

    # -- logging -------------------------------------------------------------

    def enabled_for(self, level: int) -> bool:
        return level >= self._level

    def log(self, level: int, msg: str) -> None:
        if self._buffer is not None:
            # The level may still change with the config, so keep everything.
            if len(self._buffer) < BUFFER_LIMIT:
                self._buffer.append(LogRecord(time.time(), level, msg))
            else:
                self._buffer_dropped += 1
            return
        if level >= self._level:
            self._emit(LogRecord(time.time(), level, msg))

    def critical(self, msg: str) -> None:
        self.log(CRITICAL, msg)

    def error(self, msg: str) -> None:
        self.log(ERROR, msg)

    def warn(self, msg: str) -> None:
        self.log(WARN, msg)

    def info(self, msg: str) -> None:
        self.log(INFO, msg)

    def debug(self, msg: str) -> None:
        self.log(DEBUG, msg)

    def trace(self, msg: str) -> None:
        self.log(TRACE, msg)

    def blather(self, msg: str) -> None:
        self.log(BLATHER, msg)

    # -- files ---------------------------------------------------------------

    def reopen(self) -> None:
        """Reopen files (SIGUSR2, after logrotate moved them away)."""
        for handler in self._builtin + self._extra:
            reopen = getattr(handler, "reopen", None)
            if reopen is not None:
                try:
                    reopen()
                except Exception as exc:  # noqa: BLE001
                    self._report(f"cannot reopen log handler {handler!r}: {exc}", handler)

    def clear(self) -> None:
        """Remove the log file and start a new one (clearLog).

        Raises :class:`FileNotFoundError` when there is no file to clear and
        :class:`OSError` when it cannot be removed."""
        path = self.path
        if self._file is None or path is None or not os.path.exists(path):
            raise FileNotFoundError(path)
        self._file.file.clear()

    def close(self) -> None:
        self._flush_buffer()
        for handler in self._builtin + self._extra:
            _call_close(handler)
        self._builtin = []
        self._file = None

    # -- internals -----------------------------------------------------------

    def _flush_buffer(self) -> None:
        buffered, self._buffer = self._buffer, None
        if not buffered:
            return
        for record in buffered:
            if record.level >= self._level:
                self._emit(record)
        if self._buffer_dropped:
            self.log(WARN, f"{self._buffer_dropped} early log messages were dropped")
            self._buffer_dropped = 0

    def _emit(self, record: LogRecord) -> None:
        for handler in self._builtin:
            handler(record)  # built-in handlers never raise
        for handler in self._extra:
            try:
                handler(record)
            except Exception as exc:  # noqa: BLE001 - a plug-in must not break logging
                if id(handler) not in self._failing:
                    self._failing.add(id(handler))
                    self._report(f"log handler {handler!r} failed: {exc}", handler)
            else:
                self._failing.discard(id(handler))
        if self._file_failing and record.level >= WARN and self._file_is_the_only_output():
            # The record went nowhere: warnings and errors still reach stderr
            # (the journal, under systemd), like the failure itself.
            _write_stderr(record)
        for wake in self.wakers:
            try:
                wake()
            except Exception:  # noqa: BLE001
                pass
        if self._resumed is not None:
            text, self._resumed = self._resumed, None
            self._emit(LogRecord(time.time(), WARN, text))

    def _file_error(self, exc: LogFileError) -> None:
        self._file_failing = True
        self._report(str(exc), self._file)

    def _file_resumed(self, notice: LogFileResumed) -> None:
        # Logged after the record whose write succeeded, not in the middle of it.
        self._file_failing = False
        self._resumed = str(notice)

    def _file_is_the_only_output(self) -> bool:
        return not [h for h in self._builtin + self._extra if h is not self._file]

    def _report(self, text: str, broken: Any) -> None:
        """Tell the outputs other than ``broken`` about a logging failure;
        stderr if there are none."""
        if self._reporting:
            return
        self._reporting = True
        try:
            record = LogRecord(time.time(), ERROR, text)
            others = [h for h in self._builtin + self._extra if h is not broken]
            for handler in others:
                try:
                    handler(record)
                except Exception:  # noqa: BLE001
                    pass
            if not others:
                _write_stderr(record)
        finally:
            self._reporting = False


def _write_stderr(record: LogRecord) -> None:
    data = memoryview(_encode(record.line()))
    try:
        while data:
            data = data[os.write(2, data) :]
    except OSError:
        pass


def _call_close(handler: Any) -> None:
    close = getattr(handler, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # noqa: BLE001
            pass
