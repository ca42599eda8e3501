"""Read supervisord.conf into the frozen dataclasses of :mod:`.model`.

``load()`` accepts what Supervisor 4.3 accepts, with the same meaning:
the same sections and options, defaults, ``%(name)s`` expansions per
section, ``[include]`` handling and validation.  Errors are
:class:`~.model.ConfigError` naming the file, section, option and line.
"""

from __future__ import annotations

import glob
import os
import platform
import tempfile
from collections.abc import Mapping
from typing import Any, Callable, Optional, Union

from . import datatypes as dt
from . import dependencies, rpc_plugins
from .expand import env_names, replace_here
from .ini import IniDocument, read_text
from .model import (
    Config,
    ConfigError,
    HttpServerConfig,
    SupervisorctlConfig,
    SupervisordConfig,
)
from .programs import Context, groups_from
from .reader import Messages, SectionReader, option_error
from .search import config_search_paths, find_config_file

__all__ = [
    "load",
    "find_config_file",
    "config_search_paths",
    "read_ctl_config",
    "default_serverurl",
    "ConfigError",
]

MAIN_RPCINTERFACE = "supervisor.rpcinterface:make_main_rpcinterface"
RPCINTERFACE_KEY = "supervisor.rpcinterface_factory"


def load(
    path: str,
    *,
    overrides: Optional[dict] = None,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
) -> Config:
    """Parse the config at ``path``; ``overrides`` are command-line values for
    ``[supervisord]`` options (they win over the file); ``env`` supplies
    ``%(ENV_X)s`` (default: ``os.environ``); relative paths are relative to
    ``cwd`` (default: the current directory)."""
    token = dt.relative_to.set(cwd)
    doc = IniDocument()
    try:
        return _load(doc, path, overrides, env)
    finally:
        doc.close()
        dt.relative_to.reset(token)


def _load(doc: IniDocument, path: str, overrides: Optional[dict], env: Optional[Mapping[str, str]]) -> Config:
    path = dt.absolute_path(path)
    here = os.path.dirname(path)
    environ = os.environ if env is None else env
    env_vars = env_names(environ)
    messages = Messages()

    text = read_text(path)
    doc.read(path, text)
    # The daemon's view of [supervisorctl] is supervisorctl's: the main file
    # alone, so it is taken before the includes are read into the document.
    ctl = _ctl_for_daemon(doc, here, environ)
    included = _read_includes(doc, here, env_vars, messages)

    if not doc.has_section("supervisord"):
        raise ConfigError(f"config file {path!r} has no [supervisord] section")

    supervisord = _supervisord(doc, here, env_vars, overrides or {})
    # Later sections see the [supervisord] environment as ENV_* too.
    env_vars.update(env_names(dict(supervisord.environment)))

    rpcinterfaces = _rpcinterfaces(doc, env_vars, messages)
    ctx = Context(
        doc, here, platform.node(), env_vars, messages, supervisord.strip_ansi, supervisord.child_journal
    )
    groups = groups_from(ctx)
    dependencies.check_groups(groups, doc)
    servers = _http_servers(doc, here, env_vars)
    for section in doc.sections():
        if section.startswith("ctlplugin:"):
            messages.warn(f"[{section}]: supervisorctl plugins are unsupported, skipped")

    if isinstance(ctl, ConfigError):
        messages.warn(f"Ignoring the [supervisorctl] section: {ctl}")
        ctl = None
    return Config(
        path=path,
        here=here,
        supervisord=supervisord,
        http_servers=tuple(servers),
        supervisorctl=ctl,
        groups=tuple(groups),
        rpcinterfaces=tuple(rpcinterfaces),
        native_rpcinterfaces=rpc_plugins.native_rpcinterfaces(doc, env_vars),
        included_files=tuple(dict.fromkeys(included)),
        messages=messages.result(),
    )


def default_serverurl(config: Config) -> Optional[str]:
    """The SUPERVISOR_SERVER_URL children get when their serverurl is AUTO:
    the first unix server, else the first inet one, else None (stock rule)."""
    for server in config.http_servers:
        if server.family == "unix":
            return f"unix://{server.path}"
    for server in config.http_servers:
        if server.family == "inet":
            return f"http://{server.host or 'localhost'}:{server.port}"
    return None


def _read_includes(doc: IniDocument, here: str, env_vars: dict, messages: Messages) -> list[str]:
    if not doc.has_section("include"):
        return []
    replace_here(doc.parser, here)
    reader = SectionReader(
        doc, "include", {**env_vars, "here": here, "host_node_name": platform.node()}
    )
    # Read once, from the main file: an [include] in an included file is ignored.
    patterns = reader.required("files", "an [include] section needs a files= line").split()
    included = []
    for pattern in patterns:
        pattern = os.path.join(here, pattern)
        try:
            matches = glob.glob(pattern)
        except ValueError as exc:  # a NUL byte in the pattern
            raise reader.error("files", f"{pattern!r} is not a usable file pattern: {exc}") from None
        if not matches:
            messages.warn(f'No file matches via include "{pattern}"')
            continue
        for filename in sorted(matches):
            messages.info(f'Included extra file "{filename}" during parsing')
            try:
                text = read_text(filename)
            except ConfigError as exc:
                # Stock silently skips an include it cannot open.
                messages.warn(f"Skipped included file: {exc}")
                continue
            doc.read(filename, text)
            replace_here(doc.parser, os.path.abspath(os.path.dirname(filename)))
            included.append(filename)
    return included


