"""Table-driven tests of the option converters (config/datatypes.py)."""

from __future__ import annotations

import grp
import os
import pwd
import signal

import pytest

from supervisor_ng.config import datatypes as dt
from supervisor_ng.config.model import AUTO, AutoRestart

ME = pwd.getpwuid(os.getuid())
MY_GROUP = grp.getgrgid(ME.pw_gid).gr_name


@pytest.mark.parametrize(
    "text, expected",
    [
        ("true", True),
        ("TRUE", True),
        ("Yes", True),
        ("on", True),
        ("1", True),
        ("false", False),
        ("No", False),
        ("OFF", False),
        ("0", False),
    ],
)
def test_boolean(text, expected):
    assert dt.boolean(text) is expected


@pytest.mark.parametrize("text", ["", "2", "y", "n", "truee", "enabled", " true"])
def test_boolean_rejects(text):
    with pytest.raises(ValueError, match="not a boolean"):
        dt.boolean(text)


@pytest.mark.parametrize(
    "text, expected", [("0", 0), ("12", 12), (" 7 ", 7), ("-3", -3), ("+4", 4), ("1_000", 1000)]
)
def test_integer(text, expected):
    assert dt.integer(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "1.5", "0x10", "1K"])
def test_integer_rejects(text):
    with pytest.raises(ValueError, match="invalid literal for int"):
        dt.integer(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0", 0),
        ("100", 100),
        ("1KB", 1024),
        ("1kb", 1024),
        ("2Kb", 2048),
        ("50MB", 50 * 1024 * 1024),
        ("1gb", 1024**3),
        ("-1MB", -(1024**2)),  # stock lets this through; so do we
    ],
)
def test_byte_size(text, expected):
    assert dt.byte_size(text) == expected


@pytest.mark.parametrize("text", ["1K", "1G", "1M", "1TB", "MB", "", "1.5MB", "ten"])
def test_byte_size_rejects(text):
    with pytest.raises(ValueError, match="not a byte size"):
        dt.byte_size(text)


@pytest.mark.parametrize(
    "text, expected", [("022", 0o22), ("0", 0), ("777", 0o777), ("0o755", 0o755), ("0700", 0o700)]
)
def test_octal(text, expected):
    assert dt.octal(text) == expected


@pytest.mark.parametrize("text", ["8", "999", "rw", "", "0x1"])
def test_octal_rejects(text):
    with pytest.raises(ValueError, match="not an octal number"):
        dt.octal(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("TERM", signal.SIGTERM),
        ("term", signal.SIGTERM),
        ("SIGTERM", signal.SIGTERM),
        ("sigint", signal.SIGINT),
        (" hup ", signal.SIGHUP),
        ("KILL", signal.SIGKILL),
        ("usr1", signal.SIGUSR1),
        ("QUIT", signal.SIGQUIT),
        ("15", 15),
        ("9", 9),
        ("0", 0),  # stock accepts SIG_DFL's value
    ],
)
def test_signal_number(text, expected):
    assert dt.signal_number(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("FOO", "not a signal name"),
        ("", "not a signal name"),
        ("SIGNAL", "not a signal name"),
        ("40", "not a valid signal number"),
        ("-1", "not a valid signal number"),
        ("999", "not a valid signal number"),
    ],
)
def test_signal_number_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        dt.signal_number(text)


@pytest.mark.parametrize(
    "text, expected",
    [("0", (0,)), ("0,2", (0, 2)), (" 1 , 255", (1, 255)), ("", ()), ("3", (3,))],
)
def test_exitcodes(text, expected):
    assert dt.exitcodes(text) == expected


@pytest.mark.parametrize("text", ["256", "-1", "0,", "a", "0;1", "1.0"])
def test_exitcodes_rejects(text):
    with pytest.raises(ValueError, match="exit code"):
        dt.exitcodes(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("true", AutoRestart.ALWAYS),
        ("Yes", AutoRestart.ALWAYS),
        ("1", AutoRestart.ALWAYS),
        ("false", AutoRestart.NEVER),
        ("off", AutoRestart.NEVER),
        ("unexpected", AutoRestart.UNEXPECTED),
        ("UNEXPECTED", AutoRestart.UNEXPECTED),
    ],
)
def test_autorestart(text, expected):
    assert dt.autorestart(text) is expected


@pytest.mark.parametrize("text", ["always", "", "never", "sometimes"])
def test_autorestart_rejects(text):
    with pytest.raises(ValueError, match="not an autorestart value"):
        dt.autorestart(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("critical", 50),
        ("error", 40),
        ("warn", 30),
        ("INFO", 20),
        ("debug", 10),
        ("trace", 5),
        ("blather", 3),
    ],
)
def test_logging_level(text, expected):
    assert dt.logging_level(text) == expected


@pytest.mark.parametrize("text", ["warning", "crit", "", "loud"])
def test_logging_level_rejects(text):
    with pytest.raises(ValueError, match="not a log level"):
        dt.logging_level(text)


