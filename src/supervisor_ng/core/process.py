"""The life of one process as a sans-I/O state machine.

The machine never forks, signals or reads a clock.  The I/O shell feeds it
what happened (a start was asked for, the child was spawned, it exited with a
wait status, a deadline passed) together with the current monotonic time, and
carries out the actions it returns, in order.  After every input the shell asks
:meth:`ProcessMachine.deadline` when the machine next wants :meth:`tick`, so
nothing is ever polled.

The rules are Supervisor 4.3's: RUNNING only after strictly more than startsecs,
an exit before that is BACKOFF whatever its code, backoff waits 1, 2, 3 ... s,
startretries=N means N+1 attempts, autorestart against exitcodes, stopsignal
then SIGKILL after stopwaitsecs.  One deliberate difference: giving up is
decided the moment BACKOFF is entered, so a startretries=0 program that dies
at once goes FATAL without the race stock has.

supervisor-ng's opt-in rules (their defaults are the stock ones):
- ``ready`` other than ``startsecs``: RUNNING when the program is ready
  (:meth:`ProcessMachine.ready`), not after startsecs; not ready within
  ``ready_timeout`` is a failed start: the program is stopped (it stays
  STARTING meanwhile) and its exit is a BACKOFF like any failed start.
- A spawn may wait for dependencies: STARTING with no pid until the shell
  spawns it, or :meth:`ProcessMachine.dependency_failed` gives up.
- :meth:`ProcessMachine.request_restart`: stop, then spawn again whatever
  autorestart says (a hung or unhealthy program).
- ``backoff = exponential`` and ``backoff_max``; ``fatal_retry_secs``: FATAL
  tries again from scratch after that long.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import Optional, Union

from ..config.model import AutoRestart, ProcessConfig
from .states import RUNNING_STATES, ProcessState

CRITICAL, ERROR, WARN, INFO, DEBUG = 50, 40, 30, 20, 10

# Deadlines are "strictly after": a timer armed for exactly start+startsecs
# must see a later clock, so it is armed this much later.
_AFTER = 1e-6


@dataclass(frozen=True)
class Spawn:
    """Fork and exec the program now; answer with spawned() or spawn_failed()."""


@dataclass(frozen=True)
class Kill:
    """Send ``sig``; ``whole_tree`` means the process group and every descendant."""

    sig: int
    whole_tree: bool


@dataclass(frozen=True)
class Log:
    level: int
    text: str


@dataclass(frozen=True)
class StateChanged:
    """Values as they were at the change, for PROCESS_STATE_* events."""

    old: ProcessState
    new: ProcessState
    pid: int
    tries: int
    expected: Optional[bool] = None
    exitstatus: Optional[int] = None  # an autorestart clears the process's own before watchers hear


Action = Union[Spawn, Kill, Log, StateChanged]


# (snapshot key, attribute) of what ProcessMachine.snapshot() carries
_SAVED_FIELDS = (
    ("state", "state"),
    ("pid", "pid"),
    ("spawnerr", "spawnerr"),
    ("exitstatus", "exitstatus"),
    ("backoff", "backoff"),
    ("killing", "killing"),
    ("administrative_stop", "administrative_stop"),
    ("system_stop", "system_stop"),
    ("started_once", "started_once"),
    ("laststart", "_laststart"),
    ("failed_start", "_failed_start"),
    ("restart_after_stop", "_restart_after_stop"),
    ("ready_by", "_ready_by"),
    ("deadline", "_deadline"),
)


def signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def describe_wait_status(status: int) -> tuple[int, str]:
    """(exit code, text) of a wait status; death by signal counts as code -1."""
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        return code, f"exit status {code}"
    if os.WIFSIGNALED(status):
        text = f"terminated by {signame(os.WTERMSIG(status))}"
        if os.WCOREDUMP(status):
            text += " (core dumped)"
        return -1, text
    return -1, f"unknown wait status {status}"


class ProcessMachine:
    """State and rules of one process.  Public attributes are read by the API."""

    def __init__(self, config: ProcessConfig) -> None:
        self.config = config
        self.state = ProcessState.STOPPED
        self.pid = 0
        self.spawnerr: Optional[str] = None
        self.exitstatus: Optional[int] = None
        self.backoff = 0
        self.killing = False
        self.administrative_stop = False
        self.system_stop = False
        self.started_once = False  # stock's "laststart != 0"
        self._laststart = 0.0  # monotonic
        self._failed_start = False  # stopping a program that was not ready in time
        self._restart_after_stop = False  # request_restart: spawn once it has stopped
        self._ready_by: Optional[float] = None  # STARTING: ready_timeout (with extensions)
        self._deadline: Optional[float] = None
        self._actions: list[Action] = []

    # -- inputs -------------------------------------------------------------

    def tick(self, now: float, may_autostart: bool) -> list[Action]:
        """Apply every rule whose time has come (stock's transition())."""
        self._settle(now, may_autostart)
        return self._take()

    def request_start(self, now: float) -> list[Action]:
        """An administrative start (startProcess).  The caller checked the state."""
        self.backoff = 0
        self._spawn(now)
        return self._take()

    def request_stop(self, now: float) -> list[Action]:
        """An administrative stop: stopsignal, then SIGKILL after stopwaitsecs."""
        self.administrative_stop = True
        self._restart_after_stop = False
        if self.state == ProcessState.FATAL:
            self._deadline = None  # the operator said stop: no fatal_retry_secs retry
        self._kill(now, self.config.stopsignal)
        return self._take()

    def request_restart(self, now: float) -> list[Action]:
        """Stop a RUNNING program, then spawn it again (a hung or unhealthy
        program): the usual RUNNING, STOPPING, STOPPED, STARTING transitions."""
        if self.state == ProcessState.RUNNING and not self.killing:
            self._restart_after_stop = True
            self._kill(now, self.config.stopsignal)
        return self._take()

    def ready(self, now: float, how: str) -> list[Action]:
        """The program said it is ready (sd_notify READY=1, or its readiness
        check passed): RUNNING, for a program whose ``ready`` is not startsecs."""
        if (
            self.state == ProcessState.STARTING
            and self.pid
            and not self.killing
            and self.config.ready != "startsecs"
        ):
            self._deadline = None
            self._ready_by = None
            self.backoff = 0
            # Logged before the change: what the change sets off (dependents
            # spawning) comes after it in the log.
            self._actions.append(
                Log(INFO, f"success: {self.config.name} entered RUNNING state, process is ready ({how})")
            )
            self._change(ProcessState.RUNNING)
        return self._take()

    def extend_timeout(self, now: float, seconds: float) -> list[Action]:
        """EXTEND_TIMEOUT_USEC: the start (ready_timeout) or stop (stopwaitsecs)
        deadline moves to at least ``seconds`` from now, as systemd does."""
        if self.state == ProcessState.STARTING and self._ready_by is not None and not self.killing:
            self._ready_by = max(self._ready_by, now + seconds)
            self._deadline = self._ready_by
        elif self.killing and self._deadline is not None:
            self._deadline = max(self._deadline, now + seconds)
        return self._take()

    def main_pid_changed(self, pid: int) -> list[Action]:
        """MAINPID=: the state machine follows ``pid`` from now on."""
        if self.pid and pid > 0 and pid != self.pid:
            self._actions.append(
                Log(INFO, f"main pid of '{self.config.name}' is now {pid} (was {self.pid})")
            )
            self.pid = pid
        return self._take()

    def dependency_failed(self, message: str, now: float) -> list[Action]:
        """A spawn waiting for its dependencies will not happen: one of them
        cannot be had.  Retrying would not help, so FATAL at once (through
        BACKOFF, the transitions stock listeners know)."""
        if self.state == ProcessState.STARTING and not self.pid:
            self._record_spawnerr(message)
            self.backoff += 1
            self._change(ProcessState.BACKOFF)
            self._give_up(now, message)
        return self._take()

    def give_up_backoff(self) -> list[Action]:
        """BACKOFF -> FATAL at once (a group stopping during shutdown)."""
        if self.state == ProcessState.BACKOFF:
            self._give_up(None)
        return self._take()

    def request_signal(self, sig: int) -> list[Action]:
        """signalProcess: only to the pid, never to the group."""
        self._actions.append(Kill(sig, whole_tree=False))
        return self._take()

    def spawned(self, pid: int, now: float) -> list[Action]:
        self.pid = pid
        self._laststart = now  # later than _spawn() when it waited for dependencies
        if self.config.ready != "startsecs":
            self._ready_by = now + self.config.ready_timeout
        self._actions.append(Log(INFO, f"spawned: '{self.config.name}' with pid {pid}"))
        self._settle(now, may_autostart=False)
        return self._take()

    def spawn_failed(self, message: str, now: float) -> list[Action]:
        """The spawn could not happen (bad command, fork/pipe failure)."""
        self._record_spawnerr(message)
        self._enter_backoff(now)
        self._settle(now, may_autostart=False)
        return self._take()

    def exited(self, wait_status: int, now: float, may_autostart: bool) -> list[Action]:
        code, text = describe_wait_status(wait_status)
        name = self.config.name
        expected = code in self.config.exitcodes
        if self.config.ready == "startsecs":
            too_quickly = now - self._laststart < self.config.startsecs
        else:
            too_quickly = True  # an exit while STARTING: it never said it was ready
        failed_start, self._failed_start = self._failed_start, False
        self._ready_by = None
        if failed_start:
            self.killing = False
            self.exitstatus = None
            self._actions.append(Log(WARN, f"exited: {name} ({text}; not expected)"))
            self._enter_backoff(now)
        elif self.killing:
            self.killing = False
            self._deadline = None
            self.exitstatus = code
            self._change(ProcessState.STOPPED)
            self._actions.append(Log(INFO if expected else WARN, f"stopped: {name} ({text})"))
        elif too_quickly and self.state == ProcessState.STARTING:
            self.exitstatus = None
            self.spawnerr = "Exited too quickly (process log may have details)"
            self._actions.append(Log(WARN, f"exited: {name} ({text}; not expected)"))
            self._enter_backoff(now)
        else:
            self._deadline = None
            self.backoff = 0
            self.exitstatus = code
            if self.state == ProcessState.STARTING:
                self._change(ProcessState.RUNNING)
            if expected:
                self._actions.append(Log(INFO, f"exited: {name} ({text}; expected)"))
            else:
                self.spawnerr = f"Bad exit code {code}"
                self._actions.append(Log(WARN, f"exited: {name} ({text}; not expected)"))
            self._change(ProcessState.EXITED, expected=expected)
        self.pid = 0
        self._settle(now, may_autostart)
        return self._take()

    def kill_failed(self, message: str) -> list[Action]:
        """Sending a signal failed for a reason other than "no such process"."""
        self._actions.append(
            Log(CRITICAL, f"unknown problem killing {self.config.name} ({self.pid}):{message}")
        )
        self._change(ProcessState.UNKNOWN)
        self.killing = False
        self._deadline = None
        return self._take()

    # -- hand-over (issue 16) -------------------------------------------------

    def snapshot(self) -> dict:
        """Every field the rules read, JSON-serialisable: a new daemon binary
        rebuilds the machine from it with :meth:`restore`.  Times are
        monotonic: CLOCK_MONOTONIC runs on across an exec."""
        saved = {name: getattr(self, attr) for name, attr in _SAVED_FIELDS}
        saved["state"] = self.state.name
        return saved

    @classmethod
    def restore(cls, config: ProcessConfig, saved: dict) -> ProcessMachine:
        """The machine as :meth:`snapshot` left it; raises KeyError or
        ValueError on a snapshot it cannot read."""
        machine = cls(config)
        machine.state = ProcessState[saved["state"]]
        for name, attr in _SAVED_FIELDS:
            if name != "state":
                setattr(machine, attr, saved[name])
        return machine

    # -- queries ------------------------------------------------------------

    def deadline(self) -> Optional[float]:
        """Monotonic time at which tick() has something to do, or None."""
        return self._deadline

    # -- rules --------------------------------------------------------------

    def _settle(self, now: float, may_autostart: bool) -> None:
        """Apply the transition rules until nothing more happens now."""
        while True:
            state = self.state
            if may_autostart:
                if state == ProcessState.EXITED:
                    restart = self.config.autorestart
                    if restart is AutoRestart.ALWAYS or (
                        restart is AutoRestart.UNEXPECTED
                        and self.exitstatus not in self.config.exitcodes
                    ):
                        self._spawn(now)
                        continue
                elif state == ProcessState.STOPPED and not self.started_once:
                    if self.config.autostart:
                        self._spawn(now)
                        continue
                elif state == ProcessState.STOPPED and self._restart_after_stop:
                    self._restart_after_stop = False
                    self._spawn(now)
                    continue
                elif state == ProcessState.FATAL and self._deadline is not None and now >= self._deadline:
                    self._actions.append(
                        Log(
                            INFO,
                            f"retrying: {self.config.name} has been FATAL for "
                            f"{self.config.fatal_retry_secs:g} seconds (fatal_retry_secs)",
                        )
                    )
                    self.backoff = 0
                    self._spawn(now)
                    continue
            if state == ProcessState.STARTING and self.pid and self._ready_by is not None and not self.killing:
                if now >= self._ready_by:
                    timeout = self.config.ready_timeout
                    self._failed_start = True
                    self.spawnerr = f"not ready within {timeout:g} seconds (ready_timeout)"
                    self._actions.append(
                        Log(WARN, f"{self.config.name} was not ready within {timeout:g} seconds "
                            f"(ready_timeout, ready={self.config.ready}); stopping it")
                    )
                    self._kill(now, self.config.stopsignal, enter_stopping=False)
                else:
                    self._deadline = self._ready_by
            elif state == ProcessState.STARTING and self.pid and not self.killing:
                running_at = self._laststart + self.config.startsecs + _AFTER
                if now >= running_at:
                    self._deadline = None
                    self.backoff = 0
                    self._actions.append(
                        Log(
                            INFO,
                            f"success: {self.config.name} entered RUNNING state, process has "
                            f"stayed up for > than {self.config.startsecs} seconds (startsecs)",
                        )
                    )
                    self._change(ProcessState.RUNNING)
                else:
                    self._deadline = running_at
            elif state == ProcessState.BACKOFF:
                if self.backoff > self.config.startretries:
                    self._give_up(now)
                    continue
                if self._deadline is not None and now >= self._deadline:
                    if may_autostart:
                        self._spawn(now)
                        continue
                    self._deadline = None  # shutting down: wait for no retry
            elif state == ProcessState.FATAL:
                if self._deadline is not None and now >= self._deadline:
                    self._deadline = None  # shutting down: no retry
            elif state == ProcessState.STOPPING or (state == ProcessState.STARTING and self.killing):
                if self._deadline is not None and now >= self._deadline:
                    self._actions.append(
                        Log(WARN, f"killing '{self.config.name}' ({self.pid}) with SIGKILL")
                    )
                    self._kill(now, signal.SIGKILL, enter_stopping=False)
            return

    def _spawn(self, now: float) -> None:
        self.killing = False
        self._failed_start = False
        self._restart_after_stop = False
        self._ready_by = None
        self.spawnerr = None
        self.exitstatus = None
        self.system_stop = False
        self.administrative_stop = False
        self.started_once = True
        self._laststart = now
        self._deadline = None
        self._change(ProcessState.STARTING)
        self._actions.append(Spawn())

    def _enter_backoff(self, now: float) -> None:
        self.backoff += 1  # before the change: its event reports the new count
        self._change(ProcessState.BACKOFF)
        self._deadline = now + self.backoff_delay(self.backoff) + _AFTER

    def backoff_delay(self, attempt: int) -> float:
        """Seconds before retry number ``attempt`` (1, 2, ...): stock's 1, 2,
        3 ..., or 1, 2, 4 ... with ``backoff = exponential``; capped by
        ``backoff_max`` when set."""
        config = self.config
        if config.backoff == "exponential":
            delay = 2.0 ** min(attempt - 1, 64)
        else:
            delay = float(attempt)
        if config.backoff_max > 0:
            delay = min(delay, config.backoff_max)
        return delay

    def _give_up(self, now: Optional[float], why: str = "too many start retries too quickly") -> None:
        """FATAL; with ``now`` (not when shutting down) a fatal_retry_secs retry is due later."""
        self._deadline = None
        self.backoff = 0
        self.system_stop = True
        self._change(ProcessState.FATAL)
        self._actions.append(Log(INFO, f"gave up: {self.config.name} entered FATAL state, {why}"))
        if self.config.fatal_retry_secs > 0 and now is not None:
            self._deadline = now + self.config.fatal_retry_secs

    def _kill(self, now: float, sig: int, enter_stopping: bool = True) -> None:
        """``enter_stopping=False``: a failed start being stopped stays STARTING,
        so its exit is the BACKOFF that stock listeners expect after STARTING."""
        name = self.config.name
        if self.state == ProcessState.BACKOFF:
            self._actions.append(Log(DEBUG, f"Attempted to kill {name}, which is in BACKOFF state."))
            self._deadline = None
            self._change(ProcessState.STOPPED)
            return
        if self.state == ProcessState.STARTING and not self.pid:
            # waiting for its dependencies: nothing to signal, the spawn is off
            self._deadline = None
            self._change(ProcessState.STOPPED)
            return
        if not self.pid:
            self._actions.append(
                Log(DEBUG, f"attempted to kill {name} with sig {signame(sig)} but it wasn't running")
            )
            return
        if self.killing:  # escalating a stop already sent
            whole = self.config.killasgroup
        else:
            whole = self.config.stopasgroup
        self._actions.append(
            Log(
                DEBUG,
                f"killing {name} (pid {self.pid}) {'process group ' if whole else ''}"
                f"with signal {signame(sig)}",
            )
        )
        self.killing = True
        self._deadline = now + self.config.stopwaitsecs
        if self.state in RUNNING_STATES and enter_stopping:
            self._change(ProcessState.STOPPING)
        self._actions.append(Kill(sig, whole_tree=whole))

    def _record_spawnerr(self, message: str) -> None:
        self.spawnerr = message
        self._actions.append(Log(INFO, f"spawnerr: {message}"))

    def _change(self, new: ProcessState, expected: Optional[bool] = None) -> None:
        old = self.state
        if old == new:
            return
        self.state = new
        self._actions.append(StateChanged(old, new, self.pid, self.backoff, expected, self.exitstatus))

    def _take(self) -> list[Action]:
        actions, self._actions = self._actions, []
        return actions
