"""Liveness (runtime/liveness.py) driven by hand: a fake host clock, a fake
process that records what it is asked, and scripted probe results.  Nothing
is forked and nothing connects anywhere."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, Optional

import pytest
from tests.unit.test_runtime_supervisor import FakeHost

from supervisor_ng.config.model import Probe
from supervisor_ng.core.process import StateChanged
from supervisor_ng.core.states import ProcessState as S
from supervisor_ng.events.bus import EventBus
from supervisor_ng.events.types import Event, ProcessUnhealthy
from supervisor_ng.runtime import liveness as liveness_module
from supervisor_ng.runtime.faults import Faults
from supervisor_ng.runtime.liveness import Liveness
from supervisor_ng.runtime.probes import ProbeResult

WARN, INFO, DEBUG = 30, 20, 10
TCP = Probe(kind="tcp", text="tcp:127.0.0.1:5432", host="127.0.0.1", port=5432)
HTTP = Probe(kind="http", text="http://127.0.0.1:8000/health", host="127.0.0.1", port=8000, path="/health")
HANG = "hang"  # a scripted result: the probe never answers


class LevelLog:
    def __init__(self) -> None:
        self.records: list[tuple[int, str]] = []

    def log(self, level: int, msg: str) -> None:
        self.records.append((level, msg))

    def warn(self, msg: str) -> None:
        self.log(WARN, msg)

    def info(self, msg: str) -> None:
        self.log(INFO, msg)

    def debug(self, msg: str) -> None:
        self.log(DEBUG, msg)

    def error(self, msg: str) -> None:
        self.log(40, msg)

    def at(self, level: int) -> list[str]:
        return [msg for lvl, msg in self.records if lvl == level]


class FakeSupervisor:
    def __init__(self) -> None:
        self.host = FakeHost()
        self.log = LevelLog()
        self.faults = Faults(self.log)
        self.events = EventBus()
        self.loop = asyncio.new_event_loop()
        self.tasks: list[asyncio.Task[Any]] = []

    def background(self, what: str, work: Any) -> None:
        self.tasks.append(self.loop.create_task(work))


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def accept(self, event: Event) -> None:
        self.events.append(event)


class FakeProcess:
    """What Liveness uses of a Process.  ``mark_ready`` makes it RUNNING as
    the state machine would; ``restart_unhealthy`` only records unless
    ``restart_stops`` (then it goes STOPPING, as a real restart does)."""

    def __init__(self, **config: Any) -> None:
        defaults: dict[str, Any] = dict(
            ready="startsecs",
            ready_probe=None,
            ready_timeout=90.0,
            watchdog_secs=0.0,
            healthcheck=None,
            healthcheck_interval=30.0,
            healthcheck_timeout=5.0,
            healthcheck_retries=3,
        )
        self.config = SimpleNamespace(**{**defaults, **config})
        self.name = "web_00"
        self.group = SimpleNamespace(name="web")
        self.supervisor = FakeSupervisor()
        self.state = S.STOPPED
        self.pid = 0
        self.notify_status: Optional[str] = None
        self.ready_calls: list[str] = []
        self.restarts: list[str] = []
        self.restart_stops = False
        self.liveness = Liveness(self)  # type: ignore[arg-type]

    def become(self, new: S, pid: Optional[int] = None) -> None:
        if pid is not None:
            self.pid = pid
        old, self.state = self.state, new
        self.liveness.state_changed(StateChanged(old, new, self.pid, 0))

    def mark_ready(self, how: str) -> None:
        self.ready_calls.append(how)
        self.become(S.RUNNING)

    def restart_unhealthy(self, reason: str) -> None:
        self.restarts.append(reason)
        if self.restart_stops:
            self.become(S.STOPPING)


class Script:
    """The fake run_probe: answers from a list per probe text (the last
    answer repeats), and counts the calls."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Any]] = {}
        self.calls: list[tuple[str, float]] = []
        self.times: list[float] = []  # the host clock at each call

    def set(self, probe: Probe, *answers: Any) -> None:
        self.answers[probe.text] = list(answers)

    async def __call__(self, probe: Probe, timeout: float, context: Any) -> ProbeResult:
        self.calls.append((probe.text, timeout))
        self.times.append(made[-1].supervisor.host.now)
        answers = self.answers[probe.text]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if answer == HANG:
            await asyncio.get_running_loop().create_future()
        if isinstance(answer, Exception):
            raise answer
        return ProbeResult(True, "") if answer is True else ProbeResult(False, answer)


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Script:
    fake = Script()
    monkeypatch.setattr(liveness_module, "run_probe", fake)
    monkeypatch.setattr(Liveness, "_context", lambda self: None)
    return fake


