"""What supervisorctl needs to know: server URL, credentials, prompt, history.

Values come from the command line, then the ``[supervisorctl]`` section of
the config file, then defaults.  The section is read here directly with
``configparser`` rather than through :mod:`supervisor_ng.config.loader`:
the loader's imports (dataclasses, the program model, glob, tempfile) cost
more than the whole rest of a ``supervisorctl status`` run, and the errors
supervisorctl prints for its config are stock's usage-error texts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    import configparser

    from .plugins import PluginSpec

DEFAULT_SERVERURL = "http://localhost:9001"
DEFAULT_PROMPT = "supervisor"


class CtlConfigError(ValueError):
    """A config problem supervisorctl reports as a usage error."""


class Settings:
    """Mutable on purpose: ``open`` switches the server, a 401 in the shell
    asks for new credentials."""

    def __init__(self) -> None:
        self.serverurl: str = DEFAULT_SERVERURL
        self.username: Optional[str] = None
        self.password: Optional[str] = None
        self.prompt: str = DEFAULT_PROMPT
        self.history_file: Optional[str] = None
        self.interactive: bool = False
        self.plugin_specs: list[PluginSpec] = []
        # Stock keeps the loaded plugins here; plugins may look.
        self.plugins: list[object] = []
        # Ours ([supervisorctl] cafile=, stock ignores it): the CA that signed
        # an https:// server's certificate, else the system's store.
        self.cafile: Optional[str] = None


def normalize_path(path: str) -> str:
    return os.path.normpath(os.path.abspath(os.path.expanduser(path)))


def _expand(text: str, names: Mapping[str, str], where: str) -> str:
    try:
        return text % names
    except KeyError as exc:
        available = ", ".join(sorted(names))
        raise CtlConfigError(
            f"Format string {text!r} for {where!r} contains names ({exc}) which cannot be "
            f"expanded. Available names: {available}"
        ) from None
    except Exception as exc:
        raise CtlConfigError(
            f"Format string {text!r} for {where!r} is badly formatted: {exc}"
        ) from None


# Sections only supervisord reads.  A config with hundreds of programs
# takes configparser longer to read than everything else a short command
# does, so their lines are blanked out before parsing (blanked, not removed,
# so that line numbers in parser errors stay right).
_DAEMON_SECTIONS = (
    "[program:",
    "[group:",
    "[eventlistener:",
    "[fcgi-program:",
    "[rpcinterface:",
    "[include]",
    "[supervisord]",
    "[unix_http_server",
    "[inet_http_server]",
)


def _without_daemon_sections(text: str) -> str:
    lines = text.splitlines(keepends=True)
    skipping = False
    for index, line in enumerate(lines):
        # configparser takes any unindented "[...]" line as a section header.
        if line.startswith("["):
            skipping = line.startswith(_DAEMON_SECTIONS)
        if skipping:
            lines[index] = "\n"
    return "".join(lines)


def read_config(path: str, settings: Settings, explicit: set[str]) -> None:
    """Fill ``settings`` from ``path``'s ``[supervisorctl]`` section, leaving
    alone the attributes named in ``explicit`` (set on the command line)."""
    import configparser

    here = os.path.dirname(normalize_path(path))
    if not os.path.exists(path):
        raise CtlConfigError(f"could not find config file {path}")
    try:
        with open(path) as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        raise CtlConfigError(f"could not read config file {path}") from None
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False)
    parser.read_string(_without_daemon_sections(text), source=path)
    if "supervisorctl" not in parser.sections():
        raise CtlConfigError(".ini file does not include supervisorctl section")

    env = {"ENV_" + key: value for key, value in os.environ.items()}
    with_here = dict(env, here=here)

    def get(option: str, default: Optional[str], names: Mapping[str, str]) -> Optional[str]:
        if not parser.has_option("supervisorctl", option):
            value = default
        else:
            value = parser.get("supervisorctl", option)
        if value is None:
            return None
        return _expand(value, names, f"supervisorctl.{option}")

    serverurl = get("serverurl", DEFAULT_SERVERURL, with_here) or ""
    if serverurl.startswith("unix://"):
        serverurl = "unix://" + normalize_path(serverurl[len("unix://") :])
    prompt = get("prompt", DEFAULT_PROMPT, env)
    username = get("username", None, env)
    password = get("password", None, env)
    history_file = get("history_file", None, with_here)
    cafile = get("cafile", None, with_here)

    plugin_specs = _plugin_specs(parser, env)

    if "serverurl" not in explicit:
        settings.serverurl = serverurl
    if "prompt" not in explicit:
        settings.prompt = prompt if prompt is not None else DEFAULT_PROMPT
    if "username" not in explicit:
        settings.username = username
    if "password" not in explicit:
        settings.password = password
    settings.cafile = normalize_path(cafile) if cafile else None
    if "history_file" not in explicit:
        settings.history_file = normalize_path(history_file) if history_file else None
    settings.plugin_specs = plugin_specs


_FACTORY_KEY = "supervisor.ctl_factory"


def _plugin_specs(parser: configparser.RawConfigParser, env: Mapping[str, str]) -> list[PluginSpec]:
    from .plugins import PluginSpec

    specs = []
    for section in parser.sections():
        if not section.startswith("ctlplugin:"):
            continue
        # A section that names no factory is a config error for stock too.
        if not parser.has_option(section, _FACTORY_KEY):
            raise CtlConfigError(f"section [{section}] does not specify a {_FACTORY_KEY}")
        options = {
            key: _expand(parser.get(section, key), env, f"{section}.{key}")
            for key in parser.options(section)
            if key != _FACTORY_KEY
        }
        factory = parser.get(section, _FACTORY_KEY)
        specs.append(PluginSpec(section.split(":", 1)[1], factory, options))
    return specs
