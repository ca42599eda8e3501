"""Spawning against tight resource limits: out of file descriptors (EMFILE)
and over the process limit of a user (EAGAIN).  The programs that cannot
start go to BACKOFF and then FATAL with a message that says why; the daemon
keeps answering; once the limit is raised they start."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import time
from pathlib import Path

import psutil

from tests.daemon_harness import Daemon

from .conftest import figures
from .rawhttp import fd_count

MANY = 12
PROGRAMS = f"""
[program:many]
command=sleep 1000
process_name=many_%(process_num)02d
numprocs={MANY}
autostart=false
startsecs=0
startretries=2
"""


def test_out_of_file_descriptors_gives_fatal_with_a_clear_spawnerr(daemon_factory) -> None:
    d = daemon_factory(PROGRAMS, supervisord_options="minfds=16\n")
    proxy = d.proxy(timeout=30)  # one kept-alive connection: it needs no new fd later
    assert proxy.supervisor.getState()["statename"] == "RUNNING"
    daemon = psutil.Process(d.pid)
    original = daemon.rlimit(psutil.RLIMIT_NOFILE)
    base = fd_count(d.pid)
    # Room for a few children (3 fds kept each, 6 while spawning), not all.
    limit = base + 12
    daemon.rlimit(psutil.RLIMIT_NOFILE, (limit, original[1]))
    try:
        results = proxy.supervisor.startAllProcesses(False)
        assert len(results) == MANY
        d.wait_until(
            lambda: all(p["statename"] in ("RUNNING", "FATAL") for p in proxy.supervisor.getAllProcessInfo()),
            timeout=30,
            what="every process RUNNING or FATAL",
        )
        infos = proxy.supervisor.getAllProcessInfo()
        running = [p for p in infos if p["statename"] == "RUNNING"]
        fatal = [p for p in infos if p["statename"] == "FATAL"]
        assert running and fatal, infos
        for info in fatal:
            assert "too many open files" in info["spawnerr"], info
        # The daemon itself is fine: it answers, and says why in its log.
        assert proxy.supervisor.getState()["statename"] == "RUNNING"
        assert "too many open files to spawn" in d.read_log()
        assert fd_count(d.pid) <= limit
    finally:
        daemon.rlimit(psutil.RLIMIT_NOFILE, original)
    # With the limit back, the same programs start.
    for info in fatal:
        assert proxy.supervisor.startProcess(f"many:{info['name']}") is True
    assert all(p["statename"] == "RUNNING" for p in proxy.supervisor.getAllProcessInfo())
    figures(
        "spawn_emfile",
        fd_limit=limit,
        fds_at_start=base,
        started=len(running),
        fatal=len(fatal),
        spawnerr=repr(fatal[0]["spawnerr"]),
    )


def test_over_the_process_limit_of_a_user_gives_fatal_and_the_daemon_stays_up(tmp_path: Path) -> None:
    """RLIMIT_NPROC counts the processes of the user a child becomes: with a
    limit of 1 for ``nobody``, the second child's exec fails with EAGAIN."""
    nobody = pwd.getpwnam("nobody")
    workdir = Path(tempfile.mkdtemp(prefix="sng-nproc-"))
    os.chmod(workdir, 0o755)
    # startsecs=1: a child whose exec fails exits at once, BACKOFF then FATAL.
    programs = PROGRAMS.replace("startsecs=0\n", "startsecs=1\nuser=nobody\n")
    d = Daemon(workdir, programs, supervisord_options="minprocs=1\n")
    d.start()
    try:
        proxy = d.proxy(timeout=30)
        daemon = psutil.Process(d.pid)
        original = daemon.rlimit(psutil.RLIMIT_NPROC)
        # Other tests may run processes as nobody too: leave room for them
        # and for one of ours, not for twelve.
        others = sum(1 for p in psutil.process_iter() if _uid(p) == nobody.pw_uid)
        limit = others + 1
        daemon.rlimit(psutil.RLIMIT_NPROC, (limit, original[1]))  # the soft limit is the one enforced
        try:
            proxy.supervisor.startAllProcesses(False)
            d.wait_until(
                lambda: all(p["statename"] in ("RUNNING", "FATAL") for p in proxy.supervisor.getAllProcessInfo()),
                timeout=60,
                what="every process RUNNING or FATAL",
            )
            infos = proxy.supervisor.getAllProcessInfo()
            running = [p for p in infos if p["statename"] == "RUNNING"]
            fatal = [p for p in infos if p["statename"] == "FATAL"]
            assert running and len(fatal) >= MANY // 2, infos
            for info in fatal:
                stderr = proxy.supervisor.readProcessStderrLog(f"many:{info['name']}", 0, 0)
                assert "EAGAIN" in stderr, stderr
            assert proxy.supervisor.getState()["statename"] == "RUNNING"
        finally:
            daemon.rlimit(psutil.RLIMIT_NPROC, original)
        for info in fatal:
            assert proxy.supervisor.startProcess(f"many:{info['name']}") is True
        assert all(p["statename"] == "RUNNING" for p in proxy.supervisor.getAllProcessInfo())
        figures("spawn_eagain_nproc", nproc_limit=limit, started=len(running), fatal=len(fatal), stderr=repr(stderr.strip()))
    finally:
        assert d.stop() == 0
        shutil.rmtree(workdir, ignore_errors=True)


def _uid(proc: psutil.Process) -> int:
    try:
        return proc.uids().real
    except psutil.Error:
        return -1



def test_programs_dying_as_fast_as_they_start_do_not_wedge_the_loop(daemon_factory) -> None:
    """startsecs=0 programs that exit at once are restarted at once, forever
    (as in stock).  A storm of SIGCHLD must neither stall the event loop nor
    lose a later SIGTERM (asyncio's self-pipe overflowing used to drop it)."""
    d = daemon_factory(
        "[program:flap]\ncommand=false\nprocess_name=flap_%(process_num)02d\nnumprocs=30\n"
        "startsecs=0\nautorestart=true\n[program:flap_user]\ncommand=false\nuser=nobody\n"
        "process_name=u_%(process_num)02d\nnumprocs=10\nstartsecs=0\nautorestart=true\n"
    )
    latencies = []
    end = time.monotonic() + 10
    while time.monotonic() < end:
        start = time.monotonic()
        d.proxy(timeout=30).supervisor.getState()
        latencies.append(time.monotonic() - start)
        time.sleep(0.2)
    exits = d.read_log().count("exited: ")
    start = time.monotonic()
    assert d.stop() == 0
    stop_seconds = time.monotonic() - start
    figures(
        "restart_storm",
        programs=40,
        exits_in_10s=exits,
        rpc_max_ms=round(max(latencies) * 1000),
        rpc_median_ms=round(sorted(latencies)[len(latencies) // 2] * 1000),
        stop_seconds=round(stop_seconds, 2),
    )
    assert max(latencies) < 5
    assert "Exception ignored" not in d.read_output()
