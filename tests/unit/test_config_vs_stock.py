"""Our loader against the stock Supervisor 4.3 parser, config by config.

The stock package lives in its own virtualenv (.venv-stock); a small script
run with that interpreter parses each sample config the stock way and prints
the values as JSON.  Ours is reduced to the same shape and compared: same
values, same warnings, and the same configs rejected.
"""

from __future__ import annotations

import enum
import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from supervisor_ng.config.loader import load
from supervisor_ng.config.model import AUTO, ConfigError

STOCK_PYTHON = Path(__file__).resolve().parents[2] / ".venv-stock" / "bin" / "python"

pytestmark = pytest.mark.skipif(not STOCK_PYTHON.exists(), reason="stock supervisor venv missing")

# Runs under the stock interpreter: parse each config with stock's
# ServerOptions (as `supervisord -c path [args]` would, minus starting) and
# print one JSON document per config.
STOCK_SCRIPT = r"""
import json, sys
from supervisor.options import ServerOptions
from supervisor.datatypes import Automatic, RestartUnconditionally, RestartWhenExitUnexpected
from supervisor.events import getEventNameByType

class Usage(Exception):
    pass

def raise_usage(msg):
    raise Usage(msg)

def logfile(v):
    return "AUTO" if v is Automatic else v

def restart(v):
    if v is RestartUnconditionally:
        return "true"
    if v is RestartWhenExitUnexpected:
        return "unexpected"
    return "false"

def channel(p, ch):
    return {
        "logfile": logfile(getattr(p, ch + "_logfile")),
        "maxbytes": getattr(p, ch + "_logfile_maxbytes"),
        "backups": getattr(p, ch + "_logfile_backups"),
        "capture_maxbytes": getattr(p, ch + "_capture_maxbytes"),
        "events_enabled": getattr(p, ch + "_events_enabled"),
        "syslog": getattr(p, ch + "_syslog"),
    }

def one(args):
    o = ServerOptions()
    o.usage = raise_usage
    try:
        o.realize(args)
    except Usage as e:
        return {"error": str(e)}
    sd = o.configroot.supervisord
    out = {"supervisord": {k: getattr(o, k) for k in (
        "logfile logfile_maxbytes logfile_backups loglevel pidfile umask nodaemon silent "
        "minfds minprocs nocleanup childlogdir user uid gid directory strip_ansi identifier"
    ).split()}}
    for k in ("nodaemon", "silent", "nocleanup", "strip_ansi"):
        out["supervisord"][k] = bool(out["supervisord"][k])
    out["supervisord"]["environment"] = sd.environment
    servers = []
    for c in sorted(o.server_configs, key=lambda c: "file" not in c):
        s = {"section": c["section"], "username": c["username"], "password": c["password"]}
        if "file" in c:
            s.update(family="unix", path=c["file"], chmod=c["chmod"], chown=list(c["chown"]))
        else:
            s.update(family="inet", host=c["host"], port=c["port"])
        servers.append(s)
    out["servers"] = servers
    out["rpcinterfaces"] = sorted(n for n, f, e in o.rpcinterface_factories)
    groups = []
    for g in o.process_group_configs:
        d = {"name": g.name, "priority": g.priority}
        if hasattr(g, "pool_events"):
            d["events"] = sorted(getEventNameByType(e) for e in g.pool_events)
            d["buffer_size"] = g.buffer_size
        if hasattr(g, "socket_config"):
            s = g.socket_config
            d["socket"] = {"url": s.url, "backlog": s.backlog or 0,
                           "owner": list(s.owner) if getattr(s, "owner", None) else None,
                           "mode": getattr(s, "mode", None)}
        procs = []
        for p in g.process_configs:
            env = dict(p.environment or {})
            procs.append({
                "name": p.name, "command": p.command, "priority": p.priority,
                "autostart": p.autostart, "autorestart": restart(p.autorestart),
                "startsecs": p.startsecs, "startretries": p.startretries,
                "exitcodes": list(p.exitcodes), "stopsignal": p.stopsignal,
                "stopwaitsecs": p.stopwaitsecs, "stopasgroup": p.stopasgroup,
                "killasgroup": p.killasgroup, "uid": p.uid,
                "redirect_stderr": p.redirect_stderr, "environment": env,
                "directory": p.directory, "umask": p.umask,
                "serverurl": "AUTO" if p.serverurl is None else p.serverurl,
                "stdout": channel(p, "stdout"), "stderr": channel(p, "stderr"),
            })
        d["processes"] = procs
        groups.append(d)
    out["groups"] = groups
    out["warnings"] = o.parse_warnings
    out["infos"] = o.parse_infos
    return out

jobs = json.load(sys.stdin)
print(json.dumps([one(args) for args in jobs]))
"""


