"""Whole-tree stop: with stopasgroup/killasgroup nothing of a program survives
``supervisorctl stop`` - not even a grandchild that left the process group.
Stock Supervisor leaves such grandchildren behind (its issue #1101)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.log_daemon import pid_alive, wait_until

PY = sys.executable


def forker_script(tmp_path: Path, *, ignore_term: bool) -> tuple[Path, Path]:
    """A program that double-forks a setsid grandchild and records its pid."""
    pidfile = tmp_path / "grandchild.pid"
    script = tmp_path / "forker.py"
    script.write_text(
        "import os, signal, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        + ("        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if ignore_term else "")
        + f"        open({str(pidfile)!r} + '.tmp', 'w').write(str(os.getpid()))\n"
        f"        os.rename({str(pidfile)!r} + '.tmp', {str(pidfile)!r})\n"
        "        time.sleep(1000)\n"
        "    os._exit(0)\n"
        "time.sleep(1000)\n"
    )
    return script, pidfile


def test_stop_leaves_nothing_of_a_double_forked_setsid_grandchild(daemon_factory, tmp_path):
    script, pidfile = forker_script(tmp_path, ignore_term=False)
    d = daemon_factory(
        f"[program:forker]\ncommand={PY} {script}\nstartsecs=0\nstopasgroup=true\nkillasgroup=true\n"
    )
    d.wait_state("forker", "RUNNING")
    wait_until(pidfile.exists)
    grandchild = int(pidfile.read_text())
    main = d.rpc.supervisor.getProcessInfo("forker")["pid"]
    r = d.ctl("stop", "forker")
    assert (r.returncode, r.stdout) == (0, "forker: stopped\n")
    assert not pid_alive(main)
    wait_until(lambda: not pid_alive(grandchild), timeout=5)


def test_grandchild_ignoring_sigterm_gets_sigkill_after_stopwaitsecs(daemon_factory, tmp_path):
    script, pidfile = forker_script(tmp_path, ignore_term=True)
    d = daemon_factory(
        f"[program:forker]\ncommand={PY} {script}\nstartsecs=0\nstopasgroup=true\n"
        "killasgroup=true\nstopwaitsecs=1\n"
    )
    d.wait_state("forker", "RUNNING")
    wait_until(pidfile.exists)
    grandchild = int(pidfile.read_text())
    assert d.rpc.supervisor.stopProcess("forker") is True
    assert d.state("forker") == "STOPPED"
    wait_until(lambda: not pid_alive(grandchild), timeout=10)
    wait_until(lambda: "leftover process(es) of forker" in d.read_log())


def test_stop_takes_background_jobs_of_a_shell(daemon_factory, tmp_path):
    d = daemon_factory(
        "[program:shell]\ncommand=sh -c 'sleep 1001 & sleep 1002 & wait'\nstartsecs=0\nstopasgroup=true\n"
    )
    d.wait_state("shell", "RUNNING")
    import psutil

    main = psutil.Process(d.rpc.supervisor.getProcessInfo("shell")["pid"])
    wait_until(lambda: len(main.children()) == 2)
    jobs = [c.pid for c in main.children()]
    assert d.ctl("stop", "shell").stdout == "shell: stopped\n"
    wait_until(lambda: not any(pid_alive(p) for p in jobs), timeout=5)


def test_stock_leaves_the_setsid_grandchild_behind(daemon_factory, tmp_path):
    """The contrast: the same program under the stock daemon keeps its grandchild."""
    script, pidfile = forker_script(tmp_path, ignore_term=False)
    d = daemon_factory(
        f"[program:forker]\ncommand={PY} {script}\nstartsecs=0\nstopasgroup=true\nkillasgroup=true\n",
        kind="stock",
    )
    d.wait_state("forker", "RUNNING")
    wait_until(pidfile.exists)
    grandchild = int(pidfile.read_text())
    try:
        assert d.ctl("stop", "forker").stdout == "forker: stopped\n"
        assert pid_alive(grandchild)
    finally:
        import os
        import signal

        os.kill(grandchild, signal.SIGKILL)
