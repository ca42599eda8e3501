from __future__ import annotations

import os
import re
import syslog
import time

import pytest

from supervisor_ng.config.model import ParseMessage, SupervisordConfig
from supervisor_ng.logs.mainlog import (
    BLATHER,
    CRITICAL,
    DEBUG,
    ERROR,
    INFO,
    TRACE,
    WARN,
    LogRecord,
    MainLog,
    format_time,
)

LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (CRIT|ERRO|WARN|INFO|DEBG|TRAC|BLAT) (.*)$"
)


def lines(path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def tags_and_messages(path) -> list[tuple[str, str]]:
    out = []
    for line in lines(path):
        m = LINE.match(line)
        assert m, line
        out.append((m.group(1), m.group(2)))
    return out


def test_line_format_exactly_stock(tmp_path):
    path = tmp_path / "supervisord.log"
    log = MainLog()
    log.attach(str(path))
    log.info("spawned: 'x' with pid 5")
    data = path.read_text()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO spawned: 'x' with pid 5\n", data
    )
    assert log.path == str(path)


def test_format_time_local_and_truncated_millis():
    t = 1700000000.9999
    expected = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(1700000000)) + ",999"
    assert format_time(t) == expected
    assert format_time(1700000001.0)[-4:] == ",000"
    record = LogRecord(1700000000.5, WARN, "hello")
    assert record.line() == format_time(1700000000.5) + " WARN hello\n"


def test_every_level_and_tag(tmp_path):
    path = tmp_path / "l.log"
    log = MainLog(BLATHER)
    log.attach(str(path))
    log.critical("c")
    log.error("e")
    log.warn("w")
    log.info("i")
    log.debug("d")
    log.trace("t")
    log.blather("b")
    assert tags_and_messages(path) == [
        ("CRIT", "c"),
        ("ERRO", "e"),
        ("WARN", "w"),
        ("INFO", "i"),
        ("DEBG", "d"),
        ("TRAC", "t"),
        ("BLAT", "b"),
    ]


def test_level_filtering(tmp_path):
    path = tmp_path / "l.log"
    log = MainLog()
    log.attach(str(path), level=WARN)
    log.info("no")
    log.warn("yes")
    log.log(ERROR, "yes too")
    log.debug("no")
    log.level = DEBUG
    log.debug("now yes")
    log.trace("no")
    assert [m for _, m in tags_and_messages(path)] == ["yes", "yes too", "now yes"]
    assert log.enabled_for(DEBUG) and not log.enabled_for(TRACE)


def test_multiline_message_written_as_is(tmp_path):
    path = tmp_path / "l.log"
    log = MainLog(DEBUG)
    log.attach(str(path))
    log.debug("'x' stdout output:\nhello\n")
    text = path.read_text()
    assert text.endswith(" DEBG 'x' stdout output:\nhello\n\n")


def test_echo_to_stdout(tmp_path, capfd):
    path = tmp_path / "l.log"
    log = MainLog()
    log.attach(str(path), echo=True)
    log.info("both places")
    out = capfd.readouterr().out
    assert LINE.match(out.rstrip("\n")) and out.endswith(" INFO both places\n")
    assert path.read_text() == out


def test_attach_config_echo_only_when_nodaemon_and_not_silent(tmp_path, capfd):
    cfg = SupervisordConfig(logfile=str(tmp_path / "a.log"), nodaemon=True, silent=True)
    log = MainLog()
    log.attach_config(cfg)
    log.info("quiet")
    assert capfd.readouterr().out == ""
    cfg = SupervisordConfig(logfile=str(tmp_path / "b.log"), nodaemon=True, loglevel=WARN)
    log.attach_config(cfg, [ParseMessage(WARN, "parse warning"), ParseMessage(INFO, "below level")])
    log.info("filtered")
    log.critical("loud")
    out = capfd.readouterr().out
    assert [line.split(" ", 3)[2:] for line in out.splitlines()] == [
        ["WARN", "parse warning"],
        ["CRIT", "loud"],
    ]
    assert lines(tmp_path / "a.log")[0].endswith("INFO quiet")
    assert len(lines(tmp_path / "b.log")) == 2


def test_buffering_then_attach_flushes_with_original_time(tmp_path):
    log = MainLog.buffering()
    assert log.buffering_now
    log.info("early info")
    log.debug("early debug")
    before = format_time(time.time())[:19]
    path = tmp_path / "l.log"
    log.attach(str(path), level=INFO)
    log.info("later")
    got = tags_and_messages(path)
    assert got == [("INFO", "early info"), ("INFO", "later")]
    assert lines(path)[0][:19] <= before
    assert not log.buffering_now


def test_attach_failure_keeps_buffer(tmp_path, capfd):
    log = MainLog.buffering()
    log.critical("config problem")
    with pytest.raises(OSError):
        log.attach(str(tmp_path / "missing-dir" / "l.log"))
    # The daemon can still show what it had to say.
    log.attach(None, echo=True, echo_fd=2)
    assert capfd.readouterr().err.endswith(" CRIT config problem\n")
    assert log.path is None


