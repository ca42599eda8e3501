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
import subprocess
import time
import xmlrpc.client
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, NamedTuple

import psutil

from daemons import BenchError, RunningDaemon, Supervisord, launch
from supconf import SOCKET_NAME, write_config
from unixrpc import RawCaller


@dataclass(frozen=True)
class Sizes:
    start_programs: int
    shutdown_programs: int
    kills: int
    # Seconds to wait, drawn uniformly, before each kill: spread over more than
    # a one-second poll period, the kill lands at a random phase of the
    # daemon's loop, as a real crash would.
    kill_pause: tuple[float, float]
    # getallprocessinfo: one daemon per program count, calls timed on each.
    info_programs: tuple[int, ...]
    info_calls: int
    # ctl_status500: programs running, and supervisorctl runs per client.
    ctl_programs: int
    ctl_runs: int
    # start_wait_latency: startProcess(wait=True) calls timed.
    start_waits: int
    # stopall_startall: programs, and stop-all/start-all cycles timed per run.
    cycle_programs: int
    cycles: int
    # idle: programs RUNNING while the daemon is watched for idle_window seconds.
    idle_programs: int
    idle_window: float
    # rss: programs RUNNING when the daemon's resident memory is read.
    rss_programs: int

    def most_programs(self) -> int:
        """The largest number of programs one daemon runs (for the fd limit)."""
        return max(
            self.start_programs,
            self.shutdown_programs,
            self.ctl_programs,
            self.cycle_programs,
            self.idle_programs,
            self.rss_programs,
            *self.info_programs,
        )


FULL = Sizes(
    start_programs=500,
    shutdown_programs=50,
    kills=20,
    kill_pause=(0.05, 1.15),
    info_programs=(500, 1000),
    info_calls=50,
    ctl_programs=500,
    ctl_runs=10,
    start_waits=20,
    cycle_programs=200,
    cycles=3,
    idle_programs=100,
    idle_window=30.0,
    rss_programs=1000,
)
QUICK = Sizes(
    start_programs=20,
    shutdown_programs=20,
    kills=3,
    kill_pause=(0.01, 0.1),
    info_programs=(20, 40),
    info_calls=5,
    ctl_programs=20,
    ctl_runs=2,
    start_waits=3,
    cycle_programs=10,
    cycles=1,
    idle_programs=10,
    idle_window=1.0,
    rss_programs=40,
)


@dataclass
class Outcome:
    figures: dict[str, float] = field(default_factory=dict)
    # Raw measurements behind a figure, kept in the JSON file.
    samples: dict[str, list[float]] = field(default_factory=dict)
    # Wrong behaviour seen while measuring (not slowness): reported, fails the run.
    problems: list[str] = field(default_factory=list)
    # The unit of a figure when it is not seconds ("MiB", "/s", "ms/min").
    units: dict[str, str] = field(default_factory=dict)
    # The target for our median of a figure (lower is better);
    # set at full size only, since the targets are for those sizes.
    targets: dict[str, float] = field(default_factory=dict)

    def unit(self, label: str) -> str:
        return self.units.get(label, "s")


@dataclass
class Bench:
    """What a scenario works with during one run against one daemon."""

    supervisord: Supervisord
    sizes: Sizes
    workdir: Path
    rng: random.Random
    # supervisorctl executables by client key (stock, ours), for ctl_status500.
    clients: Mapping[str, Path] = field(default_factory=dict)

    @property
    def at_full_size(self) -> bool:
        """The issue's targets are for the full sizes only."""
        return self.sizes == FULL

    def target(self, outcome: Outcome, label: str, value: float) -> None:
        """Record the issue's target for a figure (at full size)."""
        if self.at_full_size:
            outcome.targets[label] = value

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
    # Left out of --quick (CI): only meaningful at full size, and too slow for CI.
    full_only: bool = False


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    name: str, summary: str, full_only: bool = False
) -> Callable[[ScenarioFunc], ScenarioFunc]:
    """Register a scenario under *name* (the --only value)."""

    def register(func: ScenarioFunc) -> ScenarioFunc:
        SCENARIOS[name] = Scenario(name, summary, func, full_only)
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
    label = f"launch to all RUNNING, {count} programs, startsecs=0"
    outcome = Outcome(
        figures={f"launch to socket answering, {count} programs": answering, label: running}
    )
    bench.target(outcome, label, 0.5)
    return outcome


@scenario("start500_slow", "launch to all programs RUNNING with startsecs=1")
def start_many_slow(bench: Bench) -> Outcome:
    count = bench.sizes.start_programs
    with bench.launch(sleepers(count, startsecs="1")) as daemon:
        daemon.wait_answering()
        running = daemon.wait_all_running(count)
    label = f"launch to all RUNNING, {count} programs, startsecs=1"
    outcome = Outcome(figures={label: running})
    bench.target(outcome, label, 1.3)
    return outcome


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
    outcome = Outcome(figures={label: statistics.median(latencies)}, samples={label: latencies})
    bench.target(outcome, label, 0.020)
    return outcome


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
        if not idle_client:
            bench.target(outcome, label, 0.5)
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


