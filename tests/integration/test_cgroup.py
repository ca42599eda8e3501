"""Cgroup mode on this host's unified hierarchy (issue 17): each program
process runs in a cgroup of its own, a stop reaches every process in it
(an escapee that left the process group, the tree and its environment
included), figures count what the cgroup holds; with the mode switched
off the daemon says so and works through /proc."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from supervisor_ng.runtime import cgroup
from tests.log_daemon import pid_alive
from tests.waiting import wait_until

PY = sys.executable

# The main process starts an escapee that leaves its process group (setsid),
# its parent (double fork: it is reparented to the daemon) and the names
# of its program (empty environment): /proc has nothing left to tie it to
# the program, its cgroup still does.
ESCAPER = """\
import os, sys, time
out = sys.argv[1]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        code = "import os,sys,time\\nopen(sys.argv[1],'w').write(str(os.getpid()))\\nwhile True: time.sleep(1)"
        os.execve(sys.executable, [sys.executable, "-c", code, out + ".tmp"], {})
    os._exit(0)
while not os.path.exists(out + ".tmp"):
    time.sleep(0.01)
os.rename(out + ".tmp", out)
while True:
    time.sleep(1)
"""


def _writable_unified() -> bool:
    mount = cgroup.unified_mount()
    own = cgroup.own_cgroup()
    if mount is None or own is None or os.geteuid() != 0:
        return False
    return os.access(os.path.normpath(mount + own), os.W_OK)


needs_cgroup = pytest.mark.skipif(not _writable_unified(), reason="no writable cgroup v2 hierarchy here")


def _escaper(tmp_path: Path, name: str = "esc") -> tuple[str, Path]:
    script = tmp_path / "escaper.py"
    script.write_text(ESCAPER)
    out = tmp_path / f"{name}.pid"
    section = (
        f"[program:{name}]\ncommand={PY} {script} {out}\nstartsecs=0\nstopwaitsecs=2\n"
        "stopasgroup=true\nkillasgroup=true\n"
    )
    return section, out


def _cgroup_of(pid: int) -> str:
    return cgroup.own_cgroup(str(pid)) or ""


@needs_cgroup
def test_program_runs_in_its_own_cgroup_and_a_stop_reaches_an_escapee(daemon_factory, tmp_path: Path):
    section, out = _escaper(tmp_path)
    d = daemon_factory(section)
    wait_until(out.exists, what="the escapee's pid")
    escapee = int(out.read_text())
    main = d.rpc.supervisor.getProcessInfo("esc")["pid"]
    assert "cgroup mode" in d.logfile.read_text()
    assert _cgroup_of(main).endswith("/program-esc")
    assert _cgroup_of(escapee) == _cgroup_of(main)
    # The daemon left the cgroup it was started in for a leaf of its own.
    assert _cgroup_of(d.proc.pid).endswith("/supervisord")

    stats = d.rpc.ng.getProcessStats("esc")
    assert stats["processes"] == 2  # the escapee is counted: /proc alone cannot tell it belongs
    try:
        d.rpc.supervisor.stopProcess("esc")
        wait_until(lambda: not pid_alive(escapee), what="the escapee to be stopped")
    finally:
        if pid_alive(escapee):
            os.kill(escapee, signal.SIGKILL)


@needs_cgroup
def test_stubborn_leftover_gets_its_grace_then_cgroup_kill(daemon_factory, tmp_path: Path):
    script = tmp_path / "stubborn.py"
    marker = tmp_path / "child.pid"
    script.write_text(
        "import os, signal, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    signal.signal(signal.SIGTERM, lambda *a: open(sys.argv[1] + '.term', 'w').close())\n"
        "    open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid()))\n"
        "    os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
        "    while True: signal.pause()\n"
        "while True: time.sleep(1)\n"
    )
    d = daemon_factory(f"[program:stub]\ncommand={PY} {script} {marker}\nstartsecs=0\nstopwaitsecs=1\n")
    wait_until(marker.exists, what="the child's pid")
    child = int(marker.read_text())
    try:
        d.rpc.supervisor.stopProcess("stub")
        # It had the stop signal once its main process was gone, and SIGKILL at the end of the grace.
        wait_until(lambda: Path(f"{marker}.term").exists(), what="the leftover's SIGTERM")
        wait_until(lambda: not pid_alive(child), what="the leftover's SIGKILL")
        assert "killed 1 leftover process(es) of stub" in d.logfile.read_text()
        # A start after the stop gets the program's cgroup back.
        d.rpc.supervisor.startProcess("stub")
        pid = d.rpc.supervisor.getProcessInfo("stub")["pid"]
        assert _cgroup_of(pid).endswith("/program-stub")
    finally:
        if pid_alive(child):
            os.kill(child, signal.SIGKILL)


def test_psutil_mode_when_switched_off(daemon_factory, tmp_path: Path, monkeypatch):
    monkeypatch.setenv(cgroup.ENV_SWITCH, "off")
    d = daemon_factory(f"[program:plain]\ncommand={PY} -c 'import time; time.sleep(60)'\nstartsecs=0\n")
    log = d.logfile.read_text()
    assert "psutil mode" in log and "cgroup mode" not in log
    pid = d.rpc.supervisor.getProcessInfo("plain")["pid"]
    assert "program-plain" not in _cgroup_of(pid)
    stats = d.rpc.ng.getProcessStats("plain")
    assert stats["processes"] == 1
    # The cgroup figures keep their keys, marked as not measured.
    assert stats["memory_peak_kb"] == stats["io_read_kb"] == stats["oom_kills"] == -1
    assert stats["exit_description"] == ""


def test_cgroup_names_are_readable_and_escaped():
    assert cgroup.cgroup_name("web", "web") == "program-web"
    assert cgroup.cgroup_name("grp", "w_01") == "program-grp-w_01"
    assert cgroup.cgroup_name("g", "a b/c") == "program-g-a\\x20b\\x2fc"


@needs_cgroup
def test_a_program_that_changes_user_is_placed_too(daemon_factory, tmp_path: Path):
    # user= takes the fork path (posix_spawn cannot change user): the child
    # moves itself into the cgroup before it drops root and execs.
    d = daemon_factory("[program:other]\ncommand=/bin/sleep 60\nuser=nobody\nstartsecs=0\n")
    pid = d.rpc.supervisor.getProcessInfo("other")["pid"]
    assert pid
    assert _cgroup_of(pid).endswith("/program-other")