@pytest.mark.parametrize(
    "text, expected", [("web", "web"), ("  web_1 ", "web_1"), ("a.b-c", "a.b-c"), ("", "")]
)
def test_name(text, expected):
    assert dt.name(text) == expected


@pytest.mark.parametrize("text, char", [("a b", "' '"), ("a:b", "':'"), ("a/b", "'/'")])
def test_name_rejects(text, char):
    with pytest.raises(ValueError, match=f"invalid name .* contains {char}"):
        dt.name(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", {}),
        ("A=1", {"A": "1"}),
        ("A=1,B=2", {"A": "1", "B": "2"}),
        ('A="v,2",B=x', {"A": "v,2", "B": "x"}),
        ("A='a b'", {"A": "a b"}),
        ("PATH=/usr/bin:/bin", {"PATH": "/usr/bin:/bin"}),
        ("X=a.b+c-d(e)", {"X": "a.b+c-d(e)"}),
        ('A=""', {"A": ""}),
        ("A=1,A=2", {"A": "2"}),
        ("A=1;B=2", {"A": "1", "B": "2"}),  # the separator is not checked (stock)
        ("A=x#comment", {"A": "x"}),  # non-POSIX shlex drops '#...' (stock)
        ("A=$HOME", {"A": "$"}),  # "$" is a token of its own, "HOME" is dropped (stock)
    ],
)
def test_environment(text, expected):
    assert dt.environment(text) == expected


@pytest.mark.parametrize("text", ["A", "A=", "A=1 B=2", "=1", "A=1,B", 'A="open'])
def test_environment_rejects(text):
    with pytest.raises(ValueError, match="not a list of KEY=value pairs"):
        dt.environment(text)


def test_user_by_name_and_number():
    assert dt.user(ME.pw_name) == (ME.pw_uid, ME.pw_gid)
    assert dt.user(str(ME.pw_uid)) == (ME.pw_uid, ME.pw_gid)


@pytest.mark.parametrize(
    "text, message", [("no-such-user-xyz", "no such user"), ("987654", "no such user id")]
)
def test_user_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        dt.user(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        (ME.pw_name, (ME.pw_uid, -1)),
        (f"{ME.pw_name}:{MY_GROUP}", (ME.pw_uid, ME.pw_gid)),
        (f"{ME.pw_uid}:{ME.pw_gid}", (ME.pw_uid, ME.pw_gid)),
    ],
)
def test_owner(text, expected):
    assert dt.owner(text) == expected


@pytest.mark.parametrize(
    "text", ["no-such-user-xyz", f"{ME.pw_name}:no-such-group-xyz", f"{ME.pw_name}:", ""]
)
def test_owner_rejects(text):
    with pytest.raises(ValueError, match="not a valid user"):
        dt.owner(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("9001", ("", 9001)),
        (":9001", ("", 9001)),
        ("*:9001", ("", 9001)),
        ("127.0.0.1:9001", ("127.0.0.1", 9001)),
        ("LocalHost:1", ("localhost", 1)),
        ("[::1]:65535", ("[::1]", 65535)),
    ],
)
def test_inet_address(text, expected):
    assert dt.inet_address(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("host:", "no port number"),
        ("host:0", "outside 1..65535"),
        ("65536", "outside 1..65535"),
        ("host:http", "not a port number"),
        ("", "not a port number"),
    ],
)
def test_inet_address_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        dt.inet_address(text)


def test_logfile(tmp_path):
    assert dt.logfile("NONE") is None
    assert dt.logfile("off") is None
    assert dt.logfile("") is None
    assert dt.logfile("auto") is AUTO
    assert dt.logfile("AUTO") is AUTO
    assert dt.logfile("Syslog") is dt.Syslog.SYSLOG
    assert dt.logfile(str(tmp_path / "x.log")) == str(tmp_path / "x.log")
    assert dt.logfile("relative.log") == "relative.log"
    assert dt.logfile("~/x.log") == os.path.expanduser("~/x.log")


def test_logfile_rejects_missing_directory(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        dt.logfile(str(tmp_path / "nodir" / "x.log"))


def test_existing_directory(tmp_path):
    assert dt.existing_directory(str(tmp_path)) == str(tmp_path)
    assert dt.existing_directory("~") == os.path.expanduser("~")
    with pytest.raises(ValueError, match="not an existing directory"):
        dt.existing_directory(str(tmp_path / "nope"))
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="not an existing directory"):
        dt.existing_directory(str(tmp_path / "file"))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("PROCESS_STATE", ("PROCESS_STATE",)),
        ("tick_5, tick_60", ("TICK_5", "TICK_60")),
        ("TICK_60,TICK_5,tick_5", ("TICK_5", "TICK_60")),
        ("EVENT", ("EVENT",)),
    ],
)
def test_event_names(text, expected):
    assert dt.event_names(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no event types"),
        ("TICK_5,NOPE", "unknown event type 'NOPE'"),
        ("TICK_5,", "unknown event type ''"),
    ],
)
def test_event_names_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        dt.event_names(text)
