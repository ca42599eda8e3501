"""The state machine's opt-in rules of issue 15 (readiness, restarts of hung
programs, backoff policies, FATAL retries, spawns waiting for dependencies),
driven without forking anything."""

from __future__ import annotations

import signal

from tests.unit.test_core_process import exit_status, killed_by, logs, machine, start, states

from supervisor_ng.config.model import ProcessConfig
from supervisor_ng.core.process import Kill, ProcessMachine, Spawn
from supervisor_ng.core.states import ProcessState as S


def test_notify_program_stays_starting_past_startsecs_until_ready():
    m = machine(startsecs=1, ready="notify", ready_timeout=30.0)
    start(m, 10.0)
    assert m.deadline() == 40.0  # the ready_timeout, not startsecs
    assert states(m.tick(20.0, True)) == []
    assert m.state == S.STARTING
    actions = m.ready(21.0, "ready=notify")
    assert states(actions) == [S.RUNNING]
    assert logs(actions) == ["success: p entered RUNNING state, process is ready (ready=notify)"]
    assert m.deadline() is None


def test_ready_is_ignored_for_startsecs_programs():
    m = machine(startsecs=5)
    start(m, 10.0)
    assert states(m.ready(11.0, "ready=notify")) == []
    assert m.state == S.STARTING


def test_not_ready_in_time_is_a_failed_start_through_stop_then_backoff():
    m = machine(ready="notify", ready_timeout=5.0, stopwaitsecs=3, startretries=0)
    start(m, 10.0)
    actions = m.tick(15.0, True)
    assert Kill(signal.SIGTERM, whole_tree=False) in actions
    assert m.state == S.STARTING  # no STOPPING: stock listeners expect BACKOFF after STARTING
    assert any("not ready within 5 seconds" in line for line in logs(actions))
    # it ignores SIGTERM: SIGKILL at stopwaitsecs
    actions = m.tick(18.0, True)
    assert Kill(signal.SIGKILL, whole_tree=False) in actions
    actions = m.exited(killed_by(signal.SIGKILL), 18.1, True)
    assert states(actions) == [S.BACKOFF, S.FATAL]
    assert m.spawnerr == "not ready within 5 seconds (ready_timeout)"


def test_exit_before_ready_is_backoff_even_after_startsecs():
    m = machine(startsecs=1, ready="notify")
    start(m, 10.0)
    actions = m.exited(exit_status(0), 50.0, True)
    assert states(actions) == [S.BACKOFF]


def test_extend_timeout_moves_the_ready_deadline():
    m = machine(ready="notify", ready_timeout=5.0)
    start(m, 10.0)
    m.extend_timeout(14.0, 20.0)
    assert m.deadline() == 34.0
    assert states(m.tick(20.0, True)) == []
    m.extend_timeout(21.0, 1.0)  # never shortens
    assert m.deadline() == 34.0


def test_request_restart_stops_then_spawns_whatever_autorestart_says():
    from supervisor_ng.config.model import AutoRestart

    m = machine(startsecs=0, autorestart=AutoRestart.NEVER)
    start(m, 10.0)
    m.tick(10.1, True)
    assert m.state == S.RUNNING
    actions = m.request_restart(20.0)
    assert states(actions) == [S.STOPPING]
    actions = m.exited(killed_by(signal.SIGTERM), 20.5, True)
    assert states(actions) == [S.STOPPED, S.STARTING]
    assert Spawn() in actions


def test_a_stop_during_a_restart_cancels_the_spawn():
    m = machine(startsecs=0)
    start(m, 10.0)
    m.tick(10.1, True)
    m.request_restart(20.0)
    m.request_stop(20.1)
    actions = m.exited(killed_by(signal.SIGTERM), 20.5, True)
    assert states(actions) == [S.STOPPED]


def _backoff_delays(m: ProcessMachine, tries: int) -> list[float]:
    delays = []
    now = 0.0
    for i in range(tries):
        start(m, now, pid=100 + i) if i == 0 else m.spawned(100 + i, now)
        m.exited(exit_status(1), now, True)
        if m.state != S.BACKOFF:
            break
        delays.append(round(m.deadline() - now, 3))
        now = m.deadline()
        assert Spawn() in m.tick(now, True)
    return delays


def test_linear_backoff_is_stock():
    assert _backoff_delays(machine(startretries=4), 4) == [1, 2, 3, 4]


def test_exponential_backoff_with_a_cap():
    m = machine(startretries=6, backoff="exponential", backoff_max=10.0)
    assert _backoff_delays(m, 6) == [1, 2, 4, 8, 10, 10]


def test_fatal_is_retried_after_fatal_retry_secs():
    m = machine(startretries=0, fatal_retry_secs=60.0)
    start(m, 0.0)
    actions = m.exited(exit_status(1), 0.1, True)
    assert states(actions) == [S.BACKOFF, S.FATAL]
    assert m.deadline() == 60.1
    actions = m.tick(60.1, True)
    assert states(actions) == [S.STARTING]
    assert any("retrying: p has been FATAL for 60 seconds" in line for line in logs(actions))


def test_fatal_retry_is_off_by_default_and_when_shutting_down():
    m = machine(startretries=0)
    start(m, 0.0)
    m.exited(exit_status(1), 0.1, True)
    assert m.state == S.FATAL and m.deadline() is None
    m = machine(startretries=0, fatal_retry_secs=5.0)
    start(m, 0.0)
    m.exited(exit_status(1), 0.1, True)
    assert states(m.tick(5.1, may_autostart=False)) == []
    assert m.deadline() is None


def test_a_spawn_waiting_for_dependencies_stops_or_gives_up():
    m = machine()
    assert Spawn() in m.tick(0.0, True)  # the shell holds the spawn back: no spawned()
    assert m.state == S.STARTING and m.pid == 0
    actions = m.request_stop(1.0)
    assert states(actions) == [S.STOPPED]
    m = machine()
    m.tick(0.0, True)
    actions = m.dependency_failed("dependency db:db is FATAL", 1.0)
    assert states(actions) == [S.BACKOFF, S.FATAL]
    assert m.spawnerr == "dependency db:db is FATAL"
    assert "gave up: p entered FATAL state, dependency db:db is FATAL" in logs(actions)


def test_main_pid_change_is_followed():
    m = machine(startsecs=0)
    start(m, 0.0, pid=100)
    m.main_pid_changed(200)
    assert m.pid == 200


def test_defaults_are_stock():
    config = ProcessConfig(name="p", group="p", command="/bin/true")
    assert (config.ready, config.backoff, config.backoff_max, config.fatal_retry_secs) == (
        "startsecs",
        "linear",
        0.0,
        0.0,
    )
