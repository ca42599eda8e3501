"""The process state machine, driven without forking anything."""

from __future__ import annotations

import os
import signal

import pytest

from supervisor_ng.config.model import AutoRestart, ProcessConfig
from supervisor_ng.core.process import Kill, Log, ProcessMachine, Spawn, StateChanged
from supervisor_ng.core.states import ProcessState as S


def exit_status(code: int) -> int:
    return code << 8  # what waitpid reports for exit(code)


def killed_by(sig: int) -> int:
    return sig


def machine(**kw) -> ProcessMachine:
    kw.setdefault("name", "p")
    kw.setdefault("group", "p")
    kw.setdefault("command", "/bin/true")
    return ProcessMachine(ProcessConfig(**kw))


def states(actions) -> list[S]:
    return [a.new for a in actions if isinstance(a, StateChanged)]


def logs(actions) -> list[str]:
    return [a.text for a in actions if isinstance(a, Log)]


def start(m: ProcessMachine, now: float, pid: int = 100) -> list:
    actions = m.tick(now, may_autostart=True)
    assert Spawn() in actions
    return actions + m.spawned(pid, now)


def test_autostart_spawns_and_waits_strictly_more_than_startsecs():
    m = machine(startsecs=1)
    actions = start(m, 10.0)
    assert states(actions) == [S.STARTING]
    assert "spawned: 'p' with pid 100" in logs(actions)
    deadline = m.deadline()
    assert deadline is not None and deadline > 11.0
    assert states(m.tick(11.0, True)) == []  # exactly startsecs is not enough
    actions = m.tick(deadline, True)
    assert states(actions) == [S.RUNNING]
    assert logs(actions) == [
        "success: p entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)"
    ]
    assert m.deadline() is None


def test_autostart_false_does_not_spawn():
    m = machine(autostart=False)
    assert m.tick(0.0, True) == []
    assert m.state == S.STOPPED


def test_no_autostart_while_shutting_down():
    m = machine()
    assert m.tick(0.0, may_autostart=False) == []


def test_early_exit_is_backoff_even_with_expected_code_and_backoff_grows():
    m = machine(startsecs=5, startretries=3)
    start(m, 0.0)
    actions = m.exited(exit_status(0), 1.0, True)
    assert states(actions) == [S.BACKOFF]
    assert m.spawnerr == "Exited too quickly (process log may have details)"
    assert logs(actions) == ["exited: p (exit status 0; not expected)"]
    assert m.exitstatus is None
    # Waits 1 s, then 2 s, then 3 s.
    waits = []
    now = 1.0
    for attempt in range(3):
        deadline = m.deadline()
        waits.append(round(deadline - now, 3))
        actions = m.tick(deadline, True)
        assert states(actions) == [S.STARTING]
        now = deadline
        m.spawned(200 + attempt, now)
        actions = m.exited(exit_status(1), now, True)
    assert waits == [1.0, 2.0, 3.0]
    # The fourth attempt failed: startretries=3 means 4 attempts, then FATAL at once.
    assert states(actions) == [S.BACKOFF, S.FATAL]
    assert "gave up: p entered FATAL state, too many start retries too quickly" in logs(actions)
    assert m.deadline() is None
    assert m.tick(now + 100, True) == []


def test_startretries_zero_goes_fatal_at_once_and_never_restarts():
    m = machine(startretries=0, autorestart=AutoRestart.ALWAYS)
    start(m, 0.0)
    actions = m.exited(exit_status(1), 0.01, True)
    assert states(actions) == [S.BACKOFF, S.FATAL]
    assert not any(isinstance(a, Spawn) for a in actions)
    assert m.tick(1000.0, True) == []


def test_backoff_event_reports_incremented_tries():
    m = machine(startsecs=5)
    start(m, 0.0)
    change = [a for a in m.exited(exit_status(1), 0.5, True) if isinstance(a, StateChanged)][0]
    assert change.new == S.BACKOFF and change.tries == 1


@pytest.mark.parametrize(
    "autorestart, code, restarts",
    [
        (AutoRestart.NEVER, 1, False),
        (AutoRestart.UNEXPECTED, 0, False),
        (AutoRestart.UNEXPECTED, 1, True),
        (AutoRestart.ALWAYS, 0, True),
    ],
)
def test_autorestart_after_running_exit(autorestart, code, restarts):
    m = machine(startsecs=0, autorestart=autorestart)
    start(m, 0.0)
    m.tick(m.deadline(), True)
    assert m.state == S.RUNNING
    actions = m.exited(exit_status(code), 5.0, True)
    assert (Spawn() in actions) == restarts
    expected_states = [S.EXITED, S.STARTING] if restarts else [S.EXITED]
    assert states(actions) == expected_states
    change = [a for a in actions if isinstance(a, StateChanged) and a.new == S.EXITED][0]
    assert change.expected == (code == 0)


def test_unexpected_exit_sets_spawnerr_and_logs_warning_text():
    m = machine(startsecs=0, autorestart=AutoRestart.NEVER, exitcodes=(0, 2))
    start(m, 0.0)
    m.tick(m.deadline(), True)
    actions = m.exited(exit_status(3), 10.0, True)
    assert logs(actions) == ["exited: p (exit status 3; not expected)"]
    assert m.spawnerr == "Bad exit code 3"
    assert m.exitstatus == 3
    m2 = machine(startsecs=0, autorestart=AutoRestart.NEVER, exitcodes=(0, 2))
    start(m2, 0.0)
    m2.tick(m2.deadline(), True)
    assert logs(m2.exited(exit_status(2), 10.0, True)) == ["exited: p (exit status 2; expected)"]


