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


Action = Union[Spawn, Kill, Log, StateChanged]


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
        self._kill(now, self.config.stopsignal)
        return self._take()

    def give_up_backoff(self) -> list[Action]:
        """BACKOFF -> FATAL at once (a group stopping during shutdown)."""
        if self.state == ProcessState.BACKOFF:
            self._give_up()
        return self._take()

    def request_signal(self, sig: int) -> list[Action]:
        """signalProcess: only to the pid, never to the group."""
        self._actions.append(Kill(sig, whole_tree=False))
        return self._take()

    def spawned(self, pid: int, now: float) -> list[Action]:
        self.pid = pid
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
        too_quickly = now - self._laststart < self.config.startsecs
        if self.killing:
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
            if state == ProcessState.STARTING and self.pid:
                running_at = self._laststart + self.config.startsecs + _AFTER
                if now >= running_at:
                    self._deadline = None
                    self.backoff = 0
                    self._change(ProcessState.RUNNING)
                    self._actions.append(
                        Log(
                            INFO,
                            f"success: {self.config.name} entered RUNNING state, process has "
                            f"stayed up for > than {self.config.startsecs} seconds (startsecs)",
                        )
                    )
                else:
                    self._deadline = running_at
            elif state == ProcessState.BACKOFF:
                if self.backoff > self.config.startretries:
                    self._give_up()
                    continue
                if self._deadline is not None and now >= self._deadline:
                    if may_autostart:
                        self._spawn(now)
                        continue
                    self._deadline = None  # shutting down: wait for no retry
            elif state == ProcessState.STOPPING:
                if self._deadline is not None and now >= self._deadline:
                    self._actions.append(
                        Log(WARN, f"killing '{self.config.name}' ({self.pid}) with SIGKILL")
                    )
                    self._kill(now, signal.SIGKILL)
            return

    def _spawn(self, now: float) -> None:
        self.killing = False
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
        self._deadline = now + self.backoff + _AFTER

    def _give_up(self) -> None:
        self._deadline = None
        self.backoff = 0
        self.system_stop = True
        self._change(ProcessState.FATAL)
        self._actions.append(
            Log(
                INFO,
                f"gave up: {self.config.name} entered FATAL state, "
                "too many start retries too quickly",
            )
        )

    def _kill(self, now: float, sig: int) -> None:
        name = self.config.name
        if self.state == ProcessState.BACKOFF:
            self._actions.append(Log(DEBUG, f"Attempted to kill {name}, which is in BACKOFF state."))
            self._deadline = None
            self._change(ProcessState.STOPPED)
            return
        if not self.pid:
            self._actions.append(
                Log(DEBUG, f"attempted to kill {name} with sig {signame(sig)} but it wasn't running")
            )
            return
        if self.state == ProcessState.STOPPING:
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
        if self.state in RUNNING_STATES:
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
        self._actions.append(StateChanged(old, new, self.pid, self.backoff, expected))

    def _take(self) -> list[Action]:
        actions, self._actions = self._actions, []
        return actions
