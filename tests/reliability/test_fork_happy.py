"""Fork-happy programs: double forks, setsid, shells with background jobs,
nohup'd grandchildren, parents that exit and leave their children, and a
program that keeps forking.  Nothing of them survives a stop (with
stopasgroup) or the daemon's shutdown (with or without it).

tests/integration/test_tree_stop.py covers one double-forked grandchild per
test; here all the shapes run together, several rounds, and survivors are
looked for across the whole host by a marker in their environment.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import psutil

from tests.waiting import wait_until

from .conftest import figures

PY = sys.executable


def scripts(tmp_path: Path) -> dict[str, str]:
    double_fork = tmp_path / "double_fork.py"
    double_fork.write_text(
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(1000)\n"
        "    os._exit(0)\n"
        "time.sleep(1000)\n"
    )
    forker = tmp_path / "forker.py"
    forker.write_text(
        "import os, subprocess, time\n"
        "while True:\n"
        "    subprocess.Popen(['sleep', '1000'], start_new_session=(os.getpid() % 2 == 0))\n"
        "    time.sleep(0.05)\n"
    )
    deaf = tmp_path / "deaf.py"
    deaf.write_text(
        "import os, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "for _ in range(3):\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        time.sleep(1000)\n"
        "time.sleep(1000)\n"
    )
    return {
        "double_fork": f"{PY} {double_fork}",
        "shell_jobs": "sh -c 'sleep 1001 & sleep 1002 & wait'",
        "nohup": "sh -c 'nohup sleep 1003 >/dev/null 2>&1 & exec sleep 1004'",
        "setsid_daemon": "sh -c 'setsid sleep 1005 & sleep 0.3; exit 0'",
        "forker": f"{PY} {forker}",
        "deaf": f"{PY} {deaf}",
    }


def config(tmp_path: Path, marker: str, stopasgroup: bool) -> str:
    out = []
    programs = scripts(tmp_path)
    if stopasgroup:
        # Stopped while its parent still runs: whether a parent that exits
        # after 0.3 s is still there when stopAllProcesses comes depends on
        # the machine's load, and the leftover of a program that exited by
        # itself is (as in stock) left alone until shutdown.
        programs["setsid_daemon"] = "sh -c 'setsid sleep 1005 & wait'"
    for name, command in programs.items():
        # The parent of setsid_daemon exits at once, on purpose: its child
        # is left to the daemon (a subreaper) to clean up.
        autorestart = "false" if name == "setsid_daemon" else "true"
        out.append(
            f"[program:{name}]\ncommand={command}\nstartsecs=0\nautorestart={autorestart}\n"
            f"stopwaitsecs=2\nenvironment=SNG_FORK_MARKER=\"{marker}\"\n"
            + ("stopasgroup=true\nkillasgroup=true\n" if stopasgroup else "")
        )
    return "\n".join(out)


def marked(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("SNG_FORK_MARKER") == marker and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def describe(procs: list[psutil.Process]) -> str:
    out = []
    for proc in procs:
        try:
            out.append(f"{proc.pid} {' '.join(proc.cmdline())}")
        except psutil.Error:
            pass
    return "; ".join(out)


def test_stop_with_stopasgroup_leaves_nothing_of_fork_happy_programs(daemon_factory, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    d = daemon_factory(config(tmp_path, marker, stopasgroup=True))
    rounds, most = 3, 0
    for _ in range(rounds):
        # Let every shape grow its tree (the forker keeps adding to its own).
        wait_until(lambda: len(marked(marker)) >= 14, timeout=15, what="the trees to grow")
        most = max(most, len(marked(marker)))
        d.rpc.supervisor.stopAllProcesses()
        wait_until(lambda: not marked(marker), timeout=15, what=f"no survivor ({describe(marked(marker))})")
        d.rpc.supervisor.startAllProcesses()
    d.rpc.supervisor.stopAllProcesses()
    wait_until(lambda: not marked(marker), timeout=15, what=f"no survivor ({describe(marked(marker))})")
    figures("fork_happy_stop", rounds=rounds, programs=len(scripts(tmp_path)), most_processes=most, survivors=0)


def test_shutdown_leaves_nothing_even_without_stopasgroup(daemon_factory, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    d = daemon_factory(config(tmp_path, marker, stopasgroup=False))
    wait_until(lambda: len(marked(marker)) >= 14, timeout=15, what="the trees to grow")
    before = len(marked(marker))
    assert d.stop() == 0
    wait_until(lambda: not marked(marker), timeout=10, what=f"no survivor ({describe(marked(marker))})")
    figures("fork_happy_shutdown", processes_before=before, survivors=0)
