"""A channel whose bytes go nowhere is /dev/null, not a pipe to the daemon.

Every fd the daemon holds makes each spawn slower (posix_spawn copies the
fd table), so a program whose output is dropped costs it one fd (stdin),
not three.  Whatever goes somewhere keeps its pipe: a log file, events,
capture mode, a debug-level daemon's echo."""

from __future__ import annotations

import os

from tests.daemon_harness import Daemon

QUIET = "command=sh -c 'echo out; echo err >&2; exec cat'\nstartsecs=0\nstdout_logfile=NONE\nstderr_logfile=NONE\n"


def _fd_targets(pid: int) -> tuple[str, str, str]:
    return tuple(os.readlink(f"/proc/{pid}/fd/{n}") for n in range(3))  # type: ignore[return-value]


def _pid(d: Daemon, name: str) -> int:
    return d.proxy().supervisor.getProcessInfo(name)["pid"]


def _daemon_pipes(d: Daemon) -> int:
    # Pipes only: client connections come and go.
    fds = f"/proc/{d.pid}/fd"
    pipes = 0
    for n in os.listdir(fds):
        try:
            pipes += os.readlink(f"{fds}/{n}").startswith("pipe:")
        except FileNotFoundError:
            pass  # closed meanwhile: a connection, not a pipe
    return pipes


def test_output_that_goes_nowhere_is_dev_null_and_costs_the_daemon_one_fd(daemon_factory):
    d = daemon_factory(f"[program:quiet]\n{QUIET}\n[program:logged]\n{QUIET.replace('=NONE', '=AUTO')}")
    d.wait_state("quiet", "RUNNING")
    d.wait_state("logged", "RUNNING")
    stdin, stdout, stderr = _fd_targets(_pid(d, "quiet"))
    assert stdin.startswith("pipe:")
    assert stdout == stderr == "/dev/null"
    assert all(t.startswith("pipe:") for t in _fd_targets(_pid(d, "logged")))

    before = _daemon_pipes(d)
    d.proxy().supervisor.stopProcess("quiet")
    assert _daemon_pipes(d) == before - 1  # its stdin only
    d.proxy().supervisor.startProcess("quiet")
    assert _daemon_pipes(d) == before

    # Nothing visible changes: stdin still reaches it, tail says what stock says.
    assert d.proxy().supervisor.sendProcessStdin("quiet", "hello\n") is True
    for ctl in ("ours", "stock"):
        r = d.ctl("tail", "quiet", client=ctl)
        assert r.returncode == 1 and "quiet: ERROR (no log file)" in r.stdout, r


def test_output_that_goes_somewhere_keeps_its_pipe(daemon_factory):
    d = daemon_factory(
        f"[program:events]\n{QUIET}stdout_events_enabled=true\n"
        f"[program:capture]\n{QUIET}stderr_capture_maxbytes=1MB\n"
    )
    d.wait_state("events", "RUNNING")
    d.wait_state("capture", "RUNNING")
    assert _fd_targets(_pid(d, "events"))[1].startswith("pipe:")
    assert _fd_targets(_pid(d, "events"))[2] == "/dev/null"
    assert _fd_targets(_pid(d, "capture"))[1] == "/dev/null"
    assert _fd_targets(_pid(d, "capture"))[2].startswith("pipe:")


def test_a_debug_level_daemon_keeps_the_pipes_to_echo_the_output(daemon_factory):
    d = daemon_factory(f"[program:quiet]\n{QUIET}", supervisord_options="loglevel=debug\n")
    d.wait_state("quiet", "RUNNING")
    assert all(t.startswith("pipe:") for t in _fd_targets(_pid(d, "quiet")))
    d.wait_until(lambda: "'quiet' stdout output:\nout" in d.read_log(), what="the echoed output")
