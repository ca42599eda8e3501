"""supervisord's command line: read the config, then run the daemon
(:mod:`.daemon_process`) or, for a hand-over's dry run, only check that this
binary can adopt the state it is given.

Everything that can fail because of the config or the environment is checked
before a single program is started, so a bad start leaves nothing behind.
"""

from __future__ import annotations

from .runtime import startup  # noqa: F401  (first of all: see there)

# isort: split

from .runtime import lean_shutil  # noqa: F401  (before tempfile: see there)

# isort: split

import os
import sys
from typing import Any, Optional

from . import SUPERVISOR_VERSION
from .cli import usage_error
from .config.loader import config_search_paths, find_config_file, load
from .config.model import LOG_LEVEL_NAMES, ConfigError
from .runtime import handover_envelope as envelope_io

PROG = "supervisord"
SUMMARY = "supervisord -- run a set of programs as classic daemon processes."

# The command line is read the way stock's getopt reads it, by the few lines
# of :func:`_getopt` rather than with click or getopt: click and what it
# imports (datetime, uuid, platform) would stay loaded for the daemon's whole
# life, ~1.7 MiB for one parse at start; getopt loads gettext (~0.25 MiB).
# (short, long, metavar or None for a flag, help); an empty help hides it.
_OPTIONS = (
    ("c", "configuration", "FILENAME", "configuration file path"),
    ("n", "nodaemon", None, "run in the foreground"),
    ("s", "silent", None, "no log echo to stdout in the foreground"),
    ("v", "version", None, "print the version and exit"),
    ("u", "user", "USER", "run as this user (or numeric uid)"),
    ("m", "umask", "UMASK", "umask for the daemon (default 022)"),
    ("d", "directory", "DIRECTORY", "directory to chdir to when daemonized"),
    ("l", "logfile", "FILENAME", "the daemon's log file"),
    ("y", "logfile_maxbytes", "BYTES", "rotate the log at this size"),
    ("z", "logfile_backups", "NUM", "number of rotated logs to keep"),
    ("e", "loglevel", "LEVEL", LOG_LEVEL_NAMES),
    ("j", "pidfile", "FILENAME", "write the daemon's pid here"),
    ("i", "identifier", "STR", "identifier used by the API"),
    ("q", "childlogdir", "DIRECTORY", "directory for AUTO child logs"),
    ("k", "nocleanup", None, "keep old AUTO child logs at start"),
    ("a", "minfds", "NUM", "minimum number of free file descriptors"),
    ("t", "strip_ansi", None, "strip ANSI escapes from child logs"),
    ("", "minprocs", "NUM", "minimum number of free process slots"),
    ("", "profile_options", "OPTIONS", ""),
    ("", envelope_io.HANDOVER_FD_OPTION[2:], "FD", ""),
    ("", envelope_io.HANDOVER_CHECK_OPTION[2:], "FD", ""),
    ("h", "help", None, "show this message and exit"),
)  # fmt: skip

# Stock flag -> [supervisord] option it overrides.
_FLAG_OPTIONS = (
    "nodaemon", "silent", "user", "umask", "directory", "logfile", "logfile_maxbytes",
    "logfile_backups", "loglevel", "pidfile", "identifier", "childlogdir", "nocleanup",
    "minfds", "minprocs", "strip_ansi",
)  # fmt: skip


def _help() -> str:
    rows = []
    for short, long, metavar, text in _OPTIONS:
        if not text:
            continue
        names = ", ".join([f"-{short}"] * bool(short) + ["-?"] * (short == "h") + [f"--{long}"])
        rows.append((f"{names} {metavar}" if metavar else names, text))
    width = max(len(left) for left, _ in rows)
    lines = [f"Usage: {PROG} [OPTIONS]", "", f"  {SUMMARY}", "", "Options:"]
    lines += [f"  {left.ljust(width)}  {text}" for left, text in rows]
    return "\n".join(lines) + "\n"


class _BadOption(Exception):
    pass


