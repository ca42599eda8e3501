"""Limits of a program's cgroup at work (issue 17): ``tasks_max`` stops a
fork bomb, ``memory_max`` has a hog killed by the OOM killer, reported, and
restarted.  They need the pids and memory controllers: on a hybrid host
(the controllers bound to v1) they are skipped, and run under systemd in
tests/e2e/test_cgroup.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from supervisor_ng.runtime import cgroup
from tests.waiting import wait_until

PY = sys.executable


def _has(controller: str) -> bool:
    available = cgroup.available_controllers()
    return available is not None and controller in available


BOMB = """\
import os, sys, time
n = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        n += 1
except OSError:
    open(sys.argv[1], "w").write(str(n))
time.sleep(600)
"""

HOG = """\
import sys
open(sys.argv[1], "a").write("x")
chunks = []
while True:
    chunks.append(bytearray(16 * 1024 * 1024))
"""


@pytest.mark.skipif(not _has("pids"), reason="no pids controller for the daemon's cgroups here")
def test_tasks_max_limits_a_fork_bomb(daemon_factory, tmp_path: Path):
    script, out = tmp_path / "bomb.py", tmp_path / "forked"
    script.write_text(BOMB)
    d = daemon_factory(f"[program:bomb]\ncommand={PY} {script} {out}\nstartsecs=0\ntasks_max=16\nstopasgroup=true\n")
    wait_until(out.exists, what="the fork bomb to hit its limit")
    assert int(out.read_text()) < 16
    assert d.rpc.ng.getProcessStats("bomb")["processes"] <= 16
    d.rpc.supervisor.stopProcess("bomb")


@pytest.mark.skipif(not _has("memory"), reason="no memory controller for the daemon's cgroups here")
def test_memory_max_kills_a_hog_which_is_restarted(daemon_factory, tmp_path: Path):
    script, starts = tmp_path / "hog.py", tmp_path / "starts"
    script.write_text(HOG)
    d = daemon_factory(
        f"[program:hog]\ncommand={PY} {script} {starts}\nstartsecs=0\nautorestart=true\nmemory_max=64M\n"
    )
    wait_until(lambda: starts.exists() and len(starts.read_text()) >= 2, what="the hog's restart")
    assert "hog: the OOM killer killed" in d.logfile.read_text()
