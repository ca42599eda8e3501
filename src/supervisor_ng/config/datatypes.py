"""Converters from the strings of supervisord.conf to Python values.

Each converter takes the (already %-expanded) option text and returns the
value, or raises :class:`ValueError` whose message says what was wrong; the
loader adds the file, section and option.  They accept exactly what Supervisor
4.3 accepts, quirks included (``int()`` whitespace rules, negative byte sizes,
``exitcodes=`` meaning "no expected codes", ...), because a config that works
with stock must keep working.
"""

from __future__ import annotations

import contextvars
import enum
import grp
import math
import os
import pwd
import re
import shlex
import signal
from typing import TYPE_CHECKING, Optional

from ..lazy_import import LazyModule
from .model import AUTO, LOG_LEVELS, Auto, AutoRestart, Probe

if TYPE_CHECKING:
    from urllib import parse as url_parse
else:
    # Only an http:// check needs it; it loads ipaddress too (~0.45 MiB).
    url_parse = LazyModule("urllib.parse")

TRUE_WORDS = ("yes", "true", "on", "1")
FALSE_WORDS = ("no", "false", "off", "0")


def boolean(value: object) -> bool:
    text = str(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"{value!r} is not a boolean (use true/false, yes/no, on/off or 1/0)")


def integer(value: object) -> int:
    # int() itself is the stock rule (surrounding blanks, "+5", "1_000" all pass),
    # and its message ("invalid literal for int() ...") is the familiar one.
    return int(value)  # type: ignore[call-overload]


_BYTE_SUFFIXES = {"kb": 1024, "mb": 1024**2, "gb": 1024**3}


def byte_size(value: object) -> int:
    text = str(value).lower()
    number, multiplier = text, 1
    if text[-2:] in _BYTE_SUFFIXES:
        number, multiplier = text[:-2], _BYTE_SUFFIXES[text[-2:]]
    try:
        return int(number) * multiplier
    except ValueError:
        raise ValueError(
            f"{value!r} is not a byte size (a whole number, optionally followed by KB, MB or GB)"
        ) from None


def octal(value: object) -> int:
    try:
        return int(str(value), 8)
    except ValueError:
        raise ValueError(f"{value!r} is not an octal number") from None


# os.umask/chmod take a C int; beyond it they raise OverflowError inside the
# daemon (or a forked child) instead of failing here.
_C_INT = 2**31


def mode(value: object) -> int:
    """An octal umask or file mode (stock accepts any octal; the kernel keeps
    only the permission bits), refused when the OS could not take it."""
    number = octal(value)
    if not -_C_INT <= number < _C_INT:
        raise ValueError(f"{value!r} is out of range for a file mode or umask (use 0 .. 0777)")
    return number


# rlimits are 64-bit: a larger minfds/minprocs overflowed setrlimit().
MAX_RLIMIT = 2**63 - 1


def rlimit(value: object) -> int:
    number = integer(value)
    if number > MAX_RLIMIT:
        raise ValueError(f"more than any resource limit can be ({MAX_RLIMIT})")
    return number


# Timer arithmetic is in floats: a count of seconds that no float can hold
# raised OverflowError in the process state machine on the loop.
MAX_SECONDS = 10**15


def seconds(value: object) -> int:
    number = integer(value)
    if number > MAX_SECONDS:
        raise ValueError(f"more than the {MAX_SECONDS} seconds a timer can count")
    return number