made: list[FakeProcess] = []


@pytest.fixture(autouse=True)
def close_loops():
    yield
    while made:
        made.pop().supervisor.loop.close()


def process(**config: Any) -> FakeProcess:
    proc = FakeProcess(**config)
    made.append(proc)
    return proc


def _run(loop: Any, coro: Any) -> Any:
    """Run ``coro`` on ``loop`` (a new one when None) in a thread of its own:
    Playwright's sync API leaves a loop running in this one when a browser
    test ran first in the same worker."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        if loop is None:
            return pool.submit(asyncio.run, coro).result()
        return pool.submit(loop.run_until_complete, coro).result()


def run(proc: FakeProcess, seconds: float) -> None:
    """Move the clock by ``seconds`` in small steps, letting the probe tasks
    each timer starts finish before the clock moves on."""
    sv = proc.supervisor
    step = 0.05
    end = sv.host.now + seconds
    while sv.host.now < end - 1e-9:
        sv.host.advance(min(step, end - sv.host.now))
        for _ in range(5):  # a scripted probe answers within a turn or two
            _run(sv.loop, asyncio.sleep(0))


def live_timers(proc: FakeProcess) -> list[Any]:
    return [t for t in proc.supervisor.host.timers if not t.cancelled]


def unhealthy_events(proc: FakeProcess) -> Recorder:
    recorder = Recorder()
    proc.supervisor.events.subscribe(recorder, ["PROCESS_UNHEALTHY"])
    return recorder


# -- readiness ---------------------------------------------------------------------------


def test_readiness_probe_retries_until_it_passes(script: Script) -> None:
    script.set(TCP, "connection refused", "connection refused", "connection refused", True)
    proc = process(ready="probe", ready_probe=TCP, ready_timeout=3.0)
    proc.become(S.STARTING, pid=4242)
    run(proc, 0.2)
    assert script.calls == []  # the first attempt waits a moment: the program just started
    run(proc, 0.1)
    assert len(script.calls) == 1 and proc.state == S.STARTING
    assert proc.liveness.summary() == "not ready: connection refused"
    run(proc, 3)
    assert len(script.calls) == 4
    gaps = [round(b - a, 1) for a, b in zip(script.times, script.times[1:])]
    assert gaps == [0.5, 1.0, 1.0]  # backing off from 0.25 s to 1 s
    assert proc.ready_calls == ["tcp:127.0.0.1:5432"]
    assert proc.state == S.RUNNING
    assert script.calls[0] == ("tcp:127.0.0.1:5432", 3.0)  # an attempt never outlasts ready_timeout
    assert proc.liveness.ready_probes == 4
    run(proc, 10)
    assert len(script.calls) == 4  # no checks configured for RUNNING: nothing more runs
    assert live_timers(proc) == []
    assert proc.liveness.summary() == ""


def test_readiness_waits_for_a_pid(script: Script) -> None:
    # STARTING without a pid: the spawn waits for its dependencies.
    script.set(TCP, True)
    proc = process(ready="probe", ready_probe=TCP)
    proc.become(S.STARTING)
    run(proc, 3)
    assert script.calls == [] and proc.state == S.STARTING
    proc.pid = 4242
    run(proc, 1.01)
    assert proc.ready_calls == ["tcp:127.0.0.1:5432"]


def test_readiness_stops_on_leaving_starting(script: Script) -> None:
    script.set(TCP, HANG)
    proc = process(ready="probe", ready_probe=TCP)
    proc.become(S.STARTING, pid=4242)
    run(proc, 0.3)
    assert len(script.calls) == 1
    (task,) = proc.supervisor.tasks
    assert not task.done()  # the probe is in flight
    proc.become(S.BACKOFF)  # e.g. the program exited
    _run(proc.supervisor.loop, asyncio.sleep(0))
    assert task.cancelled()
    assert live_timers(proc) == []
    run(proc, 5)
    assert len(script.calls) == 1 and proc.ready_calls == []


def test_a_stale_readiness_result_is_ignored(script: Script) -> None:
    script.set(TCP, True)
    proc = process(ready="probe", ready_probe=TCP)
    proc.become(S.STARTING, pid=4242)
    proc.supervisor.host.advance(0.3)  # the attempt is started but has not run yet
    proc.become(S.STOPPING)
    proc.become(S.STARTING, pid=4343)  # a later life of the process
    run(proc, 0.01)
    assert proc.ready_calls == [] and script.calls == []


def test_no_readiness_probing_without_ready_probe(script: Script) -> None:
    proc = process(ready="notify")
    proc.become(S.STARTING, pid=4242)
    run(proc, 5)
    assert script.calls == [] and live_timers(proc) == []


# -- watchdog ----------------------------------------------------------------------------------


def test_watchdog_fires_once_per_period_without_pings(script: Script) -> None:
    proc = process(ready="notify", watchdog_secs=10)
    events = unhealthy_events(proc)
    proc.become(S.STARTING, pid=4242)
    proc.mark_ready("ready=notify")
    run(proc, 9.9)
    assert proc.restarts == []
    assert proc.liveness.summary() == "watchdog: no ping for 10 s"  # late past half a period
    run(proc, 0.2)
    assert proc.restarts == ["no watchdog ping for 10 s"]
    assert proc.supervisor.log.at(WARN) == ["unhealthy: web_00 (no watchdog ping for 10 s); restarting"]
    (event,) = events.events
    assert isinstance(event, ProcessUnhealthy)
    assert event.payload() == (
        "processname:web_00 groupname:web pid:4242 check:watchdog failures:1\n"
        "no watchdog ping for 10 s"
    )
    # The fake stays RUNNING (a restart that does not happen): once a period, never more.
    run(proc, 15)
    assert len(proc.restarts) == 2
    assert proc.liveness.watchdog_timeouts == 2 and proc.liveness.unhealthy_restarts == 2


def test_watchdog_does_not_fire_with_pings(script: Script) -> None:
    proc = process(ready="notify", watchdog_secs=10)
    proc.become(S.STARTING, pid=4242)
    proc.mark_ready("ready=notify")
    for _ in range(20):
        run(proc, 4)
        proc.liveness.watchdog({"WATCHDOG": "1"})
    assert proc.restarts == [] and proc.liveness.watchdog_timeouts == 0
    assert proc.liveness.summary() == "healthy" and proc.liveness.healthy
    assert len(live_timers(proc)) == 1  # pings re-arm nothing: one timer, moved when it fires


def test_watchdog_counts_from_running_not_from_spawn(script: Script) -> None:
    proc = process(ready="notify", watchdog_secs=5)
    proc.become(S.STARTING, pid=4242)
    run(proc, 30)  # a long start: no watchdog before the program is ready
    assert proc.restarts == []
    proc.mark_ready("ready=notify")
    run(proc, 4.9)
    assert proc.restarts == []
    run(proc, 0.2)
    assert len(proc.restarts) == 1


def test_watchdog_trigger_restarts_at_once(script: Script) -> None:
    proc = process(ready="notify", watchdog_secs=10)
    events = unhealthy_events(proc)
    proc.become(S.STARTING, pid=4242)
    proc.mark_ready("ready=notify")
    proc.liveness.watchdog({"WATCHDOG": "trigger"})
    assert proc.restarts == ["the program triggered its watchdog (WATCHDOG=trigger)"]
    assert events.events[0].payload().startswith("processname:web_00 groupname:web pid:4242 check:watchdog ")


def test_watchdog_trigger_is_ignored_unless_running(script: Script) -> None:
    proc = process(ready="notify", watchdog_secs=10)
    proc.become(S.STARTING, pid=4242)
    proc.liveness.watchdog({"WATCHDOG": "trigger"})
    assert proc.restarts == []


def test_watchdog_usec_changes_the_period(script: Script) -> None:
    proc = process(ready="notify", watchdog_secs=10)
    proc.become(S.STARTING, pid=4242)
    proc.mark_ready("ready=notify")
    run(proc, 3)
    proc.liveness.watchdog({"WATCHDOG_USEC": "2000000"})  # counts from now
    run(proc, 1.9)
    assert proc.restarts == []
    run(proc, 0.2)
    assert proc.restarts == ["no watchdog ping for 2 s"]
    # A new spawn forgets the override.
    proc.become(S.STOPPING)
    proc.become(S.STARTING, pid=4343)
    proc.mark_ready("ready=notify")
    assert proc.liveness.watchdog_period() == 10
    run(proc, 9.9)
    assert len(proc.restarts) == 1


def test_watchdog_usec_enables_and_disables(script: Script) -> None:
    proc = process(ready="notify")  # no watchdog_secs
    proc.become(S.STARTING, pid=4242)
    proc.mark_ready("ready=notify")
    assert not proc.liveness.has_checks and proc.liveness.summary() == ""
    proc.liveness.watchdog({"WATCHDOG_USEC": "1000000"})
    run(proc, 1.05)
    assert len(proc.restarts) == 1
    proc.liveness.watchdog({"WATCHDOG_USEC": "0"})
    run(proc, 10)
    assert len(proc.restarts) == 1 and live_timers(proc) == []
    proc.liveness.watchdog({"WATCHDOG_USEC": "soon"})  # malformed: ignored, as systemd does
    assert proc.liveness.watchdog_period() == 0


def test_watchdog_needs_notify(script: Script) -> None:
    proc = process(ready="startsecs", watchdog_secs=10)
    proc.become(S.STARTING, pid=4242)
    proc.become(S.RUNNING)
    proc.liveness.watchdog({"WATCHDOG": "trigger"})
    run(proc, 30)
    assert proc.restarts == [] and live_timers(proc) == []


# -- health check ------------------------------------------------------------------------------


def running_with_healthcheck(**config: Any) -> FakeProcess:
    proc = process(healthcheck=HTTP, healthcheck_interval=10.0, healthcheck_timeout=2.0, **config)
    proc.become(S.STARTING, pid=4242)
    proc.become(S.RUNNING)
    return proc


def test_healthcheck_failing_n_times_in_a_row_restarts_once(script: Script) -> None:
    script.set(HTTP, "HTTP 503")
    proc = running_with_healthcheck()
    events = unhealthy_events(proc)
    run(proc, 9.9)
    assert script.calls == []  # the first check comes one interval after RUNNING
    run(proc, 0.2)
    assert script.calls == [("http://127.0.0.1:8000/health", 2.0)]
    assert proc.liveness.summary() == "check failing 1/3: HTTP 503"
    assert not proc.liveness.healthy
    run(proc, 10)
    assert proc.restarts == []
    assert proc.liveness.summary() == "check failing 2/3: HTTP 503"
    run(proc, 10)
    reason = "health check http://127.0.0.1:8000/health failed 3 times in a row: HTTP 503"
    assert proc.restarts == [reason]
    assert f"unhealthy: web_00 ({reason}); restarting" in proc.supervisor.log.at(WARN)
    assert proc.supervisor.log.at(INFO)[:3] == [
        f"health check failed: web_00 (http://127.0.0.1:8000/health: HTTP 503; {n} of 3)"
        for n in (1, 2, 3)
    ]
    (event,) = events.events
    assert event.payload() == (
        f"processname:web_00 groupname:web pid:4242 check:healthcheck failures:3\n{reason}"
    )
    counters = proc.liveness.counters()
    assert counters["health_checks"] == 3 and counters["health_failures"] == 3
    assert counters["unhealthy_restarts"] == 1
    # Still RUNNING (the fake does not restart): the count starts again.
    run(proc, 20)
    assert len(proc.restarts) == 1
    run(proc, 10)
    assert len(proc.restarts) == 2


def test_a_pass_in_between_resets_the_count(script: Script) -> None:
    script.set(HTTP, "HTTP 503", "HTTP 503", True, "timed out after 2 s", "HTTP 503", "HTTP 500")
    proc = running_with_healthcheck()
    run(proc, 50.1)
    assert len(script.calls) == 5 and proc.restarts == []
    assert "health check passed again: web_00" in proc.supervisor.log.at(INFO)
    run(proc, 10)
    assert proc.restarts == ["health check http://127.0.0.1:8000/health failed 3 times in a row: HTTP 500"]


def test_healthy_after_passing_checks(script: Script) -> None:
    script.set(HTTP, True)
    proc = running_with_healthcheck()
    assert proc.liveness.summary() == "healthy" and proc.liveness.has_checks
    run(proc, 100.1)
    assert len(script.calls) == 10 and proc.restarts == []
    assert proc.liveness.healthy and proc.liveness.summary() == "healthy"


def test_one_retry_means_the_first_failure_restarts(script: Script) -> None:
    script.set(HTTP, "connection refused")
    proc = running_with_healthcheck(healthcheck_retries=1)
    run(proc, 10.1)
    assert proc.restarts == ["health check http://127.0.0.1:8000/health failed: connection refused"]


def test_a_slow_check_never_overlaps_the_next(script: Script) -> None:
    script.set(HTTP, HANG)
    proc = running_with_healthcheck()
    run(proc, 100)
    assert len(script.calls) == 1  # the next is armed only when one has answered


def test_a_probe_that_raises_is_a_contained_failure(script: Script) -> None:
    script.set(HTTP, RuntimeError("bug in a probe"))
    proc = running_with_healthcheck(healthcheck_retries=2)
    run(proc, 20.1)
    assert proc.restarts == [
        "health check http://127.0.0.1:8000/health failed 2 times in a row: probe error: bug in a probe"
    ]
    assert proc.supervisor.faults.count == 2


def test_a_failing_listener_does_not_save_the_program(script: Script) -> None:
    script.set(HTTP, "HTTP 503")

    class Broken:
        def accept(self, event: Event) -> None:
            raise RuntimeError("listener bug")

    proc = running_with_healthcheck(healthcheck_retries=1)
    proc.supervisor.events.subscribe(Broken(), ["EVENT"])
    run(proc, 10.1)
    assert len(proc.restarts) == 1 and proc.supervisor.faults.count == 1


# -- leaving RUNNING, close ------------------------------------------------------------------


def test_leaving_running_cancels_timers_and_checks_in_flight(script: Script) -> None:
    script.set(HTTP, HANG)
    proc = running_with_healthcheck(ready="notify", watchdog_secs=5)
    assert len(live_timers(proc)) == 2
    for _ in range(2):
        run(proc, 4.5)
        proc.liveness.watchdog({"WATCHDOG": "1"})
    run(proc, 1.1)  # the health check is in flight
    (task,) = proc.supervisor.tasks
    assert not task.done()
    proc.become(S.STOPPING)
    _run(proc.supervisor.loop, asyncio.sleep(0))
    assert task.cancelled() and live_timers(proc) == []
    run(proc, 100)
    assert proc.restarts == [] and len(script.calls) == 1
    assert proc.liveness.summary() == ""


def test_a_real_restart_ends_the_checks(script: Script) -> None:
    script.set(HTTP, "HTTP 503")
    proc = running_with_healthcheck(healthcheck_retries=1, ready="notify", watchdog_secs=5)
    proc.restart_stops = True
    proc.liveness.watchdog({"WATCHDOG_USEC": "60000000"})
    run(proc, 10.1)
    assert len(proc.restarts) == 1 and proc.state == S.STOPPING
    assert live_timers(proc) == []


def test_close_cancels_everything(script: Script) -> None:
    script.set(HTTP, HANG)
    proc = running_with_healthcheck(ready="notify", watchdog_secs=50)
    run(proc, 10.1)
    proc.liveness.close()
    _run(proc.supervisor.loop, asyncio.sleep(0))
    assert live_timers(proc) == [] and all(t.cancelled() for t in proc.supervisor.tasks)
    run(proc, 100)
    assert proc.restarts == []


def test_live_state(script: Script) -> None:
    script.set(HTTP, "HTTP 503")
    proc = running_with_healthcheck(ready="notify", watchdog_secs=5)
    run(proc, 1)
    state = proc.liveness.live_state()
    assert state["healthcheck"] == "http://127.0.0.1:8000/health"
    assert state["ready_probe"] is None and state["watchdog_period"] == 5
    assert set(state["timers"]) == {"watchdog", "healthcheck"}
    assert state["counters"]["health_checks"] == 0


# -- the figures: event name in the config, status --stats, /metrics ----------------------------


def test_listeners_may_subscribe_to_process_unhealthy(tmp_path) -> None:
    from supervisor_ng.config.loader import load

    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"[supervisord]\nlogfile={tmp_path}/sd.log\n"
        "[eventlistener:alerts]\ncommand=cat\nevents=PROCESS_UNHEALTHY,PROCESS_STATE\n"
    )
    (group,) = load(str(conf)).groups
    assert "PROCESS_UNHEALTHY" in group.events
    bus, state_only, unhealthy = EventBus(), Recorder(), Recorder()
    bus.subscribe(state_only, ["PROCESS_STATE"])
    bus.subscribe(unhealthy, ["PROCESS_UNHEALTHY"])
    bus.notify(ProcessUnhealthy("p", "g", 1, "watchdog", 1, "no watchdog ping for 5 s"))
    assert state_only.events == [] and len(unhealthy.events) == 1


def _info(name: str, pid: int) -> dict:
    return {"group": name, "name": name, "pid": pid, "statename": "RUNNING", "description": f"pid {pid}"}


def _row(name: str, pid: int, **extra: Any) -> dict:
    return {"group": name, "name": name, "pid": pid, "cpu_percent": 0.0, "rss_kb": 1024, "restarts": 0, **extra}


def test_status_stats_shows_status_text_and_health_only_when_present() -> None:
    from supervisor_ng.ctl.actions.stats import lines

    infos = [_info("db", 10), _info("web", 11)]
    rows = {
        ("db", "db"): _row("db", 10, status_text="", health=""),
        ("web", "web"): _row("web", 11, status_text="serving 12 req/s", health="check failing 1/3: HTTP 503"),
    }
    out = list(lines(infos, rows))
    assert len(out) == 5
    assert out[1].startswith("db ") and out[2].startswith("web ")
    assert out[3:] == ["    status: serving 12 req/s", "    health: check failing 1/3: HTTP 503"]
    # An older daemon without these keys: the table as before.
    assert len(list(lines(infos, {k: _row(k[0], p) for k, p in ((("db", "db"), 10), (("web", "web"), 11))}))) == 3


def test_metrics_health_families() -> None:
    from supervisor_ng.http.metrics import render

    daemon = {"version": "x", "supervisor_version": "4.3.0", "identification": "s", "statename": "RUNNING",
              "pid": 1, "start": 0, "cpu_seconds": 0.0, "rss_kb": 0}
    base = dict(state=20, statename="RUNNING", restarts=0, uptime=1, start=1, cpu_seconds=0.0, rss_kb=0,
                processes=1, exitstatus=0, ready_probes=0, health_checks=0, health_failures=0,
                watchdog_timeouts=0, unhealthy_restarts=0)
    procs = [
        {"group": "web", "name": "web", **base, "has_checks": True, "healthy": False,
         "health_checks": 7, "health_failures": 3, "unhealthy_restarts": 1},
        {"group": "db", "name": "db", **base, "has_checks": False, "healthy": False},
    ]

    class Registry:
        async def call(self, method: str, params: list) -> Any:
            return daemon if method == "ng.getDaemonStats" else procs

    text = _run(None, render(Registry()))  # type: ignore[arg-type]
    assert 'supervisor_process_healthy{group="web",name="web"} 0' in text
    assert 'supervisor_process_healthy{group="db"' not in text  # no checks: no made-up health
    assert 'supervisor_process_healthchecks_total{group="web",name="web"} 7' in text
    assert 'supervisor_process_healthcheck_failures_total{group="web",name="web"} 3' in text
    assert 'supervisor_process_unhealthy_restarts_total{group="web",name="web"} 1' in text
    assert 'supervisor_process_watchdog_timeouts_total{group="db",name="db"} 0' in text
