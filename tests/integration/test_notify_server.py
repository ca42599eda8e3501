"""NotifyServer on a real loop, datagrams from real child processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from typing import Any, Optional

import psutil

from supervisor_ng.runtime.faults import Faults
from supervisor_ng.runtime.notify_server import PER_TURN, NotifyServer, parse_message

SEND = r"""
import os, socket, sys
def send(text, fds=()):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    addr = os.environ["NOTIFY_SOCKET"]
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, bytes(__import__("array").array("i", fds)))] if fds else []
    s.sendmsg([text.encode()], anc, 0, "\0" + addr[1:])
    s.close()
"""


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def debug(self, msg: str) -> None:
        self.lines.append(msg)

    error = warn = info = debug


class Owner:
    def __init__(self, name: str) -> None:
        self.name = name
        self.got: list[tuple[int, dict[str, str]]] = []
        self.turns: list[int] = []
        self.turn = 0

    def notified(self, pid: int, fields: dict[str, str]) -> None:
        self.got.append((pid, fields))
        self.turns.append(self.turn)


async def until(pred: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def child(server: NotifyServer, code: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, NOTIFY_SOCKET=server.address)
    return subprocess.Popen([sys.executable, "-c", SEND + code], env=env)


def run(body: Any) -> Any:
    return asyncio.run(body())


def make(owners: dict[int, Owner]) -> tuple[NotifyServer, Log]:
    log = Log()
    server = NotifyServer(owners.get, log, Faults(log))
    server.start(asyncio.get_running_loop())
    return server, log


def test_ready_status_mainpid_from_the_main_process() -> None:
    async def body() -> None:
        owners: dict[int, Owner] = {}
        server, _ = make(owners)
        proc = child(server, "import time\nsend('READY=1\\nSTATUS=up and running\\nMAINPID=4242\\nbogus\\n')\ntime.sleep(30)")
        owner = owners[proc.pid] = Owner("web")
        try:
            await until(lambda: owner.got)
            assert owner.got == [(proc.pid, {"READY": "1", "STATUS": "up and running", "MAINPID": "4242"})]
        finally:
            proc.kill()
            proc.wait()
            server.close()

    run(body)


def test_grandchild_is_matched_to_its_program_and_a_stranger_is_dropped() -> None:
    async def body() -> None:
        owners: dict[int, Owner] = {}
        server, log = make(owners)
        # The main process waits for its own child, which sends and stays
        # (a sender is matched by its ancestry in /proc: one already gone by
        # the time the loop reads its datagram cannot be, which a loaded
        # machine made happen here).
        grandchild = SEND + "send('STATUS=from below')\nimport time\ntime.sleep(60)"
        main = child(server, f"import subprocess\nsubprocess.run([sys.executable, '-c', {grandchild!r}])")
        owner = owners[main.pid] = Owner("web")
        stranger = child(server, "import time\nsend('READY=1')\ntime.sleep(60)")
        try:
            await until(lambda: owner.got and server.dropped)
            assert [f for _, f in owner.got] == [{"STATUS": "from below"}]
            assert owner.got[0][0] != main.pid
            assert any(f"pid {stranger.pid}, which belongs to no program" in line for line in log.lines)
        finally:
            for proc in [*psutil.Process(main.pid).children(), main, stranger]:
                proc.kill()
            main.wait()
            stranger.wait()
            server.close()

    run(body)


def test_passed_fds_are_closed() -> None:
    async def body() -> None:
        owners: dict[int, Owner] = {}
        server, _ = make(owners)
        before = set(os.listdir("/proc/self/fd"))
        proc = child(server, "import time\nr, w = os.pipe()\nsend('FDSTORE=1', [r, w])\ntime.sleep(30)")
        owner = owners[proc.pid] = Owner("web")
        try:
            await until(lambda: owner.got)
            # The fds arrived (the message counted) and none stayed open here.
            assert owner.got[0][1] == {"FDSTORE": "1"}
            assert set(os.listdir("/proc/self/fd")) <= before
        finally:
            proc.kill()
            proc.wait()
            server.close()

    run(body)


def test_a_flood_is_read_a_bounded_number_per_loop_turn() -> None:
    async def body() -> None:
        loop = asyncio.get_running_loop()
        owners: dict[int, Owner] = {}
        server, _ = make(owners)
        count = 1000
        proc = child(server, f"for i in range({count}): send('STATUS=%d' % i)")
        owner = owners[proc.pid] = Owner("web")
        stop = False

        def turn() -> None:
            owner.turn += 1
            if not stop:
                loop.call_soon(turn)

        turn()
        try:
            await until(lambda: len(owner.got) >= count, timeout=60)
            per_turn: dict[int, int] = {}
            for t in owner.turns:
                per_turn[t] = per_turn.get(t, 0) + 1
            assert max(per_turn.values()) <= PER_TURN
            assert [f["STATUS"] for _, f in owner.got] == [str(i) for i in range(count)]
        finally:
            stop = True
            proc.kill()
            proc.wait()
            server.close()

    run(body)


def test_drain_reads_what_is_queued_without_the_loop() -> None:
    async def body() -> None:
        owners: dict[int, Owner] = {}
        log = Log()
        server = NotifyServer(owners.get, log, Faults(log))  # not started: only drain() reads
        proc = child(server, "send('MAINPID=1234')\nimport time\ntime.sleep(30)")
        owner = owners[proc.pid] = Owner("web")
        try:
            deadline = time.monotonic() + 20
            while not owner.got:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
                server.drain()
            assert owner.got[0][1] == {"MAINPID": "1234"}
        finally:
            proc.kill()
            proc.wait()
            server.close()

    run(body)


def test_a_failing_owner_is_contained() -> None:
    async def body() -> None:
        class Broken(Owner):
            def notified(self, pid: int, fields: dict[str, str]) -> None:
                super().notified(pid, fields)
                raise RuntimeError("boom")

        owners: dict[int, Any] = {}
        server, log = make(owners)
        proc = child(server, "send('STATUS=a')\nsend('STATUS=b')\nimport time\ntime.sleep(30)")
        owner = owners[proc.pid] = Broken("web")
        try:
            await until(lambda: len(owner.got) == 2)
            assert server.faults.count == 2
        finally:
            proc.kill()
            proc.wait()
            server.close()

    run(body)


def test_parse_message_as_systemd() -> None:
    assert parse_message(b"READY=1\nSTATUS=a=b\r\nnoequals\n=x\nSTATUS=second\n") == {"READY": "1", "STATUS": "a=b"}
    assert parse_message(b"READY=0\nREADY=1") == {"READY": "1"}
    assert parse_message(b"WATCHDOG=1\nWATCHDOG=trigger") == {"WATCHDOG": "trigger"}
    assert parse_message(b"READY=1\0") == {"READY": "1"}
    assert parse_message(b"READY=1\0STATUS=x") is None
    assert parse_message(b"STATUS=\xff\nREADY=1") == {"READY": "1"}


def test_oversized_datagram_is_dropped() -> None:
    async def body() -> None:
        owners: dict[int, Owner] = {}
        server, log = make(owners)
        proc = child(server, "send('STATUS=' + 'x' * 5000)\nsend('READY=1')\nimport time\ntime.sleep(30)")
        owner: Optional[Owner] = owners.setdefault(proc.pid, Owner("web"))
        try:
            await until(lambda: owner.got)
            assert [f for _, f in owner.got] == [{"READY": "1"}]
            assert any("over 4096 bytes" in line for line in log.lines)
        finally:
            proc.kill()
            proc.wait()
            server.close()

    run(body)
