"""The interactive shell on a terminal (a pty): readline editing, tab
completion of actions and process names, and the history file."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path

from tests.interop.conftest import clients, normalize

SIGINT = "<SIGINT>"  # a key that is Ctrl-C


def session(exe: Path, argv: list[str], keys: list[str], cwd: Path) -> tuple[int, str]:
    """Type each of ``keys`` at a prompt; returns exit status and the screen."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(exe), *argv],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        start_new_session=True,
        env=dict(os.environ, TERM="dumb", INPUTRC="/dev/null"),
    )
    os.close(slave)
    screen = bytearray()
    prompts_seen = 0
    previous_ended_line = True

    def read_until(prompts: int, timeout: float) -> None:
        """Read the screen until it shows ``prompts`` prompts in all (or
        the timeout passes, or with prompts=0 the client exits)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if prompts and screen.count(b"supervisor> ") >= prompts:
                return
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    return
                if not data:
                    return
                screen.extend(data)
            elif not prompts and proc.poll() is not None:
                return

    try:
        for key in keys:
            if prompts_seen == 0 or key == SIGINT or previous_ended_line:
                prompts_seen += 1
                read_until(prompts_seen, 10)
            else:
                # The prompt stays up while a line is edited: just give
                # readline a moment to take the key.
                time.sleep(0.3)
            time.sleep(0.05)
            if key == SIGINT:
                proc.send_signal(signal.SIGINT)
            else:
                os.write(master, key.encode())
            previous_ended_line = key.endswith("\n")
        read_until(0, 10)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return proc.returncode, screen.decode(errors="replace")


def both(shared, keys, argv_for):
    results = []
    for exe, name in zip(clients(), ("stock", "ours")):
        code, screen = session(exe, argv_for(name), keys, shared.a.workdir)
        results.append((code, normalize(screen, (str(shared.a.workdir), "DIR"))))
    return results


def test_history_file_is_read_and_written(shared, tmp_path):
    histories = {}
    for name in ("stock", "ours"):
        conf = tmp_path / f"{name}.conf"
        histories[name] = tmp_path / f"{name}.history"
        histories[name].write_text("pid\n")
        conf.write_text(
            f"[supervisorctl]\nserverurl=unix://{shared.a.sock}\nhistory_file=%(here)s/{name}.history\n"
        )
    # Ctrl-P (previous line) twice recalls "pid" from the file.
    stock, ours = both(
        shared,
        ["version\n", "\x10", "\x10", "\n", "quit\n"],
        lambda name: ["-c", str(tmp_path / f"{name}.conf")],
    )
    assert ours == stock
    assert "\x08pid " in ours[1]  # "version" rubbed out, "pid" recalled
    assert (
        histories["ours"].read_text()
        == histories["stock"].read_text()
        == "pid\nversion\npid\nquit\n"
    )


def test_tab_completion(shared):
    keys = [
        "vers\t\n",
        "status sle\t\n",
        "status grp:grp_\t1\n",
        "help sta\t\t\n",
        "pid gr\t\t\n",
        "quit\n",
    ]
    stock, ours = both(shared, keys, lambda name: ["-c", str(shared.a.conf)])
    assert ours == stock
    assert "supervisor> version \r\n" in ours[1]


def test_history_option_r(shared, tmp_path):
    # Stock 4.3.0 accepts -r but ignores it (it stores the value under a name
    # nothing reads); ours keeps the history the option asks for.
    history = tmp_path / "r.history"
    code, _ = session(
        clients()[1], ["-c", str(shared.a.conf), "-r", str(history)], ["pid\n", "quit\n"], tmp_path
    )
    assert code == 0
    assert history.read_text() == "pid\nquit\n"


def test_ctrl_c_leaves_the_shell(shared):
    stock, ours = both(shared, [SIGINT], lambda name: ["-c", str(shared.a.conf)])
    assert ours == stock
    assert ours[0] == 0
