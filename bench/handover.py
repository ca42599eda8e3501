"""Hand-over by exec (issue 16): ``ng.reexec()`` with 500 programs RUNNING.

500 programs ``sleep 1000`` (``startsecs=0``, no log files: ``NONE``; 20
with ``--quick``).  A separate process calls ``supervisor.getState`` every
~10 ms; a call that fails (its connection was in flight at the exec) is
retried on a new connection, and the ping counts from its first send to the
answer: the wait that client sees.  The bench then hands the daemon over 5
times.  Per hand-over:

- request to answer: ``ng.reexec()`` sent until its answer, which comes once
  the new binary has passed its dry run (a second supervisord, run and done);
- request to the new daemon answering ``getState`` (goal < 1 s): the answer
  is written just before the exec, so a call sent after it can only be
  answered by the new image;
- the worst ping waiting at any moment between the request and that answer;
- every program keeps its pid and start time (a problem if not), and the
  daemon its pid.

As a reference, in the same run, what ``systemctl restart`` gives operators
today: SIGTERM to the daemon, wait for its exit, launch it again, until all
500 are RUNNING (the pinger's worst wait over that, too).  The floor of both
is Python's start-up: ``supervisord --version`` is timed as well.

Stock 4.3.0 has no hand-over: it gets no figures.  Left out of ``--quick``.

Registered as the scenario ``handover500`` (see run.py).
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import time
from pathlib import Path

import psutil

from daemons import BenchError, RunningDaemon, launch
from loop_stall import PING_EVERY, _worst_ping, start_pinger
from scenarios import Bench, Outcome, scenario, sleepers
from supconf import SOCKET_NAME, write_config
from unixrpc import unix_server_proxy

GOAL = 1.0  # issue 16: request to the new daemon answering getState
HANDOVERS = 5
VERSION_SAMPLES = 5

# Unlike loop_stall's pinger, a failed call is retried and its wait goes on
# from the first send: what a client that retries sees.  Failures are stamped
# in a file of their own (_worst_ping reads two fields a line).
_PINGER = """\
import sys, time
sys.path.insert(0, sys.argv[4])
from unixrpc import unix_server_proxy
rpc = unix_server_proxy(sys.argv[1])
with open(sys.argv[2], "w", buffering=1) as out, open(sys.argv[3], "w", buffering=1) as failed:
    while True:
        sent = time.monotonic()
        while True:
            try:
                rpc.supervisor.getState()
                break
            except Exception as exc:
                failed.write("%r %s\\n" % (time.monotonic(), type(exc).__name__))
                rpc = unix_server_proxy(sys.argv[1])
                time.sleep(0.002)
        out.write("%r %r\\n" % (sent, time.monotonic()))
        time.sleep(max(0.0, {every} - (time.monotonic() - sent)))
"""


def _programs(count: int) -> dict[str, dict[str, str]]:
    return sleepers(count, stdout_logfile="NONE", stderr_logfile="NONE")


def _pids(daemon_sock: str) -> tuple[dict[str, int], list[str]]:
    """Each program's pid, from a fresh connection, and those not RUNNING."""
    infos = unix_server_proxy(daemon_sock, timeout=120).supervisor.getAllProcessInfo()
    not_running = [f"{i['name']} {i['statename']}" for i in infos if i["statename"] != "RUNNING"]
    return {info["name"]: info["pid"] for info in infos}, not_running


def _start_times(pids: dict[str, int]) -> dict[str, float]:
    return {name: psutil.Process(pid).create_time() for name, pid in pids.items()}


def _changed(before: dict[str, int], after: dict[str, int], started: dict[str, float]) -> list[str]:
    """Programs whose pid changed, or whose process is not the one it was."""
    changed = []
    for name, pid in before.items():
        try:
            same = psutil.Process(pid).create_time() == started[name]
        except psutil.Error:
            same = False
        if after.get(name) != pid or not same:
            changed.append(f"{name}: pid {pid} -> {after.get(name)}, same process: {same}")
    return changed


