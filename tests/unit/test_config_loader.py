"""The config loader: defaults, expansions, includes, groups, errors."""

from __future__ import annotations

import os
import platform
import pwd
import tempfile
import textwrap
from pathlib import Path

import pytest

from supervisor_ng.config.loader import (
    config_search_paths,
    default_serverurl,
    find_config_file,
    load,
    read_ctl_config,
)
from supervisor_ng.config.model import (
    AUTO,
    AutoRestart,
    ChannelLogConfig,
    ConfigError,
    GroupConfig,
    ProcessConfig,
    SupervisorctlConfig,
)

ENV = {"FOO": "foo", "HOME": os.path.expanduser("~")}
ME = pwd.getpwuid(os.getuid())


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def load_text(tmp_path: Path, text: str, **kwargs):
    path = write(tmp_path / "supervisord.conf", text)
    kwargs.setdefault("env", ENV)
    return load(str(path), **kwargs)


def error_of(tmp_path: Path, text: str, **kwargs) -> str:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text, **kwargs)
    return str(info.value)


def only_process(cfg, group: str | None = None) -> ProcessConfig:
    g = cfg.groups[0] if group is None else cfg.group(group)
    assert len(g.processes) == 1
    return g.processes[0]


# --- defaults -------------------------------------------------------------


def test_supervisord_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_text(tmp_path, "[supervisord]\n")
    sd = cfg.supervisord
    assert sd.logfile == str(tmp_path / "supervisord.log")
    assert sd.pidfile == str(tmp_path / "supervisord.pid")
    assert sd.logfile_maxbytes == 50 * 1024 * 1024
    assert sd.logfile_backups == 10
    assert sd.loglevel == 20
    assert sd.umask == 0o022
    assert (sd.nodaemon, sd.silent, sd.nocleanup, sd.strip_ansi) == (False, False, False, False)
    assert (sd.minfds, sd.minprocs) == (1024, 200)
    assert sd.childlogdir == tempfile.gettempdir()
    assert (sd.user, sd.uid, sd.gid, sd.directory) == (None, None, None, None)
    assert sd.environment == ()
    assert sd.identifier == "supervisor"
    assert cfg.path == str(tmp_path / "supervisord.conf")
    assert cfg.here == str(tmp_path)
    assert cfg.http_servers == () and cfg.groups == () and cfg.rpcinterfaces == ()
    assert cfg.supervisorctl is None
    assert cfg.messages == ()


def test_program_defaults(tmp_path):
    cfg = load_text(tmp_path, "[supervisord]\n[program:web]\ncommand=/bin/web\n")
    assert cfg.groups == (
        GroupConfig(
            name="web",
            kind="program",
            priority=999,
            processes=(
                ProcessConfig(
                    name="web",
                    group="web",
                    command="/bin/web",
                    section="program:web",
                ),
            ),
        ),
    )
    p = cfg.groups[0].processes[0]
    assert p.autorestart is AutoRestart.UNEXPECTED
    assert p.exitcodes == (0,) and p.stopsignal == 15 and p.serverurl is AUTO
    assert p.stdout == ChannelLogConfig() == p.stderr
    assert p.stdout.logfile is AUTO


def test_eventlistener_defaults(tmp_path):
    cfg = load_text(tmp_path, "[supervisord]\n[eventlistener:ev]\ncommand=ev\nevents=tick_5\n")
    g = cfg.group("ev")
    assert (g.kind, g.priority, g.buffer_size, g.events) == ("eventlistener", -1, 10, ("TICK_5",))
    assert g.result_handler == "supervisor.dispatchers:default_handler"
    assert g.processes[0].priority == 999  # the pool is -1, its processes keep 999 (stock)


def test_fcgi_defaults(tmp_path):
    cfg = load_text(
        tmp_path, "[supervisord]\n[fcgi-program:f]\ncommand=f\nsocket=unix:///tmp/f.sock\n"
    )
    sock = cfg.group("f").socket
    assert (sock.family, sock.path, sock.url) == ("unix", "/tmp/f.sock", "unix:///tmp/f.sock")
    assert (sock.backlog, sock.mode, sock.owner) == (0, 0o700, None)


def test_http_server_defaults(tmp_path):
    cfg = load_text(
        tmp_path,
        """
        [supervisord]
        [inet_http_server]
        port = 9001
        [unix_http_server]
        file = %(here)s/sv.sock
        """,
    )
    unix, inet = cfg.http_servers
    assert (unix.family, unix.path, unix.chmod, unix.chown) == (
        "unix",
        str(tmp_path / "sv.sock"),
        0o700,
        (-1, -1),
    )
    assert (unix.username, unix.password) == (None, None)
    assert (inet.family, inet.host, inet.port, inet.section) == (
        "inet",
        "",
        9001,
        "inet_http_server",
    )
    assert default_serverurl(cfg) == f"unix://{tmp_path}/sv.sock"


def test_default_serverurl_inet_and_none(tmp_path):
    cfg = load_text(tmp_path, "[supervisord]\n[inet_http_server]\nport=9001\n")
    assert default_serverurl(cfg) == "http://localhost:9001"
    cfg = load_text(tmp_path, "[supervisord]\n[inet_http_server]\nport=10.0.0.1:9\n")
    assert default_serverurl(cfg) == "http://10.0.0.1:9"
    assert default_serverurl(load_text(tmp_path, "[supervisord]\n")) is None


