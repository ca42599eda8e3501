"""Journal outputs, with a recording sender in place of systemd.journal.sendv."""

from __future__ import annotations

import asyncio
import time

import pytest

from supervisor_ng.logs.journal import ChannelJournal, MainLogJournal
from supervisor_ng.logs.journal_reader import JournalLog
from supervisor_ng.logs.mainlog import ERROR, INFO, LogRecord
from supervisor_ng.logs.reader import BadArguments


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


# -- reading a channel back from the journal -----------------------------------------


class FakeReader:
    """The part of systemd.journal.Reader that JournalLog uses, over a list
    shared with the test (positions as sd_journal: next/previous move onto
    an entry; at the end, next fails and stays on the last one)."""

    def __init__(self, messages: list[bytes]) -> None:
        self.messages = messages
        self.pos = -1
        self.closed = False

    def seek_head(self) -> None:
        self.pos = -1

    def seek_tail(self) -> None:
        self.pos = len(self.messages)

    def _next(self) -> bool:
        if self.pos + 1 < len(self.messages):
            self.pos += 1
            return True
        return False

    def _previous(self) -> bool:
        if self.pos - 1 >= 0:
            self.pos -= 1
            return True
        return False

    def _get(self, field: str) -> bytes:
        assert field == "MESSAGE"
        return self.messages[self.pos]

    def _get_cursor(self) -> str:
        return f"c{self.pos}"

    def seek_cursor(self, cursor: str) -> None:
        self.pos = int(cursor[1:]) - 1

    def test_cursor(self, cursor: str) -> bool:
        return cursor == f"c{self.pos}"

    def close(self) -> None:
        self.closed = True


def _log(messages: list[bytes]) -> JournalLog:
    return JournalLog("p", "g", "stdout", pid=1, factory=lambda: FakeReader(messages))


def _run(awaitable):
    async def run():
        return await awaitable

    return asyncio.run(run())


def test_journal_stream_is_messages_with_newlines():
    msgs = [b"one", b"two", b"three"]
    log = _log(msgs)
    assert _run(log.read(0, 0)) == b"one\ntwo\nthree\n"
    assert _run(log.read(5, 0)) == b"wo\nthree\n"
    assert _run(log.read(2, 5)) == b"e\ntwo"
    assert _run(log.read(-7, 0)) == b"\nthree\n"
    assert _run(log.read(-100, 0)) == b"one\ntwo\nthree\n"
    assert _run(log.read(100, 0)) == b""
    with pytest.raises(BadArguments):
        _run(log.read(-1, 1))
    with pytest.raises(BadArguments):
        _run(log.read(0, -1))


def test_journal_tail_counts_on_and_overflows_as_tail_file():
    msgs = [b"one", b"two"]
    log = _log(msgs)
    assert _run(log.tail(0, 100)) == (b"one\ntwo\n", 8, False)
    assert _run(log.tail(8, 100)) == (b"", 8, False)
    msgs.append(b"x" * 20)
    assert _run(log.size()) == 29
    assert _run(log.tail(8, 5)) == (b"xxxx\n", 29, True)
    assert _run(log.tail(8, 0)) == (b"", 29, True)
    assert _run(_log([]).tail(0, 10)) == (b"", 0, False)


class VacuumReader(FakeReader):
    """FakeReader over a journal whose oldest ``gone[0]`` entries journald
    deleted; counts the entries it visits."""

    def __init__(self, messages: list[bytes], gone: list[int], visits: list[int]) -> None:
        super().__init__(messages)
        self.gone = gone
        self.visits = visits

    def seek_head(self) -> None:
        self.pos = self.gone[0] - 1

    def _next(self) -> bool:
        self.pos = max(self.pos, self.gone[0] - 1)
        self.visits[0] += 1
        return super()._next()

    def _previous(self) -> bool:
        self.visits[0] += 1
        if self.pos - 1 < self.gone[0]:
            return False
        return super()._previous()

    def test_cursor(self, cursor: str) -> bool:
        return self.pos >= self.gone[0] and super().test_cursor(cursor)