def stock_parse(jobs: list[list[str]], cwd: Path, env: dict[str, str]) -> list[dict]:
    proc = subprocess.run(
        [str(STOCK_PYTHON), "-c", STOCK_SCRIPT],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=True,
    )
    return json.loads(proc.stdout)


def _plain(value):
    if isinstance(value, enum.Enum):
        return "AUTO" if value is AUTO else value.value
    return value


def ours(path: Path, overrides: dict | None, env: dict[str, str]) -> dict:
    try:
        cfg = load(str(path), overrides=overrides, env=env)
    except ConfigError as exc:
        return {"error": str(exc)}
    sd = cfg.supervisord
    sd_env = dict(sd.environment)
    out = {
        "supervisord": {
            k: getattr(sd, k)
            for k in (
                "logfile logfile_maxbytes logfile_backups loglevel pidfile umask nodaemon "
                "silent minfds minprocs nocleanup childlogdir user uid gid directory "
                "strip_ansi identifier"
            ).split()
        }
    }
    out["supervisord"]["environment"] = sd_env
    servers = []
    for s in cfg.http_servers:
        d = {"section": s.section, "username": s.username, "password": s.password}
        if s.family == "unix":
            d.update(family="unix", path=s.path, chmod=s.chmod, chown=list(s.chown))
        else:
            d.update(family="inet", host=s.host, port=s.port)
        servers.append(d)
    out["servers"] = servers
    out["rpcinterfaces"] = sorted(name for name, _ in cfg.rpcinterfaces)
    groups = []
    for g in cfg.groups:
        d = {"name": g.name, "priority": g.priority}
        if g.kind == "eventlistener":
            d["events"] = list(g.events)
            d["buffer_size"] = g.buffer_size
        if g.kind == "fcgi-program":
            assert g.socket is not None
            d["socket"] = {
                "url": g.socket.url,
                "backlog": g.socket.backlog,
                "owner": list(g.socket.owner) if g.socket.owner else None,
                "mode": g.socket.mode,
            }
        procs = []
        for p in g.processes:
            env_merged = {**sd_env, **dict(p.environment)}
            procs.append(
                {
                    "name": p.name,
                    "command": p.command,
                    "priority": p.priority,
                    "autostart": p.autostart,
                    "autorestart": p.autorestart.value,
                    "startsecs": p.startsecs,
                    "startretries": p.startretries,
                    "exitcodes": list(p.exitcodes),
                    "stopsignal": p.stopsignal,
                    "stopwaitsecs": p.stopwaitsecs,
                    "stopasgroup": p.stopasgroup,
                    "killasgroup": p.killasgroup,
                    "uid": p.uid,
                    "redirect_stderr": p.redirect_stderr,
                    "environment": env_merged,
                    "directory": p.directory,
                    "umask": p.umask,
                    "serverurl": _plain(p.serverurl),
                    "stdout": {k: _plain(v) for k, v in vars(p.stdout).items() if k != "journal"},
                    "stderr": {k: _plain(v) for k, v in vars(p.stderr).items() if k != "journal"},
                }
            )
        d["processes"] = procs
        groups.append(d)
    out["groups"] = groups
    out["warnings"] = [m.text for m in cfg.messages if m.level == 30]
    out["infos"] = [m.text for m in cfg.messages if m.level == 20]
    return out


HOME = "/root" if os.getuid() == 0 else os.path.expanduser("~")