def _new_daemon_answers(sock: str, timeout: float = 120.0) -> float:
    """perf_counter when getState is first answered; a refused or cut
    connection is retried (there should be none: the socket stays open)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            unix_server_proxy(sock, timeout=timeout).supervisor.getState()
            return time.perf_counter()
        except OSError:
            if time.monotonic() > deadline:
                raise BenchError(f"no getState answer {timeout:.0f} s after ng.reexec()") from None
            time.sleep(0.002)


def _hand_over(daemon: RunningDaemon, sock: str) -> tuple[float, float, float, float]:
    """One ng.reexec(): (request to answer, request to getState answered,
    and the monotonic bounds of that window for the pinger)."""
    rpc = unix_server_proxy(sock, timeout=120)
    start = time.monotonic()
    sent = time.perf_counter()
    if rpc.ng.reexec() is not True:
        raise BenchError("ng.reexec() did not answer True")
    answered = time.perf_counter()
    rpc("close")()
    new = _new_daemon_answers(sock)
    end = time.monotonic()
    if daemon.popen.poll() is not None:
        raise BenchError(f"daemon exited with status {daemon.popen.returncode} on hand-over")
    return answered - sent, new - sent, start, end


def _version_start_up(executable: Path) -> list[float]:
    """Wall time of ``supervisord --version``: one Python start-up of ours."""
    samples = []
    for _ in range(VERSION_SAMPLES):
        started = time.perf_counter()
        subprocess.run([str(executable), "--version"], capture_output=True, check=True, timeout=60)
        samples.append(time.perf_counter() - started)
    return samples


def _summarize(
    outcome: Outcome, label: str, values: list[float], goal: float | None, bench: Bench
) -> None:
    n = len(values)
    for kind, value in (("median", statistics.median(values)), ("worst", max(values))):
        figure = f"{label}, {kind} of {n}"
        outcome.figures[figure] = value
        if goal is not None:
            bench.target(outcome, figure, goal)
    outcome.samples[label] = values


@scenario(
    "handover500",
    "ng.reexec() with 500 programs: hand-over time, worst client wait, pids kept",
    full_only=True,
)
def handover(bench: Bench) -> Outcome:
    if bench.supervisord.key != "ours":
        return Outcome()  # stock 4.3.0 has no hand-over
    count = 500 if bench.at_full_size else 20
    conf = write_config(bench.workdir, _programs(count))
    sock = str(bench.workdir / SOCKET_NAME)
    pings, failures = bench.workdir / "pings", bench.workdir / "ping-failures"
    outcome = Outcome()
    floor = _version_start_up(bench.supervisord.executable)
    dry_runs: list[float] = []
    totals: list[float] = []
    worst_pings: list[float] = []
    windows: list[tuple[float, float]] = []
    with launch(bench.supervisord, conf, bench.workdir) as daemon:
        daemon.wait_answering()
        daemon.wait_all_running(count)
        pinger = start_pinger(_PINGER, [sock, str(pings), str(failures)], pings)
        try:
            for turn in range(1, HANDOVERS + 1):
                before, not_running = _pids(sock)
                if not_running:
                    raise BenchError(f"before hand-over {turn}, not RUNNING: {not_running[:3]}")
                started = _start_times(before)
                dry_run, total, start, end = _hand_over(daemon, sock)
                after, not_running = _pids(sock)
                changed = _changed(before, after, started) + not_running
                if changed:
                    outcome.problems.append(
                        f"PIDS CHANGED on hand-over {turn}: {len(changed)} of {count} programs "
                        f"restarted, gone or not RUNNING, e.g. {changed[:3]}"
                    )
                time.sleep(2 * PING_EVERY)  # the ping waiting at the end has its answer
                worst, _seen = _worst_ping(pings, start, end)
                dry_runs.append(dry_run)
                totals.append(total)
                worst_pings.append(worst)
                windows.append((start, end))
            restart = _restart(daemon, bench, conf, count, pings)
        finally:
            pinger.send_signal(signal.SIGTERM)
            pinger.wait(10)
    log = (bench.workdir / "supervisord.log").read_text(errors="replace")
    if (
        log.count("handing over to") != HANDOVERS
        or "hand-over failed" in log
        or "hand-over abandoned" in log
        or "cannot adopt" in log
    ):
        outcome.problems.append(
            f"the daemon's log shows {log.count('handing over to')} hand-overs begun (not "
            f"{HANDOVERS}), or one failed, abandoned or not adopting a program"
        )
    _summarize(
        outcome, f"ng.reexec() request to answer (dry run), {count} programs", dry_runs, None, bench
    )
    _summarize(
        outcome,
        f"ng.reexec() request to new daemon answering getState, {count} programs",
        totals,
        GOAL,
        bench,
    )
    _summarize(
        outcome, "worst getState ping (every 10 ms) over a hand-over", worst_pings, None, bench
    )
    cut = f"getState calls cut (retried) over the {HANDOVERS} hand-overs"
    outcome.figures[cut] = float(_failed_within(failures, windows))
    outcome.units[cut] = "calls"
    outcome.figures.update(restart)
    floor_label = "`supervisord --version` (one Python start-up of ours), median"
    outcome.figures[floor_label] = statistics.median(floor)
    outcome.samples[floor_label] = floor
    return outcome


def _failed_within(failures: Path, windows: list[tuple[float, float]]) -> int:
    stamps = [float(line.split()[0]) for line in failures.read_text().splitlines()]
    return sum(1 for at in stamps if any(start <= at <= end for start, end in windows))


def _restart(
    daemon: RunningDaemon, bench: Bench, conf: Path, count: int, pings: Path
) -> dict[str, float]:
    """The ``systemctl restart`` equivalent, for reference: SIGTERM, exit,
    launch, all RUNNING.  The new daemon is launched inside the old one's
    launch block: leaving that block kills every descendant, the pinger too."""
    start = time.monotonic()
    sigterm = time.perf_counter()
    stopped = daemon.terminate()
    with launch(bench.supervisord, conf, bench.workdir) as again:
        again.wait_answering()
        running = again.launched_at + again.wait_all_running(count) - sigterm
        end = time.monotonic()
        time.sleep(2 * PING_EVERY)
        worst, _seen = _worst_ping(pings, start, end)
    return {
        f"restart for reference: SIGTERM to all {count} RUNNING again": running,
        "restart for reference: SIGTERM to the daemon's exit": stopped,
        "worst getState ping over the restart": worst,
    }
