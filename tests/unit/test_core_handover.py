"""ProcessMachine.snapshot()/restore(): a machine rebuilt from what a former
daemon binary handed over (issue 16) goes on exactly as the original would."""

from __future__ import annotations

import json
import signal

import pytest

from supervisor_ng.config.model import ProcessConfig
from supervisor_ng.core.process import Kill, Log, ProcessMachine, Spawn, StateChanged
from supervisor_ng.core.states import ProcessState as S


def config(**kw) -> ProcessConfig:
    kw.setdefault("name", "p")
    kw.setdefault("group", "p")
    kw.setdefault("command", "/bin/true")
    return ProcessConfig(**kw)


def through_json(m: ProcessMachine) -> ProcessMachine:
    """What the new daemon gets: the snapshot as it comes out of JSON."""
    return ProcessMachine.restore(m.config, json.loads(json.dumps(m.snapshot())))


def states(actions) -> list[S]:
    return [a.new for a in actions if isinstance(a, StateChanged)]


def started(cfg: ProcessConfig, now: float = 10.0, pid: int = 100) -> ProcessMachine:
    m = ProcessMachine(cfg)
    assert Spawn() in m.tick(now, may_autostart=True)
    m.spawned(pid, now)
    return m


def same(a: ProcessMachine, b: ProcessMachine) -> None:
    assert a.snapshot() == b.snapshot()
    assert (a.state, a.pid, a.deadline(), a.backoff) == (b.state, b.pid, b.deadline(), b.backoff)


def test_starting_keeps_its_startsecs_deadline():
    m = started(config(startsecs=5))
    r = through_json(m)
    same(m, r)
    assert r.state == S.STARTING and r.deadline() is not None and r.deadline() > 15.0
    assert states(r.tick(14.0, True)) == []
    assert states(r.tick(r.deadline(), True)) == [S.RUNNING]


def test_running_exit_goes_on_as_before():
    m = started(config(startsecs=1))
    m.tick(20.0, True)
    r = through_json(m)
    assert r.state == S.RUNNING and r.deadline() is None
    actions = r.exited(1 << 8, 30.0, may_autostart=True)
    assert states(actions) == [S.EXITED, S.STARTING]  # autorestart=unexpected


def test_backoff_keeps_its_pending_retry_and_count():
    m = started(config(startsecs=5))
    m.exited(1 << 8, 11.0, may_autostart=True)
    assert Spawn() in m.tick(m.deadline(), True)  # retry 1
    m.spawned(101, 12.5)
    m.exited(1 << 8, 13.0, may_autostart=True)  # BACKOFF, retry 2 at 15.0+
    assert m.state == S.BACKOFF and m.backoff == 2
    r = through_json(m)
    same(m, r)
    assert states(r.tick(14.9, True)) == []
    actions = r.tick(r.deadline(), True)
    assert states(actions) == [S.STARTING] and Spawn() in actions


def test_stopping_keeps_its_kill_escalation():
    m = started(config(startsecs=0, stopwaitsecs=7))
    m.tick(11.0, True)
    m.request_stop(12.0)
    r = through_json(m)
    same(m, r)
    assert r.state == S.STOPPING and r.killing and r.deadline() == pytest.approx(19.0)
    actions = r.tick(19.0, True)
    assert Kill(signal.SIGKILL, whole_tree=False) in actions
    assert any(isinstance(a, Log) and "SIGKILL" in a.text for a in actions)
    assert states(r.exited(signal.SIGKILL, 19.5, True)) == [S.STOPPED]


@pytest.mark.parametrize("final", ["STOPPED", "EXITED", "FATAL"])
def test_resting_states_stay_put(final):
    cfg = config(startsecs=0, startretries=0, autorestart=False if final == "EXITED" else True)
    m = ProcessMachine(cfg)
    if final == "EXITED":
        m = started(cfg)
        m.tick(11.0, True)
        m.exited(0, 12.0, True)
    elif final == "FATAL":
        m = started(config(startsecs=5, startretries=0))
        m.exited(1 << 8, 11.0, True)
    r = through_json(m)
    same(m, r)
    assert r.state.name == final
    assert r.tick(100.0, True) == m.tick(100.0, True)


def test_a_snapshot_it_cannot_read_is_refused():
    saved = started(config()).snapshot()
    del saved["deadline"]
    with pytest.raises(KeyError):
        ProcessMachine.restore(config(), saved)
    with pytest.raises(KeyError):
        ProcessMachine.restore(config(), dict(saved, state="NOSUCH", deadline=None))
