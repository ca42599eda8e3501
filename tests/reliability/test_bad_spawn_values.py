"""Bad values that reach a spawn or an rlimit (issue 14, item 2): a spawn
error or a config error, never a traceback, and the daemon stays up."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.daemon_harness import bin_path


def test_nul_in_command_is_a_spawn_error_and_the_daemon_stays_up(daemon_factory) -> None:
    # A literal NUL byte in the file reaches command= (also via environment= and %(ENV_X)s).
    d = daemon_factory(
        "[program:nul]\ncommand=sleep \x00 100\nstartretries=1\nstartsecs=0\n"
        "[program:ok]\ncommand=sleep 100\nstartsecs=0\n"
    )
    d.wait_state("nul", "FATAL")
    info = d.rpc.supervisor.getProcessInfo("nul")
    assert "NUL byte" in info["spawnerr"]
    assert d.rpc.supervisor.getState()["statename"] == "RUNNING"
    d.wait_state("ok", "RUNNING")
    status = d.ctl("status", "nul")
    assert "FATAL" in status.stdout
    assert "Traceback" not in d.read_log() + d.read_output()


def test_nul_in_environment_and_directory_are_spawn_errors(daemon_factory) -> None:
    d = daemon_factory(
        '[program:env]\ncommand=sleep 100\nenvironment=A="x\x00y"\nstartretries=0\n'
        "[program:dir]\ncommand=sleep 100\ndirectory=/tmp\x00x\nstartretries=0\n"
    )
    d.wait_state("env", "FATAL")
    d.wait_state("dir", "FATAL")
    assert "NUL byte" in d.rpc.supervisor.getProcessInfo("env")["spawnerr"]
    assert "Traceback" not in d.read_log() + d.read_output()


def test_huge_minfds_is_a_config_error(tmp_path: Path) -> None:
    conf = tmp_path / "s.conf"
    conf.write_text(
        f"[supervisord]\nlogfile={tmp_path}/s.log\npidfile={tmp_path}/s.pid\n"
        "minfds=9223372036854775808\n"
    )
    done = subprocess.run(
        [str(bin_path("ours", "supervisord")), "-n", "-c", str(conf)],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    assert "minfds" in done.stderr and "[supervisord]" in done.stderr and str(conf) in done.stderr