def duration(value: object) -> float:
    """A number of seconds, fractions allowed (``5``, ``0.5``); 0 or more."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    # float() also takes "inf", "nan" and "1_0"; none of them is a duration.
    if not _DURATION.match(text) or not math.isfinite(number):
        raise ValueError(f"{value!r} is not a number of seconds (such as 5 or 0.5)") from None
    if number > MAX_SECONDS:
        raise ValueError(f"more than the {MAX_SECONDS} seconds a timer can count")
    return number


_DURATION = re.compile(r"\+?(\d+\.?\d*|\.\d+)$")


def positive_duration(value: object) -> float:
    number = duration(value)
    if number <= 0:
        raise ValueError(f"{value!r}: must be more than 0 seconds")
    return number


def positive_integer(value: object) -> int:
    number = integer(value)
    if number < 1:
        raise ValueError(f"{value!r}: must be at least 1")
    return number


BACKOFF_KINDS = ("linear", "exponential")


def backoff(value: object) -> str:
    text = str(value).strip().lower()
    if text not in BACKOFF_KINDS:
        raise ValueError(f"{value!r} is not a backoff (use linear or exponential)")
    return text


def dependency_names(value: object) -> tuple[str, ...]:
    """``depends_on``: names separated by commas or blanks, each a program,
    a group, ``group:process`` or ``group:*``; duplicates dropped."""
    names: dict[str, None] = {}
    for item in re.split(r"[\s,]+", str(value).strip()):
        if not item:
            continue
        group, sep, process = item.partition(":")
        try:
            if not group or (sep and not process):
                raise ValueError(item)
            name(group)
            if sep and process != "*":
                name(process)
        except ValueError:
            raise ValueError(f"{item!r} is not a program, group or group:process name") from None
        names[item] = None
    return tuple(names)


PROBE_FORMS = "tcp:[HOST:]PORT, http://HOST[:PORT]/PATH or exec:COMMAND"
READY_MODES = ("startsecs", "notify")


def readiness(value: object) -> tuple[str, Probe | None]:
    """``ready``: (mode, probe): ("startsecs", None), ("notify", None) or ("probe", Probe)."""
    text = str(value).strip()
    if text.lower() in READY_MODES:
        return text.lower(), None
    if not _probe_kind(text):
        raise ValueError(f"{value!r} is not a readiness check (use startsecs, notify, {PROBE_FORMS})")
    return "probe", probe(text)


def optional_probe(value: object) -> Probe | None:
    """``healthcheck``: a probe, or None for an empty value (no check)."""
    text = str(value).strip()
    return probe(text) if text else None


def probe(value: object) -> Probe:
    text = str(value).strip()
    kind = _probe_kind(text)
    if kind == "tcp":
        return _tcp_probe(text)
    if kind == "http":
        return _http_probe(text)
    if kind == "exec":
        return _exec_probe(text)
    raise ValueError(f"{value!r} is not a check (use {PROBE_FORMS})")


def _probe_kind(text: str) -> str:
    lower = text.lower()
    for prefix, kind in (("tcp:", "tcp"), ("exec:", "exec"), ("http:", "http"), ("https:", "http")):
        if lower.startswith(prefix):
            return kind
    return ""


DEFAULT_PROBE_HOST = "127.0.0.1"


def _tcp_probe(text: str) -> Probe:
    rest = text[len("tcp:") :]
    if rest.startswith("//"):  # tcp://host:port, as fcgi-program sockets are written
        rest = rest[2:]
    host, sep, port_text = rest.rpartition(":")
    if not sep:
        host = DEFAULT_PROBE_HOST
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or any(c.isspace() or c in "/[]" for c in host):
        raise ValueError(f"{text!r} is not tcp:[HOST:]PORT")
    try:
        port = port_number(port_text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not tcp:[HOST:]PORT: {exc}") from None
    return Probe(kind="tcp", text=text, host=host, port=port)


def _http_probe(text: str) -> Probe:
    parts = url_parse.urlsplit(text)
    if parts.scheme.lower() == "https":
        raise ValueError(
            f"{text!r}: https is not supported, only http:// (an exec: check such as "
            "exec:curl -fsS https://... can check TLS)"
        )
    if parts.scheme.lower() != "http" or not text[len("http:") :].startswith("//"):
        raise ValueError(f"{text!r} is not http://HOST[:PORT]/PATH")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError(f"{text!r}: a URL cannot contain blanks or control characters")
    if "@" in parts.netloc:
        raise ValueError(f"{text!r}: user names and passwords in the URL are not supported")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port == -1 or port == 0:
        raise ValueError(f"{text!r} is not http://HOST[:PORT]/PATH")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Probe(kind="http", text=text, host=parts.hostname, port=port or 80, path=path)


def _exec_probe(text: str) -> Probe:
    command = text[len("exec:") :].strip()
    try:
        words = shlex.split(command)
    except ValueError as exc:  # an unterminated quote
        raise ValueError(f"{text!r} is not a usable command: {exc}") from None
    if not words:
        raise ValueError(f"{text!r} has no command after exec:")
    return Probe(kind="exec", text=text, command=command)


def _signal_numbers() -> frozenset[int]:
    # Stock accepts the value of any SIG* attribute of the signal module: real
    # signals plus SIG_DFL/SIG_IGN (0 and 1) and SIGRTMIN/SIGRTMAX, but not the
    # realtime numbers in between.
    return frozenset(int(getattr(signal, n)) for n in dir(signal) if n.startswith("SIG"))


SIGNAL_NUMBERS = _signal_numbers()


def signal_number(value: object) -> int:
    text = str(value)
    try:
        number = int(text)
    except ValueError:
        name = text.strip().upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        found = getattr(signal, name, None)
        if found is None or not isinstance(found, int):
            raise ValueError(f"{value!r} is not a signal name") from None
        number = int(found)
    if number not in SIGNAL_NUMBERS:
        raise ValueError(f"{value!r} is not a valid signal number")
    return number


def exitcodes(value: object) -> tuple[int, ...]:
    text = str(value)
    if not text:
        return ()
    codes = []
    for item in text.split(","):
        try:
            code = int(item)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a list of exit codes (comma-separated numbers 0..255)"
            ) from None
        if not 0 <= code <= 255:
            raise ValueError(f"{value!r}: exit code {code} is outside 0..255")
        codes.append(code)
    return tuple(codes)


def autorestart(value: object) -> AutoRestart:
    text = str(value).lower()
    if text in TRUE_WORDS:
        return AutoRestart.ALWAYS
    if text in FALSE_WORDS:
        return AutoRestart.NEVER
    if text == "unexpected":
        return AutoRestart.UNEXPECTED
    raise ValueError(f"{value!r} is not an autorestart value (use true, false or unexpected)")


def logging_level(value: object) -> int:
    level = LOG_LEVELS.get(str(value).lower())
    if level is None:
        raise ValueError(f"{value!r} is not a log level (use one of {', '.join(LOG_LEVELS)})")
    return level


def list_of_strings(value: object) -> list[str]:
    if not value:
        return []
    return [item.strip() for item in str(value).split(",")]


def name(value: object) -> str:
    """A process or group name: these end up in namespecs (``group:proc``),
    URLs of the web page and the event listener protocol, so some characters
    are off limits."""
    text = str(value).strip()
    for char in " :/":
        if char in text:
            raise ValueError(f"invalid name {value!r}: it contains {char!r}")
    return text


def environment(value: object) -> dict[str, str]:
    """``KEY=val,KEY2="v,2"`` -> dict.  Tokenised like stock (non-POSIX shlex
    with a few extra word characters), so the same odd inputs pass or fail."""
    text = str(value)
    lexer = shlex.shlex(text)
    lexer.wordchars += "/.+-():"
    try:
        tokens = list(lexer)
    except ValueError as exc:  # an unterminated quote
        raise ValueError(f"{text!r} is not a list of KEY=value pairs: {exc}") from None
    pairs: dict[str, str] = {}
    # Tokens come as KEY, '=', VALUE, separator, KEY, ...; the separator
    # itself is not checked, as in stock.
    for i in range(0, len(tokens), 4):
        triple = tokens[i : i + 3]
        if len(triple) != 3 or triple[1] != "=":
            raise ValueError(
                f"{text!r} is not a list of KEY=value pairs (separate pairs with commas, "
                "quote values that contain commas or spaces)"
            )
        pairs[triple[0]] = triple[2].strip("'\"")
    return pairs


def name_to_uid(value: str) -> int:
    try:
        uid = int(value)
    except ValueError:
        try:
            return pwd.getpwnam(value).pw_uid
        except KeyError:
            raise ValueError(f"no such user {value!r}") from None
    try:
        pwd.getpwuid(uid)
    except (KeyError, OverflowError):
        raise ValueError(f"no such user id {uid}") from None
    return uid


def name_to_gid(value: str) -> int:
    try:
        gid = int(value)
    except ValueError:
        try:
            return grp.getgrnam(value).gr_gid
        except KeyError:
            raise ValueError(f"no such group {value!r}") from None
    try:
        grp.getgrgid(gid)
    except (KeyError, OverflowError):
        raise ValueError(f"no such group id {gid}") from None
    return gid


def gid_for_uid(uid: int) -> int:
    return pwd.getpwuid(uid).pw_gid


def user(value: object) -> tuple[int, int]:
    """A user name or uid -> (uid, that user's primary gid)."""
    uid = name_to_uid(str(value))
    return uid, gid_for_uid(uid)


def owner(value: object) -> tuple[int, int]:
    """``user`` or ``user:group`` -> (uid, gid); gid is -1 when no group is given."""
    text = str(value)
    user_part, sep, group_part = text.partition(":")
    try:
        uid = name_to_uid(user_part)
        gid = name_to_gid(group_part) if sep else -1
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid user[:group]: {exc}") from None
    return uid, gid


def port_number(value: object) -> int:
    try:
        port = int(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is outside 1..65535")
    return port


def inet_address(value: object) -> tuple[str, int]:
    """``port``, ``host:port``, ``*:port`` or ``:port`` -> (host, port); the
    host is lower-cased and "" means every address."""
    text = str(value)
    host = ""
    port_text = text
    if ":" in text:
        host, port_text = text.rsplit(":", 1)
        if not port_text:
            raise ValueError(f"{text!r} has no port number after ':'")
        host = host.lower()
    port = port_number(port_text)
    if host == "*":
        host = ""
    return host, port


def existing_directory(value: object) -> str:
    path = os.path.expanduser(str(value))
    if not os.path.isdir(path):
        raise ValueError(f"{value!r} is not an existing directory")
    return path


def existing_dirpath(value: object) -> str:
    """A file path whose directory exists (the file itself need not)."""
    path = os.path.expanduser(str(value))
    if "\0" in path:
        # open() would raise ValueError when the daemon or a spawn opens it.
        raise ValueError(f"{value!r} is not a usable path: it contains a NUL byte")
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        raise ValueError(f"the directory of {value!r} does not exist")
    return path


class Syslog(enum.Enum):
    """The deprecated ``*_logfile=syslog`` value."""

    SYSLOG = "syslog"


def logfile(value: object) -> str | Auto | Syslog | None:
    """A process log file: NONE/OFF -> None, AUTO -> AUTO, SYSLOG -> Syslog.SYSLOG
    (the loader turns that into ``*_syslog=true``), else a path in an existing
    directory.  An empty value means no file, as stock treats it."""
    text = str(value)
    word = text.lower()
    if word in ("none", "off"):
        return None
    if word == "auto":
        return AUTO
    if word == "syslog":
        return Syslog.SYSLOG
    path = existing_dirpath(text)
    return path or None


# The directory relative paths are resolved against when it is not the
# process's: the daemon reads its config again on a worker thread, while a
# spawn on the loop may have borrowed the process's directory (spawn.py).
relative_to: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("relative_to", default=None)


def absolute_path(path: str) -> str:
    base = relative_to.get()
    if base is not None:
        path = os.path.join(base, path)  # an absolute path stays as it is
    return os.path.abspath(path)


def normalize_path(value: str) -> str:
    return os.path.normpath(absolute_path(os.path.expanduser(value)))


# Event type names a listener may subscribe to (stock events.EventTypes).
EVENT_NAMES = (
    "EVENT",
    "PROCESS_STATE",
    "PROCESS_STATE_STOPPED",
    "PROCESS_STATE_EXITED",
    "PROCESS_STATE_STARTING",
    "PROCESS_STATE_STOPPING",
    "PROCESS_STATE_BACKOFF",
    "PROCESS_STATE_FATAL",
    "PROCESS_STATE_RUNNING",
    "PROCESS_STATE_UNKNOWN",
    "PROCESS_COMMUNICATION",
    "PROCESS_COMMUNICATION_STDOUT",
    "PROCESS_COMMUNICATION_STDERR",
    "PROCESS_LOG",
    "PROCESS_LOG_STDOUT",
    "PROCESS_LOG_STDERR",
    "REMOTE_COMMUNICATION",
    "SUPERVISOR_STATE_CHANGE",
    "SUPERVISOR_STATE_CHANGE_RUNNING",
    "SUPERVISOR_STATE_CHANGE_STOPPING",
    "TICK",
    "TICK_5",
    "TICK_60",
    "TICK_3600",
    "PROCESS_GROUP",
    "PROCESS_GROUP_ADDED",
    "PROCESS_GROUP_REMOVED",
    # supervisor-ng's own (events/types.py); stock refuses it in events=.
    "PROCESS_UNHEALTHY",
)


def event_names(value: object) -> tuple[str, ...]:
    """Comma list of event type names, case-insensitive -> sorted unique names."""
    names = {item.upper() for item in list_of_strings(value)}
    if not names:
        raise ValueError("no event types given")
    for event in sorted(names):
        if event not in EVENT_NAMES:
            raise ValueError(f"unknown event type {event!r}")
    return tuple(sorted(names))