def _p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    # "inclusive" keeps the figure within the samples: with 50 calls it sits
    # between the two slowest, not beyond the slowest.
    return statistics.quantiles(values, n=100, method="inclusive")[98]


@scenario(
    "getallprocessinfo",
    "latency of getAllProcessInfo over a kept-alive connection, all programs RUNNING",
)
def get_all_process_info(bench: Bench) -> Outcome:
    outcome = Outcome()
    for count in bench.sizes.info_programs:
        # A directory per daemon: the first one's socket and logs stay out of the way.
        sized = replace(bench, workdir=bench.workdir / f"programs{count}")
        sized.workdir.mkdir()
        with sized.launch(sleepers(count)) as daemon:
            daemon.wait_answering()
            daemon.wait_all_running(count)
            daemon.close_connection()
            caller = RawCaller(str(daemon.workdir / SOCKET_NAME))
            latencies = []
            try:
                for _ in range(bench.sizes.info_calls):
                    started = time.perf_counter()
                    answer = caller.call("supervisor.getAllProcessInfo")
                    latencies.append(time.perf_counter() - started)
                    if len(latencies) == 1:
                        # Checked (and the client's own parsing timed) once, outside the figure.
                        started = time.perf_counter()
                        (infos,), _ = xmlrpc.client.loads(answer)
                        outcome.samples[f"client parse seconds, {count} programs"] = [
                            time.perf_counter() - started
                        ]
                        if len(infos) != count:
                            outcome.problems.append(f"getAllProcessInfo gave {len(infos)} of {count}")
                            break
            finally:
                caller.close()
        calls = len(latencies)
        median_label = f"getAllProcessInfo, {count} programs, median of {calls} calls"
        p99_label = f"getAllProcessInfo, {count} programs, p99 of {calls} calls"
        outcome.figures[median_label] = statistics.median(latencies)
        outcome.figures[p99_label] = _p99(latencies)
        outcome.samples[median_label] = latencies
        if count == 500:
            bench.target(outcome, median_label, 0.020)
            bench.target(outcome, p99_label, 0.040)
    return outcome


# Row labels of ctl_status500, by client key; the daemon is the table's column.
_CTL_NAMES = {"stock": "stock supervisorctl", "ours": "our supervisorctl"}
_CTL_TARGETS = {"stock": 0.200, "ours": 0.150}


@scenario(
    "ctl_status500",
    "wall time of `supervisorctl -c CONF status`, stock and our client, all programs RUNNING",
)
def ctl_status(bench: Bench) -> Outcome:
    count = bench.sizes.ctl_programs
    outcome = Outcome()
    with bench.launch(sleepers(count)) as daemon:
        daemon.wait_answering()
        daemon.wait_all_running(count)
        conf = daemon.workdir / "supervisord.conf"
        times: dict[str, list[float]] = {key: [] for key in _CTL_NAMES}
        # Clients take turns, so drift hits both alike.
        for _ in range(bench.sizes.ctl_runs):
            for key in _CTL_NAMES:
                elapsed, problem = _time_ctl_status(bench.clients.get(key), conf, count)
                if problem:
                    outcome.problems.append(f"{_CTL_NAMES[key]}: {problem}")
                else:
                    times[key].append(elapsed)
    for key, values in times.items():
        if values:
            label = f"{_CTL_NAMES[key]} status, {count} programs, median of {len(values)} runs"
            outcome.figures[label] = statistics.median(values)
            outcome.samples[label] = values
            bench.target(outcome, label, _CTL_TARGETS[key])
    return outcome