def _supervisord(
    doc: IniDocument, here: str, env_vars: dict, overrides: Mapping[str, Any]
) -> SupervisordConfig:
    names = {**env_vars, "here": here}
    r = SectionReader(doc, "supervisord", names)
    values: dict[str, Any] = {
        "minfds": r.value("minfds", dt.rlimit, 1024),
        "minprocs": r.value("minprocs", dt.rlimit, 200),
        "directory": r.value("directory", dt.existing_directory, None),
        "user": r.text("user"),
        "umask": r.value("umask", dt.mode, 0o022),
        "logfile": r.value("logfile", dt.existing_dirpath, "supervisord.log"),
        "logfile_maxbytes": r.value("logfile_maxbytes", dt.byte_size, 50 * 1024 * 1024),
        "logfile_backups": r.value("logfile_backups", dt.integer, 10),
        "loglevel": r.value("loglevel", dt.logging_level, 20),
        "pidfile": r.value("pidfile", dt.existing_dirpath, "supervisord.pid"),
        "identifier": r.text("identifier", "supervisor"),
        "nodaemon": r.value("nodaemon", dt.boolean, False),
        "silent": r.value("silent", dt.boolean, False),
        "childlogdir": r.value("childlogdir", dt.existing_directory, tempfile.gettempdir()),
        "nocleanup": r.value("nocleanup", dt.boolean, False),
        "strip_ansi": r.value("strip_ansi", dt.boolean, False),
        "journal": r.value("journal", dt.boolean, False),
        "child_journal": r.value("child_journal", dt.boolean, False),
    }
    environment: dict[str, str] = {}
    env_text = r.text("environment")
    if env_text is not None:
        # Stock expands this value a second time, with host_node_name added.
        second = {**names, "host_node_name": platform.node()}
        environment = r.convert(
            "environment", dt.environment, r.expand("environment", env_text, second)
        )

    for key, value in overrides.items():
        if value is not None:
            values[key] = _override(key, value)

    user_from_cli = overrides.get("user") is not None
    uid = gid = None
    if values["user"] is not None:
        try:
            uid, gid = dt.user(values["user"])
        except ValueError as exc:
            if user_from_cli:
                raise ConfigError(f"bad value for command-line option 'user': {exc}") from None
            raise option_error(doc, "supervisord", "user", str(exc)) from None

    logfile = values["logfile"]
    if logfile != "syslog":
        logfile = dt.normalize_path(logfile)
    return SupervisordConfig(
        logfile=logfile,
        logfile_maxbytes=values["logfile_maxbytes"],
        logfile_backups=values["logfile_backups"],
        loglevel=values["loglevel"],
        pidfile=dt.normalize_path(values["pidfile"]),
        umask=values["umask"],
        nodaemon=bool(values["nodaemon"]),
        silent=bool(values["silent"]),
        minfds=values["minfds"],
        minprocs=values["minprocs"],
        nocleanup=bool(values["nocleanup"]),
        childlogdir=values["childlogdir"],
        user=values["user"],
        uid=uid,
        gid=gid,
        directory=values["directory"],
        strip_ansi=bool(values["strip_ansi"]),
        environment=tuple(environment.items()),
        identifier=values["identifier"],
        journal=bool(values["journal"]),
        child_journal=bool(values["child_journal"]),
    )


# Command-line overrides: how a string value is converted, and which
# already-converted Python types are taken as they are.
_OVERRIDES: dict[str, tuple[Callable[[str], Any], tuple[type, ...]]] = {
    "nodaemon": (dt.boolean, (bool, int)),
    "silent": (dt.boolean, (bool, int)),
    "nocleanup": (dt.boolean, (bool, int)),
    "strip_ansi": (dt.boolean, (bool, int)),
    "user": (str, ()),
    "umask": (dt.mode, (int,)),
    "directory": (dt.existing_directory, ()),
    "logfile": (dt.existing_dirpath, ()),
    "logfile_maxbytes": (dt.byte_size, (int,)),
    "logfile_backups": (dt.integer, (int,)),
    "loglevel": (dt.logging_level, (int,)),
    "pidfile": (dt.existing_dirpath, ()),
    "identifier": (str, ()),
    "childlogdir": (dt.existing_directory, ()),
    "minfds": (dt.rlimit, (int,)),
    "minprocs": (dt.rlimit, (int,)),
}


