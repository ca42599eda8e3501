"""``[ctlplugin:x]``: a stock supervisorctl plugin (supervisor-wildcards,
from PyPI, installed without the stock supervisor) in our supervisorctl,
against our daemon; the same text and exit status as the stock client
with the same plugin, and one line naming a plugin that cannot be loaded."""

from __future__ import annotations

import subprocess

import pytest

from tests.daemon_harness import STOCK_VENV, bin_path

PROGRAMS = """
[program:grp]
command=/bin/sleep 1000
process_name=%(program_name)s_%(process_num)d
numprocs=2
startsecs=0

[program:solo]
command=/bin/sleep 1000
startsecs=0
"""

WILDCARDS = """
[ctlplugin:wildcards]
supervisor.ctl_factory = supervisorwildcards.controllerplugin:make_wildcards_controllerplugin
match_group = 1
"""

MISSING = """
[ctlplugin:nothere]
supervisor.ctl_factory = no_such_package.plugin:make_plugin
"""


def _importable(venv_python: str, module: str) -> bool:
    done = subprocess.run([venv_python, "-c", f"import {module}"], capture_output=True)
    return done.returncode == 0


def _require_wildcards(kind: str) -> None:
    python = str(bin_path(kind, "python"))
    if not _importable(python, "supervisorwildcards"):
        pytest.skip(f"supervisor-wildcards is not installed for {kind} (scripts/bootstrap.sh)")


def _sorted_lines(text: str) -> list[str]:
    # The plugin runs each process's command on its own thread.
    return sorted(text.splitlines())


def test_wildcards_plugin_commands(daemon_factory):
    _require_wildcards("ours")
    # The point: our environment has no stock supervisor distribution.
    stock_dist = subprocess.run(
        [str(bin_path("ours", "python")), "-c", "import importlib.metadata as m; m.distribution('supervisor')"],
        capture_output=True,
    )
    assert stock_dist.returncode != 0
    d = daemon_factory(PROGRAMS, extra=WILDCARDS)
    d.wait_all(("RUNNING",), 15)

    stopped = d.ctl("mstop", "grp:*", client="ours")
    assert (stopped.returncode, stopped.stderr) == (0, "")
    assert _sorted_lines(stopped.stdout) == ["grp:grp_0: stopped", "grp:grp_1: stopped"]
    assert d.state("grp:grp_0") == d.state("grp:grp_1") == "STOPPED"
    assert d.state("solo") == "RUNNING"

    started = d.ctl("mstart", "grp:*", client="ours")
    assert _sorted_lines(started.stdout) == ["grp:grp_0: started", "grp:grp_1: started"]
    assert d.ctl("mstop", "nomatch*", client="ours").stdout == "No process matched given expression.\n"

    shown = d.ctl("help", client="ours").stdout
    assert "wildcards commands (type help <topic>):" in shown
    assert "mstop" in shown


@pytest.mark.parametrize("argv", [["help"], ["help", "mstop"], ["help", "stop"], ["help", "help"], ["mstop", "x*"]])
def test_same_as_stock_with_the_plugin(daemon_factory, argv):
    _require_wildcards("ours")
    if not (STOCK_VENV / "bin" / "supervisorctl").exists():
        pytest.skip("stock supervisor not installed")
    _require_wildcards("stock")
    d = daemon_factory(PROGRAMS, extra=WILDCARDS)
    d.wait_all(("RUNNING",), 15)
    stock = d.ctl(*argv, client="stock")
    ours = d.ctl(*argv, client="ours")
    assert (ours.returncode, ours.stdout, ours.stderr) == (stock.returncode, stock.stdout, stock.stderr)


def test_a_plugin_that_cannot_be_loaded_is_named(daemon_factory):
    d = daemon_factory(PROGRAMS, extra=MISSING)
    d.wait_all(("RUNNING",), 15)
    result = d.ctl("status", "solo", client="ours")
    assert result.returncode == 0
    assert "solo" in result.stdout and "RUNNING" in result.stdout
    assert result.stderr.splitlines() == [
        "supervisorctl: [ctlplugin:nothere] not loaded: no_such_package.plugin:make_plugin "
        "cannot be resolved (No module named 'no_such_package')"
    ]
