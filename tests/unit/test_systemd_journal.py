"""Journal outputs, with a recording sender in place of systemd.journal.sendv."""

from __future__ import annotations

import time

from supervisor_ng.logs.journal import ChannelJournal, MainLogJournal
from supervisor_ng.logs.mainlog import ERROR, INFO, LogRecord


class Recorder:
    def __init__(self) -> None:
        self.entries: list[dict[str, bytes]] = []

    def __call__(self, *fields: object) -> None:
        entry = {}
        for field in fields:
            raw = field if isinstance(field, bytes) else str(field).encode()
            key, _, value = raw.partition(b"=")
            entry[key.decode()] = value
        self.entries.append(entry)


def test_lines_fields_and_priorities():
    rec = Recorder()
    out, err = ChannelJournal("web_01", "web", "stdout", rec), ChannelJournal("web_01", "web", "stderr", rec)
    out.write(b"one\ntw")
    out.write(b"o\n")
    err.write(b"bad\r\n")
    assert [e["MESSAGE"] for e in rec.entries] == [b"one", b"two", b"bad"]
    assert rec.entries[0]["SYSLOG_IDENTIFIER"] == b"web_01"
    assert rec.entries[0]["SUPERVISOR_GROUP_NAME"] == b"web"
    assert rec.entries[0]["SUPERVISOR_PROCESS_NAME"] == b"web_01"
    assert int(rec.entries[2]["PRIORITY"]) < int(rec.entries[0]["PRIORITY"])  # stderr is more urgent


def test_partial_line_waits_for_exit_and_long_lines_are_cut():
    rec = Recorder()
    ch = ChannelJournal("p", "p", "stdout", rec, line_max=4)
    ch.write(b"abcdefghij")
    assert [e["MESSAGE"] for e in rec.entries] == [b"abcd", b"efgh"]
    ch.write(b"\xff")
    ch.flush()
    assert rec.entries[-1]["MESSAGE"] == b"ij\xff"
    ch.flush()
    assert len(rec.entries) == 3


def test_main_log_levels():
    rec = Recorder()
    handler = MainLogJournal(sender=rec)
    handler(LogRecord(time.time(), ERROR, "a\nb"))
    handler(LogRecord(time.time(), INFO, "c"))
    assert [(e["MESSAGE"], e["PRIORITY"]) for e in rec.entries] == [(b"a", b"3"), (b"b", b"3"), (b"c", b"6")]
    assert rec.entries[0]["SYSLOG_IDENTIFIER"] == b"supervisord"
