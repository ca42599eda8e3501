from __future__ import annotations

import syslog

from supervisor_ng.logs import syslog_out
from supervisor_ng.logs.syslog_out import MAX_LINE, SyslogLineWriter


def make(name="web", **kw):
    sent: list[tuple[int, str]] = []
    w = SyslogLineWriter(name, sink=lambda p, m: sent.append((p, m)), **kw)
    return w, sent


def test_complete_lines_prefixed_with_name():
    w, sent = make()
    w.write(b"one\ntwo\n")
    assert sent == [(syslog.LOG_INFO, "web one"), (syslog.LOG_INFO, "web two")]


def test_partial_line_held_until_newline_and_flushed_on_close():
    w, sent = make(priority=syslog.LOG_ERR)
    w.write(b"hel")
    w.write(b"lo wor")
    assert sent == []
    w.write(b"ld\ntail")
    assert sent == [(syslog.LOG_ERR, "web hello world")]
    w.close()
    assert sent[-1] == (syslog.LOG_ERR, "web tail")
    w.close()
    assert len(sent) == 2


def test_blank_lines_and_bad_utf8():
    w, sent = make()
    w.write(b"\n\xff\xfe ok\n")
    assert [m for _, m in sent] == ["web ", "web \ufffd\ufffd ok"]


def test_endless_line_is_sent_in_pieces():
    w, sent = make()
    w.write(b"x" * (MAX_LINE * 2 + 10))
    assert [len(m) for _, m in sent] == [MAX_LINE + 4, MAX_LINE + 4]
    w.flush()
    assert sent[-1][1] == "web " + "x" * 10


def test_sink_errors_swallowed():
    def sink(p, m):
        raise OSError("no syslog")

    w = SyslogLineWriter("web", sink=sink)
    w.write(b"line\n")


def test_real_syslog_does_not_raise():
    syslog_out.send(syslog.LOG_DEBUG, "supervisor-ng unit test \0 message")