# (name, config text, extra files {relative path: text}, supervisord args, our overrides)
CASES: list[tuple[str, str, dict[str, str], list[str], dict | None]] = [
    ("minimal", "[supervisord]\n", {}, [], None),
    (
        "supervisord-all-options",
        """
        [supervisord]
        logfile = %(here)s/main.log
        logfile_maxbytes = 1MB
        logfile_backups = 3
        loglevel = DEBUG
        pidfile = ~/sd.pid
        umask = 027
        nodaemon = yes
        silent = on
        minfds = 2048
        minprocs = 100
        nocleanup = 1
        childlogdir = %(here)s
        directory = %(here)s
        strip_ansi = true
        identifier = ident-%(ENV_FOO)s
        environment = A="1,2",B=%(ENV_FOO)s,C=%(here)s,D=%%(host_node_name)s
        """,
        {},
        [],
        None,
    ),
    ("logfile-syslog", "[supervisord]\nlogfile=syslog\n", {}, [], None),
    ("relative-logfile", "[supervisord]\nlogfile=rel.log\npidfile=x.pid\n", {}, [], None),
    (
        "cli-overrides",
        "[supervisord]\nlogfile=/tmp/a.log\nloglevel=info\nidentifier=fromfile\n",
        {},
        ["-n", "-l", "/tmp/b.log", "-e", "debug", "-i", "cli", "-a", "4096", "-m", "077", "-k"],
        {
            "nodaemon": True,
            "logfile": "/tmp/b.log",
            "loglevel": "debug",
            "identifier": "cli",
            "minfds": 4096,
            "umask": "077",
            "nocleanup": True,
        },
    ),
    ("user-root", "[supervisord]\nuser=root\n", {}, [], None),
    ("user-numeric", "[supervisord]\nuser=65534\n", {}, [], None),
    ("user-unknown", "[supervisord]\nuser=no-such-user-xyz\n", {}, [], None),
    (
        "cli-user-unknown",
        "[supervisord]\n",
        {},
        ["-u", "no-such-user-xyz"],
        {"user": "no-such-user-xyz"},
    ),
    (
        "program-all-options",
        """
        [supervisord]
        environment = GLOBAL=g,SHARED=fromsd
        [program:web]
        command = /bin/echo %(program_name)s %(group_name)s %(ENV_GLOBAL)s %(ENV_LOCAL)s
        process_name = %(program_name)s-%(process_num)02d
        numprocs = 3
        numprocs_start = 8
        priority = 5
        autostart = false
        startsecs = 0
        startretries = 7
        autorestart = TRUE
        exitcodes = 0,2,255
        stopsignal = sigint
        stopwaitsecs = 3
        stopasgroup = true
        user = nobody
        redirect_stderr = true
        stdout_logfile = %(here)s/%(program_name)s-%(process_num)d.log
        stdout_logfile_maxbytes = 2KB
        stdout_logfile_backups = 0
        stdout_capture_maxbytes = 1gb
        stdout_events_enabled = true
        stdout_syslog = true
        stderr_logfile = NONE
        stderr_events_enabled = yes
        environment = LOCAL="a b",SHARED=%(ENV_GLOBAL)s,NUM=%(process_num)d
        directory = /tmp/%(process_num)d
        umask = 002
        serverurl = http://127.0.0.1:9001
        """,
        {},
        [],
        None,
    ),
    (
        "program-logfile-variants",
        """
        [supervisord]
        [program:a]
        command = a
        stdout_logfile = off
        stderr_logfile = ~/a-err.log
        [program:b]
        command = b
        stdout_logfile = syslog
        stderr_logfile = Auto
        stderr_logfile_maxbytes = 0
        [program:c]
        command = c
        redirect_stderr = true
        stderr_logfile = /tmp/ignored.log
        serverurl = auto
        """,
        {},
        [],
        None,
    ),
    (
        "killasgroup-default-follows-stopasgroup",
        "[supervisord]\n[program:a]\ncommand=a\nstopasgroup=true\n",
        {},
        [],
        None,
    ),
    (
        "groups",
        """
        [supervisord]
        [program:b]
        command = b
        priority = 1
        [program:a]
        command = a %(group_name)s
        numprocs = 2
        process_name = a%(process_num)s
        [fcgi-program:f]
        command = f %(group_name)s
        socket = unix:///tmp/f.sock
        [group:grp]
        programs = a, f
        priority = 50
        [group:second]
        programs = a
        [group:empty]
        [program:z]
        command = z
        priority = 50
        """,
        {},
        [],
        None,
    ),
    (
        "eventlisteners",
        """
        [supervisord]
        [eventlistener:mon]
        command = mon
        events = process_state, TICK_5 ,tick_60,PROCESS_STATE
        buffer_size = 3
        stdout_capture_maxbytes = 1MB
        [eventlistener:late]
        command = late
        events = EVENT
        priority = 10
        process_name = %(program_name)s_%(process_num)s
        numprocs = 2
        result_handler = supervisor.dispatchers:default_handler
        """,
        {},
        [],
        None,
    ),
    (
        "fcgi-sockets",
        """
        [supervisord]
        [fcgi-program:u]
        command = u
        socket = unix:///tmp/../tmp/%(program_name)s.sock
        socket_owner = nobody:nogroup
        socket_mode = 0660
        socket_backlog = 128
        [fcgi-program:t]
        command = t
        socket = tcp://LocalHost:9000
        [fcgi-program:o]
        command = o
        user = nobody
        socket = unix:///tmp/o.sock
        """,
        {},
        [],
        None,
    ),
    (
        "http-servers",
        """
        [supervisord]
        [inet_http_server]
        port = *:9001
        username = u
        password = {SHA}abc
        [unix_http_server]
        file = %(here)s/../x/../sv.sock
        chmod = 0770
        chown = nobody:nogroup
        [unix_http_server:second]
        file = /tmp/second.sock
        chown = nobody
        [inet_http_server:other]
        port = 127.0.0.1:9002
        [rpcinterface:supervisor]
        supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
        """,
        {},
        [],
        None,
    ),
    ("inet-port-only", "[supervisord]\n[inet_http_server]\nport=9001\n", {}, [], None),
    ("inet-empty-host", "[supervisord]\n[inet_http_server]\nport=:9001\n", {}, [], None),
    (
        "includes",
        """
        [supervisord]
        logfile = %(here)s/main.log
        [include]
        files = conf.d/*.conf nothing-*.ini %(here)s/extra/one.ini
        [program:main]
        command = %(here)s/main
        """,
        {
            "conf.d/b.conf": "[program:b]\ncommand=%(here)s/b\n[include]\nfiles=../nested.conf\n",
            "conf.d/a.conf": "[program:a]\ncommand=%(here)s/a\n[supervisord]\nidentifier=%(here)s\n",
            "extra/one.ini": "[program:one]\ncommand=one\n",
            "nested.conf": "[program:nested]\ncommand=nested\n",
        },
        [],
        None,
    ),
    (
        "comments-continuations-case",
        """
        [supervisord]
        [program:c]
        COMMAND = /bin/sh -c 'a;b' ; comment
          continued#notcomment
        Priority: 3
        [program:c]
        startsecs = 4 # trailing comment
        [DEFAULT]
        startretries = 9
        [unknown-section]
        whatever = %(nope)s
        """,
        {},
        [],
        None,
    ),
    (
        "percent-literals",
        "[supervisord]\n[program:p]\ncommand=echo 100%% %(process_num)03d\nstdout_logfile=/tmp/p%%%%.log\n",
        {},
        [],
        None,
    ),
    (
        "signals",
        "[supervisord]\n[program:a]\ncommand=a\nstopsignal=KILL\n[program:b]\ncommand=b\nstopsignal=1\n"
        "[program:c]\ncommand=c\nstopsignal=SIGusr2\n",
        {},
        [],
        None,
    ),
    ("numprocs-zero", "[supervisord]\n[program:a]\ncommand=a\nnumprocs=0\n", {}, [], None),
    ("empty-exitcodes", "[supervisord]\n[program:a]\ncommand=a\nexitcodes=\n", {}, [], None),
    (
        # Issue 15's options: stock ignores them, so the config still loads there
        # with the same meaning for everything it knows.
        "readiness-dependencies-backoff",
        """
        [supervisord]
        [program:db]
        command = db
        ready = tcp:127.0.0.1:5432
        ready_timeout = 30
        healthcheck = exec:pg_isready -q
        healthcheck_interval = 10
        healthcheck_timeout = 2.5
        healthcheck_retries = 2
        backoff = exponential
        backoff_max = 60
        fatal_retry_secs = 300
        [program:migrate]
        command = migrate
        depends_on = db
        startsecs = 0
        autorestart = false
        [program:web]
        command = web %(process_num)d
        process_name = web_%(process_num)d
        numprocs = 2
        depends_on = db, migrate
        ready = notify
        watchdog_secs = 15
        healthcheck = http://127.0.0.1:80%(process_num)02d/health
        [fcgi-program:php]
        command = php
        socket = tcp://127.0.0.1:9000
        ready = http://127.0.0.1:9000/
        depends_on = web:web_1
        [eventlistener:mon]
        command = mon
        events = PROCESS_STATE
        depends_on = php
        [group:jobs]
        programs = migrate
        """,
        {},
        [],
        None,
    ),
]