def test_supervisorctl_section_in_load(tmp_path):
    cfg = load_text(tmp_path, "[supervisord]\n[supervisorctl]\n")
    assert cfg.supervisorctl == SupervisorctlConfig()
    # supervisord never reads this section: a problem there is only a warning.
    cfg = load_text(tmp_path, "[supervisord]\n[supervisorctl]\nprompt=%(nope)s\n")
    assert cfg.supervisorctl is None
    assert "Ignoring the [supervisorctl] section" in cfg.messages[0].text


# --- every option set ------------------------------------------------------


def test_supervisord_logfile_directory_must_exist(tmp_path):
    message = error_of(tmp_path, "[supervisord]\nlogfile = %(here)s/logs/main.log\n")
    assert "option 'logfile' in section [supervisord]" in message
    assert "does not exist" in message


def test_supervisord_values(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_text(
        tmp_path,
        f"""
        [supervisord]
        logfile = %(here)s/main.log
        logfile_maxbytes = 1KB
        logfile_backups = 0
        loglevel = blather
        pidfile = run.pid
        umask = 077
        nodaemon = true
        silent = yes
        minfds = 10
        minprocs = 11
        nocleanup = on
        childlogdir = {tmp_path}
        user = {ME.pw_name}
        directory = {tmp_path}
        strip_ansi = 1
        environment = A=1,B="x,y",C=%(ENV_FOO)s
        identifier = id
        """,
    )
    sd = cfg.supervisord
    assert sd.logfile == str(tmp_path / "main.log")
    assert sd.pidfile == str(tmp_path / "run.pid")
    assert (sd.logfile_maxbytes, sd.logfile_backups, sd.loglevel, sd.umask) == (1024, 0, 3, 0o77)
    assert (sd.nodaemon, sd.silent, sd.nocleanup, sd.strip_ansi) == (True, True, True, True)
    assert (sd.minfds, sd.minprocs) == (10, 11)
    assert (sd.user, sd.uid, sd.gid) == (ME.pw_name, ME.pw_uid, ME.pw_gid)
    assert sd.directory == sd.childlogdir == str(tmp_path)
    assert sd.environment == (("A", "1"), ("B", "x,y"), ("C", "foo"))
    assert sd.identifier == "id"


def test_logfile_syslog_kept(tmp_path):
    assert load_text(tmp_path, "[supervisord]\nlogfile=syslog\n").supervisord.logfile == "syslog"


def test_program_values(tmp_path):
    cfg = load_text(
        tmp_path,
        f"""
        [supervisord]
        strip_ansi = true
        [program:p]
        command = run --flag
        priority = 3
        autostart = false
        startsecs = 0
        startretries = 9
        autorestart = false
        exitcodes = 1,2
        stopsignal = INT
        stopwaitsecs = 4
        stopasgroup = true
        user = {ME.pw_name}
        redirect_stderr = yes
        stdout_logfile = %(here)s/out.log
        stdout_logfile_maxbytes = 0
        stdout_logfile_backups = 1
        stdout_capture_maxbytes = 1MB
        stdout_events_enabled = true
        stderr_syslog = true
        environment = K=v,P="a b"
        directory = /somewhere/%(program_name)s
        umask = 002
        serverurl = unix:///tmp/x.sock
        """,
    )
    p = only_process(cfg)
    assert (p.priority, p.autostart, p.startsecs, p.startretries) == (3, False, 0, 9)
    assert (p.autorestart, p.exitcodes, p.stopsignal, p.stopwaitsecs) == (
        AutoRestart.NEVER,
        (1, 2),
        2,
        4,
    )
    assert (p.stopasgroup, p.killasgroup) == (True, True)
    assert (p.user, p.uid, p.gid) == (ME.pw_name, ME.pw_uid, ME.pw_gid)
    assert p.redirect_stderr is True
    assert p.stdout == ChannelLogConfig(str(tmp_path / "out.log"), 0, 1, 1024 * 1024, True, False)
    assert p.stderr.logfile is None and p.stderr.syslog is True
    assert p.environment == (("K", "v"), ("P", "a b"))
    assert p.directory == "/somewhere/p"  # not checked at parse time (stock)
    assert p.umask == 0o2
    assert p.serverurl == "unix:///tmp/x.sock"
    assert p.strip_ansi is True


# --- expansions per section -----------------------------------------------

NODE = platform.node()

# (section text before the option, option line, expected value or None for "rejected")
EXPANSION_CASES = [
    # [supervisord]: here and ENV_ only
    ("[supervisord]\n", "identifier=%(here)s", "{here}"),
    ("[supervisord]\n", "identifier=%(ENV_FOO)s", "foo"),
    ("[supervisord]\n", "identifier=%(host_node_name)s", None),
    ("[supervisord]\n", "identifier=%(program_name)s", None),
    ("[supervisord]\n", "identifier=100%%", "100%"),
    # [supervisord] environment: a second pass adds host_node_name
    ("[supervisord]\n", "environment=A=%%(host_node_name)s", NODE),
    ("[supervisord]\n", "environment=A=%(host_node_name)s", None),
    # program options read once per program
    ("[supervisord]\n[program:p]\ncommand=x\n", "user=%(program_name)s", None),
    ("[supervisord]\n[program:p]\ncommand=x\n", "startsecs=%(process_num)s", None),
    ("[supervisord]\n[program:p]\ncommand=x\n", "priority=%(program_name)s", None),
    ("[supervisord]\n[program:p]\ncommand=x\n", "startsecs=%(ENV_NUM)s", "7"),
    # per-process options
    ("[supervisord]\n[program:p]\n", "command=%(program_name)s", "p"),
    ("[supervisord]\n[program:p]\n", "command=%(group_name)s", "p"),
    ("[supervisord]\n[program:p]\n", "command=%(host_node_name)s", NODE),
    ("[supervisord]\n[program:p]\n", "command=%(process_num)02d/%(numprocs)d", "00/1"),
    ("[supervisord]\n[program:p]\n", "command=%(here)s", "{here}"),
    ("[supervisord]\n[program:p]\n", "command=%(ENV_FOO)s", "foo"),
    ("[supervisord]\n[program:p]\n", "command=%(ENV_NUM)s", "7"),
    ("[supervisord]\n[program:p]\nenvironment=OWN=o\n", "command=%(ENV_OWN)s", "o"),
    ("[supervisord]\n[program:p]\n", "command=%(nope)s", None),
    ("[supervisord]\n[program:p]\n", "command=%(program_name)d", None),
    ("[supervisord]\n[program:p]\n", "command=50%%", "50%"),
    ("[supervisord]\n[program:p]\n", "command=a %(ENV_FOO)", None),
]


@pytest.mark.parametrize("before, line, expected", EXPANSION_CASES)
def test_expansion(tmp_path, before, line, expected):
    text = (
        before.replace(
            "[supervisord]\n",
            "[supervisord]\n" if "environment" in line else "[supervisord]\nenvironment=NUM=7\n",
        )
        + line
        + "\n"
    )
    if "[program:p]" in before and "command=" not in text:
        text += "command=x\n"
    option = line.split("=", 1)[0]
    if expected is None:
        message = error_of(tmp_path, text)
        assert f"option {option!r}" in message
        return
    cfg = load_text(tmp_path, text)
    expected = expected.format(here=tmp_path)
    if "[program:p]" in before:
        value = getattr(only_process(cfg), option)
        assert str(value) == expected
    elif option == "environment":
        assert dict(cfg.supervisord.environment)["A"] == expected
    else:
        assert getattr(cfg.supervisord, option) == expected


def test_unknown_name_error_lists_available_names(tmp_path):
    message = error_of(tmp_path, "[supervisord]\n[program:p]\ncommand=%(nope)s\n")
    assert "%(nope)s" in message
    names = message.split("available names: ", 1)[1]
    assert names.startswith("group_name, here, host_node_name, numprocs, process_num, program_name")
    assert "ENV_FOO" in names


def test_process_num_format_and_numprocs(tmp_path):
    cfg = load_text(
        tmp_path,
        """
        [supervisord]
        [program:w]
        command = w --port=80%(process_num)02d
        process_name = %(program_name)s_%(process_num)d
        numprocs = 3
        numprocs_start = 9
        environment = N=%(process_num)s
        stdout_logfile = %(here)s/w-%(process_num)d.log
        """,
    )
    procs = cfg.group("w").processes
    # sorted by name, as stock sorts them
    assert [p.name for p in procs] == ["w_10", "w_11", "w_9"]
    assert [p.command for p in procs] == ["w --port=8010", "w --port=8011", "w --port=8009"]
    assert [p.process_num for p in procs] == [10, 11, 9]
    assert {p.numprocs for p in procs} == {3}
    assert [dict(p.environment)["N"] for p in procs] == ["10", "11", "9"]
    assert procs[0].stdout.logfile == str(tmp_path / "w-10.log")


def test_program_environment_is_fresh_per_process(tmp_path):
    cfg = load_text(
        tmp_path,
        """
        [supervisord]
        [program:w]
        command = w
        process_name = w%(process_num)d
        numprocs = 2
        environment = PATH="/x:%(ENV_PATH)s"
        """,
        env={"PATH": "/bin"},
    )
    assert [dict(p.environment)["PATH"] for p in cfg.group("w").processes] == ["/x:/bin"] * 2


def test_supervisord_environment_feeds_later_sections(tmp_path):
    cfg = load_text(
        tmp_path,
        """
        [supervisord]
        environment = SOCK=%(here)s/s.sock,USER_NAME=admin
        [unix_http_server]
        file = %(ENV_SOCK)s
        username = %(ENV_USER_NAME)s
        password = pw
        [program:p]
        command = %(ENV_USER_NAME)s
        """,
    )
    assert cfg.http_servers[0].path == str(tmp_path / "s.sock")
    assert cfg.http_servers[0].username == "admin"
    assert only_process(cfg).command == "admin"
    assert only_process(cfg).environment == ()  # merged at spawn, not here


def test_env_argument_is_used(tmp_path):
    cfg = load_text(
        tmp_path, "[supervisord]\nidentifier=%(ENV_ONLY_HERE)s\n", env={"ONLY_HERE": "y"}
    )
    assert cfg.supervisord.identifier == "y"


def test_fcgi_socket_expansions(tmp_path):
    cfg = load_text(
        tmp_path,
        "[supervisord]\n[fcgi-program:f]\ncommand=f\nsocket=unix://%(here)s/%(program_name)s-%(ENV_FOO)s.sock\n",
    )
    assert cfg.group("f").socket.path == str(tmp_path / "f-foo.sock")
    for name in ("process_num", "group_name", "host_node_name"):
        message = error_of(
            tmp_path, f"[supervisord]\n[fcgi-program:f]\ncommand=f\nsocket=unix:///%({name})s\n"
        )
        assert "option 'socket' in section [fcgi-program:f]" in message


def test_http_server_expansions(tmp_path):
    # only the unix socket file sees %(here)s
    message = error_of(tmp_path, "[supervisord]\n[inet_http_server]\nport=%(here)s\n")
    assert "option 'port' in section [inet_http_server]" in message
    cfg = load_text(
        tmp_path, "[supervisord]\n[inet_http_server]\nport=%(ENV_PORT)s\n", env={"PORT": "7"}
    )
    assert cfg.http_servers[0].port == 7


# --- double expansion and %(here)s with [include] --------------------------


def test_logfile_is_expanded_twice(tmp_path):
    cfg = load_text(tmp_path, "[supervisord]\n[program:p]\ncommand=p\nstdout_logfile=/tmp/a%%%%b\n")
    assert only_process(cfg).stdout.logfile == "/tmp/a%b"


def test_here_is_replaced_literally_when_include_exists(tmp_path):
    message = error_of(
        tmp_path, "[supervisord]\n[include]\nfiles=none\n[program:p]\ncommand=%%(here)s\n"
    )
    assert "option 'command' in section [program:p]" in message
    cfg = load_text(tmp_path, "[supervisord]\n[program:p]\ncommand=%%(here)s\n")
    assert only_process(cfg).command == "%(here)s"


# --- includes --------------------------------------------------------------


def test_includes(tmp_path):
    write(
        tmp_path / "conf.d" / "b.conf",
        "[program:b]\ncommand=%(here)s/b\n[include]\nfiles=../nested.conf\n",
    )
    write(
        tmp_path / "conf.d" / "a.conf",
        "[program:a]\ncommand=%(here)s/a\n[supervisord]\nidentifier=%(here)s\n",
    )
    write(tmp_path / "conf.d" / "skip.ini", "[program:skip]\ncommand=x\n")
    write(tmp_path / "nested.conf", "[program:nested]\ncommand=n\n")
    write(tmp_path / "other" / "z.ini", "[program:z]\ncommand=%(here)s/z\n")
    cfg = load_text(
        tmp_path,
        f"""
        [supervisord]
        [include]
        files = conf.d/*.conf none-*.conf {tmp_path}/other/*.ini
        [program:main]
        command = %(here)s/main
        """,
    )
    commands = {g.name: g.processes[0].command for g in cfg.groups}
    assert commands == {
        "a": f"{tmp_path}/conf.d/a",
        "b": f"{tmp_path}/conf.d/b",
        "main": f"{tmp_path}/main",
        "z": f"{tmp_path}/other/z",
    }
    assert cfg.supervisord.identifier == str(tmp_path / "conf.d")  # later file wins, own %(here)s
    assert cfg.included_files == (
        str(tmp_path / "conf.d" / "a.conf"),
        str(tmp_path / "conf.d" / "b.conf"),
        str(tmp_path / "other" / "z.ini"),
    )
    texts = [(m.level, m.text) for m in cfg.messages]
    assert texts == [
        (30, f'No file matches via include "{tmp_path}/none-*.conf"'),
        (20, f'Included extra file "{tmp_path}/conf.d/a.conf" during parsing'),
        (20, f'Included extra file "{tmp_path}/conf.d/b.conf" during parsing'),
        (20, f'Included extra file "{tmp_path}/other/z.ini" during parsing'),
    ]


def test_include_files_expansions(tmp_path):
    write(tmp_path / NODE / "x.conf", "[program:x]\ncommand=x\n")
    cfg = load_text(tmp_path, "[supervisord]\n[include]\nfiles=%(host_node_name)s/*.conf\n")
    assert cfg.group("x") is not None


def test_include_errors_name_the_included_file(tmp_path):
    inc = write(tmp_path / "inc" / "bad.conf", "[program:bad]\ncommand=x\n\nstartsecs=nope\n")
    message = error_of(tmp_path, "[supervisord]\n[include]\nfiles=inc/*.conf\n")
    assert message.startswith(
        f"bad value for option 'startsecs' in section [program:bad] (file: '{inc}', line 4)"
    )
    write(tmp_path / "inc" / "bad.conf", "[program:bad]\ncommand=x\njunk\n")
    message = error_of(tmp_path, "[supervisord]\n[include]\nfiles=inc/*.conf\n")
    assert f"'{inc}', line 3" in message


def test_include_requires_files(tmp_path):
    message = error_of(tmp_path, "[supervisord]\n[include]\nfile=x\n")
    assert "missing option 'files' in section [include]" in message


def test_unreadable_include_is_skipped_with_warning(tmp_path):
    (tmp_path / "conf.d" / "dir.conf").mkdir(parents=True)
    cfg = load_text(tmp_path, "[supervisord]\n[include]\nfiles=conf.d/*.conf\n")
    assert any("Skipped included file" in m.text for m in cfg.messages)


# --- groups ----------------------------------------------------------------


def test_group_membership_and_order(tmp_path):
    cfg = load_text(
        tmp_path,
        """
        [supervisord]
        [program:a]
        command = a %(group_name)s
        priority = 1
        [program:b]
        command = b %(group_name)s
        [fcgi-program:f]
        command = f
        socket = tcp://localhost:9000
        [group:g]
        programs = b,f
        priority = 5
        [group:h]
        programs = b
        [program:c]
        command = c
        priority = 5
        [eventlistener:e]
        command = e
        events = TICK_60
        """,
    )
    assert [(g.name, g.kind, g.priority) for g in cfg.groups] == [
        ("e", "eventlistener", -1),
        ("a", "program", 1),  # a program's group priority is the program's priority
        ("c", "program", 5),
        ("g", "group", 5),
        ("h", "group", 999),
    ]
    g = cfg.group("g")
    assert [p.name for p in g.processes] == ["b", "f"]
    assert [p.command for p in g.processes] == ["b g", "f"]
    assert g.socket is None  # a member fcgi-program runs without its socket (stock)
    assert [p.command for p in cfg.group("h").processes] == ["b h"]
    assert cfg.group("b") is None and cfg.group("f") is None


def test_group_errors(tmp_path):
    message = error_of(
        tmp_path, "[supervisord]\n[group:g]\nprograms=a,nope\n[program:a]\ncommand=a\n"
    )
    assert "option 'programs' in section [group:g]" in message and "'nope'" in message
    message = error_of(
        tmp_path,
        "[supervisord]\n[program:a]\ncommand=a\n[fcgi-program:a]\ncommand=a\nsocket=tcp://h:1\n"
        "[group:g]\nprograms=a\n",
    )
    assert "ambiguous" in message


def test_empty_group_is_allowed(tmp_path):
    cfg = load_text(tmp_path, "[supervisord]\n[group:g]\n")
    assert cfg.group("g").processes == ()


def test_duplicate_group_names_keep_first_in_start_order(tmp_path):
    cfg = load_text(
        tmp_path,
        "[supervisord]\n[program:x]\ncommand=p\n[eventlistener:x]\ncommand=e\nevents=TICK_5\n",
    )
    assert [g.kind for g in cfg.groups] == ["eventlistener"]
    assert "More than one section defines the process group 'x'" in cfg.messages[0].text


def test_duplicate_process_names_in_a_group(tmp_path):
    cfg = load_text(
        tmp_path,
        "[supervisord]\n[program:a]\ncommand=a\nprocess_name=same\n"
        "[program:b]\ncommand=b\nprocess_name=same\n[group:g]\nprograms=a,b\n",
    )
    assert [p.command for p in cfg.group("g").processes] == ["b"]
    assert "two processes named 'same'" in cfg.messages[0].text


# --- fcgi ------------------------------------------------------------------


def test_fcgi_sockets(tmp_path):
    cfg = load_text(
        tmp_path,
        f"""
        [supervisord]
        [fcgi-program:u]
        command = u
        socket = unix:///tmp/../tmp/u.sock
        socket_owner = {ME.pw_name}
        socket_mode = 0660
        socket_backlog = 5
        [fcgi-program:t]
        command = t
        socket = tcp://Example.COM:8000
        socket_backlog = 65535
        """,
    )
    u, t = cfg.group("u").socket, cfg.group("t").socket
    assert (u.url, u.path, u.owner, u.mode, u.backlog) == (
        "unix:///tmp/u.sock",
        "/tmp/u.sock",
        (ME.pw_uid, -1),
        0o660,
        5,
    )
    assert (t.url, t.family, t.host, t.port, t.backlog, t.owner, t.mode) == (
        "tcp://example.com:8000",
        "inet",
        "example.com",
        8000,
        65535,
        None,
        None,
    )


@pytest.mark.skipif(os.getuid() != 0, reason="owner default only differs from root")
def test_fcgi_socket_owner_defaults_to_program_user(tmp_path):
    cfg = load_text(
        tmp_path, "[supervisord]\n[fcgi-program:f]\ncommand=f\nuser=nobody\nsocket=unix:///tmp/f\n"
    )
    nobody = pwd.getpwnam("nobody")
    assert cfg.group("f").socket.owner == (nobody.pw_uid, nobody.pw_gid)


@pytest.mark.parametrize(
    "lines, option",
    [
        ("", "socket"),
        ("socket=unix://relative.sock", "socket"),
        ("socket=tcp://host", "socket"),
        ("socket=tcp://host:0", "socket"),
        ("socket=udp://host:1", "socket"),
        ("socket=tcp://h:1\nsocket_mode=0600", "socket_mode"),
        ("socket=tcp://h:1\nsocket_owner=root", "socket_owner"),
        ("socket=tcp://h:1\nsocket_backlog=0", "socket_backlog"),
        ("socket=tcp://h:1\nsocket_backlog=65536", "socket_backlog"),
        ("socket=unix:///tmp/x\nsocket_mode=9", "socket_mode"),
        ("socket=unix:///tmp/x\nsocket_owner=no-such-user-xyz", "socket_owner"),
    ],
)
def test_fcgi_errors(tmp_path, lines, option):
    message = error_of(tmp_path, f"[supervisord]\n[fcgi-program:f]\ncommand=f\n{lines}\n")
    assert f"option {option!r} in section [fcgi-program:f]" in message


# --- messages --------------------------------------------------------------


def test_parse_warnings(tmp_path):
    cfg = load_text(
        tmp_path,
        """
        [supervisord]
        [program:s]
        command = s
        stdout_logfile = syslog
        [program:r]
        command = r
        redirect_stderr = true
        stderr_logfile = /tmp/err.log
        [program:z]
        command = z
        stdout_logfile_maxbytes = 0
        [rpcinterface:supervisor]
        supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
        [rpcinterface:other]
        supervisor.rpcinterface_factory = thirdparty.rpc:make
        [ctlplugin:x]
        supervisor.ctl_factory = thirdparty.ctl:make
        """,
    )
    s = only_process(cfg, "s")
    assert (s.stdout.logfile, s.stdout.syslog) == (None, True)
    assert only_process(cfg, "r").stderr.logfile is None
    assert cfg.rpcinterfaces == (("supervisor", "supervisor.rpcinterface:make_main_rpcinterface"),)
    texts = [m.text for m in cfg.messages]
    assert all(m.level == 30 for m in cfg.messages)
    assert any("stdout_logfile=syslog but this is deprecated" in t for t in texts)
    assert any("[program:r], redirect_stderr=true but stderr_logfile" in t for t in texts)
    assert any(
        "[program:z], AUTO logging used for stdout_logfile without rollover" in t for t in texts
    )
    assert any("[rpcinterface:other]" in t and "unsupported, skipped" in t for t in texts)
    assert any("[ctlplugin:x]" in t and "unsupported, skipped" in t for t in texts)


# --- errors name file, section, option and line ----------------------------

ERROR_CASES = [
    # (config text, section, option or None, line)
    ("[supervisord]\nminfds=x\n", "supervisord", "minfds", 2),
    ("[supervisord]\numask=9\n", "supervisord", "umask", 2),
    ("[supervisord]\nlogfile_maxbytes=1K\n", "supervisord", "logfile_maxbytes", 2),
    ("[supervisord]\nnodaemon=perhaps\n", "supervisord", "nodaemon", 2),
    ("[supervisord]\nloglevel=loud\n", "supervisord", "loglevel", 2),
    ("[supervisord]\nuser=no-such-user-xyz\n", "supervisord", "user", 2),
    ("[supervisord]\nchildlogdir=/no/such/dir\n", "supervisord", "childlogdir", 2),
    ("[supervisord]\nenvironment=A\n", "supervisord", "environment", 2),
    ("[supervisord]\n[program:p]\ncommand=x\n\nstartsecs=abc\n", "program:p", "startsecs", 5),
    ("[supervisord]\n[program:p]\ncommand=x\nSTOPSIGNAL=BOGUS\n", "program:p", "stopsignal", 4),
    ("[supervisord]\n[program:p]\ncommand=x\nexitcodes=300\n", "program:p", "exitcodes", 4),
    ("[supervisord]\n[program:p]\ncommand=x\nautorestart=maybe\n", "program:p", "autorestart", 4),
    ("[supervisord]\n[program:p]\ncommand=x\nnumprocs=2\n", "program:p", "process_name", 2),
    ("[supervisord]\n[program:p]\ncommand=x\nprocess_name=a:b\n", "program:p", "process_name", 4),
    (
        "[supervisord]\n[program:p]\ncommand=x\nstopasgroup=true\nkillasgroup=false\n",
        "program:p",
        "killasgroup",
        5,
    ),
    ("[supervisord]\n[program:p]\ncommand=x\nuser=no-such-user-xyz\n", "program:p", "user", 4),
    (
        "[supervisord]\n[program:p]\ncommand=x\nstdout_logfile=/no/dir/x\n",
        "program:p",
        "stdout_logfile",
        4,
    ),
    ("[supervisord]\n[program:p]\ncommand=x\nenvironment=A=1 B=2\n", "program:p", "environment", 4),
    ("[supervisord]\n\n[program:p]\npriority=1\n", "program:p", "command", 3),
    ("[supervisord]\n[program:a b]\ncommand=x\n", "program:a b", None, 2),
    ("[supervisord]\n[eventlistener:e]\ncommand=x\n", "eventlistener:e", "events", 2),
    ("[supervisord]\n[eventlistener:e]\ncommand=x\nevents=NOPE\n", "eventlistener:e", "events", 4),
    (
        "[supervisord]\n[eventlistener:e]\ncommand=x\nevents=TICK_5\nredirect_stderr=true\n",
        "eventlistener:e",
        "redirect_stderr",
        5,
    ),
    (
        "[supervisord]\n[eventlistener:e]\ncommand=x\nevents=TICK_5\nbuffer_size=0\n",
        "eventlistener:e",
        "buffer_size",
        5,
    ),
    (
        "[supervisord]\n[eventlistener:e]\ncommand=x\nevents=TICK_5\nresult_handler=no.such:x\n",
        "eventlistener:e",
        "result_handler",
        5,
    ),
    ("[supervisord]\n[unix_http_server]\nchmod=0700\n", "unix_http_server", "file", 2),
    ("[supervisord]\n[unix_http_server]\nfile=/tmp/s\nchmod=x\n", "unix_http_server", "chmod", 4),
    (
        "[supervisord]\n[unix_http_server:b]\nfile=/tmp/s\nchown=no-such-user-xyz\n",
        "unix_http_server:b",
        "chown",
        4,
    ),
    (
        "[supervisord]\n[unix_http_server]\nfile=/tmp/s\npassword=p\n",
        "unix_http_server",
        "password",
        4,
    ),
    ("[supervisord]\n[inet_http_server]\nusername=u\npassword=p\n", "inet_http_server", "port", 2),
    ("[supervisord]\n[inet_http_server]\nport=host:x\n", "inet_http_server", "port", 3),
    ("[supervisord]\n[inet_http_server]\nport=1\nusername=u\n", "inet_http_server", "username", 4),
    (
        "[supervisord]\n[rpcinterface:x]\nk=v\n",
        "rpcinterface:x",
        "supervisor.rpcinterface_factory",
        2,
    ),
    (
        "[DEFAULT]\nstartsecs=x\n[supervisord]\n[program:p]\ncommand=c\n",
        "program:p",
        "startsecs",
        2,
    ),
]


@pytest.mark.parametrize("text, section, option, line", ERROR_CASES)
def test_error_names_file_section_option_line(tmp_path, text, section, option, line):
    message = error_of(tmp_path, text)
    path = tmp_path / "supervisord.conf"
    assert f"in section [{section}] (file: '{path}', line {line})" in message
    if option is not None:
        assert f"option {option!r}" in message
    assert not message.startswith("Error")


def test_error_message_format(tmp_path):
    message = error_of(tmp_path, "[supervisord]\n[program:web]\ncommand=x\nstartsecs=abc\n")
    path = tmp_path / "supervisord.conf"
    assert message == (
        f"bad value for option 'startsecs' in section [program:web] (file: '{path}', line 4): "
        "invalid literal for int() with base 10: 'abc'"
    )


def test_file_level_errors(tmp_path):
    missing = tmp_path / "missing.conf"
    with pytest.raises(ConfigError, match="could not find config file '.*missing.conf'"):
        load(str(missing))
    with pytest.raises(ConfigError, match="could not read config file"):
        load(str(tmp_path))  # a directory
    (tmp_path / "latin1.conf").write_bytes(b"[supervisord]\nidentifier=\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load(str(tmp_path / "latin1.conf"))
    message = error_of(tmp_path, "[program:p]\ncommand=x\n")
    assert "has no [supervisord] section" in message and "supervisord.conf" in message
    message = error_of(tmp_path, "command=x\n[supervisord]\n")
    assert message == (
        f"syntax error in file '{tmp_path / 'supervisord.conf'}', line 1: "
        "'command=x' comes before any [section] header"
    )
    message = error_of(tmp_path, "[supervisord]\n\njust words\n")
    assert "line 3: 'just words' is neither a [section] header" in message


# --- parser semantics ------------------------------------------------------


def test_parser_semantics(tmp_path):
    cfg = load_text(
        tmp_path,
        """
        # comment
        ; comment
        [supervisord]
        [program:p]
        Command = /bin/sh -c 'a;b' ; inline comment
          --more#not-a-comment
        priority: 3
        startsecs = 9
        [program:p]
        startsecs = 4 # later wins
        [DEFAULT]
        startretries = 8
        [weird section]
        anything = %(nope)s
        """,
    )
    p = only_process(cfg)
    assert p.command == "/bin/sh -c 'a;b'\n--more#not-a-comment"
    assert (p.priority, p.startsecs, p.startretries) == (3, 4, 8)


def test_section_names_are_case_sensitive(tmp_path):
    message = error_of(tmp_path, "[SUPERVISORD]\n")
    assert "has no [supervisord] section" in message


# --- command-line overrides -----------------------------------------------


def test_overrides_win_over_file(tmp_path):
    log = tmp_path / "cli.log"
    cfg = load_text(
        tmp_path,
        "[supervisord]\nnodaemon=false\nloglevel=info\nidentifier=file\nminfds=1\n",
        overrides={
            "nodaemon": True,
            "logfile": str(log),
            "loglevel": "debug",
            "identifier": "cli",
            "minfds": 4096,
            "minprocs": "300",
            "umask": "077",
            "user": ME.pw_name,
            "childlogdir": str(tmp_path),
            "pidfile": None,  # not given on the command line
        },
    )
    sd = cfg.supervisord
    assert (sd.nodaemon, sd.logfile, sd.loglevel, sd.identifier) == (True, str(log), 10, "cli")
    assert (sd.minfds, sd.minprocs, sd.umask, sd.uid) == (4096, 300, 0o77, ME.pw_uid)
    assert sd.childlogdir == str(tmp_path)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"user": "no-such-user-xyz"}, "command-line option 'user'"),
        ({"loglevel": "loud"}, "command-line option 'loglevel'"),
        ({"minfds": "many"}, "command-line option 'minfds'"),
        ({"childlogdir": "/no/such/dir"}, "command-line option 'childlogdir'"),
        ({"bogus": 1}, "unknown [supervisord] option 'bogus'"),
    ],
)
def test_override_errors(tmp_path, overrides, message):
    assert message in error_of(tmp_path, "[supervisord]\n", overrides=overrides)