def _time_ctl_status(ctl: Path | None, conf: Path, count: int) -> tuple[float, str]:
    """Seconds one ``supervisorctl status`` took, and what was wrong ('' if nothing)."""
    if ctl is None or not ctl.exists():
        raise BenchError(f"supervisorctl not found: {ctl}")
    started = time.perf_counter()
    done = subprocess.run(
        [str(ctl), "-c", str(conf), "status"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        return elapsed, f"exit status {done.returncode}: {done.stderr.strip()[-300:]}"
    lines = [line for line in done.stdout.splitlines() if "RUNNING" in line]
    if len(lines) != count:
        return elapsed, f"{len(lines)} of {count} programs shown RUNNING"
    return elapsed, ""


@scenario(
    "start_wait_latency",
    "startProcess(name, wait=True) with startsecs=0: time until the call returns",
)
def start_wait_latency(bench: Bench) -> Outcome:
    name = "starter"
    program = {"command": "sleep 1000", "startsecs": "0", "autostart": "false"}
    latencies = []
    with bench.launch({name: program}) as daemon:
        daemon.wait_answering()
        for _ in range(bench.sizes.start_waits):
            started = time.perf_counter()
            daemon.rpc.supervisor.startProcess(name, True)
            latencies.append(time.perf_counter() - started)
            state = daemon.rpc.supervisor.getProcessInfo(name)["statename"]
            if state != "RUNNING":
                raise BenchError(f"{name} is {state} after startProcess(wait=True)")
            daemon.rpc.supervisor.stopProcess(name, True)
    label = f"startProcess(wait=True), startsecs=0, median of {len(latencies)} starts"
    return Outcome(figures={label: statistics.median(latencies)}, samples={label: latencies})


def _states(daemon: RunningDaemon) -> dict[str, int]:
    states: dict[str, int] = {}
    for info in daemon.rpc.supervisor.getAllProcessInfo():
        states[info["statename"]] = states.get(info["statename"], 0) + 1
    return states


@scenario(
    "stopall_startall",
    "stopAllProcesses(wait=True), then startAllProcesses(wait=True): time until each returns",
)
def stop_all_start_all(bench: Bench) -> Outcome:
    return _stop_all_start_all(bench, group=False)


@scenario(
    "stopall_startall_group",
    "as stopall_startall, with stopasgroup=true (the whole process tree of each program stops)",
)
def stop_all_start_all_group(bench: Bench) -> Outcome:
    return _stop_all_start_all(bench, group=True)


def _stop_all_start_all(bench: Bench, group: bool) -> Outcome:
    count = bench.sizes.cycle_programs
    stops: list[float] = []
    starts: list[float] = []
    options = {"stopasgroup": "true"} if group else {}
    with bench.launch(sleepers(count, **options)) as daemon:
        daemon.wait_answering()
        daemon.wait_all_running(count)
        for _ in range(bench.sizes.cycles):
            started = time.perf_counter()
            daemon.rpc.supervisor.stopAllProcesses(True)
            stops.append(time.perf_counter() - started)
            states = _states(daemon)
            if states != {"STOPPED": count}:
                raise BenchError(f"after stopAllProcesses: {states}")
            started = time.perf_counter()
            daemon.rpc.supervisor.startAllProcesses(True)
            starts.append(time.perf_counter() - started)
            states = _states(daemon)
            if states != {"RUNNING": count}:
                raise BenchError(f"after startAllProcesses: {states}")
    outcome = Outcome()
    for verb, values, target in (("stopAllProcesses", stops, 0.2), ("startAllProcesses", starts, 0.3)):
        label = f"{verb}(wait=True), {count} programs, median of {len(values)}"
        if group:
            label += ", stopasgroup=true"
        outcome.figures[label] = statistics.median(values)
        outcome.samples[label] = values
        if not group:  # the targets are for plain programs
            bench.target(outcome, label, target)
    return outcome


_CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def _wakeups(pid: int) -> int:
    """Context switches of *pid* so far: each sleep the daemon wakes from is one."""
    total = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                total += int(line.split()[1])
    return total


def _cpu_seconds(pid: int) -> float:
    """CPU time *pid* used so far: schedstat has nanoseconds, /proc/PID/stat
    only clock ticks (10 ms, coarser than a quiet daemon's minute)."""
    try:
        with open(f"/proc/{pid}/schedstat") as schedstat:
            return int(schedstat.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICK  # utime + stime


@scenario(
    "idle",
    "programs RUNNING, no control traffic: the daemon's wakeups per second and CPU per minute",
)
def idle(bench: Bench) -> Outcome:
    count = bench.sizes.idle_programs
    window = bench.sizes.idle_window
    with bench.launch(sleepers(count)) as daemon:
        daemon.wait_answering()
        daemon.wait_all_running(count)
        # No connection left open, and what start-up left behind has settled.
        daemon.close_connection()
        time.sleep(min(2.0, window))
        wakeups, cpu = _wakeups(daemon.pid), _cpu_seconds(daemon.pid)
        started = time.monotonic()
        time.sleep(window)
        elapsed = time.monotonic() - started
        wakeups = _wakeups(daemon.pid) - wakeups
        cpu = _cpu_seconds(daemon.pid) - cpu
    rate_label = f"idle, {count} programs: wakeups per second"
    cpu_label = f"idle, {count} programs: CPU ms per minute"
    outcome = Outcome(
        figures={rate_label: wakeups / elapsed, cpu_label: cpu * 1000 * 60 / elapsed},
        units={rate_label: "/s", cpu_label: "ms/min"},
        samples={f"{rate_label}: window seconds": [elapsed]},
    )
    bench.target(outcome, rate_label, 0.1)
    bench.target(outcome, cpu_label, 3.0)
    return outcome


@scenario("rss", "resident memory of the daemon with all programs RUNNING")
def resident_memory(bench: Bench) -> Outcome:
    count = bench.sizes.rss_programs
    with bench.launch(sleepers(count)) as daemon:
        daemon.wait_answering()
        daemon.wait_all_running(count)
        memory = psutil.Process(daemon.pid).memory_full_info()
    label = f"RSS with {count} programs RUNNING"
    uss_label = f"USS (memory of its own, no shared pages) with {count} programs RUNNING"
    outcome = Outcome(
        figures={label: memory.rss / 2**20, uss_label: memory.uss / 2**20},
        units={label: "MiB", uss_label: "MiB"},
    )
    bench.target(outcome, label, 39.0)
    return outcome