# Configs both parsers must reject.
BAD_CASES: list[tuple[str, str]] = [
    ("no-supervisord", "[program:a]\ncommand=a\n"),
    ("no-header", "command=a\n[supervisord]\n"),
    ("no-equals", "[supervisord]\njunk line\n"),
    ("bad-int", "[supervisord]\n[program:a]\ncommand=a\nstartsecs=abc\n"),
    ("bad-bool", "[supervisord]\n[program:a]\ncommand=a\nautostart=maybe\n"),
    ("bad-size", "[supervisord]\n[program:a]\ncommand=a\nstdout_logfile_maxbytes=1K\n"),
    ("bad-signal", "[supervisord]\n[program:a]\ncommand=a\nstopsignal=FOO\n"),
    ("bad-signal-number", "[supervisord]\n[program:a]\ncommand=a\nstopsignal=40\n"),
    ("bad-exitcode", "[supervisord]\n[program:a]\ncommand=a\nexitcodes=0,256\n"),
    ("bad-autorestart", "[supervisord]\n[program:a]\ncommand=a\nautorestart=sometimes\n"),
    ("no-command", "[supervisord]\n[program:a]\npriority=1\n"),
    ("bad-name", "[supervisord]\n[program:a:b]\ncommand=a\n"),
    ("bad-name-space", "[supervisord]\n[program:a b]\ncommand=a\n"),
    ("numprocs-no-num", "[supervisord]\n[program:a]\ncommand=a\nnumprocs=2\n"),
    (
        "stopasgroup-killasgroup",
        "[supervisord]\n[program:a]\ncommand=a\nstopasgroup=true\nkillasgroup=false\n",
    ),
    ("unknown-name", "[supervisord]\n[program:a]\ncommand=%(nope)s\n"),
    ("priority-program-name", "[supervisord]\n[program:a]\ncommand=a\npriority=%(program_name)s\n"),
    ("process-num-in-user", "[supervisord]\n[program:a]\ncommand=a\nuser=%(process_num)s\n"),
    ("own-env-in-env", "[supervisord]\n[program:a]\ncommand=a\nenvironment=X=1,Y=%(ENV_X)s\n"),
    ("host-node-in-supervisord", "[supervisord]\nidentifier=%(host_node_name)s\n"),
    ("host-node-in-sd-env", "[supervisord]\nenvironment=A=%(host_node_name)s\n"),
    ("bad-env", "[supervisord]\n[program:a]\ncommand=a\nenvironment=A=1 B=2\n"),
    ("bad-format", "[supervisord]\n[program:a]\ncommand=a %(program_name)d\n"),
    ("percent-logfile-once", "[supervisord]\n[program:a]\ncommand=a\nstdout_logfile=/tmp/a%%b\n"),
    (
        "logfile-dir-missing",
        "[supervisord]\n[program:a]\ncommand=a\nstdout_logfile=/nonexistent/dir/x.log\n",
    ),
    ("sd-logfile-dir-missing", "[supervisord]\nlogfile=/nonexistent/dir/x.log\n"),
    ("sd-childlogdir-missing", "[supervisord]\nchildlogdir=/nonexistent/dir\n"),
    ("sd-directory-missing", "[supervisord]\ndirectory=/nonexistent/dir\n"),
    ("sd-loglevel", "[supervisord]\nloglevel=loud\n"),
    ("sd-umask", "[supervisord]\numask=999\n"),
    ("program-user-unknown", "[supervisord]\n[program:a]\ncommand=a\nuser=no-such-user-xyz\n"),
    ("group-unknown-member", "[supervisord]\n[group:g]\nprograms=a\n"),
    (
        "group-ambiguous",
        "[supervisord]\n[program:a]\ncommand=a\n[fcgi-program:a]\ncommand=a\nsocket=tcp://h:1\n[group:g]\nprograms=a\n",
    ),
    ("listener-no-events", "[supervisord]\n[eventlistener:e]\ncommand=e\n"),
    ("listener-bad-event", "[supervisord]\n[eventlistener:e]\ncommand=e\nevents=TICK_5,NOPE\n"),
    (
        "listener-redirect",
        "[supervisord]\n[eventlistener:e]\ncommand=e\nevents=TICK_5\nredirect_stderr=true\n",
    ),
    (
        "listener-buffer",
        "[supervisord]\n[eventlistener:e]\ncommand=e\nevents=TICK_5\nbuffer_size=0\n",
    ),
    (
        "listener-handler",
        "[supervisord]\n[eventlistener:e]\ncommand=e\nevents=TICK_5\nresult_handler=no.such:thing\n",
    ),
    ("fcgi-no-socket", "[supervisord]\n[fcgi-program:f]\ncommand=f\n"),
    ("fcgi-relative", "[supervisord]\n[fcgi-program:f]\ncommand=f\nsocket=unix://rel.sock\n"),
    ("fcgi-bad-format", "[supervisord]\n[fcgi-program:f]\ncommand=f\nsocket=udp://h:1\n"),
    (
        "fcgi-tcp-mode",
        "[supervisord]\n[fcgi-program:f]\ncommand=f\nsocket=tcp://h:1\nsocket_mode=0600\n",
    ),
    (
        "fcgi-backlog",
        "[supervisord]\n[fcgi-program:f]\ncommand=f\nsocket=tcp://h:1\nsocket_backlog=0\n",
    ),
    (
        "fcgi-process-num",
        "[supervisord]\n[fcgi-program:f]\ncommand=f\nsocket=unix:///tmp/%(process_num)s\n",
    ),
    ("fcgi-port", "[supervisord]\n[fcgi-program:f]\ncommand=f\nsocket=tcp://h:70000\n"),
    ("inet-no-port", "[supervisord]\n[inet_http_server]\nusername=a\npassword=b\n"),
    ("inet-bad-port", "[supervisord]\n[inet_http_server]\nport=host:\n"),
    ("inet-half-auth", "[supervisord]\n[inet_http_server]\nport=9001\nusername=a\n"),
    ("unix-no-file", "[supervisord]\n[unix_http_server]\nchmod=0700\n"),
    ("unix-bad-chmod", "[supervisord]\n[unix_http_server]\nfile=/tmp/s.sock\nchmod=rw\n"),
    (
        "unix-bad-chown",
        "[supervisord]\n[unix_http_server]\nfile=/tmp/s.sock\nchown=no-such-user-xyz\n",
    ),
    (
        "unix-here-in-password",
        "[supervisord]\n[unix_http_server]\nfile=/tmp/s\nusername=u\npassword=%(here)s\n",
    ),
    ("include-no-files", "[supervisord]\n[include]\n"),
    (
        "include-breaks-double-percent",
        "[supervisord]\n[include]\nfiles=none\n[program:a]\ncommand=%%(here)s\n",
    ),
    ("rpc-no-factory", "[supervisord]\n[rpcinterface:x]\nfoo=bar\n"),
]


