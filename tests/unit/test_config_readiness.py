"""The options of issue 15 in [program:x], [fcgi-program:x] and
[eventlistener:x]: ready, ready_timeout, depends_on, watchdog_secs,
healthcheck*, backoff, backoff_max, fatal_retry_secs."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from supervisor_ng.config.loader import load
from supervisor_ng.config.model import ConfigError, Probe, ProcessConfig

ENV = {"FOO": "foo", "HOME": os.path.expanduser("~")}


def load_text(tmp_path: Path, text: str):
    path = tmp_path / "supervisord.conf"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return load(str(path), env=ENV)


def program(tmp_path: Path, options: str, section: str = "program:p") -> ProcessConfig:
    options = textwrap.dedent(options).strip()
    cfg = load_text(tmp_path, f"[supervisord]\n[{section}]\ncommand=/bin/p\n{options}\n")
    return cfg.groups[0].processes[0]


def error_of(tmp_path: Path, options: str, section: str = "program:p") -> str:
    with pytest.raises(ConfigError) as info:
        program(tmp_path, options, section)
    return str(info.value)


def test_defaults_are_stock_behaviour(tmp_path):
    p = program(tmp_path, "")
    assert (p.ready, p.ready_probe, p.ready_timeout) == ("startsecs", None, 90.0)
    assert p.depends_on == ()
    assert p.watchdog_secs == 0.0
    assert p.healthcheck is None
    assert (p.healthcheck_interval, p.healthcheck_timeout, p.healthcheck_retries) == (30.0, 5.0, 3)
    assert (p.backoff, p.backoff_max, p.fatal_retry_secs) == ("linear", 0.0, 0.0)
    # The defaults of the dataclass and of the loader are the same.
    assert p == ProcessConfig(name="p", group="p", command="/bin/p", section="program:p")


@pytest.mark.parametrize(
    "value, ready, probe",
    [
        ("startsecs", "startsecs", None),
        ("NOTIFY", "notify", None),
        (" notify ", "notify", None),
        ("tcp:5432", "probe", Probe("tcp", "tcp:5432", "127.0.0.1", 5432)),
        ("tcp:db.local:5432", "probe", Probe("tcp", "tcp:db.local:5432", "db.local", 5432)),
        ("tcp:[::1]:80", "probe", Probe("tcp", "tcp:[::1]:80", "::1", 80)),
        ("tcp://10.0.0.2:7", "probe", Probe("tcp", "tcp://10.0.0.2:7", "10.0.0.2", 7)),
        (
            "http://localhost:8000/health?full=1",
            "probe",
            Probe("http", "http://localhost:8000/health?full=1", "localhost", 8000, "/health?full=1"),
        ),
        ("http://LOCALHOST", "probe", Probe("http", "http://LOCALHOST", "localhost", 80, "/")),
        ("http://[::1]:81/x", "probe", Probe("http", "http://[::1]:81/x", "::1", 81, "/x")),
        (
            "exec:pg_isready -h 'a host'",
            "probe",
            Probe("exec", "exec:pg_isready -h 'a host'", command="pg_isready -h 'a host'"),
        ),
    ],
)
def test_ready_values(tmp_path, value, ready, probe):
    p = program(tmp_path, f"ready={value}")
    assert (p.ready, p.ready_probe) == (ready, probe)


@pytest.mark.parametrize(
    "value, detail",
    [
        ("", "is not a readiness check (use startsecs, notify, tcp:"),
        ("sometimes", "is not a readiness check"),
        ("udp:53", "is not a readiness check"),
        ("tcp:", "is not tcp:[HOST:]PORT"),
        ("tcp:70000", "port 70000 is outside 1..65535"),
        ("tcp::80", "is not tcp:[HOST:]PORT"),
        ("tcp:a host:80", "is not tcp:[HOST:]PORT"),
        ("https://localhost/health", "https is not supported, only http://"),
        ("http:localhost", "is not http://HOST[:PORT]/PATH"),
        ("http://", "is not http://HOST[:PORT]/PATH"),
        ("http://h:99999/", "is not http://HOST[:PORT]/PATH"),
        ("http://h:0/", "is not http://HOST[:PORT]/PATH"),
        ("http://h/a b", "cannot contain blanks"),
        ("http://u:pw@h/", "passwords in the URL are not supported"),
        ("exec:", "has no command after exec:"),
        ("exec:check 'unterminated", "is not a usable command"),
    ],
)
def test_bad_ready_names_file_section_option_and_value(tmp_path, value, detail):
    message = error_of(tmp_path, f"ready={value}")
    assert message.startswith(
        f"bad value for option 'ready' in section [program:p] (file: '{tmp_path}/supervisord.conf', line 4): "
    ), message
    assert detail in message
    assert repr(value.strip()) in message or value == ""


def test_healthcheck_values(tmp_path):
    assert program(tmp_path, "healthcheck=").healthcheck is None
    check = program(tmp_path, "healthcheck=exec:/bin/true").healthcheck
    assert check == Probe("exec", "exec:/bin/true", command="/bin/true")
    check = program(tmp_path, "healthcheck=http://127.0.0.1:9/ok").healthcheck
    assert (check.kind, check.host, check.port, check.path) == ("http", "127.0.0.1", 9, "/ok")


@pytest.mark.parametrize(
    "value, detail",
    [
        ("notify", "is not a check (use tcp:[HOST:]PORT, http://HOST[:PORT]/PATH or exec:COMMAND)"),
        ("startsecs", "is not a check"),
        ("https://h/", "https is not supported"),
        ("tcp:x", "is not tcp:[HOST:]PORT"),
    ],
)
def test_bad_healthcheck(tmp_path, value, detail):
    message = error_of(tmp_path, f"healthcheck={value}")
    assert "bad value for option 'healthcheck' in section [program:p]" in message
    assert detail in message and repr(value) in message


def test_numbers(tmp_path):
    p = program(
        tmp_path,
        """
        ready=notify
        ready_timeout=2.5
        watchdog_secs=0.5
        healthcheck_interval=10
        healthcheck_timeout=.25
        healthcheck_retries=+7
        backoff=Exponential
        backoff_max=120
        fatal_retry_secs=600
        """,
    )
    assert (p.ready_timeout, p.watchdog_secs) == (2.5, 0.5)
    assert (p.healthcheck_interval, p.healthcheck_timeout, p.healthcheck_retries) == (10.0, 0.25, 7)
    assert (p.backoff, p.backoff_max, p.fatal_retry_secs) == ("exponential", 120.0, 600.0)
    assert isinstance(p.ready_timeout, float) and isinstance(p.healthcheck_retries, int)


@pytest.mark.parametrize(
    "option, value, detail",
    [
        ("ready_timeout", "0", "must be more than 0 seconds"),
        ("ready_timeout", "-1", "is not a number of seconds"),
        ("ready_timeout", "inf", "is not a number of seconds"),
        ("ready_timeout", "nan", "is not a number of seconds"),
        ("ready_timeout", "1_0", "is not a number of seconds"),
        ("ready_timeout", "5s", "is not a number of seconds"),
        ("ready_timeout", "1e99", "is not a number of seconds"),
        ("ready_timeout", "9" * 20, "more than the"),
        ("healthcheck_interval", "0", "must be more than 0 seconds"),
        ("healthcheck_timeout", "", "is not a number of seconds"),
        ("healthcheck_retries", "0", "must be at least 1"),
        ("healthcheck_retries", "2.5", "invalid literal for int()"),
        ("backoff", "fibonacci", "is not a backoff (use linear or exponential)"),
        ("backoff_max", "-5", "is not a number of seconds"),
        ("fatal_retry_secs", "soon", "is not a number of seconds"),
        ("watchdog_secs", "x", "is not a number of seconds"),
        ("depends_on", "a:b:c", "is not a program, group or group:process name"),
        ("depends_on", "a/b", "is not a program, group or group:process name"),
        ("depends_on", ":a", "is not a program, group or group:process name"),
        ("depends_on", "a:", "is not a program, group or group:process name"),
    ],
)
def test_bad_numbers_and_names(tmp_path, option, value, detail):
    message = error_of(tmp_path, f"ready=notify\n{option}={value}")
    assert message.startswith(f"bad value for option {option!r} in section [program:p] ("), message
    assert "supervisord.conf" in message and "line 5" in message
    assert detail in message


def test_watchdog_needs_notify(tmp_path):
    assert program(tmp_path, "watchdog_secs=0").watchdog_secs == 0.0  # off: fine anywhere
    message = error_of(tmp_path, "ready=tcp:80\nwatchdog_secs=30")
    assert message.startswith("bad value for option 'watchdog_secs' in section [program:p]")
    assert "needs ready=notify" in message and "'tcp:80'" in message
    message = error_of(tmp_path, "watchdog_secs=30")
    assert "needs ready=notify" in message and "'startsecs'" in message
    assert "at least 1 microsecond" in error_of(tmp_path, "ready=notify\nwatchdog_secs=0.0000001")


def test_depends_on_list(tmp_path):
    cfg = load_text(
        tmp_path,
        """
        [supervisord]
        [program:p]
        command = /bin/p
        depends_on = db, cache  queue,db , grp:worker_1,grp:*,
        [program:db]
        command = /bin/db
        [program:cache]
        command = /bin/cache
        [program:queue]
        command = /bin/queue
        [program:worker]
        command = /bin/worker
        process_name = worker_%(process_num)d
        numprocs = 2
        [group:grp]
        programs = worker
        """,
    )
    p = cfg.group("p").processes[0]
    assert p.depends_on == ("db", "cache", "queue", "grp:worker_1", "grp:*")
    assert program(tmp_path, "depends_on=").depends_on == ()


def test_expansion_per_process_for_checks_and_per_program_for_the_rest(tmp_path):
    cfg = load_text(
        tmp_path,
        """
        [supervisord]
        environment = DBPORT=5432,DB=db
        [program:db]
        command = /bin/db
        [program:web]
        command = /bin/web
        process_name = web_%(process_num)d
        numprocs = 2
        numprocs_start = 1
        environment = CHECK=/bin/check
        ready = tcp:%(ENV_DBPORT)s
        healthcheck = http://%(host_node_name)s:80%(process_num)02d/%(program_name)s
        depends_on = %(ENV_DB)s
        ready_timeout = %(ENV_DBPORT)s
        """,
    )
    web = cfg.group("web").processes
    assert [p.ready_probe.port for p in web] == [5432, 5432]
    assert [p.healthcheck.port for p in web] == [8001, 8002]
    assert web[0].healthcheck.path == "/web"
    assert web[0].depends_on == ("db",)
    assert web[0].ready_timeout == 5432.0


def test_expansion_errors_name_the_option(tmp_path):
    message = error_of(tmp_path, "ready=tcp:%(nope)s")
    assert "option 'ready' in section [program:p]" in message and "%(nope)s" in message
    # Read once per program, like startsecs: no process_num there.
    message = error_of(tmp_path, "fatal_retry_secs=%(process_num)d")
    assert "option 'fatal_retry_secs' in section [program:p]" in message
    # The program's own environment is there for the checks, as for command.
    p = program(tmp_path, "environment=PORT=81\nhealthcheck=tcp:%(ENV_PORT)s")
    assert p.healthcheck.port == 81


def test_fcgi_program_and_eventlistener_take_them(tmp_path):
    cfg = load_text(
        tmp_path,
        """
        [supervisord]
        [fcgi-program:f]
        command = /bin/f
        socket = tcp://127.0.0.1:9000
        ready = tcp:9000
        depends_on = ev
        backoff = exponential
        [eventlistener:ev]
        command = /bin/ev
        events = PROCESS_STATE
        ready = notify
        watchdog_secs = 5
        healthcheck = exec:/bin/true
        fatal_retry_secs = 60
        """,
    )
    f = cfg.group("f").processes[0]
    assert (f.ready, f.ready_probe.port, f.depends_on, f.backoff) == ("probe", 9000, ("ev",), "exponential")
    ev = cfg.group("ev").processes[0]
    assert (ev.ready, ev.watchdog_secs, ev.healthcheck.kind, ev.fatal_retry_secs) == ("notify", 5.0, "exec", 60.0)


@pytest.mark.parametrize("section", ["fcgi-program:p", "eventlistener:p"])
def test_errors_in_other_sections(tmp_path, section):
    extra = "socket=tcp://127.0.0.1:9000\n" if section.startswith("fcgi") else "events=TICK_5\n"
    message = error_of(tmp_path, extra + "backoff=random", section)
    assert f"bad value for option 'backoff' in section [{section}]" in message


def test_group_members_keep_their_options(tmp_path):
    cfg = load_text(
        tmp_path,
        """
        [supervisord]
        [program:a]
        command = /bin/a
        ready = notify
        [program:b]
        command = /bin/b
        depends_on = a
        [group:g]
        programs = a, b
        """,
    )
    a, b = cfg.group("g").processes
    assert (a.name, a.ready, b.name, b.depends_on) == ("a", "notify", "b", ("a",))
