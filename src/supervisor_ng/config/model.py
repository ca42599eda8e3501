"""The parsed configuration: frozen dataclasses, nothing here reads files.

Everything the daemon knows about its configuration comes out of
:func:`supervisor_ng.config.loader.load` as these objects.  They are frozen and
compare by value, so "did this group change on reread?" is plain ``==``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Optional

from ..dataclass_slots import SLOTS
from .cgroup_limits import CgroupLimits


class Auto(enum.Enum):
    """Marker for values the daemon chooses itself (AUTO log files, serverurl)."""

    AUTO = "auto"

    def __repr__(self) -> str:
        return "AUTO"


AUTO = Auto.AUTO


class AutoRestart(enum.Enum):
    NEVER = "false"
    UNEXPECTED = "unexpected"
    ALWAYS = "true"


# The one table of log levels: name, stock number, the four-letter tag
# written in each line, and the syslog/journal priority (RFC 5424 numbers).
_LEVEL_TABLE = (
    ("critical", 50, "CRIT", 2),
    ("error", 40, "ERRO", 3),
    ("warn", 30, "WARN", 4),
    ("info", 20, "INFO", 6),
    ("debug", 10, "DEBG", 7),
    ("trace", 5, "TRAC", 7),
    ("blather", 3, "BLAT", 7),
)
LOG_LEVELS = {name: number for name, number, _tag, _prio in _LEVEL_TABLE}
LEVEL_TAGS = {number: tag for _name, number, tag, _prio in _LEVEL_TABLE}
LEVEL_PRIORITIES = {number: prio for _name, number, _tag, prio in _LEVEL_TABLE}
LOG_LEVEL_NAMES = f"{', '.join(list(LOG_LEVELS)[:-1])} or {list(LOG_LEVELS)[-1]}"  # for help texts


@dataclass(frozen=True)
class ChannelLogConfig:
    """How one output channel (stdout or stderr) of a process is logged.

    ``logfile`` is a path, ``AUTO`` (a generated file in childlogdir) or None
    (discard).
    """

    logfile: str | Auto | None = AUTO
    maxbytes: int = 50 * 1024 * 1024
    backups: int = 10
    capture_maxbytes: int = 0
    events_enabled: bool = False
    syslog: bool = False
    journal: bool = False  # supervisor-ng: each line to the systemd journal too


@dataclass(frozen=True)
class Probe:
    """A readiness or health check: ``tcp:[HOST:]PORT``, ``http://HOST:PORT/PATH``
    or ``exec:COMMAND``."""

    kind: str  # "tcp" | "http" | "exec"
    text: str  # as written (after expansion), for messages: "tcp:127.0.0.1:5432"
    host: str = ""  # tcp/http
    port: int = 0  # tcp/http
    path: str = "/"  # http: path + query
    command: str = ""  # exec: shlex-split when run, resolved like `command`


@dataclass(frozen=True, **SLOTS)
class ProcessConfig:
    """One process: a ``[program:x]`` with numprocs=3 yields three of these."""

    name: str
    group: str
    command: str
    priority: int = 999
    autostart: bool = True
    startsecs: int = 1
    startretries: int = 3
    autorestart: AutoRestart = AutoRestart.UNEXPECTED
    exitcodes: tuple[int, ...] = (0,)
    stopsignal: int = 15
    stopwaitsecs: int = 10
    stopasgroup: bool = False
    killasgroup: bool = False
    # supervisor-ng: descendants left after the main process exits get the stop
    # signal, then SIGKILL at stopwaitsecs; False leaves them alone (stock).
    stopleftovers: bool = True
    # supervisor-ng (issue 17): limits of the program's cgroup, systemd's units.
    cgroup_limits: CgroupLimits = field(default_factory=CgroupLimits)
    user: Optional[str] = None
    uid: Optional[int] = None  # resolved from user; None = don't switch
    gid: Optional[int] = None
    redirect_stderr: bool = False
    stdout: ChannelLogConfig = field(default_factory=ChannelLogConfig)
    stderr: ChannelLogConfig = field(default_factory=ChannelLogConfig)
    # Program environment= only ([supervisord] environment is merged at spawn).
    environment: tuple[tuple[str, str], ...] = ()
    directory: Optional[str] = None
    umask: Optional[int] = None
    serverurl: str | Auto | None = AUTO
    strip_ansi: bool = False  # copied from [supervisord] strip_ansi
    # The section the process came from, for messages: "program:x".
    section: str = ""
    numprocs: int = 1
    process_num: int = 0
    # supervisor-ng (issue 15; stock ignores these options).  The defaults are
    # stock behaviour: RUNNING after startsecs, no dependencies, no liveness
    # checks, linear unbounded backoff, FATAL for good.
    ready: str = "startsecs"  # "startsecs" | "notify" | "probe"
    ready_probe: Optional[Probe] = None  # set when ready == "probe"
    ready_timeout: float = 90.0  # only used when ready != "startsecs"
    depends_on: tuple[str, ...] = ()  # names as written: program, group or group:process
    watchdog_secs: float = 0.0  # 0 = off; only with ready == "notify"
    healthcheck: Optional[Probe] = None
    healthcheck_interval: float = 30.0
    healthcheck_timeout: float = 5.0
    healthcheck_retries: int = 3
    backoff: str = "linear"  # "linear" | "exponential"
    backoff_max: float = 0.0  # 0 = no cap
    fatal_retry_secs: float = 0.0  # 0 = FATAL stays FATAL


@dataclass(frozen=True)
class FcgiSocketConfig:
    """The listening socket of an ``[fcgi-program:x]``, given to children as fd 0."""

    url: str  # as written, expanded: unix:///path or tcp://host:port
    family: str  # "unix" | "inet"
    path: Optional[str] = None
    host: Optional[str] = None
    port: Optional[int] = None
    backlog: int = 0  # 0 = socket.SOMAXCONN
    owner: Optional[tuple[int, int]] = None  # (uid, gid)
    mode: Optional[int] = None  # unix only


@dataclass(frozen=True, **SLOTS)
class GroupConfig:
    """A process group: a ``[program:x]`` (homogeneous), ``[group:x]``,
    ``[fcgi-program:x]`` or ``[eventlistener:x]`` pool."""

    name: str
    kind: str  # "program" | "group" | "fcgi-program" | "eventlistener"
    priority: int
    processes: tuple[ProcessConfig, ...]
    socket: Optional[FcgiSocketConfig] = None
    # Event listener pools only.
    buffer_size: int = 10
    events: tuple[str, ...] = ()
    result_handler: str = "supervisor.dispatchers:default_handler"


@dataclass(frozen=True)
class HttpServerConfig:
    """A ``[unix_http_server]`` (family "unix") or ``[inet_http_server]`` (family "inet")."""

    section: str  # "unix_http_server", "unix_http_server:name", "inet_http_server"
    family: str  # "unix" | "inet"
    path: Optional[str] = None  # unix
    chmod: int = 0o700  # unix
    chown: tuple[int, int] = (-1, -1)  # unix
    host: str = ""  # inet; "" = all addresses
    port: int = 0  # inet
    username: Optional[str] = None
    password: Optional[str] = None  # plain, "{SHA}<hex sha1>" or "{SCRYPT}..." (http/auth.py)
    # supervisor-ng only, [inet_http_server] (stock ignores them): extra Host
    # names a listener without credentials answers (DNS rebinding defence),
    # and TLS for the listener.
    allowed_hosts: tuple[str, ...] = ()
    certfile: Optional[str] = None
    keyfile: Optional[str] = None


@dataclass(frozen=True)
class SupervisordConfig:
    """The ``[supervisord]`` section (command-line flags already applied)."""

    logfile: Optional[str] = None  # path, "syslog", or None for no file
    logfile_maxbytes: int = 50 * 1024 * 1024
    logfile_backups: int = 10
    loglevel: int = 20
    pidfile: Optional[str] = None
    umask: int = 0o022
    nodaemon: bool = False
    silent: bool = False
    minfds: int = 1024
    minprocs: int = 200
    nocleanup: bool = False
    childlogdir: str = "/tmp"
    user: Optional[str] = None
    uid: Optional[int] = None
    gid: Optional[int] = None
    directory: Optional[str] = None
    strip_ansi: bool = False
    environment: tuple[tuple[str, str], ...] = ()
    identifier: str = "supervisor"
    # supervisor-ng only (stock ignores unknown keys): the daemon's log to the
    # journal, and the default of every program's stdout/stderr_journal.
    journal: bool = False
    child_journal: bool = False


@dataclass(frozen=True)
class SupervisorctlConfig:
    serverurl: str = "http://localhost:9001"
    username: Optional[str] = None
    password: Optional[str] = None
    prompt: str = "supervisor"
    history_file: Optional[str] = None


@dataclass(frozen=True)
class ParseMessage:
    """Something the parser wants in the daemon's log once it is open."""

    level: int  # a LOG_LEVELS value
    text: str


@dataclass(frozen=True)
class Config:
    path: str  # the main config file, absolute
    here: str  # its directory
    supervisord: SupervisordConfig
    http_servers: tuple[HttpServerConfig, ...] = ()  # unix ones first, then inet
    supervisorctl: Optional[SupervisorctlConfig] = None
    # Sorted by (priority, name): the order groups start in.
    groups: tuple[GroupConfig, ...] = ()
    # rpcinterface sections: name -> factory spec; the stock factory is the built-in API.
    rpcinterfaces: tuple[tuple[str, str], ...] = ()
    # Third-party plugin sections served natively (config/rpc_plugins.py):
    # (section name, factory, the section's other options).
    native_rpcinterfaces: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()
    included_files: tuple[str, ...] = ()
    messages: tuple[ParseMessage, ...] = ()

    def group(self, name: str) -> Optional[GroupConfig]:
        for g in self.groups:
            if g.name == name:
                return g
        return None


class ConfigError(Exception):
    """A config the daemon refuses.  ``str(err)`` is the whole message, naming
    the file, the section and the option (and the line where known)."""