def test_file_user_overridden_is_not_checked(tmp_path):
    cfg = load_text(
        tmp_path, "[supervisord]\nuser=no-such-user-xyz\n", overrides={"user": ME.pw_name}
    )
    assert cfg.supervisord.uid == ME.pw_uid


# --- config search and supervisorctl ---------------------------------------


def test_config_search_paths():
    assert config_search_paths("/opt/sv/bin/supervisord") == [
        "/opt/sv/etc/supervisord.conf",
        "/opt/sv/supervisord.conf",
        "supervisord.conf",
        "etc/supervisord.conf",
        "/etc/supervisord.conf",
        "/etc/supervisor/supervisord.conf",
    ]


def test_find_config_file(tmp_path):
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    argv0 = str(tmp_path / "venv" / "bin" / "supervisord")
    work = tmp_path / "work"
    write(work / "etc" / "supervisord.conf", "")
    # Each file below comes earlier in the search order than the last one.
    assert find_config_file(argv0, cwd=str(work)) == str(work / "etc" / "supervisord.conf")
    write(work / "supervisord.conf", "")
    assert find_config_file(argv0, cwd=str(work)) == str(work / "supervisord.conf")
    write(tmp_path / "venv" / "supervisord.conf", "")
    assert find_config_file(argv0, cwd=str(work)) == str(tmp_path / "venv" / "supervisord.conf")
    write(tmp_path / "venv" / "etc" / "supervisord.conf", "")
    assert find_config_file(argv0, cwd=str(work)) == str(
        tmp_path / "venv" / "etc" / "supervisord.conf"
    )