def test_death_by_signal_is_never_expected():
    m = machine(startsecs=0, autorestart=AutoRestart.UNEXPECTED)
    start(m, 0.0)
    m.tick(m.deadline(), True)
    actions = m.exited(killed_by(signal.SIGKILL), 3.0, True)
    assert logs(actions)[0] == "exited: p (terminated by SIGKILL; not expected)"
    assert Spawn() in actions  # unexpected -> restarted
    assert m.exitstatus is None  # reset by the new spawn


def test_stop_sends_stopsignal_then_sigkill_after_stopwaitsecs():
    m = machine(startsecs=0, stopsignal=signal.SIGINT, stopwaitsecs=5)
    start(m, 0.0)
    m.tick(m.deadline(), True)
    actions = m.request_stop(1.0)
    assert states(actions) == [S.STOPPING]
    assert Kill(signal.SIGINT, whole_tree=False) in actions
    assert m.deadline() == 6.0
    actions = m.tick(6.0, True)
    assert Kill(signal.SIGKILL, whole_tree=False) in actions
    assert "killing 'p' (100) with SIGKILL" in logs(actions)
    assert m.deadline() == 11.0  # re-armed: a process may stay STOPPING forever
    actions = m.exited(killed_by(signal.SIGKILL), 7.0, True)
    assert states(actions) == [S.STOPPED]
    assert logs(actions) == ["stopped: p (terminated by SIGKILL)"]
    assert Spawn() not in actions  # an administrative stop is not restarted
    assert m.tick(100.0, True) == []


def test_stopasgroup_and_killasgroup_select_whole_tree():
    m = machine(startsecs=0, stopasgroup=True, killasgroup=True, stopwaitsecs=1)
    start(m, 0.0)
    assert Kill(signal.SIGTERM, whole_tree=True) in m.request_stop(0.5)
    assert Kill(signal.SIGKILL, whole_tree=True) in m.tick(1.5, True)
    m2 = machine(startsecs=0, stopasgroup=False, killasgroup=True, stopwaitsecs=1)
    start(m2, 0.0)
    assert Kill(signal.SIGTERM, whole_tree=False) in m2.request_stop(0.5)
    assert Kill(signal.SIGKILL, whole_tree=True) in m2.tick(1.5, True)


def test_stop_in_backoff_goes_straight_to_stopped():
    m = machine(startsecs=5)
    start(m, 0.0)
    m.exited(exit_status(1), 0.1, True)
    actions = m.request_stop(0.2)
    assert states(actions) == [S.STOPPED]
    assert not any(isinstance(a, Kill) for a in actions)
    assert m.deadline() is None


def test_stop_while_starting_stops():
    m = machine(startsecs=10)
    start(m, 0.0)
    assert states(m.request_stop(1.0)) == [S.STOPPING]
    actions = m.exited(exit_status(0), 1.1, True)
    assert states(actions) == [S.STOPPED]
    assert logs(actions) == ["stopped: p (exit status 0)"]


def test_spawn_failure_goes_backoff_with_spawnerr_then_fatal():
    m = machine(startretries=1)
    m.tick(0.0, True)
    actions = m.spawn_failed("can't find command '/nope'", 0.0)
    assert states(actions) == [S.BACKOFF]
    assert m.spawnerr == "can't find command '/nope'"
    assert "spawnerr: can't find command '/nope'" in logs(actions)
    m.tick(m.deadline(), True)
    actions = m.spawn_failed("can't find command '/nope'", 2.0)
    assert states(actions) == [S.BACKOFF, S.FATAL]


def test_administrative_start_after_fatal_gets_full_retries():
    m = machine(startretries=1, startsecs=5)
    m.tick(0.0, True)
    m.spawn_failed("x", 0.0)
    m.tick(m.deadline(), True)
    m.spawn_failed("x", 2.0)
    assert m.state == S.FATAL
    actions = m.request_start(10.0)
    assert states(actions) == [S.STARTING] and Spawn() in actions
    m.spawn_failed("x", 10.0)
    assert m.state == S.BACKOFF


def test_startsecs_zero_exit_is_exited_not_backoff():
    m = machine(startsecs=0, autorestart=AutoRestart.NEVER)
    start(m, 0.0)
    actions = m.exited(exit_status(0), 0.0, True)
    assert states(actions) == [S.RUNNING, S.EXITED]


def test_kill_failure_enters_unknown():
    m = machine(startsecs=0)
    start(m, 0.0)
    m.request_stop(1.0)
    actions = m.kill_failed("EPERM")
    assert states(actions) == [S.UNKNOWN]
    assert m.deadline() is None


def test_wait_status_text_of_core_dump():
    from supervisor_ng.core.process import describe_wait_status

    code, text = describe_wait_status(signal.SIGSEGV | 0x80)
    assert code == -1 and text == "terminated by SIGSEGV (core dumped)"
    assert describe_wait_status(os.WEXITSTATUS(0) << 8) == (0, "exit status 0")
