"""The runtime driven without forking: an injected host (a clock moved by
hand, timers fired by the test, a spawner that records requests) and an
injected waitpid, around the real Supervisor, Process, dispatch and reaper.

Fake pids start above the kernel's largest pid_max (2**22), so a signal
sent to one by mistake can only fail with ESRCH.
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import itertools
import os
import weakref
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from supervisor_ng.config.loader import load
from supervisor_ng.core.states import ProcessState as S
from supervisor_ng.events.bus import SerialCounter
from supervisor_ng.logs.mainlog import MainLog
from supervisor_ng.runtime.faults import Faults
from supervisor_ng.runtime.reaper import Reaper
from supervisor_ng.runtime.spawn import ChildPipes, SpawnError, SpawnRequest
from supervisor_ng.runtime.supervisor import Supervisor

FAKE_PIDS = itertools.count(5_000_000)


class FakeTimer:
    def __init__(self, when: float, callback: Callable[[], Any]) -> None:
        self._when = when
        self.callback = callback
        self.cancelled = False

    def when(self) -> float:
        return self._when

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: FakeTimer) -> bool:
        return self._when < other._when


class FakeHost:
    def __init__(self) -> None:
        self.now = 1000.0
        self.timers: list[FakeTimer] = []
        self.spawned: list[tuple[int, SpawnRequest]] = []
        self.fail_spawn: Optional[str] = None

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_700_000_000.0 + self.now

    def call_at(self, when: float, callback: Callable[[], Any]) -> FakeTimer:
        timer = FakeTimer(when, callback)
        heapq.heappush(self.timers, timer)
        return timer

    def spawn(self, request: SpawnRequest) -> tuple[int, ChildPipes]:
        if self.fail_spawn:
            raise SpawnError(self.fail_spawn)
        pid = next(FAKE_PIDS)
        self.spawned.append((pid, request))
        return pid, ChildPipes(None, None, None)

    def advance(self, seconds: float) -> None:
        """Move the clock, firing every timer that falls due on the way."""
        end = self.now + seconds
        while self.timers and self.timers[0].when() <= end:
            timer = heapq.heappop(self.timers)
            if timer.cancelled:
                continue
            self.now = max(self.now, timer.when())
            timer.callback()
        self.now = end


class FakeWaitpid:
    def __init__(self) -> None:
        self.exits: list[tuple[int, int]] = []

    def __call__(self, pid: int, options: int) -> tuple[int, int]:
        if self.exits:
            return self.exits.pop(0)
        return 0, 0


class RecordingLog(MainLog):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def log(self, level: int, msg: str) -> None:
        self.lines.append(msg)


def make_supervisor(tmp_path: Path, programs: str) -> tuple[Supervisor, FakeHost, FakeWaitpid, RecordingLog]:
    conf = tmp_path / "supervisord.conf"
    conf.write_text(f"[supervisord]\nlogfile={tmp_path}/sd.log\nchildlogdir={tmp_path}\n" + programs)
    config = load(str(conf))
    log = RecordingLog()
    host = FakeHost()
    waitpid = FakeWaitpid()
    sv = Supervisor(
        config, log, reaper=Reaper(waitpid=waitpid), serial=SerialCounter(), faults=Faults(log), host=host,  # type: ignore[arg-type]
    )
    sv.bind(asyncio.new_event_loop())
    for gconfig in config.groups:
        sv.add_group(gconfig)
    settle(sv)
    return sv, host, waitpid, log


def settle(sv: Supervisor) -> None:
    """Let the loop run what the supervisor set going (autostart in slices)."""
    tasks = asyncio.all_tasks(sv.loop)
    if tasks:
        sv.loop.run_until_complete(asyncio.gather(*tasks))


def program(name: str, **options: object) -> str:
    opts = {"command": "/bin/sleep 100", "stdout_logfile": "NONE", "stderr_logfile": "NONE", **options}
    return f"[program:{name}]\n" + "".join(f"{k}={v}\n" for k, v in opts.items())


def proc(sv: Supervisor, name: str):
    return sv.groups[name].processes[name]


def exit_code(code: int) -> int:
    return code << 8


@pytest.fixture
def closing():
    made: list[Supervisor] = []
    yield made
    for sv in made:
        sv.loop.close()


def test_start_runs_after_startsecs_on_the_injected_clock(tmp_path, closing):
    sv, host, _waitpid, log = make_supervisor(tmp_path, program("a", startsecs=5))
    closing.append(sv)
    a = proc(sv, "a")
    assert a.state == S.STARTING
    pid, request = host.spawned[0]
    assert request.argv == ["/bin/sleep", "100"] and a.pid == pid
    host.advance(4.9)
    assert a.state == S.STARTING
    host.advance(0.2)
    assert a.state == S.RUNNING
    assert f"spawned: 'a' with pid {pid}" in log.lines
    assert any(line.startswith("success: a entered RUNNING state") for line in log.lines)


def test_backoff_retries_then_fatal(tmp_path, closing):
    sv, host, waitpid, log = make_supervisor(tmp_path, program("a", startsecs=1, startretries=2))
    closing.append(sv)
    a = proc(sv, "a")
    for attempt in range(3):
        pid = host.spawned[-1][0]
        waitpid.exits.append((pid, exit_code(1)))
        sv.reaper.reap()
        if attempt < 2:
            assert a.state == S.BACKOFF
            host.advance(attempt + 1.01)  # backoff waits 1, 2 ... s
            assert a.state == S.STARTING
    assert a.state == S.FATAL
    assert len(host.spawned) == 3
    assert "gave up: a entered FATAL state, too many start retries too quickly" in log.lines


def test_spawn_error_is_a_failed_start(tmp_path, closing):
    sv, host, _waitpid, log = make_supervisor(tmp_path, program("a", startretries=0))
    closing.append(sv)
    host.fail_spawn = "bad command"
    proc(sv, "a").start()
    assert proc(sv, "a").state == S.FATAL
    assert proc(sv, "a").spawnerr == "bad command"


def test_one_failing_exit_loses_no_other_exit_in_the_sweep(tmp_path, closing):
    names = ["a", "b", "c"]
    sv, host, waitpid, log = make_supervisor(tmp_path, "".join(program(n, startsecs=0, autorestart="false") for n in names))
    closing.append(sv)
    host.advance(0.01)  # startsecs=0: RUNNING at the next timer
    procs = {n: proc(sv, n) for n in names}
    assert all(p.state == S.RUNNING for p in procs.values())

    def broken(*args: object) -> None:
        raise RuntimeError("injected")

    procs["a"].machine.exited = broken  # type: ignore[method-assign]
    for p in procs.values():
        waitpid.exits.append((p.pid, exit_code(3)))
    sv.reaper.reap()
    assert procs["b"].state == S.EXITED and procs["c"].state == S.EXITED
    assert sv.faults.count == 1
    assert any("RuntimeError: injected" in line and "Traceback" in line for line in log.lines)


def test_a_failing_watcher_does_not_stop_the_others(tmp_path, closing):
    sv, host, waitpid, log = make_supervisor(tmp_path, program("a", startsecs=0, autostart="false"))
    closing.append(sv)
    a = proc(sv, "a")
    heard: list[str] = []

    def readiness(p: Any, change: Any) -> None:
        raise ValueError("watcher broke")

    sv.dispatch.watch("readiness", readiness)
    sv.dispatch.watch("live", lambda p, change: heard.append(change.new.name))
    waiter = sv.wait_for(a, lambda p: p.state == S.RUNNING)
    a.start()
    host.advance(0.01)
    assert heard == ["STARTING", "RUNNING"]
    assert waiter.done()
    assert sv.faults.count == 2  # STARTING and RUNNING
    with pytest.raises(ValueError):
        sv.dispatch.watch("nobody", readiness)


def test_live_state_enumerates_every_process(tmp_path, closing):
    sv, host, waitpid, log = make_supervisor(tmp_path, program("a", startsecs=0) + program("b", autostart="false"))
    closing.append(sv)
    host.advance(0.01)
    state = sv.live_state()
    a = state["groups"]["a"]["processes"]["a"]
    b = state["groups"]["b"]["processes"]["b"]
    assert a["state"] == "RUNNING" and a["pid"] == proc(sv, "a").pid and a["spawns"] == 1
    assert b["state"] == "STOPPED" and b["pid"] == 0
    assert a["stdin"] == {"open": False, "pending": 0}
    assert a["tree_stop"] == {"stopping": None, "leftovers": []}
    assert a["channels"]["stdout"]["destinations"] == []
    assert os.getpid() not in (a["pid"], b["pid"])


def test_autostart_of_a_big_group_goes_in_slices(tmp_path, closing):
    """Starting a group of hundreds hands the loop back between slices: a
    callback scheduled meanwhile runs before the last spawn."""
    sv, host, waitpid, log = make_supervisor(tmp_path, "")
    closing.append(sv)
    conf = tmp_path / "big.conf"
    conf.write_text(
        f"[supervisord]\nlogfile={tmp_path}/sd.log\nchildlogdir={tmp_path}\n"
        + program("w", numprocs=300, process_name="w%(process_num)d")
    )
    (group,) = load(str(conf)).groups
    seen_at: list[int] = []
    sv.add_group(group)
    sv.loop.call_soon(lambda: seen_at.append(len(host.spawned)))
    settle(sv)
    assert len(host.spawned) == 300
    assert seen_at and 0 < seen_at[0] < 300
    assert [r.argv for _pid, r in host.spawned] == [["/bin/sleep", "100"]] * 300


def test_autostart_of_many_groups_goes_in_slices_in_one_task(tmp_path, closing):
    """Hundreds of one-program groups (the usual config at scale) start in
    slices too, in their order: a callback scheduled meanwhile runs before
    the last spawn."""
    sv, host, waitpid, log = make_supervisor(tmp_path, "")
    closing.append(sv)
    conf = tmp_path / "many.conf"
    conf.write_text(
        f"[supervisord]\nlogfile={tmp_path}/sd.log\nchildlogdir={tmp_path}\n"
        + "".join(program(f"p{i:03d}", command=f"/bin/sleep {i}") for i in range(300))
    )
    groups = [sv.add_group(g, start=False) for g in load(str(conf)).groups]
    seen_at: list[int] = []
    sv.autostart(groups)
    assert len(asyncio.all_tasks(sv.loop)) == 1
    sv.loop.call_soon(lambda: seen_at.append(len(host.spawned)))
    settle(sv)
    assert [r.argv for _pid, r in host.spawned] == [["/bin/sleep", str(i)] for i in range(300)]
    assert seen_at and 0 < seen_at[0] < 300


@pytest.fixture
def unfrozen():
    yield
    gc.unfreeze()


def test_groups_are_frozen_once_they_settle_and_removed_ones_are_collected(tmp_path, closing, unfrozen):
    """A second after the groups stop changing, their objects are frozen
    (the collector's full passes skip them).  Removing a few of many keeps
    them frozen; once the removed ones outgrow a quarter of what lives, a
    full pass collects them."""
    sv, host, waitpid, log = make_supervisor(tmp_path, "")
    closing.append(sv)
    conf = tmp_path / "many.conf"
    conf.write_text(
        f"[supervisord]\nlogfile={tmp_path}/sd.log\nchildlogdir={tmp_path}\n"
        + "".join(program(f"p{i}", autostart="false") for i in range(8))
    )
    gc.unfreeze()
    sv.autostart([sv.add_group(g, start=False) for g in load(str(conf)).groups])
    settle(sv)
    first = weakref.ref(proc(sv, "p0"))
    host.advance(0.5)
    assert gc.get_freeze_count() == 0
    host.advance(0.6)
    assert gc.get_freeze_count() > 0
    assert any("groups settled" in line for line in log.lines)

    sv.remove_group("p0")  # 1 of 8: stays frozen (its group and process hold each other)
    host.advance(1.1)
    gc.collect()  # a pass of the collector's own: it does not walk what is frozen
    assert first() is not None
    second = weakref.ref(proc(sv, "p1"))
    for name in ("p1", "p2"):
        sv.remove_group(name)  # 3 removed against 5 living: a full pass
    host.advance(1.1)
    assert first() is None and second() is None


def test_a_reread_keeps_one_copy_of_each_unchanged_group(tmp_path, closing):
    """reloadConfig parses on a worker thread and reports the changes; the
    config it keeps shares the running groups' own objects where nothing
    changed, so a reread of 5,000 programs does not hold each one twice."""
    from supervisor_ng.runtime.control import Control

    sv, host, waitpid, log = make_supervisor(tmp_path, program("a") + program("b"))
    closing.append(sv)
    conf = tmp_path / "supervisord.conf"
    conf.write_text(conf.read_text().replace("[program:b]\ncommand=/bin/sleep 100", "[program:b]\ncommand=/bin/sleep 7"))
    changes = sv.loop.run_until_complete(Control(sv).reload_config())
    assert changes == ([], ["b"], [])
    assert sv.config.group("a") is sv.groups["a"].config
    assert sv.config.group("b") is not sv.groups["b"].config
    assert sv.config.group("b").processes[0].command == "/bin/sleep 7"
    sv.config_reader.close()