def _write(root: Path, name: str, text: str, files: dict[str, str]) -> Path:
    base = root / name
    base.mkdir()
    for rel, content in files.items():
        target = base / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    path = base / "supervisord.conf"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    root = tmp_path_factory.mktemp("stock")
    env = {**os.environ, "FOO": "foo-value", "HOME": HOME}
    jobs, ours_results, names = [], [], []
    for name, text, files, args, overrides in CASES:
        path = _write(root, name, text, files)
        jobs.append(["-c", str(path), *args])
        names.append(("good", name))
        ours_results.append((path, overrides))
    for name, text in BAD_CASES:
        path = _write(root, name, text, {})
        jobs.append(["-c", str(path)])
        names.append(("bad", name))
        ours_results.append((path, None))
    stock = stock_parse(jobs, cwd=root, env=env)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        mine = [ours(p, o, env) for p, o in ours_results]
    finally:
        os.chdir(cwd)
    return {name: (s, m) for (_, name), s, m in zip(names, stock, mine)}


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_same_as_stock(compared, name):
    stock, mine = compared[name]
    if "error" in stock:
        assert "error" in mine, f"stock rejected {name} ({stock['error']}), we accepted it"
    else:
        assert "error" not in mine, mine
        assert mine == stock


@pytest.mark.parametrize("name", [c[0] for c in BAD_CASES])
def test_rejected_like_stock(compared, name):
    stock, mine = compared[name]
    assert "error" in stock, f"stock accepted {name}"
    assert "error" in mine, f"we accepted {name}: {mine}"