def test_offset_reads_start_from_a_mark_and_survive_vacuuming(monkeypatch):
    from supervisor_ng.logs import journal_reader

    monkeypatch.setattr(journal_reader, "MARK_EVERY", 100)
    msgs = [b"%04d" % i for i in range(2000)]  # 5 bytes each with the newline
    stream = b"".join(m + b"\n" for m in msgs)
    gone, visits = [0], [0]
    log = JournalLog("p", "g", "stdout", pid=1, factory=lambda: VacuumReader(msgs, gone, visits))
    assert _run(log.size()) == len(stream)
    visits[0] = 0
    assert _run(log.read(9000, 20)) == stream[9000:9020]
    assert visits[0] < 60  # from the mark before 9000, not from the oldest entry
    assert _run(log.read(-12, 0)) == stream[-12:]
    gone[0] = 1000  # journald deleted the oldest half: positions do not move
    assert _run(log.tail(0, 10)) == (stream[-10:], len(stream), True)
    assert _run(log.read(5003, 7)) == stream[5003:5010]
    assert _run(log.read(0, 20)) == b""  # those bytes are gone
    assert _run(log.read(4990, 20)) == stream[5000:5010]  # what is left of the range
    assert _run(log.read(100, 0)) == stream[5000:]
    msgs.append(b"new")
    gone[0] = 2000  # every entry counted before is gone now
    assert _run(log.read(0, 0)) == b"new\n"
    assert _run(log.tail(0, 100)) == (b"new\n", len(stream) + 4, True)


def test_journal_follower_head_then_new_entries():
    msgs = [b"a" * 10, b"b" * 10]
    follower = _log(msgs).follower(head=15)
    assert follower.read_new() == [b"aaa\n" + b"b" * 10 + b"\n"]
    assert follower.read_new() == []
    msgs.extend([b"c", b"d"])
    assert follower.read_new() == [b"c\nd\n"]
    empty: list[bytes] = []
    follower = _log(empty).follower()
    assert follower.read_new() == []
    empty.append(b"first")
    assert follower.read_new() == [b"first\n"]


def test_journal_follower_reads_a_bounded_amount_per_call(monkeypatch):
    from supervisor_ng.logs import journal_reader

    monkeypatch.setattr(journal_reader, "READ_LIMIT", 10)
    msgs: list[bytes] = []
    follower = _log(msgs).follower(head=0)
    msgs.extend([b"abcd"] * 5)  # 25 bytes: a burst bigger than one turn's share
    assert follower.read_new() == [b"abcd\nabcd\n"] and follower.more
    assert follower.read_new() == [b"abcd\nabcd\n"] and follower.more
    assert follower.read_new() == [b"abcd\n"] and not follower.more


def test_logtail_serves_journal_and_wakes_on_its_fd(tmp_path):
    import os

    from supervisor_ng.http import wire
    from supervisor_ng.http.logtail import TailStreams

    msgs = [b"old"]
    rfd, wfd = os.pipe()

    class FdReader(FakeReader):
        def fileno(self) -> int:
            return rfd

        def process(self) -> None:
            os.read(rfd, 100)

    log = JournalLog("p", "g", "stdout", pid=1, factory=lambda: FdReader(msgs))
    tails = TailStreams()
    reported: list[str] = []

    async def handler(request: wire.Request) -> wire.StreamResponse:
        return await tails.serve_journal(request, log, lambda: None)

    async def read_until(reader: asyncio.StreamReader, got: bytearray, wanted: bytes) -> None:
        while wanted not in got:
            chunk = await asyncio.wait_for(reader.read(4096), 5)
            assert chunk, bytes(got)
            got.extend(chunk)

    async def run() -> bytes:
        path = str(tmp_path / "s")
        server = await asyncio.get_running_loop().create_unix_server(
            wire.Server(handler, lambda level, text: reported.append(text), keepalive_timeout=60), path
        )
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(b"GET /t HTTP/1.1\r\nHost: x\r\n\r\n")
        got = bytearray()
        await read_until(reader, got, b"old\n")
        msgs.append(b"new")
        os.write(wfd, b"!")  # what journald's write does to the inotify fd
        await read_until(reader, got, b"new\n")
        tails.close()
        await read_until(reader, got, b"0\r\n\r\n")  # the tail ends with the daemon
        writer.close()
        server.close()
        return bytes(got)

    try:
        got = asyncio.run(run())
    finally:
        os.close(rfd)
        os.close(wfd)
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Transfer-Encoding: chunked" in head
    assert b"old\n" in body and body.index(b"old\n") < body.index(b"new\n")
    assert reported == []


def test_own_cgroups_only_where_journald_certainly_records_it(tmp_path) -> None:
    from supervisor_ng.logs.journal_reader import own_cgroups

    f = tmp_path / "cgroup"
    f.write_text("1:name=systemd:/old\n0::/system.slice/supervisord.service\n")
    assert own_cgroups(str(f)) == []  # moved: not certain which one journald reads
    f.write_text("12:cpu,cpuacct:/x\n1:name=systemd:/system.slice/supervisord.service\n")
    assert own_cgroups(str(f)) == ["/system.slice/supervisord.service"]
    f.write_text("0::/\n")  # the root: journald records no cgroup there
    assert own_cgroups(str(f)) == []
    f.write_text("1:name=systemd:/\n0::/supervisor-ng-1/supervisord\n")  # either may be read
    assert own_cgroups(str(f)) == []
    assert own_cgroups(str(tmp_path / "missing")) == []
