"""A stopped program leaves nothing behind, in every combination of
stopasgroup/killasgroup: once the main process has exited, its leftovers (a
plain child and a setsid one, both reparented to the daemon by then) get the
stop signal, and SIGKILL when stopwaitsecs runs out (systemd's
KillMode=mixed).  ``stopleftovers = false`` is stock behaviour: only the pid,
or with stopasgroup its process group, gets a signal.

Each child traps SIGTERM and writes a marker file, so a test can tell a
child that got its stop signal from one that was SIGKILLed outright."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from tests.log_daemon import pid_alive
from tests.waiting import wait_until

PY = sys.executable
CHILDREN = ("plain", "setsid")

PROGRAM = """\
import os, signal, sys
out, mode = sys.argv[1], sys.argv[2]
for tag in ("plain", "setsid"):
    if os.fork() == 0:
        if tag == "setsid":
            os.setsid()
        def on_term(signum, frame, tag=tag):
            open(os.path.join(out, tag + ".term"), "w").close()
            if mode == "clean":
                os._exit(0)
        signal.signal(signal.SIGTERM, on_term)
        with open(os.path.join(out, tag + ".tmp"), "w") as f:
            f.write(str(os.getpid()))
        os.rename(os.path.join(out, tag + ".tmp"), os.path.join(out, tag + ".pid"))
        while True:
            signal.pause()
while True:
    signal.pause()
"""

COMBINATIONS = [
    # (stopasgroup, killasgroup, stopleftovers); stopasgroup=true needs killasgroup=true
    (False, False, True),
    (False, True, True),
    (True, True, True),
    (False, False, False),
    (False, True, False),
    (True, True, False),
]


class Program:
    """A program whose main process forks a plain child and a setsid one;
    ``clean`` children exit on SIGTERM, ``stubborn`` ones only note it."""

    def __init__(self, tmp_path: Path, name: str, mode: str, options: str) -> None:
        self.name = name
        self.out = tmp_path / name
        self.out.mkdir()
        script = tmp_path / "program.py"
        if not script.exists():
            script.write_text(PROGRAM)
        self.section = (
            f"[program:{name}]\ncommand={PY} {script} {self.out} {mode}\n"
            f"startsecs=0\nstopwaitsecs=1\n{options}\n"
        )
        self.pids: dict[str, int] = {}

    def wait_children(self) -> None:
        for tag in CHILDREN:
            path = self.out / f"{tag}.pid"
            wait_until(path.exists, what=f"{self.name}'s {tag} child")
            self.pids[tag] = int(path.read_text())

    def got_term(self, tag: str) -> bool:
        return (self.out / f"{tag}.term").exists()

    def alive(self, tag: str) -> bool:
        return pid_alive(self.pids[tag])

    def kill_survivors(self) -> None:
        for pid in self.pids.values():
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


def options(stopasgroup: bool, killasgroup: bool, stopleftovers: bool) -> str:
    return (
        f"stopasgroup={str(stopasgroup).lower()}\nkillasgroup={str(killasgroup).lower()}\n"
        f"stopleftovers={str(stopleftovers).lower()}\n"
    )


@pytest.mark.parametrize(("stopasgroup", "killasgroup", "stopleftovers"), COMBINATIONS)
def test_stop_leftovers(daemon_factory, tmp_path, stopasgroup, killasgroup, stopleftovers):
    opts = options(stopasgroup, killasgroup, stopleftovers)
    clean = Program(tmp_path, "clean", "clean", opts)
    stubborn = Program(tmp_path, "stubborn", "stubborn", opts)
    bystander = Program(tmp_path, "bystander", "clean", "")
    # Stopped last with the same stopwaitsecs: once its leftovers are killed,
    # every earlier stop's deadline has passed too.
    sentinel = Program(tmp_path, "sentinel", "stubborn", options(False, False, True))
    programs = (clean, stubborn, bystander, sentinel)
    d = daemon_factory("".join(p.section for p in programs))
    try:
        d.wait_all()
        for program in programs:
            program.wait_children()
        bystander_pid = d.rpc.supervisor.getProcessInfo("bystander")["pid"]

        for program in (clean, stubborn, sentinel):
            assert d.rpc.supervisor.stopProcess(program.name) is True
            assert d.state(program.name) == "STOPPED"
        d.wait_until(lambda: "killed 2 leftover process(es) of sentinel" in d.read_log())

        if stopleftovers:
            # Every leftover got the stop signal first: the clean ones exited
            # on it, the stubborn ones were SIGKILLed at the deadline.
            for program in (clean, stubborn):
                for tag in CHILDREN:
                    d.wait_until(lambda p=program, t=tag: not p.alive(t), what=f"{program.name} {tag} gone")
                    assert program.got_term(tag), f"{program.name}'s {tag} child never got SIGTERM"
            assert "killed 2 leftover process(es) of stubborn" in d.read_log()
            if not stopasgroup:  # else the stop signal reached them with the main one
                assert "sent SIGTERM to 2 leftover process(es) of clean" in d.read_log()
            assert "killed 2 leftover process(es) of clean" not in d.read_log()
        else:
            # Stock: the process group got the stop signal with stopasgroup,
            # nothing else got anything.
            for program in (clean, stubborn):
                assert program.got_term("plain") == stopasgroup
                assert not program.got_term("setsid")
                assert program.alive("setsid")
            assert clean.alive("plain") != stopasgroup
            assert stubborn.alive("plain")
            assert "leftover process(es) of clean" not in d.read_log()
            assert "leftover process(es) of stubborn" not in d.read_log()

        # An unrelated program is never touched.
        assert d.rpc.supervisor.getProcessInfo("bystander")["pid"] == bystander_pid
        assert all(bystander.alive(tag) and not bystander.got_term(tag) for tag in CHILDREN)
    finally:
        for program in programs:
            program.kill_survivors()
