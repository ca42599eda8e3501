"""supervisord's command line: read the config, then run the daemon
(:mod:`.daemon_process`) or, for a hand-over's dry run, only check that this
binary can adopt the state it is given.

Everything that can fail because of the config or the environment is checked
before a single program is started, so a bad start leaves nothing behind.
"""

from __future__ import annotations

from .runtime import startup  # noqa: F401  (first of all: see there)

# isort: split

import os
import sys
from typing import Any, Optional

import click

from . import SUPERVISOR_VERSION
from .cli import HELP_OPTIONS, run_click, usage_error
from .config.loader import config_search_paths, find_config_file, load
from .config.model import LOG_LEVEL_NAMES, ConfigError
from .runtime import handover_envelope as envelope_io

PROG = "supervisord"

# Stock flag -> [supervisord] option it overrides.
_FLAG_OPTIONS = (
    "nodaemon", "silent", "user", "umask", "directory", "logfile", "logfile_maxbytes",
    "logfile_backups", "loglevel", "pidfile", "identifier", "childlogdir", "nocleanup",
    "minfds", "minprocs", "strip_ansi",
)  # fmt: skip


@click.command(context_settings={"help_option_names": HELP_OPTIONS})
@click.option("-c", "--configuration", "configuration", metavar="FILENAME", help="configuration file path")
@click.option("-n", "--nodaemon", is_flag=True, default=None, help="run in the foreground")
@click.option("-s", "--silent", is_flag=True, default=None, help="no log echo to stdout in the foreground")
@click.option("-v", "--version", is_flag=True, help="print the version and exit")
@click.option("-u", "--user", metavar="USER", help="run as this user (or numeric uid)")
@click.option("-m", "--umask", metavar="UMASK", help="umask for the daemon (default 022)")
@click.option("-d", "--directory", metavar="DIRECTORY", help="directory to chdir to when daemonized")
@click.option("-l", "--logfile", metavar="FILENAME", help="the daemon's log file")
@click.option("-y", "--logfile_maxbytes", metavar="BYTES", help="rotate the log at this size")
@click.option("-z", "--logfile_backups", metavar="NUM", help="number of rotated logs to keep")
@click.option("-e", "--loglevel", metavar="LEVEL", help=LOG_LEVEL_NAMES)
@click.option("-j", "--pidfile", metavar="FILENAME", help="write the daemon's pid here")
@click.option("-i", "--identifier", metavar="STR", help="identifier used by the API")
@click.option("-q", "--childlogdir", metavar="DIRECTORY", help="directory for AUTO child logs")
@click.option("-k", "--nocleanup", is_flag=True, default=None, help="keep old AUTO child logs at start")
@click.option("-a", "--minfds", metavar="NUM", help="minimum number of free file descriptors")
@click.option("-t", "--strip_ansi", is_flag=True, default=None, help="strip ANSI escapes from child logs")
@click.option("--minprocs", metavar="NUM", help="minimum number of free process slots")
@click.option("--profile_options", metavar="OPTIONS", hidden=True)
@click.option(envelope_io.HANDOVER_FD_OPTION, "handover_fd", type=int, hidden=True)
@click.option(envelope_io.HANDOVER_CHECK_OPTION, "handover_check", type=int, hidden=True)
def command(
    configuration: Optional[str],
    version: bool,
    profile_options: Optional[str],
    handover_fd: Optional[int],
    handover_check: Optional[int],
    **flags: Any,
) -> None:
    """supervisord -- run a set of programs as classic daemon processes."""
    if version:
        print(SUPERVISOR_VERSION)
        return
    overrides = {k: v for k, v in flags.items() if k in _FLAG_OPTIONS and v is not None}
    path = configuration or find_config_file(sys.argv[0])
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
    run_click(command, PROG, args)


if __name__ == "__main__":
    main()