def test_read_ctl_config(tmp_path):
    path = write(
        tmp_path / "sv.conf",
        """
        [supervisorctl]
        serverurl = unix://%(here)s/run/../sv.sock
        username = %(ENV_FOO)s
        password = secret
        prompt = box
        history_file = %(here)s/hist
        [include]
        files = nothing
        """,
    )
    assert read_ctl_config(str(path), env=ENV) == SupervisorctlConfig(
        serverurl=f"unix://{tmp_path}/sv.sock",
        username="foo",
        password="secret",
        prompt="box",
        history_file=str(tmp_path / "hist"),
    )
    write(tmp_path / "none.conf", "[supervisord]\n")
    assert read_ctl_config(str(tmp_path / "none.conf")) is None
    write(tmp_path / "bad.conf", "[supervisorctl]\nprompt=%(here)s\n")
    with pytest.raises(ConfigError, match="option 'prompt' in section \\[supervisorctl\\]"):
        read_ctl_config(str(tmp_path / "bad.conf"))
    with pytest.raises(ConfigError, match="could not find"):
        read_ctl_config(str(tmp_path / "missing.conf"))


def test_relative_paths_are_resolved_against_the_directory_given(tmp_path, monkeypatch):
    """The daemon reads its config again on a worker thread, passing the
    directory its loop saw: the process's own may be borrowed by a spawn."""
    (tmp_path / "elsewhere" / "run").mkdir(parents=True)
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    text = "[supervisord]\nlogfile=sd.log\npidfile=run/sd.pid\n"
    assert load_text(tmp_path, text).supervisord.logfile == str(tmp_path / "elsewhere" / "sd.log")
    config = load_text(tmp_path, text, cwd=str(tmp_path))
    assert config.supervisord.logfile == str(tmp_path / "sd.log")
    assert config.supervisord.pidfile == str(tmp_path / "run" / "sd.pid")
    # Nothing stays behind for the next load.
    assert load_text(tmp_path, text).supervisord.logfile == str(tmp_path / "elsewhere" / "sd.log")


def test_a_load_leaves_nothing_for_the_cyclic_collector(tmp_path):
    """A reread of thousands of programs must not leave its parse to a full
    pass of the collector, which runs on the daemon's loop (configparser's
    section proxies are cycles of their own, broken by IniDocument.close)."""
    import gc

    programs = "".join(f"[program:p{i}]\ncommand=sleep 1\n" for i in range(500))
    path = write(tmp_path / "many.conf", "[supervisord]\n" + programs)
    gc.collect()
    gc.disable()
    try:
        assert len(load(str(path)).groups) == 500
        assert gc.collect() < 50
    finally:
        gc.enable()
