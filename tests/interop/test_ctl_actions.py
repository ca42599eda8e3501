"""Our supervisorctl against the stock one: command sequences that change state.

Two identical daemons ("twins"); the stock client drives one, ours the
other, with the same command lines in the same order.  After every step
both must have printed the same and exited the same.
"""

from __future__ import annotations

import textwrap
import xmlrpc.client

import pytest

from tests.interop.conftest import PROGRAMS, settle


def run_steps(twins, steps):
    """Each step is a command line; a leading ``~`` marks one whose result
    lines arrive in completion order (groups, all), compared as a set."""
    for step in steps:
        twins.same(*step.lstrip("~").split(), unordered=step.startswith("~"))


def test_start_stop_restart_signal(twins):
    run_steps(
        twins,
        [
            "stop sleeper",
            "stop sleeper",
            "status sleeper",
            "pid sleeper",
            "start sleeper",
            "start sleeper",
            "restart sleeper",
            "~restart grp:*",
            "~stop grp:*",
            "status",
            "start grp:grp_0",
            "~start grp:*",
            "stop web:w1 w2",
            "~start web:*",
            "restart web:w1 nosuch",
            "signal CONT grp:*",
            "signal CONT all",
            "signal CONT sleeper nosuch grp:grp_1",
            "signal 18 sleeper",
            "stop sleeper cat",
            "signal CONT sleeper cat",
            "start sleeper cat",
            "~stop all",
            "status",
            "~stop all",
        ],
    )


def test_start_failures(twins):
    run_steps(
        twins,
        [
            "start fatal",
            "start nofile",
            "status fatal nofile",
            "start stopped nosuch",
            "status",
        ],
    )


def test_start_all(twins):
    # Which failure comes last decides the exit status, and the daemon
    # reports failures in completion order: keep just one kind of failure.
    run_steps(
        twins, ["remove fatal", "~stop all", "~start all", "status", "~start all", "add fatal"]
    )


def test_clear(twins):
    run_steps(
        twins,
        [
            "clear sleeper",
            "tail sleeper",
            "tail sleeper stderr",
            "clear grp:*",
            "clear nosuch sleeper",
            "clear nolog",
        ],
    )


# Only against our daemon: the stock one takes ~1 s per process to answer
# clearAllProcessLogs, which would make this one test take most of a minute.
@pytest.mark.parametrize("twins", ["ours"], indirect=True)
def test_clear_all(twins):
    run_steps(twins, ["clear all", "tail sleeper"])


CHANGED = PROGRAMS.replace(
    "[program:stopped]\ncommand=/bin/sleep 1000\nautostart=false\npriority=5\n", ""
).replace(
    "command=/bin/sh -c 'echo hello; echo oops >&2; exec sleep 1000'",
    "command=/bin/sh -c 'echo changed; exec sleep 1000'",
) + textwrap.dedent(
    """
    [program:newprog]
    command=/bin/sleep 1000
    startsecs=0

    [program:newer]
    command=/bin/sleep 1000
    autostart=false
    """
)


def test_reread_update_add_remove(twins):
    run_steps(twins, ["reread", "update"])
    for daemon in (twins.a, twins.b):
        daemon.write_programs(CHANGED)
    run_steps(
        twins,
        [
            "reread",
            "avail",
            "update nosuch newprog",
            "status newprog",
            "reread",
            "update sleeper stopped",
            "status",
            "update",
            "avail",
            "remove web",
            "~stop web:*",
            "remove web",
            "remove web",
            "status web:*",
            "add web",
            "add web",
            "add nosuch web",
            "update all",
            "reread",
        ],
    )


def test_reread_of_a_broken_config(twins):
    for daemon in (twins.a, twins.b):
        daemon.write_programs(PROGRAMS + "\n[program:broken]\nnumprocs=2\ncommand=/bin/true\n")
    run_steps(twins, ["reread", "update", "avail"])


def answers(daemon):
    try:
        daemon.proxy(timeout=2).supervisor.getAllProcessInfo()
    except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
        return False
    return True


def test_reload(twins):
    twins.same("reload")
    for daemon in (twins.a, twins.b):
        # Until the restarted daemon answers (SHUTDOWN_STATE or no socket
        # while it restarts).
        daemon.wait_until(lambda d=daemon: answers(d), 20, "the daemon to come back")
        settle(daemon)
    run_steps(twins, ["status", "reload x"])


def test_shutdown_then_server_gone(twins):
    twins.same("shutdown")
    for daemon in (twins.a, twins.b):
        daemon.wait_exit()
    run_steps(
        twins,
        [
            "shutdown",
            "status",
            "pid",
            "version",
            "start sleeper",
            "reread",
            "avail",
            "update",
            "reload",
            "tail sleeper",
            "maintail",
            "clear all",
        ],
    )


def test_interactive_session_with_changes(twins):
    script = [
        "stop sleeper",
        "status sleeper",
        "start sleeper",
        "restart grp:grp_0",
        "clear cat",
        "reload",
        "n",
        "shutdown",
        "no",
        "stop nosuch",
        "signal CONT all",
        "shutdown",
        "y",
    ]
    twins.same(input="\n".join(script) + "\n")
    for daemon in (twins.a, twins.b):
        daemon.wait_exit()
