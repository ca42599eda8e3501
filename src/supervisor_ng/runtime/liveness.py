"""Is a program ready, and is it still alive?  Readiness probes, the
watchdog and health checks of one process.

While the process is STARTING with ``ready = tcp:|http://|exec:`` its
readiness probe runs again and again until it passes, which makes it RUNNING
(the state machine enforces ``ready_timeout``).  While it is RUNNING, a
``notify`` program with a watchdog must send ``WATCHDOG=1`` at least once a
period, and a program with a ``healthcheck`` must not fail it
``healthcheck_retries`` times in a row; otherwise it is logged, a
PROCESS_UNHEALTHY event goes out, and the process is restarted.

Everything runs on timers from the host and on probe tasks that never block
the loop; nothing polls.  Each state change starts a new *epoch*: the timers
of the old one are cancelled, its probes in flight are cancelled, and a
result that still arrives from one is ignored, so a probe never acts on a
later life of the process.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..core.process import StateChanged
from ..core.states import ProcessState
from ..events.types import ProcessUnhealthy
from .probes import ProbeContext, ProbeResult, run_probe

if TYPE_CHECKING:
    from .child import Process

# Readiness is probed often at first (most programs are ready within a
# second) and then less often, so a slow starter costs little.
READY_FIRST_INTERVAL = 0.25
READY_MAX_INTERVAL = 1.0
# One readiness attempt may not take longer than this (nor than ready_timeout).
READY_ATTEMPT_TIMEOUT = 5.0

WATCHDOG = "watchdog"
HEALTHCHECK = "healthcheck"


def _seconds(value: float) -> str:
    return f"{value:g}" if value < 10 else f"{value:.0f}"


class Liveness:
    """The readiness probe, watchdog and health check of ``proc``; it owns
    their timers and the probes in flight."""

    # One per program, checks or not: no per-instance dict.
    __slots__ = (
        "proc", "_epoch", "_timers", "_in_flight", "_ready_interval", "_ready_detail",
        "_watchdog_override", "_last_ping", "_failures_in_row", "_health_detail",
        "ready_probes", "health_checks", "health_failures", "watchdog_timeouts", "unhealthy_restarts",
    )  # fmt: skip

    def __init__(self, proc: Process) -> None:
        self.proc = proc
        self._epoch = 0
        self._timers: dict[str, Any] = {}  # "ready" | WATCHDOG | HEALTHCHECK -> host timer
        # Made by the first probe: an empty set is 216 bytes, most programs have no probe.
        self._in_flight: Optional[set[asyncio.Task[Any]]] = None
        self._ready_interval = READY_FIRST_INTERVAL
        self._ready_detail = ""  # why the last readiness attempt failed
        self._watchdog_override: Optional[float] = None  # WATCHDOG_USEC, until the next spawn
        self._last_ping = 0.0  # monotonic: WATCHDOG=1, or entering RUNNING
        self._failures_in_row = 0
        self._health_detail = ""  # why the last health check failed
        # Counters for ng.* and /metrics: for the life of the process object.
        self.ready_probes = 0
        self.health_checks = 0
        self.health_failures = 0
        self.watchdog_timeouts = 0
        self.unhealthy_restarts = 0

    # -- what the process tells us ---------------------------------------------------

    def state_changed(self, change: StateChanged) -> None:
        self._end_epoch()
        if change.new == ProcessState.STARTING:
            self._watchdog_override = None  # systemd forgets it when the service starts again
            self._ready_detail = ""
            if self._ready_probe() is not None:
                self._ready_interval = READY_FIRST_INTERVAL
                self._arm("ready", self._now() + READY_FIRST_INTERVAL, self._ready_due)
        elif change.new == ProcessState.RUNNING:
            now = self._now()
            self._last_ping = now
            self._failures_in_row = 0
            self._health_detail = ""
            period = self.watchdog_period()
            if period > 0:
                self._arm(WATCHDOG, now + period, self._watchdog_due)
            if self.proc.config.healthcheck is not None:
                self._arm(HEALTHCHECK, now + self.proc.config.healthcheck_interval, self._health_due)

    def watchdog(self, fields: dict[str, str]) -> None:
        """The WATCHDOG* fields of one sd_notify datagram."""
        if self.proc.config.ready != "notify":
            return
        log = self.proc.supervisor.log
        if "WATCHDOG_USEC" in fields:
            try:
                usec = int(fields["WATCHDOG_USEC"])
            except ValueError:
                usec = -1
            if usec < 0:
                log.debug(f"{self.proc.name}: ignored WATCHDOG_USEC={fields['WATCHDOG_USEC']!r}")
            else:
                # A new period counts from now, as in systemd.
                self._watchdog_override = usec / 1e6
                self._last_ping = self._now()
                if self.proc.state == ProcessState.RUNNING:
                    self._cancel(WATCHDOG)
                    if usec:
                        self._arm(WATCHDOG, self._last_ping + usec / 1e6, self._watchdog_due)
        ping = fields.get("WATCHDOG")
        if ping == "1":
            # The timer looks at the last ping when it fires: a ping costs no re-arming.
            self._last_ping = self._now()
        elif ping == "trigger":
            if self.proc.state == ProcessState.RUNNING:
                self._unhealthy(WATCHDOG, 1, "the program triggered its watchdog (WATCHDOG=trigger)")
        elif ping is not None:
            log.debug(f"{self.proc.name}: ignored WATCHDOG={ping!r}")

    def close(self) -> None:
        """The process leaves the daemon."""
        self._end_epoch()

    # -- hand-over by exec (issue 16) ---------------------------------------------------

    _CARRIED = ("_ready_interval", "_ready_detail", "_watchdog_override", "_last_ping",
                "_failures_in_row", "_health_detail")

    def hand_over(self) -> dict:
        """Everything it knows, its timers' monotonic deadlines; it stops here
        (a probe in flight is dropped: the new daemon runs that check at once)."""
        saved = {name: getattr(self, name) for name in self._CARRIED}
        saved["timers"] = {name: timer.when() for name, timer in self._timers.items()}
        saved["counters"] = self.counters()
        self._end_epoch()
        return saved

    def take_over(self, saved: dict) -> None:
        for name in self._CARRIED:
            setattr(self, name, saved[name])
        for name, value in saved["counters"].items():
            setattr(self, name, value)
        timers = dict(saved["timers"])
        now = self._now()
        state = self.proc.state
        if state == ProcessState.STARTING and self.proc.pid and self._ready_probe() is not None:
            timers.setdefault("ready", now)
        elif state == ProcessState.RUNNING and self.proc.config.healthcheck is not None:
            timers.setdefault(HEALTHCHECK, now)
        due = {"ready": self._ready_due, WATCHDOG: self._watchdog_due, HEALTHCHECK: self._health_due}
        for name, when in timers.items():
            if name in due:
                self._arm(name, when, due[name])

    # -- what the API and the page read ------------------------------------------------

    def watchdog_period(self) -> float:
        """Seconds without WATCHDOG=1 before a restart (0 = no watchdog)."""
        if self.proc.config.ready != "notify":
            return 0.0
        if self._watchdog_override is not None:
            return self._watchdog_override
        return float(self.proc.config.watchdog_secs)

    @property
    def has_checks(self) -> bool:
        """A watchdog or a health check watches the process while it runs."""
        return self.proc.config.healthcheck is not None or self.watchdog_period() > 0

    @property
    def healthy(self) -> bool:
        """RUNNING, its health check not failing, its watchdog not overdue."""
        if self.proc.state != ProcessState.RUNNING or self._failures_in_row:
            return False
        period = self.watchdog_period()
        return not period or self._now() - self._last_ping <= period

    def summary(self) -> str:
        """One line for the page and ``status --stats``; "" without checks."""
        state = self.proc.state
        if state == ProcessState.STARTING:
            return f"not ready: {self._ready_detail}" if self._ready_detail else ""
        if state != ProcessState.RUNNING or not self.has_checks:
            return ""
        parts = []
        if self._failures_in_row:
            retries = self.proc.config.healthcheck_retries
            parts.append(f"check failing {self._failures_in_row}/{retries}: {self._health_detail}")
        period = self.watchdog_period()
        silent = self._now() - self._last_ping
        # sd_watchdog_enabled(3) tells programs to ping every half period.
        if period and silent > period / 2:
            parts.append(f"watchdog: no ping for {silent:.0f} s")
        return "; ".join(parts) or "healthy"

    def counters(self) -> dict[str, int]:
        return {
            "ready_probes": self.ready_probes,
            "health_checks": self.health_checks,
            "health_failures": self.health_failures,
            "watchdog_timeouts": self.watchdog_timeouts,
            "unhealthy_restarts": self.unhealthy_restarts,
        }

    def live_state(self) -> dict:
        config = self.proc.config
        ready_probe = self._ready_probe()
        return {
            "epoch": self._epoch,
            "ready_probe": ready_probe.text if ready_probe is not None else None,
            "ready_detail": self._ready_detail,
            "ready_interval": self._ready_interval,
            "healthcheck": config.healthcheck.text if config.healthcheck is not None else None,
            "failures_in_row": self._failures_in_row,
            "health_detail": self._health_detail,
            "watchdog_period": self.watchdog_period(),
            "watchdog_override": self._watchdog_override,
            "last_ping": self._last_ping,
            "timers": {name: timer.when() for name, timer in self._timers.items()},
            "probes_in_flight": len(self._in_flight or ()),
            "counters": self.counters(),
        }

    # -- readiness ---------------------------------------------------------------------

    def _ready_probe(self) -> Any:
        config = self.proc.config
        return config.ready_probe if config.ready == "probe" else None

    def _ready_due(self) -> None:
        probe = self._ready_probe()
        if self.proc.state != ProcessState.STARTING or probe is None:
            return
        if not self.proc.pid:
            # Still waiting for its dependencies: nothing to probe yet.
            self._arm("ready", self._now() + READY_MAX_INTERVAL, self._ready_due)
            return
        timeout = min(READY_ATTEMPT_TIMEOUT, self.proc.config.ready_timeout)
        self._launch("readiness probe", probe, timeout, self._ready_result)

    def _ready_result(self, result: ProbeResult) -> None:
        self.ready_probes += 1
        probe = self._ready_probe()
        if result.ok:
            self._ready_detail = ""
            self.proc.mark_ready(probe.text)
            return
        self._ready_detail = result.detail
        self.proc.supervisor.log.debug(f"not ready yet: {self.proc.name} ({probe.text}: {result.detail})")
        self._ready_interval = min(self._ready_interval * 2, READY_MAX_INTERVAL)
        self._arm("ready", self._now() + self._ready_interval, self._ready_due)

    # -- watchdog -------------------------------------------------------------------------

    def _watchdog_due(self) -> None:
        period = self.watchdog_period()
        if self.proc.state != ProcessState.RUNNING or period <= 0:
            return
        now = self._now()
        if now < self._last_ping + period:
            self._arm(WATCHDOG, self._last_ping + period, self._watchdog_due)
            return
        self.watchdog_timeouts += 1
        # A fresh period, so that a restart that does not happen (a process
        # stuck in STOPPING is no longer RUNNING anyway) fires once per period.
        self._last_ping = now
        self._arm(WATCHDOG, now + period, self._watchdog_due)
        self._unhealthy(WATCHDOG, 1, f"no watchdog ping for {_seconds(period)} s")

    # -- health check -------------------------------------------------------------------

    def _health_due(self) -> None:
        config = self.proc.config
        if self.proc.state != ProcessState.RUNNING or config.healthcheck is None:
            return
        started = self._now()

        def result(outcome: ProbeResult) -> None:
            self._health_result(outcome, started)

        self._launch("health check", config.healthcheck, config.healthcheck_timeout, result)

    def _health_result(self, result: ProbeResult, started: float) -> None:
        config = self.proc.config
        self.health_checks += 1
        # From the start of this check, so checks keep their rhythm; never two at once.
        self._arm(HEALTHCHECK, max(started + config.healthcheck_interval, self._now()), self._health_due)
        if result.ok:
            if self._failures_in_row:
                self.proc.supervisor.log.info(f"health check passed again: {self.proc.name}")
            self._failures_in_row = 0
            self._health_detail = ""
            return
        self.health_failures += 1
        self._failures_in_row += 1
        self._health_detail = result.detail
        failures, retries = self._failures_in_row, config.healthcheck_retries
        text = config.healthcheck.text
        self.proc.supervisor.log.info(
            f"health check failed: {self.proc.name} ({text}: {result.detail}; {failures} of {retries})"
        )
        if failures >= retries:
            self._failures_in_row = 0  # the next restart takes as many failures again
            times = f" {failures} times in a row" if failures > 1 else ""
            self._unhealthy(HEALTHCHECK, failures, f"health check {text} failed{times}: {result.detail}")

    # -- the restart ----------------------------------------------------------------------

    def _unhealthy(self, check: str, failures: int, reason: str) -> None:
        """Log, emit PROCESS_UNHEALTHY, then ask the process for its restart;
        each step contained, so a failing listener never saves a hung program."""
        proc = self.proc
        sv = proc.supervisor
        self.unhealthy_restarts += 1
        sv.faults.run(f"logging that {proc.name} is unhealthy", sv.log.warn,
                      f"unhealthy: {proc.name} ({reason}); restarting")
        event = ProcessUnhealthy(proc.name, proc.group.name, proc.pid, check, failures, reason)
        sv.faults.run(f"the PROCESS_UNHEALTHY event of {proc.name}", sv.events.notify, event)
        sv.faults.run(f"the restart of unhealthy {proc.name}", proc.restart_unhealthy, reason)

    # -- timers and probes ---------------------------------------------------------------

    def _now(self) -> float:
        return self.proc.supervisor.host.monotonic()

    def _arm(self, name: str, when: float, callback: Callable[[], None]) -> None:
        self._cancel(name)
        epoch = self._epoch
        what = f"the {name} timer of {self.proc.name}"

        def fire() -> None:
            if self._timers.get(name) is timer:
                del self._timers[name]
            if epoch == self._epoch:
                self.proc.supervisor.faults.run(what, callback)

        timer = self.proc.supervisor.host.call_at(when, fire)
        self._timers[name] = timer

    def _cancel(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def _end_epoch(self) -> None:
        self._epoch += 1
        for name in list(self._timers):
            self._cancel(name)
        if self._in_flight:
            for task in list(self._in_flight):
                task.cancel()
        self._in_flight = None

    def _launch(self, what: str, probe: Any, timeout: float, done: Callable[[ProbeResult], None]) -> None:
        """Run ``probe`` as a task of the generation; ``done`` gets its result
        unless the epoch ended meanwhile."""
        epoch = self._epoch
        name = self.proc.name
        sv = self.proc.supervisor

        async def attempt() -> None:
            if epoch != self._epoch:
                return  # ended before the task got its first turn
            task = asyncio.current_task()
            if task is not None:
                if self._in_flight is None:
                    self._in_flight = set()
                self._in_flight.add(task)
            try:
                result = await run_probe(probe, timeout, self._context())
            except Exception as exc:
                # A bug in a probe must not end the probing: it counts as a failure.
                sv.faults.report(f"the {what} of {name}", exc)
                result = ProbeResult(False, f"probe error: {exc}")
            finally:
                if task is not None and self._in_flight is not None:
                    self._in_flight.discard(task)
            if epoch == self._epoch:
                sv.faults.run(f"the {what} result of {name}", done, result)

        sv.background(f"the {what} of {name}", attempt())

    def _context(self) -> ProbeContext:
        return ProbeContext.for_process(self.proc)
