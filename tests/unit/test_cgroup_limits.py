"""The six cgroup limit options (issue 17): systemd's units turned into what
the cgroup v2 files take, and a config error where the host cannot honour
one that is set."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor_ng.config import cgroup_limits
from supervisor_ng.config.loader import load
from supervisor_ng.config.model import ConfigError
from supervisor_ng.runtime import cgroup


def _conf(tmp_path: Path, options: str) -> Path:
    path = tmp_path / "supervisord.conf"
    path.write_text(
        f"[supervisord]\nlogfile={tmp_path}/d.log\npidfile={tmp_path}/d.pid\n"
        f"[program:x]\ncommand=/bin/sleep 100\n{options}"
    )
    return path


@pytest.mark.parametrize(
    "parse, text, expected",
    [
        (cgroup_limits.memory_bytes, "512M", str(512 * 1024**2)),
        (cgroup_limits.memory_bytes, "2G", str(2 * 1024**3)),
        (cgroup_limits.memory_bytes, "4096", "4096"),
        (cgroup_limits.memory_bytes, "infinity", "max"),
        (cgroup_limits.weight, "100", "100"),
        (cgroup_limits.cpu_quota, "50%", "50000 100000"),
        (cgroup_limits.cpu_quota, "200%", "200000 100000"),
        (cgroup_limits.tasks, "64", "64"),
        (cgroup_limits.tasks, "infinity", "max"),
    ],
)
def test_systemd_units(parse, text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    "parse, text",
    [
        (cgroup_limits.memory_bytes, "12X"),
        (cgroup_limits.weight, "0"),
        (cgroup_limits.weight, "10001"),
        (cgroup_limits.cpu_quota, "50"),
        (cgroup_limits.tasks, "0"),
    ],
)
def test_bad_values(parse, text):
    with pytest.raises(ValueError):
        parse(text)


def test_honoured_limits_reach_the_process_config(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(cgroup, "available_controllers", lambda: frozenset({"memory", "pids", "cpu", "io"}))
    config = load(str(_conf(tmp_path, "memory_max=64M\ntasks_max=10\ncpu_weight=50\nio_weight=200\n")))
    (process,) = config.groups[0].processes
    assert process.cgroup_limits.items() == [
        ("memory_max", str(64 * 1024**2)),
        ("cpu_weight", "50"),
        ("tasks_max", "10"),
        ("io_weight", "default 200"),
    ]


def test_unset_limits_need_nothing_of_the_host(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(cgroup.ENV_SWITCH, "off")
    config = load(str(_conf(tmp_path, "")))
    assert config.groups[0].processes[0].cgroup_limits.items() == []


def test_limit_in_psutil_mode_is_a_config_error(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(cgroup.ENV_SWITCH, "off")
    with pytest.raises(ConfigError, match="tasks_max.*cannot be honoured on this host"):
        load(str(_conf(tmp_path, "tasks_max=10\n")))


def test_limit_without_its_controller_is_a_config_error(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(cgroup, "available_controllers", lambda: frozenset({"pids"}))
    with pytest.raises(ConfigError, match="memory controller is not available"):
        load(str(_conf(tmp_path, "memory_max=1G\n")))
