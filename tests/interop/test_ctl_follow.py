"""Streaming commands: ``tail -f``, ``maintail -f`` (compared with the stock
client: same text before and after Ctrl-C) and ``fg`` (ours checked on its
own: stock's fg races its own threads at exit and prints tracebacks)."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.interop.conftest import Streaming, clients, normalized, replacements


def follow(pair, client, args, expect, options=()):
    exe = clients()[0 if client == "stock" else 1]
    daemon = pair.a
    stream = Streaming([str(exe), "-c", str(daemon.conf), *options, *args], daemon.workdir)
    stream.wait_for(expect)
    # The stock client prints its banner a moment before it is ready for
    # Ctrl-C (before that it dies with a traceback).
    time.sleep(0.3)
    code, out, err = stream.interrupt()

    class Result:
        def normalized(self, *pairs):
            from tests.daemon_harness import normalize

            return code, normalize(out, *pairs), normalize(err, *pairs)

    return normalized(Result(), replacements(daemon))


@pytest.mark.parametrize(
    "args, expect",
    [
        (["tail", "-f", "sleeper"], "hello\n"),
        (["tail", "-f", "sleeper", "stderr"], "oops\n"),
        (["tail", "-f", "grp:grp_0"], "<==\n"),
        (["maintail", "-f"], "RUNNING"),
    ],
)
def test_follow_then_ctrl_c(shared, args, expect):
    stock = follow(shared, "stock", args, expect)
    ours = follow(shared, "ours", args, expect)
    assert ours == stock


def test_follow_sees_new_output(shared):
    out = follow(shared, "ours", ["tail", "-f", "cat"], "<==\n")
    assert out == (0, "==> Press Ctrl-C to exit <==\n\n", "")
    exe = clients()[1]
    stream = Streaming([str(exe), "-c", str(shared.a.conf), "tail", "-f", "cat"], shared.a.workdir)
    stream.wait_for("<==\n")
    shared.a.rpc.supervisor.sendProcessStdin("cat", "first line\n")
    stream.wait_for("first line\n")
    shared.a.rpc.supervisor.sendProcessStdin("cat", "second line\n")
    stream.wait_for("second line\n")
    code, out, err = stream.interrupt()
    assert (code, err) == (0, "")
    assert out.endswith("first line\nsecond line\n\n")


def test_follow_unknown_process_reports_the_status(shared):
    # The server answers 404; the client says so on stderr and ends.
    for line in ("tail -f nosuch", "tail -f nosuch stderr", "tail -f nolog"):
        shared.same(*line.split())


def test_fg_forwards_input_and_shows_output(shared):
    exe = clients()[1]
    stream = Streaming(
        [str(exe), "-c", str(shared.a.conf), "fg", "cat"],
        shared.a.workdir,
        stdin=subprocess.PIPE,
    )
    stream.wait_for("==> Press Ctrl-C to exit <==\n")
    stream.proc.stdin.write(b"echo me\n")
    stream.proc.stdin.flush()
    stream.wait_for("echo me\n")
    stream.proc.stdin.close()
    code, out, err = stream.finish()
    assert (code, err) == (0, "")
    assert out.startswith("==> Press Ctrl-C to exit <==\n")
    # The cat program is shared with other tests, so their lines may show too.
    assert "echo me\n" in out
    assert out.endswith("Exiting foreground\n")


def test_fg_ctrl_c(shared):
    exe = clients()[1]
    stream = Streaming(
        [str(exe), "-c", str(shared.a.conf), "fg", "sleeper"],
        shared.a.workdir,
        stdin=subprocess.PIPE,
    )
    stream.wait_for("hello\n")
    code, out, err = stream.interrupt()
    assert (code, err) == (0, "")
    assert out.endswith("Exiting foreground\n")
    assert "hello\n" in out and "oops\n" in out


def test_fg_process_dies(fresh):
    exe = clients()[1]
    daemon = fresh
    stream = Streaming(
        [str(exe), "-c", str(daemon.conf), "fg", "cat"], daemon.workdir, stdin=subprocess.PIPE
    )
    stream.wait_for("==> Press Ctrl-C to exit <==\n")
    daemon.rpc.supervisor.stopProcess("cat")
    stream.proc.stdin.write(b"anyone there?\n")
    stream.proc.stdin.flush()
    code, out, err = stream.finish()
    assert (code, err) == (0, "")
    assert out.endswith("Process got killed\nExiting foreground\n")
