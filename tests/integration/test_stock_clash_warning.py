"""Our commands say at start, on one line, when the stock ``supervisor``
distribution is installed where they run: its console scripts of the same
names may replace ours (pip installs it with superlance unless --no-deps)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.daemon_harness import OUR_VENV

WARNING = "supervisor-ng: the stock 'supervisor' distribution 4.3.0"


@pytest.fixture
def stock_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An import path holding the metadata the stock wheel installs."""
    site = tmp_path / "site"
    meta = site / "supervisor-4.3.0.dist-info"
    meta.mkdir(parents=True)
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: supervisor\nVersion: 4.3.0\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    return site


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_no_warning_without_the_stock_distribution() -> None:
    done = _run(str(OUR_VENV / "bin" / "echo_supervisord_conf"))
    assert done.returncode == 0 and done.stderr == ""


def test_each_command_warns_once_on_stderr(stock_on_path: Path, daemon_factory) -> None:
    done = _run(str(OUR_VENV / "bin" / "echo_supervisord_conf"))
    assert done.returncode == 0 and "[supervisord]" in done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(WARNING)
    assert f"(in {stock_on_path})" in lines[0] and "pip install --no-deps" in lines[0]

    d = daemon_factory("[program:cat]\ncommand=cat\nstartsecs=0\n")
    ctl = d.ctl("status", client="ours")
    assert "cat" in ctl.stdout
    assert [line for line in ctl.stderr.splitlines() if line.startswith(WARNING)] == [ctl.stderr.strip()]
    log_lines = [line for line in d.read_log().splitlines() if WARNING in line]
    assert len(log_lines) == 1 and " WARN supervisor-ng: the stock" in log_lines[0]
    assert WARNING in d.read_output()
