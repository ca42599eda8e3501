"""``supervisorctl`` command line.

Options are parsed by click, but the rules users and scripts see are
stock's (getopt's): options stop at the first action word, long options
may be abbreviated to any unique prefix, giving an option twice is an
error, and every usage error is ``Error: <what>`` / ``For help, use <argv0>
-h`` on stderr with exit status 2.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

import click

from ..cli import usage_error
from ..config.search import find_config_file
from .settings import CtlConfigError, Settings, read_config

# Stock's long options; ``history_file`` really is spelled with an underscore.
LONG_OPTIONS = {
    "configuration": True,  # takes a value
    "help": False,
    "interactive": False,
    "serverurl": True,
    "username": True,
    "password": True,
    "history_file": True,
}
SHORT_WITH_VALUE = set("csupr")
SHORT_FLAGS = set("hi?")


class UsageError(Exception):
    pass


def scan_options(args: list[str]) -> tuple[list[str], list[str]]:
    """Walk the options as getopt would, up to the first argument that is
    not one.  Returns the arguments with abbreviated long options spelled
    out (``--serv`` -> ``--serverurl``; click does not do that) and the
    options in the order given, as getopt names them (for error messages)."""
    result: list[str] = []
    given: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            return result + args[i:], given
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            full = _long_option(name)
            given.append(f"--{full}")
            result.append(f"--{full}{eq}{value}")
            if LONG_OPTIONS[full] and not eq and i + 1 < len(args):
                result.append(args[i + 1])
                i += 1
        else:
            result.append(arg)
            # A cluster like ``-ic FILE``: the value is in the next argument
            # when the option letter taking it ends the cluster.
            for pos, letter in enumerate(arg[1:], 1):
                given.append(f"-{letter}")
                if letter in SHORT_WITH_VALUE:
                    if pos == len(arg) - 1 and i + 1 < len(args):
                        result.append(args[i + 1])
                        i += 1
                    break
                if letter not in SHORT_FLAGS:
                    break
        i += 1
    return result, given


def _long_option(name: str) -> str:
    if name in LONG_OPTIONS:
        return name
    candidates = [option for option in LONG_OPTIONS if option.startswith(name)]
    if not candidates:
        raise UsageError(f"option --{name} not recognized")
    if len(candidates) > 1:
        raise UsageError(f"option --{name} not a unique prefix")
    return candidates[0]


def _is_url(value: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    return bool(parts.scheme and (parts.netloc or parts.path))


def _spelling(ctx: click.Context, names: tuple[str, ...], nth: int) -> str:
    """How the ``nth`` use of an option was written, for error messages."""
    uses = [given for given in ctx.obj["given"] if given in names]
    return uses[nth - 1] if len(uses) >= nth else names[0]


def _once(ctx: click.Context, param: click.Parameter, values: Any) -> Any:
    """Options may be given once; stock calls a repeat a conflict."""
    count = values if isinstance(values, int) else len(values)
    if count > 1:
        names = tuple(param.opts) + tuple(param.secondary_opts)
        spelled = _spelling(ctx, names, 2)
        raise UsageError(f"conflicting command line option {spelled!r}")
    if isinstance(values, int):
        return bool(values)
    return values[0] if values else None


def _show_help(ctx: click.Context, param: click.Parameter, count: int) -> None:
    if count:
        from .helptext import USAGE

        sys.stdout.write(USAGE.format(prog=ctx.obj["progname"]))
        sys.exit(0)


def _serverurl(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Any:
    for nth, value in enumerate(values, 1):
        if not _is_url(value):
            spelled = _spelling(ctx, ("-s", "--serverurl"), nth)
            raise UsageError(f"invalid value for {spelled} {value!r}: value {value!r} is not a URL")
    return _once(ctx, param, values)


# Click runs the callbacks in the order the options first appear on the
# command line, which gives stock's precedence between -h and bad values.
CONTEXT = {"help_option_names": [], "allow_interspersed_args": False}


@click.command(context_settings=CONTEXT, add_help_option=False)
@click.option("-h", "--help", "-?", "help_", count=True, callback=_show_help, expose_value=False)
@click.option("-c", "--configuration", "configuration", multiple=True, callback=_once)
@click.option("-i", "--interactive", "interactive", count=True, callback=_once)
@click.option("-s", "--serverurl", "serverurl", multiple=True, callback=_serverurl)
@click.option("-u", "--username", "username", multiple=True, callback=_once)
@click.option("-p", "--password", "password", multiple=True, callback=_once)
@click.option("-r", "--history_file", "history_file", multiple=True, callback=_once)
@click.argument("action", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def command(ctx: click.Context, **params: Any) -> None:
    ctx.obj["params"] = params


def _settings_from(params: dict[str, Any]) -> Settings:
    settings = Settings()
    explicit: set[str] = set()
    for key in ("serverurl", "username", "password", "history_file"):
        if params[key] is not None:
            setattr(settings, key, params[key])
            explicit.add(key)
    config = params["configuration"]
    if config is None:
        config = find_config_file(sys.argv[0])
    if config is not None:
        try:
            read_config(config, settings, explicit)
        except CtlConfigError as exc:
            raise UsageError(str(exc)) from None
    settings.interactive = params["interactive"] or not params["action"]
    return settings


def _click_message(exc: click.UsageError) -> str:
    name = getattr(exc, "option_name", None)
    if isinstance(exc, click.NoSuchOption) and name:
        return f"option {name} not recognized"
    if isinstance(exc, click.BadOptionUsage) and name:
        if name.lstrip("-") in ("help", "interactive", "h", "i", "?"):
            return f"option {name} must not have an argument"
        return f"option {name} requires argument"
    return exc.format_message()


def parse(argv: list[str], progname: str) -> tuple[Settings, list[str]]:
    try:
        args, given = scan_options(argv)
        obj: dict[str, Any] = {"given": given, "progname": progname}
        with command.make_context(progname, list(args), obj=obj) as ctx:
            command.invoke(ctx)
        params = obj["params"]
        settings = _settings_from(params)
    except UsageError as exc:
        usage_error(progname, str(exc))
    except click.UsageError as exc:
        usage_error(progname, _click_message(exc))
    return settings, list(params["action"])


def main(argv: Optional[list[str]] = None) -> None:
    progname = sys.argv[0]
    settings, action = parse(sys.argv[1:] if argv is None else list(argv), progname)
    from .shell import Controller

    controller = Controller(settings)
    if action:
        controller.onecmd(" ".join(action))
        sys.stdout.flush()
        sys.exit(controller.exitstatus)
    controller.run_shell()
    sys.exit(0)


if __name__ == "__main__":
    main()