def _getopt(args: list[str]) -> tuple[list[tuple[str, Any]], list[str]]:
    """(long name, value or True) for each option in ``args``, and what
    follows them; getopt's rules: ``-abc`` clusters flags, ``-cFILE`` and
    ``--configuration=FILE`` carry their value, a long name may be shortened
    to any unique prefix, ``--`` and the first non-option end the options."""
    shorts = {s: long for s, long, _, _ in _OPTIONS if s}
    shorts["?"] = "help"
    takes_value = {long for _, long, metavar, _ in _OPTIONS if metavar}
    found: list[tuple[str, Any]] = []
    rest = list(args)
    while rest and rest[0].startswith("-") and rest[0] != "-":
        arg = rest.pop(0)
        if arg == "--":
            break
        if arg.startswith("--"):
            given, eq, value = arg[2:].partition("=")
            names = [long for _, long, _, _ in _OPTIONS if long.startswith(given)]
            if given in names:
                names = [given]
            if not names:
                raise _BadOption(f"option --{given} not recognized")
            if len(names) > 1:
                raise _BadOption(f"option --{given} not a unique prefix")
            name = names[0]
            if name not in takes_value:
                if eq:
                    raise _BadOption(f"option --{name} must not have an argument")
                found.append((name, True))
                continue
            if not eq:
                if not rest:
                    raise _BadOption(f"option --{name} requires argument")
                value = rest.pop(0)
            found.append((name, value))
            continue
        chars = arg[1:]
        while chars:
            char, chars = chars[0], chars[1:]
            name = shorts.get(char)
            if name is None:
                raise _BadOption(f"option -{char} not recognized")
            if name not in takes_value:
                found.append((name, True))
                continue
            if not chars:
                if not rest:
                    raise _BadOption(f"option -{char} requires argument")
                chars = rest.pop(0)
            found.append((name, chars))
            break
    return found, rest


def parse(args: list[str]) -> dict[str, Any]:
    """The options given, by long name: a flag's value is True, the last of
    a repeated option wins.  A bad command line is a usage error (exit 2)."""
    try:
        opts, rest = _getopt(args)
    except _BadOption as exc:
        usage_error(PROG, str(exc))
    if rest:
        usage_error(PROG, f"positional arguments are not supported: {rest!r}")
    given = dict(opts)
    for name in (envelope_io.HANDOVER_FD_OPTION[2:], envelope_io.HANDOVER_CHECK_OPTION[2:]):
        if name in given:
            try:
                given[name] = int(given[name])
            except ValueError:
                usage_error(PROG, f"option --{name}: {given[name]!r} is not a valid integer")
    return given


def command(args: list[str]) -> None:
    """Run the daemon the command line ``args`` describes."""
    given = parse(args)
    if "help" in given:
        sys.stdout.write(_help())
        return
    if "version" in given:
        print(SUPERVISOR_VERSION)
        return
    handover_fd: Optional[int] = given.get(envelope_io.HANDOVER_FD_OPTION[2:])
    handover_check: Optional[int] = given.get(envelope_io.HANDOVER_CHECK_OPTION[2:])
    overrides = {k: v for k, v in given.items() if k in _FLAG_OPTIONS}
    path = given.get("configuration") or find_config_file(sys.argv[0])
    if path is None:
        searched = ", ".join(config_search_paths(sys.argv[0]))
        usage_error(
            PROG,
            f"No config file found at default paths ({searched}); "
            "use the -c option to specify a config file at a different path",
        )
    if handover_check is not None:
        sys.exit(_handover_check(handover_check, path, overrides))
    try:
        config = load(path, overrides=overrides)
    except ConfigError as exc:
        usage_error(PROG, str(exc))
    envelope = None
    if handover_fd is not None:
        envelope = envelope_io.read_envelope(handover_fd)
        os.close(handover_fd)
    # Only now: the dry run above needs none of the daemon's own imports.
    from .daemon_process import Daemon

    status = Daemon(config, overrides, envelope).main()
    # Everything that matters is closed by now (logs, sockets, pidfile);
    # skipping the interpreter's module teardown makes shutdown ~40 ms quicker.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _handover_check(fd: int, path: str, overrides: dict[str, Any]) -> int:
    """The dry run of a hand-over: can this binary adopt the envelope in ``fd``?"""
    problems: list[str] = []
    try:
        envelope = envelope_io.read_envelope(fd)
    except (OSError, ValueError) as exc:
        problems.append(f"cannot read the hand-over state: {exc}")
        envelope = {}
    if envelope:
        from .runtime import handover_state

        if envelope.get("format") != handover_state.FORMAT_VERSION:
            problems.append(
                f"state format {envelope.get('format')!r}, this supervisord reads {handover_state.FORMAT_VERSION}"
            )
        else:
            problems.extend(handover_state.check(envelope.get("generation") or {}))
            if not isinstance(envelope.get("daemon"), dict):
                problems.append("the daemon's part of the state is missing")
    try:
        load(path, overrides=overrides)
    except ConfigError as exc:
        problems.append(f"the configuration does not load: {exc}")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


def main(args: Optional[list[str]] = None) -> None:
    command(sys.argv[1:] if args is None else args)


if __name__ == "__main__":
    main()
