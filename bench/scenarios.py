"""The scenarios: each is one function that runs one daemon once.

A scenario gets a :class:`Bench` (the daemon under test, the sizes, a fresh
scratch directory) and returns an :class:`Outcome` whose figures are seconds,
keyed by a label that reads well in the table. Adding one is writing a function
and decorating it with ``@scenario``; the runner does the repeating, the
side-by-side, the statistics and the clean-up.
"""

from __future__ import annotations

import os
import random
import shlex
import signal
import statistics
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import psutil

from daemons import BenchError, RunningDaemon, Supervisord, launch
from supconf import write_config


@dataclass(frozen=True)
class Sizes:
    start_programs: int
    shutdown_programs: int
    kills: int
    # Seconds to wait, drawn uniformly, before each kill: spread over more than
    # a one-second poll period, the kill lands at a random phase of the
    # daemon's loop, as a real crash would.
    kill_pause: tuple[float, float]


FULL = Sizes(start_programs=500, shutdown_programs=50, kills=20, kill_pause=(0.05, 1.15))
QUICK = Sizes(start_programs=20, shutdown_programs=20, kills=3, kill_pause=(0.01, 0.1))


@dataclass
class Outcome:
    figures: dict[str, float] = field(default_factory=dict)
    # Raw measurements behind a figure, kept in the JSON file.
    samples: dict[str, list[float]] = field(default_factory=dict)
    # Wrong behaviour seen while measuring (not slowness): reported, fails the run.
    problems: list[str] = field(default_factory=list)


@dataclass
class Bench:
    """What a scenario works with during one run against one daemon."""

    supervisord: Supervisord
    sizes: Sizes
    workdir: Path
    rng: random.Random

    @contextmanager
    def launch(self, programs: Mapping[str, Mapping[str, str]]) -> Iterator[RunningDaemon]:
        """Start the daemon with *programs*; it and its children die on leaving."""
        conf = write_config(self.workdir, programs)
        with launch(self.supervisord, conf, self.workdir) as daemon:
            yield daemon


ScenarioFunc = Callable[[Bench], Outcome]


class Scenario(NamedTuple):
    name: str
    summary: str
    run: ScenarioFunc


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, summary: str) -> Callable[[ScenarioFunc], ScenarioFunc]:
    """Register a scenario under *name* (the --only value)."""

    def register(func: ScenarioFunc) -> ScenarioFunc:
        SCENARIOS[name] = Scenario(name, summary, func)
        return func

    return register


def sleepers(count: int, **options: str) -> dict[str, dict[str, str]]:
    """*count* programs that do nothing for a long time, starting at once."""
    width = len(str(count - 1))
    return {
        f"sleep{i:0{width}d}": {"command": "sleep 1000", "startsecs": "0", **options}
        for i in range(count)
    }


@scenario("start500", "launch to socket answering and to all programs RUNNING (startsecs=0)")
def start_many(bench: Bench) -> Outcome:
    count = bench.sizes.start_programs
    with bench.launch(sleepers(count)) as daemon:
        answering = daemon.wait_answering()
        running = daemon.wait_all_running(count)
    return Outcome(
        figures={
            f"launch to socket answering, {count} programs": answering,
            f"launch to all RUNNING, {count} programs, startsecs=0": running,
        }
    )


class _Start(NamedTuple):
    at: float  # wall clock, as time.time()
    pid: int


def _stamping_program(stamps: Path) -> dict[str, str]:
    # bash reads $EPOCHREALTIME without forking and keeps its pid through
    # exec, so the line is written about a millisecond after the exec, with the
    # pid the daemon sees. A Python script would add ~20 ms of start-up.
    script = f"echo $EPOCHREALTIME $$ >> {shlex.quote(str(stamps))}; exec sleep 1000"
    return {
        "command": shlex.join(["bash", "-c", script]),
        "startsecs": "0",
        "autorestart": "true",
    }


def _read_starts(stamps: Path) -> list[_Start]:
    starts = []
    for line in stamps.read_text().splitlines(keepends=True):
        if line.endswith("\n"):  # a line still being written is not a start yet
            at, pid = line.split()
            starts.append(_Start(float(at.replace(",", ".")), int(pid)))
    return starts


def _wait_new_start(stamps: Path, known: int, timeout: float = 15.0) -> _Start:
    # Only the file is watched: no RPC while the daemon restarts the program.
    deadline = time.monotonic() + timeout
    while True:
        starts = _read_starts(stamps)
        if len(starts) > known:
            return starts[known]
        if time.monotonic() > deadline:
            raise BenchError(f"program not restarted within {timeout:.0f} s of SIGKILL")
        time.sleep(0.001)


@scenario(
    "restart_after_kill", "SIGKILL a RUNNING program (autorestart=true), time until it runs again"
)
def restart_after_kill(bench: Bench) -> Outcome:
    stamps = bench.workdir / "starts"
    stamps.touch()
    latencies = []
    with bench.launch({"victim": _stamping_program(stamps)}) as daemon:
        daemon.wait_answering()
        daemon.wait_all_running(1)
        starts = [_wait_new_start(stamps, 0)]
        for _ in range(bench.sizes.kills):
            victim = starts[-1].pid
            daemon.wait_process("victim", victim)
            time.sleep(bench.rng.uniform(*bench.sizes.kill_pause))
            killed_at = time.time()
            os.kill(victim, signal.SIGKILL)
            starts.append(_wait_new_start(stamps, len(starts)))
            latencies.append(starts[-1].at - killed_at)
    label = f"restart after SIGKILL, median of {len(latencies)} kills"
    return Outcome(figures={label: statistics.median(latencies)}, samples={label: latencies})


@scenario("shutdown50", "SIGTERM to the daemon with all programs RUNNING, time until it exited")
def shutdown_many(bench: Bench) -> Outcome:
    return _shutdown(bench, idle_client=False)


@scenario(
    "shutdown50_idle_client",
    "as shutdown50, while an XML-RPC client keeps an idle keep-alive connection open",
)
def shutdown_many_idle_client(bench: Bench) -> Outcome:
    return _shutdown(bench, idle_client=True)


def _shutdown(bench: Bench, idle_client: bool) -> Outcome:
    count = bench.sizes.shutdown_programs
    label = f"shutdown on SIGTERM, {count} programs"
    if idle_client:
        label += ", idle client connected"
    outcome = Outcome()
    with bench.launch(sleepers(count)) as daemon:
        daemon.wait_answering()
        daemon.wait_all_running(count)
        programs = [
            psutil.Process(info["pid"]) for info in daemon.rpc.supervisor.getAllProcessInfo()
        ]
        if not idle_client:
            daemon.close_connection()
        outcome.figures[label] = daemon.terminate()
        if daemon.popen.returncode != 0:
            outcome.problems.append(f"daemon exited with status {daemon.popen.returncode}")
        survivors = [proc.pid for proc in programs if _still_running(proc)]
        if survivors:
            outcome.problems.append(
                f"{len(survivors)} of {count} programs outlived the daemon: pids {survivors}"
            )
    return outcome


def _still_running(proc: psutil.Process) -> bool:
    try:
        # is_running() also rules out a new process that reused the pid.
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