def test_reopen_after_file_moved_away(tmp_path):
    path = tmp_path / "l.log"
    log = MainLog()
    log.attach(str(path))
    log.info("one")
    os.rename(path, tmp_path / "l.log.rotated")
    log.info("two")  # still the old file until reopened
    log.reopen()
    log.info("three")
    assert [m for _, m in tags_and_messages(tmp_path / "l.log.rotated")] == ["one", "two"]
    assert [m for _, m in tags_and_messages(path)] == ["three"]


def test_main_log_rotates(tmp_path):
    path = tmp_path / "l.log"
    log = MainLog()
    log.attach(str(path), maxbytes=300, backups=2)
    for i in range(100):
        log.info(f"message {i:03d}")
    got = []
    for p in (tmp_path / "l.log.2", tmp_path / "l.log.1", path):
        got += [int(m.split()[1]) for _, m in tags_and_messages(p)]
    assert got == list(range(got[0], 100))
    assert not (tmp_path / "l.log.3").exists()


def test_clear(tmp_path):
    path = tmp_path / "l.log"
    log = MainLog()
    log.attach(str(path), maxbytes=100, backups=1)
    for i in range(5):
        log.info(f"message {i}")
    assert (tmp_path / "l.log.1").exists()
    log.clear()
    assert path.read_bytes() == b""
    assert (tmp_path / "l.log.1").exists()
    log.info("after")
    assert [m for _, m in tags_and_messages(path)] == ["after"]
    os.unlink(path)
    with pytest.raises(FileNotFoundError):
        log.clear()


def test_clear_without_file():
    log = MainLog()
    log.attach(None)
    with pytest.raises(FileNotFoundError):
        log.clear()


def test_syslog_output():
    sent: list[tuple[int, str]] = []
    log = MainLog()
    log.attach("syslog", syslog_sink=lambda prio, msg: sent.append((prio, msg)))
    log.info("hello")
    log.error("two\nlines\n")
    log.debug("filtered")
    assert log.path is None
    assert [p for p, _ in sent] == [syslog.LOG_INFO, syslog.LOG_ERR, syslog.LOG_ERR]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO hello", sent[0][1])
    assert sent[1][1].endswith(" ERRO two") and sent[2][1].endswith(" ERRO lines")


def test_add_handler_receives_records_and_failures_are_reported_once(tmp_path):
    path = tmp_path / "l.log"
    log = MainLog()
    log.attach(str(path))
    seen: list[LogRecord] = []
    log.add_handler(seen.append)
    log.info("to both")
    log.debug("filtered")
    assert [(r.level, r.message) for r in seen] == [(INFO, "to both")]

    calls = []

    def broken(record: LogRecord) -> None:
        calls.append(record)
        raise RuntimeError("journal gone")

    log.add_handler(broken)
    log.info("a")
    log.info("b")
    assert len(calls) == 2
    messages = [m for _, m in tags_and_messages(path)]
    assert messages[:2] == ["to both", "a"]
    assert sum("journal gone" in m for m in messages) == 1
    assert [r.message for r in seen if "journal gone" in r.message]  # other handlers told too
    log.remove_handler(broken)
    log.info("c")
    assert len(calls) == 2


def test_handlers_reopen_and_close_hooks(tmp_path):
    class Plugin:
        def __init__(self):
            self.events = []

        def __call__(self, record):
            self.events.append("emit")

        def reopen(self):
            self.events.append("reopen")

        def close(self):
            self.events.append("close")

    plugin = Plugin()
    log = MainLog()
    log.attach(str(tmp_path / "l.log"))
    log.add_handler(plugin)
    log.info("x")
    log.reopen()
    log.close()
    assert plugin.events == ["emit", "reopen", "close"]


def test_file_error_reported_through_echo(capfd):
    log = MainLog()
    log.attach("/dev/full", echo=True)
    log.info("first")
    log.info("second")
    out = capfd.readouterr().out.splitlines()
    assert out[0].endswith(" INFO first")
    assert re.search(r" ERRO cannot write log file /dev/full: No space left on device", out[1])
    assert out[2].endswith(" INFO second")
    assert len(out) == 3


def test_file_error_without_other_outputs_goes_to_stderr(capfd):
    log = MainLog()
    log.attach("/dev/full")
    log.info("x")
    log.info("y")
    err = capfd.readouterr().err
    assert err.count("cannot write log file /dev/full") == 1


def test_reattach_replaces_outputs(tmp_path):
    log = MainLog()
    log.attach(str(tmp_path / "a.log"))
    log.info("a")
    log.attach(str(tmp_path / "b.log"))
    log.info("b")
    assert [m for _, m in tags_and_messages(tmp_path / "a.log")] == ["a"]
    assert [m for _, m in tags_and_messages(tmp_path / "b.log")] == ["b"]


def test_non_utf8_safe_message(tmp_path):
    path = tmp_path / "l.log"
    log = MainLog()
    log.attach(str(path))
    log.info(b"caf\xe9".decode("utf-8", "surrogateescape"))
    log.info("lone \ud800 surrogate")
    data = path.read_bytes()
    assert b"INFO caf\xe9\n" in data
    assert b"lone \\ud800 surrogate" in data


def test_critical_level_constant():
    assert (CRITICAL, ERROR, WARN, INFO, DEBUG, TRACE, BLATHER) == (50, 40, 30, 20, 10, 5, 3)