def _override(key: str, value: Any) -> Any:
    try:
        convert, accepted = _OVERRIDES[key]
    except KeyError:
        raise ConfigError(
            f"unknown [supervisord] option {key!r} given on the command line"
        ) from None
    if accepted and isinstance(value, accepted) and not isinstance(value, str):
        return value
    try:
        return convert(str(value))
    except ValueError as exc:
        raise ConfigError(f"bad value for command-line option {key!r}: {exc}") from None


def _rpcinterfaces(doc: IniDocument, env_vars: dict, messages: Messages) -> list[tuple[str, str]]:
    found = []
    for section in doc.sections():
        if not section.startswith("rpcinterface:"):
            continue
        name = section.split(":", 1)[1]
        factory = SectionReader(doc, section, env_vars).required(
            RPCINTERFACE_KEY, "an [rpcinterface:x] section needs a factory"
        )
        if factory.strip() == MAIN_RPCINTERFACE:
            found.append((name, factory.strip()))
        elif factory.strip() not in rpc_plugins.NATIVE_FACTORIES:
            messages.warn(rpc_plugins.not_served(section, factory))
    return found


def _auth(r: SectionReader) -> tuple[Optional[str], Optional[str]]:
    username, password = r.text("username"), r.text("password")
    if (username is None) != (password is None):
        given = "username" if username is not None else "password"
        raise r.error(given, "username and password must be given together (or neither)")
    return username, password


def _http_servers(doc: IniDocument, here: str, env_vars: dict) -> list[HttpServerConfig]:
    unix, inet = [], []
    for section in doc.sections():
        if section.startswith("unix_http_server"):
            r = SectionReader(doc, section, env_vars)
            sfile = SectionReader(doc, section, {**env_vars, "here": here}).required(
                "file", "a unix HTTP server needs a socket file"
            )
            if "\0" in sfile:
                raise r.error("file", f"{sfile!r} is not a usable path: it contains a NUL byte")
            username, password = _auth(r)
            chown = r.value("chown", dt.owner, (-1, -1))
            chmod = r.value("chmod", dt.mode, 0o700)
            unix.append(
                HttpServerConfig(
                    section=section,
                    family="unix",
                    path=dt.normalize_path(sfile.strip()),
                    chmod=chmod,
                    chown=chown,
                    username=username,
                    password=password,
                )
            )
        elif section.startswith("inet_http_server"):
            r = SectionReader(doc, section, env_vars)
            username, password = _auth(r)
            port = r.required("port", "an inet HTTP server needs a port (host:port)")
            host, number = r.convert("port", dt.inet_address, port)
            tls_files = SectionReader(doc, section, {**env_vars, "here": here})
            certfile, keyfile = tls_files.text("certfile"), tls_files.text("keyfile")
            if (certfile is None) != (keyfile is None):
                given = "certfile" if certfile is not None else "keyfile"
                raise r.error(given, "certfile and keyfile must be given together (or neither)")
            inet.append(
                HttpServerConfig(
                    section=section,
                    family="inet",
                    host=host,
                    port=number,
                    username=username,
                    password=password,
                    allowed_hosts=tuple((r.text("allowed_hosts") or "").replace(",", " ").lower().split()),
                    certfile=dt.normalize_path(certfile.strip()) if certfile else None,
                    keyfile=dt.normalize_path(keyfile.strip()) if keyfile else None,
                )
            )
    return unix + inet


def _ctl_for_daemon(
    doc: IniDocument, here: str, environ: Mapping[str, str]
) -> Union[SupervisorctlConfig, ConfigError, None]:
    # supervisord itself never reads [supervisorctl]; a problem there must not
    # stop the daemon, so the error is returned, to become a warning.
    try:
        return _ctl_from_doc(doc, here, environ)
    except ConfigError as exc:
        return exc


def _ctl_from_doc(
    doc: IniDocument, here: str, environ: Mapping[str, str]
) -> Optional[SupervisorctlConfig]:
    if not doc.has_section("supervisorctl"):
        return None
    env_vars = env_names(environ)
    with_here = SectionReader(doc, "supervisorctl", {**env_vars, "here": here})
    plain = SectionReader(doc, "supervisorctl", env_vars)
    defaults = SupervisorctlConfig()
    serverurl = with_here.text("serverurl", defaults.serverurl) or ""
    if serverurl.startswith("unix://"):
        serverurl = "unix://" + dt.normalize_path(serverurl[len("unix://") :])
    history_file = with_here.text("history_file")
    return SupervisorctlConfig(
        serverurl=serverurl,
        username=plain.text("username"),
        password=plain.text("password"),
        prompt=plain.text("prompt", defaults.prompt) or "",
        history_file=dt.normalize_path(history_file) if history_file else None,
    )


def read_ctl_config(
    path: str, *, env: Optional[Mapping[str, str]] = None
) -> Optional[SupervisorctlConfig]:
    """The ``[supervisorctl]`` section of ``path`` as supervisorctl reads it
    (no includes), or None when the file has no such section."""
    path = os.path.abspath(path)
    doc = IniDocument()
    doc.read(path, read_text(path))
    return _ctl_from_doc(doc, os.path.dirname(path), os.environ if env is None else env)
