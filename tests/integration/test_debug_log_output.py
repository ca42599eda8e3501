"""At ``loglevel=debug`` the daemon's log carries a program's output as
stock's does: bytes that are not UTF-8 shown raw (``Undecodable: b'...'``),
and ``received SIGCHLD indicating a child quit`` after the exit it caused.
Checked against the stock supervisord with the same config."""

from __future__ import annotations

import pytest

from tests.daemon_harness import normalize

PROGRAM = r"""
[program:enc]
command=/bin/sh -c 'printf "\210\n"; printf "caf\303\251\n" >&2; exec sleep 1000'
startsecs=0
autorestart=false
"""


def _undecodable_and_sigchld(d) -> list[str]:
    """The lines of interest, in order, once the program has been stopped."""
    d.wait_until(lambda: "Undecodable" in d.read_log() and "café" in d.read_log(), 15, "the echoed output")
    d.rpc.supervisor.stopProcess("enc")
    d.wait_until(lambda: "received SIGCHLD" in d.read_log(), 15, "the SIGCHLD line")
    lines = normalize(d.read_log()).splitlines()
    wanted = []
    for index, line in enumerate(lines):
        if line.endswith(("'enc' stdout output:", "'enc' stderr output:")):
            wanted.append(line + "\n" + lines[index + 1])
        elif "SIGCHLD" in line or line.endswith("stopped: enc (terminated by SIGTERM)"):
            wanted.append(line)
    return wanted


@pytest.mark.parametrize("kind", ["ours", "stock"])
def test_debug_log_shows_output_bytes_and_sigchld(daemon_factory, kind):
    d = daemon_factory(PROGRAM, kind=kind, supervisord_options="loglevel=debug")
    got = _undecodable_and_sigchld(d)
    stdout_echo = "TIME DEBG 'enc' stdout output:\nUndecodable: b'\\x88\\n'"
    stderr_echo = "TIME DEBG 'enc' stderr output:\ncafé"
    assert stdout_echo in got and stderr_echo in got
    stopped = [i for i, line in enumerate(got) if line.endswith("stopped: enc (terminated by SIGTERM)")]
    assert len(stopped) == 1, got
    assert got[stopped[0] + 1] == "TIME DEBG received SIGCHLD indicating a child quit"