# --- [supervisorctl], as stock supervisorctl reads it ------------------------

STOCK_CTL_SCRIPT = r"""
import json, sys
from supervisor.options import ClientOptions

class Usage(Exception):
    pass

def raise_usage(msg):
    raise Usage(msg)

def one(path):
    o = ClientOptions()
    o.usage = raise_usage
    try:
        o.realize(["-c", path, "status"])
    except Usage as e:
        return {"error": str(e)}
    return {"serverurl": o.serverurl, "username": o.username, "password": o.password,
            "prompt": o.prompt, "history_file": o.history_file}

print(json.dumps([one(p) for p in json.load(sys.stdin)]))
"""

CTL_CASES = [
    ("ctl-defaults", "[supervisorctl]\n"),
    (
        "ctl-all",
        "[supervisorctl]\nserverurl=unix://%(here)s/../run//sv.sock\nusername=%(ENV_FOO)s\n"
        "password=p\nprompt=box-%(ENV_FOO)s\nhistory_file=~/hist\n",
    ),
    ("ctl-http", "[supervisorctl]\nserverurl=http://%(ENV_FOO)s:9001\nhistory_file=\n"),
    ("ctl-no-section", "[supervisord]\n"),
    ("ctl-here-in-prompt", "[supervisorctl]\nprompt=%(here)s\n"),
]


@pytest.fixture(scope="module")
def compared_ctl(tmp_path_factory):
    from supervisor_ng.config.loader import read_ctl_config

    root = tmp_path_factory.mktemp("stockctl")
    env = {**os.environ, "FOO": "foo-value", "HOME": HOME}
    paths = [_write(root, name, text, {}) for name, text in CTL_CASES]
    proc = subprocess.run(
        [str(STOCK_PYTHON), "-c", STOCK_CTL_SCRIPT],
        input=json.dumps([str(p) for p in paths]),
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        check=True,
    )
    stock = json.loads(proc.stdout)
    result = {}
    for (name, _), path, s in zip(CTL_CASES, paths, stock):
        try:
            cfg = read_ctl_config(str(path), env=env)
            mine = {"error": "no section"} if cfg is None else vars(cfg).copy()
        except ConfigError as exc:
            mine = {"error": str(exc)}
        result[name] = (s, mine)
    return result


@pytest.mark.parametrize("name", [c[0] for c in CTL_CASES])
def test_ctl_same_as_stock(compared_ctl, name):
    stock, mine = compared_ctl[name]
    if "error" in stock:
        assert "error" in mine
    else:
        assert mine == stock
