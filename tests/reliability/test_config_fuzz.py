"""Config parser fuzzing: generated and mutated supervisord.conf files never
make ``load()`` raise anything but a ConfigError, and every ConfigError is
one clear message that names the file (and the section and option when it is
about one).

Two generators: hypothesis builds INI text from the real section and option
names with a mix of valid and garbage values plus syntax mutations; a seeded
random mutator then flips, deletes and inserts bytes in valid configs (much
faster per input, so it covers the bulk of the 100,000).
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervisor_ng.config.loader import load
from supervisor_ng.config.model import Config, ConfigError

from .conftest import env_int, figures

pytestmark = pytest.mark.slow

SUPERVISORD = [
    "logfile", "logfile_maxbytes", "logfile_backups", "loglevel", "pidfile", "umask", "nodaemon",
    "silent", "minfds", "minprocs", "nocleanup", "childlogdir", "user", "directory", "strip_ansi",
    "environment", "identifier", "journal", "child_journal",
]
PROGRAM = [
    "command", "process_name", "numprocs", "numprocs_start", "priority", "autostart", "startsecs",
    "startretries", "autorestart", "exitcodes", "stopsignal", "stopwaitsecs", "stopasgroup",
    "killasgroup", "user", "redirect_stderr", "stdout_logfile", "stdout_logfile_maxbytes",
    "stdout_logfile_backups", "stdout_capture_maxbytes", "stdout_events_enabled", "stdout_syslog",
    "stdout_journal", "stderr_logfile", "stderr_logfile_maxbytes", "stderr_logfile_backups",
    "stderr_capture_maxbytes", "stderr_events_enabled", "stderr_syslog", "stderr_journal",
    "environment", "directory", "umask", "serverurl",
]
LISTENER = PROGRAM + ["buffer_size", "events", "result_handler"]
FCGI = PROGRAM + ["socket", "socket_backlog", "socket_owner", "socket_mode"]
SECTIONS = {
    "supervisord": SUPERVISORD,
    "unix_http_server": ["file", "chmod", "chown", "username", "password"],
    "inet_http_server": ["port", "username", "password"],
    "supervisorctl": ["serverurl", "username", "password", "prompt", "history_file"],
    "program:{n}": PROGRAM,
    "group:{n}": ["programs", "priority"],
    "eventlistener:{n}": LISTENER,
    "fcgi-program:{n}": FCGI,
    "include": ["files"],
    "rpcinterface:{n}": ["supervisor.rpcinterface_factory"],
    "ctlplugin:{n}": ["supervisor.ctl_factory"],
    "DEFAULT": PROGRAM[:6],
}
NAMES = ["a", "b", "cat", "x y", "a:b", "a/b", "", "%(here)s", "é", "p%(process_num)d"]

VALID = [
    "true", "false", "yes", "off", "1", "0", "10", "-1", "50MB", "1KB", "0777", "022", "TERM",
    "SIGKILL", "HUP", "unexpected", "info", "debug", "blather", "/bin/true", "sleep 1000",
    "%(program_name)s_%(process_num)02d", "%(here)s/x.log", "AUTO", "NONE", "syslog",
    "A=1,B=\"x,y\"", "127.0.0.1:9001", "*:9001", ":0", "9001", "unix:///tmp/x.sock",
    "tcp://localhost:9002", "PROCESS_STATE,TICK_5", "root", "nobody", "nobody:nogroup",
    "supervisor.rpcinterface:make_main_rpcinterface", "{SHA}" + "a" * 40, "a,b", "*.conf",
    "%(ENV_HOME)s", "%(host_node_name)s", "%%", "0,1,2,255",
]
GARBAGE = [
    "", " ", "%(", "%(nope)s", "%(here)", "%(here)d", "%(process_num)c", "%(here)*d", "%z", "%",
    "%(process_num)99999999999d", "%(program_name)s" * 50, "9" * 400, "-9" * 30,
    "1e309", "0x10", "0o7", "\x00", "\udcff", "é" * 20, "\u202e", "tcp://", "unix://", "unix://rel",
    "[", "]", "=", ":", ";x", "#x", "\"", "'", "A=", "=B", "A=\"unterminated", "999999999999999999999MB",
    "SIGNOPE", "256", "-", "..", "../../../../etc/passwd", "*", "[*]", "**/*", "{SHA}zz", "\\", "\t",
    "PROCESS_STATE,NOPE", "nosuchmodule:attr", "os:system", "65536", "0:0", "root:nosuchgroup",
    # Values that used to get past the loader and fail in a spawn or setrlimit.
    str(2**63), str(2**64), "9" * 40, "root:" + "9" * 30, "77777777777777777777", "/tmp/a\x00b",
    "a\x00b", "sleep \x00", "A=\"x\x00y\"",
]
huge = st.integers(min_value=-(10**30), max_value=10**30).map(str)
# Mostly values that are valid somewhere, so that many configs get past the
# first option and reach the deeper checks.
values = st.one_of(
    st.sampled_from(VALID),
    st.sampled_from(VALID),
    st.sampled_from(VALID),
    st.sampled_from(VALID),
    st.sampled_from(VALID),
    st.sampled_from(GARBAGE),
    huge,
    st.text(max_size=30),
    st.lists(st.sampled_from(VALID + GARBAGE), min_size=2, max_size=4).map("".join),
)


def _option_line(draw: st.DrawFn, options: list[str]) -> str:
    option = draw(st.one_of(st.sampled_from(options), st.sampled_from(options).map(str.upper), st.text(max_size=8)))
    value = draw(values)
    if option in ("numprocs", "numprocs_start"):
        # A loader builds one record per process, as stock does: a config
        # asking for a billion of them is slow in both, not broken.
        value = draw(st.one_of(st.integers(-3, 40).map(str), st.sampled_from(GARBAGE[:12])))
    sep = draw(st.sampled_from(["=", " = ", ":", "=", "="]))
    return f"{option}{sep}{value}"


@st.composite
def configs(draw: st.DrawFn) -> str:
    lines: list[str] = []
    if draw(st.booleans()) or draw(st.booleans()):
        lines.append("[supervisord]")
        lines.extend(_option_line(draw, SUPERVISORD) for _ in range(draw(st.integers(0, 4))))
    for _ in range(draw(st.integers(0, 5))):
        template = draw(st.sampled_from(sorted(SECTIONS)))
        name = draw(st.one_of(st.sampled_from(NAMES), st.text(max_size=6)))
        lines.append("[" + template.format(n=name) + "]")
        options = SECTIONS[template]
        if template.startswith("program") and draw(st.booleans()):
            lines.append(f"command={draw(st.sampled_from(['sleep 1000', '/bin/true', 'nope', '']))}")
        lines.extend(_option_line(draw, options) for _ in range(draw(st.integers(0, 6))))
    text = "\n".join(lines) + "\n"
    # Syntax-level mutations of the text.
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 3]))):
        kind = draw(st.sampled_from(["drop=", "drop]", "cut", "insert", "indent", "dup"]))
        if not text:
            break
        pos = draw(st.integers(0, len(text) - 1))
        if kind == "drop=":
            text = text.replace("=", "", 1)
        elif kind == "drop]":
            text = text.replace("]", "", 1)
        elif kind == "cut":
            text = text[:pos] + text[pos + draw(st.integers(1, 5)) :]
        elif kind == "insert":
            text = text[:pos] + draw(st.text(min_size=1, max_size=4)) + text[pos:]
        elif kind == "indent":
            text = text[:pos] + "\n  " + text[pos:]
        else:
            text = text + text[pos:]
    return text


_FILE_LEVEL = re.compile(
    r"syntax error in file|has no \[supervisord\] section|could not (read|find) config file"
)


def check_load(path: Path, text: str | bytes, stats: dict[str, int]) -> None:
    """load() either returns a Config or raises one clear ConfigError."""
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
    stats["tried"] += 1
    try:
        config = load(str(path), env={"HOME": "/root", "PATH": "/usr/bin:/bin"})
    except ConfigError as exc:
        stats["rejected"] += 1
        message = str(exc)
        assert message.strip(), "an empty ConfigError message"
        assert "Traceback" not in message
        # The main file, or the included file the problem is in.
        assert str(path) in message or re.search(r"file:? '/[^']+'", message), f"no file named: {message!r}"
        if not _FILE_LEVEL.search(message):
            # About a section or an option: it names the section...
            assert re.search(r"section \[[^\]\n]*\]|\[[^\]\n]*\]", message), f"no section named: {message!r}"
            # ... and, when it says "option", which one.
            if "option" in message:
                assert re.search(r"option '[^']*'", message), f"no option named: {message!r}"
    except RecursionError:  # pragma: no cover - reported as the bug it is
        raise
    else:
        stats["loaded"] += 1
        assert isinstance(config, Config)


@settings(
    max_examples=env_int("CONFIG_FUZZ_EXAMPLES", 1500),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
@given(text=configs())
def _fuzz_generated(text: str, workdir: Path, stats: dict[str, int]) -> None:
    check_load(workdir / "supervisord.conf", text, stats)


def test_generated_configs_load_or_fail_with_one_clear_message(tmp_path: Path) -> None:
    stats = {"tried": 0, "loaded": 0, "rejected": 0}
    start = time.monotonic()
    _fuzz_generated(workdir=tmp_path, stats=stats)
    figures(
        "config_fuzz_generated",
        inputs=stats["tried"],
        loaded=stats["loaded"],
        rejected=stats["rejected"],
        seconds=round(time.monotonic() - start, 1),
    )
    assert stats["rejected"] and stats["loaded"]


SEEDS = [
    "[supervisord]\nlogfile=%(here)s/s.log\nloglevel=debug\nminfds=100\nenvironment=A=1,B=\"2\"\n"
    "[unix_http_server]\nfile=%(here)s/s.sock\nchmod=0700\nusername=u\npassword={SHA}" + "0" * 40 + "\n"
    "[inet_http_server]\nport=127.0.0.1:9001\n"
    "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
    "[program:web]\ncommand=sleep %(process_num)d\nprocess_name=%(program_name)s_%(process_num)02d\n"
    "numprocs=3\nautorestart=unexpected\nexitcodes=0,2\nstopsignal=QUIT\nstdout_logfile=%(here)s/w.log\n"
    "stdout_logfile_maxbytes=1MB\nenvironment=X=\"%(ENV_HOME)s\"\nuser=nobody\n"
    "[group:g]\nprograms=web,fc\npriority=5\n"
    "[fcgi-program:fc]\ncommand=sleep 1\nsocket=unix:///tmp/%(program_name)s.sock\nsocket_mode=0600\n"
    "[eventlistener:ev]\ncommand=cat\nevents=PROCESS_STATE,TICK_5\nbuffer_size=5\n"
    "[supervisorctl]\nserverurl=unix://%(here)s/s.sock\n",
    "[DEFAULT]\nautostart=false\n[supervisord]\n[program:a]\ncommand = /bin/true ; comment\n"
    "  --continued\nstartsecs=0\n[program:b]\ncommand=sleep 1\nredirect_stderr=true\nstderr_logfile=x\n"
    "[include]\nfiles=*.inc nope/*.conf\n",
]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(7)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:  # flip a byte
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 1:  # delete a run
            del data[pos : pos + rng.randint(1, 8)]
        elif op == 2:  # insert structural characters
            data[pos:pos] = rng.choice([b"=", b"]", b"[", b"%(", b")s", b"\n", b"\n ", b";", b"%", b"\x00", b":"])
        elif op == 3:  # duplicate a slice
            data[pos:pos] = data[pos : pos + rng.randint(1, 40)]
        elif op == 4:  # a huge number
            data[pos:pos] = str(rng.choice([10**30, -(10**20), 2**63, 2**31])).encode()
        elif op == 5:  # unicode
            data[pos:pos] = rng.choice(["é", "\u202e", "\U0001f600", "\ufeff"]).encode()
        else:  # drop every occurrence of one delimiter
            data = bytearray(bytes(data).replace(rng.choice([b"=", b"]", b"\n"]), b"", 1))
    return bytes(data)


def test_mutated_configs_load_or_fail_with_one_clear_message(tmp_path: Path) -> None:
    (tmp_path / "a.inc").write_text("[program:inc]\ncommand=sleep 1\n")
    count = env_int("CONFIG_MUTATIONS", 20000)
    rng = random.Random(env_int("CONFIG_FUZZ_SEED", 9))
    stats = {"tried": 0, "loaded": 0, "rejected": 0}
    start = time.monotonic()
    path = tmp_path / "supervisord.conf"
    for i in range(count):
        seed = SEEDS[i % len(SEEDS)].encode()
        data = _mutate(rng, seed)
        try:
            check_load(path, data, stats)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\ninput #{i}: {data!r}") from None
        except Exception as exc:
            raise AssertionError(f"{type(exc).__name__}: {exc}\ninput #{i}: {data!r}") from exc
    figures(
        "config_fuzz_mutated",
        inputs=stats["tried"],
        loaded=stats["loaded"],
        rejected=stats["rejected"],
        seconds=round(time.monotonic() - start, 1),
    )
    assert stats["rejected"] and stats["loaded"]


# Each (section, option, value) once, through load(): a ConfigError naming
# the option, or a config whose value the spawn/rlimit code can take.
SPAWN_VALUES = [
    ("supervisord", "minfds", str(2**63)),
    ("supervisord", "minprocs", str(2**64)),
    ("supervisord", "umask", "7" * 20),
    ("supervisord", "logfile", "/tmp/a\x00b"),
    ("supervisord", "pidfile", "a\x00b"),
    ("program:p", "startsecs", "9" * 400),
    ("program:p", "stopwaitsecs", "9" * 400),
    ("program:p", "umask", "7" * 20),
    ("program:p", "stdout_logfile", "/tmp/a\x00b"),
    ("program:p", "user", "9" * 30),
    ("unix_http_server", "chmod", "7" * 20),
    ("unix_http_server", "chown", "root:" + "9" * 30),
    ("unix_http_server", "file", "/tmp/s\x00ock"),
]


@pytest.mark.parametrize(("section", "option", "value"), SPAWN_VALUES)
def test_values_that_reach_a_spawn_or_rlimit_are_config_errors(
    tmp_path: Path, section: str, option: str, value: str
) -> None:
    body = {"supervisord": "", "program:p": "command=sleep 1\n", "unix_http_server": "file=/tmp/x.sock\n"}
    text = "[supervisord]\n" + "".join(
        f"[{name}]\n{extra}" + (f"{option}={value}\n" if name == section else "")
        for name, extra in body.items()
        if name != "supervisord"
    )
    if section == "supervisord":
        text = f"[supervisord]\n{option}={value}\n" + text[len("[supervisord]\n") :]
    path = tmp_path / "supervisord.conf"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(str(path), env={})
    assert f"option {option!r}" in str(info.value) and f"[{section}]" in str(info.value)
