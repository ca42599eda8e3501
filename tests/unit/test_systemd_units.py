"""The units in units/: the settings the daemon relies on, and systemd's own check."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "units"
VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / name)
    return parser


def test_service_settings():
    service = unit("supervisord.service")["Service"]
    assert service["Type"] == "notify"
    assert service["NotifyAccess"] == "main"
    assert int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "on-failure"
    assert service["KillMode"] == "mixed"
    assert service["ExecStart"].split()[1:] == ["-n", "-c", "/etc/supervisor/supervisord.conf"]
    # reload applies changes without restarting unchanged programs
    assert service["ExecReload"].endswith(" update")


def test_socket_matches_the_service_and_section():
    socket = unit("supervisord.socket")["Socket"]
    assert socket["ListenStream"] == "/run/supervisor/supervisor.sock"
    assert socket["FileDescriptorName"] == "unix_http_server"
    assert socket["Service"] == "supervisord.service"
    assert socket["SocketMode"] == "0700"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify(tmp_path):
    # Our binaries in place of /usr/bin: verify checks that they exist.
    for name in ("supervisord.service", "supervisord.socket"):
        text = (UNITS / name).read_text().replace("/usr/bin/", f"{VENV_BIN}/")
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "supervisord.socket"), str(tmp_path / "supervisord.service")],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
