"""Process groups: ``[program:x]``, ``[group:x]``, ``[eventlistener:x]``,
``[fcgi-program:x]``.

Which ``%(name)s`` names an option sees follows stock exactly, because a
config that expands there must expand here (and fail where it fails):

* group-level options (the group ``priority``, listener ``events``,
  ``buffer_size``..., fcgi ``socket_*`` and ``user``): ``here`` and ``ENV_*``;
  ``socket`` adds ``program_name``;
* per-program options read once (``autostart``, ``startsecs``, ``user``,
  ``numprocs``...): also ``program_name``, ``group_name``, ``host_node_name``;
* per-process options (``command``, ``process_name``, ``directory``,
  ``*_logfile*``, ``*_syslog``, ``environment``): also ``process_num`` and
  ``numprocs``, and, except in ``environment`` itself, the program's own
  ``environment`` keys as ``ENV_*``.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass
from typing import Optional

from . import cgroup_limits, lifecycle
from . import datatypes as dt
from .expand import env_names
from .ini import IniDocument
from .model import (
    AUTO,
    AutoRestart,
    ChannelLogConfig,
    FcgiSocketConfig,
    GroupConfig,
    ProcessConfig,
)
from .reader import Messages, SectionReader, section_error

DEFAULT_RESULT_HANDLER = "supervisor.dispatchers:default_handler"
DEFAULT_MAXBYTES = 50 * 1024 * 1024
# Every process of a program is a record built at load time (also on a
# reread, inside the running daemon): a typo such as numprocs=30000000 would
# hang the daemon and eat its memory, so an absurd count is refused.
MAX_NUMPROCS = 100_000


@dataclass
class Context:
    doc: IniDocument
    here: str
    host_node_name: str
    env_vars: dict  # ENV_* names, including the [supervisord] environment
    messages: Messages
    strip_ansi: bool = False
    child_journal: bool = False  # [supervisord] child_journal: default of *_journal


def _section_name(ctx: Context, section: str) -> str:
    try:
        return dt.name(section.split(":", 1)[1])
    except ValueError as exc:
        raise section_error(ctx.doc, section, str(exc)) from None


def _group_reader(ctx: Context, section: str, **extra: object) -> SectionReader:
    return SectionReader(ctx.doc, section, {**ctx.env_vars, "here": ctx.here, **extra})


def groups_from(ctx: Context) -> list[GroupConfig]:
    sections = ctx.doc.sections()
    groups: list[GroupConfig] = []
    claimed: set[str] = set()

    for section in sections:
        if section.startswith("group:"):
            groups.append(_heterogeneous_group(ctx, section, sections, claimed))
    for section in sections:
        if section.startswith("program:") and section not in claimed:
            name = _section_name(ctx, section)
            priority = _group_reader(ctx, section).value("priority", dt.integer, 999)
            processes = _unique_processes(ctx, name, _processes(ctx, section, name))
            groups.append(GroupConfig(name, "program", priority, processes))
    for section in sections:
        if section.startswith("eventlistener:"):
            groups.append(_listener_pool(ctx, section))
    for section in sections:
        if section.startswith("fcgi-program:") and section not in claimed:
            groups.append(_fcgi_group(ctx, section))

    groups.sort(key=lambda g: (g.priority, g.name))
    return _unique_groups(ctx, groups)


def _unique_groups(ctx: Context, groups: list[GroupConfig]) -> list[GroupConfig]:
    # Stock keeps the first group of a name (in start order) and silently
    # ignores the others; we keep that and say so.
    seen: set[str] = set()
    result = []
    for group in groups:
        if group.name in seen:
            ctx.messages.warn(
                f"More than one section defines the process group {group.name!r}; "
                f"the [{group.kind}:{group.name}] one is ignored"
            )
            continue
        seen.add(group.name)
        result.append(group)
    return result


def _heterogeneous_group(
    ctx: Context, section: str, sections: list[str], claimed: set[str]
) -> GroupConfig:
    name = _section_name(ctx, section)
    reader = _group_reader(ctx, section)
    members = dt.list_of_strings(reader.text("programs"))
    priority = reader.value("priority", dt.integer, 999)
    processes: list[ProcessConfig] = []
    for member in members:
        program, fcgi = f"program:{member}", f"fcgi-program:{member}"
        if program not in sections and fcgi not in sections:
            raise reader.error(
                "programs", f"{member!r} is not a [program:x] or [fcgi-program:x] section"
            )
        if program in sections and fcgi in sections:
            raise reader.error(
                "programs",
                f"{member!r} is ambiguous: both [{program}] and [{fcgi}] exist",
            )
        member_section = program if program in sections else fcgi
        claimed.add(member_section)
        # Stock runs a member fcgi-program as a plain program: no socket.
        processes.extend(_processes(ctx, member_section, name))
    return GroupConfig(name, "group", priority, _unique_processes(ctx, name, processes))


def _unique_processes(
    ctx: Context, group: str, processes: list[ProcessConfig]
) -> tuple[ProcessConfig, ...]:
    # Stock keys a group's processes by name, so a later one replaces an
    # earlier one of the same name.
    by_name: dict[str, ProcessConfig] = {}
    for proc in processes:
        if proc.name in by_name:
            ctx.messages.warn(
                f"Process group {group!r} has two processes named {proc.name!r} "
                f"(from [{by_name[proc.name].section}] and [{proc.section}]); the later one is used"
            )
        by_name[proc.name] = proc
    return tuple(p for p in processes if by_name[p.name] is p)


def program_processes(ctx: Context, section: str, group_name: str) -> tuple[ProcessConfig, ...]:
    """The processes one ``[program:x]`` section makes in ``group_name``, as
    the file would (also for programs added at run time)."""
    return _unique_processes(ctx, group_name, _processes(ctx, section, group_name))


def _listener_pool(ctx: Context, section: str) -> GroupConfig:
    name = _section_name(ctx, section)
    reader = _group_reader(ctx, section)
    priority = reader.value("priority", dt.integer, -1)
    buffer_size = reader.value("buffer_size", dt.integer, 10)
    if buffer_size < 1:
        raise reader.error("buffer_size", f"must be at least 1, not {buffer_size}")
    result_handler = reader.text("result_handler") or DEFAULT_RESULT_HANDLER
    if result_handler != DEFAULT_RESULT_HANDLER and not _importable(result_handler):
        raise reader.error("result_handler", f"{result_handler!r} cannot be imported")
    events_text = reader.text("events")
    if not dt.list_of_strings(events_text):
        raise reader.error("events", "an event listener needs a list of event types")
    events = reader.convert("events", dt.event_names, events_text or "")
    if reader.value("redirect_stderr", dt.boolean, False):
        raise reader.error(
            "redirect_stderr",
            "an event listener cannot redirect stderr: its stdout carries the listener protocol",
        )
    processes = _processes(ctx, section, name)
    return GroupConfig(
        name,
        "eventlistener",
        priority,
        _unique_processes(ctx, name, processes),
        buffer_size=buffer_size,
        events=events,
        result_handler=result_handler,
    )


def _importable(spec: str) -> bool:
    module_name, _, attrs = spec.strip().partition(":")
    try:
        obj = importlib.import_module(module_name.strip())
        for attr in filter(None, attrs.strip().split(".")):
            obj = getattr(obj, attr)
    except Exception:
        return False
    return True


_TCP_SOCKET = re.compile(r"tcp://([^\s:]+):(\d+)$")


def _fcgi_group(ctx: Context, section: str) -> GroupConfig:
    name = _section_name(ctx, section)
    reader = _group_reader(ctx, section)
    priority = reader.value("priority", dt.integer, 999)
    user_name = reader.text("user")
    proc_uid = reader.convert("user", dt.name_to_uid, user_name) if user_name is not None else None
    backlog = reader.value("socket_backlog", dt.integer, None)
    if backlog is not None and not 1 <= backlog <= 65535:
        raise reader.error("socket_backlog", f"{backlog} is outside 1..65535")
    owner = reader.value("socket_owner", dt.owner, None)
    mode = reader.value("socket_mode", dt.mode, None)
    url = _group_reader(ctx, section, program_name=name).text("socket")
    if not url:
        raise reader.error(
            "socket", "an fcgi-program needs a socket (unix:///path or tcp://host:port)"
        )
    socket = _fcgi_socket(reader, url, proc_uid, owner, mode, backlog)
    processes = _processes(ctx, section, name)
    return GroupConfig(
        name, "fcgi-program", priority, _unique_processes(ctx, name, processes), socket=socket
    )


def _fcgi_socket(
    reader: SectionReader,
    url: str,
    proc_uid: Optional[int],
    owner: Optional[tuple[int, int]],
    mode: Optional[int],
    backlog: Optional[int],
) -> FcgiSocketConfig:
    if url.startswith("unix://"):
        path = url[len("unix://") :]
        if not os.path.isabs(path):
            raise reader.error("socket", f"the unix socket path {path!r} is not absolute")
        if "\0" in path:
            raise reader.error("socket", f"the unix socket path {path!r} contains a NUL byte")
        path = dt.normalize_path(path)
        if owner is None and proc_uid is not None and proc_uid != os.getuid():
            owner = (proc_uid, dt.gid_for_uid(proc_uid))
        return FcgiSocketConfig(
            url="unix://" + path,
            family="unix",
            path=path,
            backlog=backlog or 0,
            owner=owner,
            mode=0o700 if mode is None else mode,
        )
    if owner is not None or mode is not None:
        raise reader.error(
            "socket_owner" if owner is not None else "socket_mode",
            "socket_owner and socket_mode only apply to a unix socket (unix:///path)",
        )
    match = _TCP_SOCKET.match(url)
    if not match:
        raise reader.error("socket", f"{url!r} is neither unix:///path nor tcp://host:port")
    host = match.group(1).lower()
    port = reader.convert("socket", dt.port_number, match.group(2))
    return FcgiSocketConfig(
        url=f"tcp://{host}:{port}", family="inet", host=host, port=port, backlog=backlog or 0
    )


def _processes(ctx: Context, section: str, group_name: str) -> list[ProcessConfig]:
    """The processes of one program-like section, sorted by name as stock does."""
    program_name = _section_name(ctx, section)
    common = {
        **ctx.env_vars,
        "here": ctx.here,
        "program_name": program_name,
        "host_node_name": ctx.host_node_name,
        "group_name": group_name,
    }
    r = SectionReader(ctx.doc, section, common)

    priority = r.value("priority", dt.integer, 999)
    autostart = r.value("autostart", dt.boolean, True)
    autorestart = r.value("autorestart", dt.autorestart, AutoRestart.UNEXPECTED)
    startsecs = r.value("startsecs", dt.seconds, 1)
    startretries = r.value("startretries", dt.integer, 3)
    stopsignal = r.value("stopsignal", dt.signal_number, 15)
    stopwaitsecs = r.value("stopwaitsecs", dt.seconds, 10)
    stopasgroup = r.value("stopasgroup", dt.boolean, False)
    killasgroup = r.value("killasgroup", dt.boolean, stopasgroup)
    stopleftovers = r.value("stopleftovers", dt.boolean, True)
    limits = cgroup_limits.read(r)  # issue 17
    exitcodes = r.value("exitcodes", dt.exitcodes, (0,))
    redirect_stderr = r.value("redirect_stderr", dt.boolean, False)
    numprocs = r.value("numprocs", dt.integer, 1)
    numprocs_start = r.value("numprocs_start", dt.integer, 0)
    environment_template = r.raw("environment") or ""
    capture = {
        ch: r.value(f"{ch}_capture_maxbytes", dt.byte_size, 0) for ch in ("stdout", "stderr")
    }
    events_enabled = {
        ch: r.value(f"{ch}_events_enabled", dt.boolean, False) for ch in ("stdout", "stderr")
    }
    serverurl_text = r.text("serverurl")
    serverurl = AUTO
    if serverurl_text is not None and serverurl_text.strip().upper() != "AUTO":
        serverurl = serverurl_text
    user = r.text("user")
    uid = gid = None
    if user is not None:
        uid, gid = r.convert("user", dt.user, user)
    umask = r.value("umask", dt.mode, None)
    name_template = r.convert("process_name", dt.name, r.raw("process_name") or "%(program_name)s")
    program_lifecycle = lifecycle.program_options(r)

    if numprocs > MAX_NUMPROCS:
        raise r.error("numprocs", f"{numprocs} is more than the {MAX_NUMPROCS} processes one program may have")
    if numprocs > 1 and "%(process_num)" not in name_template:
        raise r.error(
            "process_name", "with numprocs > 1 the process name must contain %(process_num)"
        )
    if stopasgroup and not killasgroup:
        raise r.error("killasgroup", "cannot be false when stopasgroup is true")

    processes = []
    for process_num in range(numprocs_start, numprocs_start + numprocs):
        names = {**common, "process_num": process_num, "numprocs": numprocs}
        environment = r.convert(
            "environment", dt.environment, r.expand("environment", environment_template, names)
        )
        names.update(env_names(environment))
        directory = r.text("directory", names=names)
        stdout = _channel(ctx, r, "stdout", names, capture, events_enabled)
        stderr = _channel(ctx, r, "stderr", names, capture, events_enabled)
        if redirect_stderr:
            if stderr.logfile not in (AUTO, None):
                ctx.messages.warn(
                    f"For [{section}], redirect_stderr=true but stderr_logfile has also been "
                    "set to a filename, the filename has been ignored"
                )
            stderr = ChannelLogConfig(
                None,
                stderr.maxbytes,
                stderr.backups,
                stderr.capture_maxbytes,
                stderr.events_enabled,
                stderr.syslog,
            )
        command = r.required("command", "a program needs a command", names=names)
        lifecycle_options = lifecycle.process_options(r, names, program_lifecycle)
        processes.append(
            ProcessConfig(
                name=r.expand("process_name", name_template, names),
                group=group_name,
                command=command,
                priority=priority,
                autostart=autostart,
                startsecs=startsecs,
                startretries=startretries,
                autorestart=autorestart,
                exitcodes=exitcodes,
                stopsignal=stopsignal,
                stopwaitsecs=stopwaitsecs,
                stopasgroup=stopasgroup,
                killasgroup=killasgroup,
                stopleftovers=stopleftovers,
                cgroup_limits=limits,
                user=user,
                uid=uid,
                gid=gid,
                redirect_stderr=redirect_stderr,
                stdout=stdout,
                stderr=stderr,
                environment=tuple(environment.items()),
                directory=directory,
                umask=umask,
                serverurl=serverurl,
                strip_ansi=ctx.strip_ansi,
                section=section,
                numprocs=numprocs,
                process_num=process_num,
                **lifecycle_options,
            )
        )
    processes.sort(key=lambda p: (p.priority, p.name))
    return processes


def _channel(
    ctx: Context,
    r: SectionReader,
    channel: str,
    names: dict,
    capture: dict,
    events_enabled: dict,
) -> ChannelLogConfig:
    key = f"{channel}_logfile"
    text = r.text(key, names=names)
    logfile: object = AUTO
    if text is not None:
        # Stock expands this value twice; "%%" therefore has to be "%%%%".
        logfile = r.convert(key, dt.logfile, r.expand(key, text, names))
    backups = r.value(f"{key}_backups", dt.integer, 10, names=names)
    maxbytes = r.value(f"{key}_maxbytes", dt.byte_size, DEFAULT_MAXBYTES, names=names)
    syslog = r.value(f"{channel}_syslog", dt.boolean, False, names=names)
    journal = r.value(f"{channel}_journal", dt.boolean, ctx.child_journal, names=names)
    if logfile is dt.Syslog.SYSLOG:
        ctx.messages.warn(
            f"For [{r.section}], {key}=syslog but this is deprecated and will be removed.  "
            f"Use {channel}_syslog=true to enable syslog instead."
        )
        logfile, syslog = None, True
    if journal and logfile is AUTO:
        # The journal is then where this output is kept by default: an AUTO
        # file next to it would double the disk use (and, with the daemon
        # reading the pipe for the file, keep the daemon in the byte path).
        # A path given explicitly still gets its file.
        logfile = None
    if logfile is AUTO and not maxbytes:
        ctx.messages.warn(
            f"For [{r.section}], AUTO logging used for {key} without rollover, set maxbytes > 0 "
            "to avoid filling up filesystem unintentionally"
        )
    return ChannelLogConfig(
        logfile=logfile,  # type: ignore[arg-type]
        maxbytes=maxbytes,
        backups=backups,
        capture_maxbytes=capture[channel],
        events_enabled=events_enabled[channel],
        syslog=syslog,
        journal=bool(journal),
    )
