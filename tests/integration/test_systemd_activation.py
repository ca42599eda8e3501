"""Socket activation without systemd as PID 1: ``systemd-socket-activate``
binds the control socket, the first client's connection execs our
supervisord with it as fd 3, and both supervisorctls talk through it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.daemon_harness import Daemon, bin_path, require_stock

ACTIVATE = shutil.which("systemd-socket-activate")
pytestmark = pytest.mark.skipif(ACTIVATE is None, reason="systemd-socket-activate is not installed")

PROGRAMS = """
[program:cat]
command=sh -c 'env > {dir}/env.txt; exec sleep 1000'
startsecs=0
"""

# Ignores SIGTERM: a restart takes stopwaitsecs, the window a client must survive.
STUBBORN = """
[program:stubborn]
command=sh -c 'trap "" TERM; while :; do sleep 0.1; done'
startsecs=0
stopwaitsecs=2
"""


def activate(daemon: Daemon, *, fdname: str | None = "unix_http_server", extra: tuple[str, ...] = ()) -> None:
    """Start ``daemon`` under systemd-socket-activate listening on its socket path;
    it execs supervisord on the first connection (which waits meanwhile)."""
    args = [ACTIVATE, "-l", str(daemon.sock), *extra]
    if fdname is not None:
        args.append(f"--fdname={fdname}")
    args += ["-E", f"PATH={os.environ['PATH']}", str(bin_path("ours", "supervisord")), "-n", "-c", str(daemon.conf)]
    with open(daemon.output, "ab") as out:
        daemon.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=daemon.workdir)
    deadline = time.monotonic() + 10
    while not daemon.sock.exists():
        assert time.monotonic() < deadline, daemon.read_output()
        time.sleep(0.01)


def inode(path: Path) -> tuple[int, int, int]:
    st = os.lstat(path)
    return st.st_dev, st.st_ino, stat.S_IMODE(st.st_mode)


@pytest.fixture
def activated(daemon_factory):
    def make(programs: str = PROGRAMS, **options) -> Daemon:
        d = daemon_factory(start=False)
        d.write_programs(programs.replace("{dir}", str(d.workdir)))
        activate(d, **options)
        return d

    return make


def test_both_supervisorctls_work_through_the_inherited_socket(activated):
    require_stock()
    d = activated()
    before = inode(d.sock)
    d.wait_ready()
    d.wait_state("cat", "RUNNING")
    for client in ("stock", "ours"):
        r = d.ctl("status", client=client)
        assert r.returncode == 0, r
        assert "cat" in r.stdout and "RUNNING" in r.stdout
    log = d.read_log()
    assert "[unix_http_server] using the socket passed by systemd: fd 3 named 'unix_http_server'" in log
    # same file, same mode: not re-bound, not chmod-ed to the config's 0700
    assert inode(d.sock) == before
    assert d.stop() == 0
    assert inode(d.sock) == before  # not unlinked at exit either


def test_systemd_variables_do_not_reach_children(activated):
    d = activated()
    d.wait_ready()
    d.wait_state("cat", "RUNNING")
    env = (d.workdir / "env.txt").read_text()
    for name in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
        assert f"{name}=" not in env


def test_matched_by_address_without_a_name(activated):
    d = activated(fdname=None)
    d.wait_ready()
    assert d.rpc.supervisor.getState()["statename"] == "RUNNING"
    assert "[unix_http_server] using the socket passed by systemd: fd 3 (" in d.read_log()


def test_a_socket_matching_no_section_is_an_error_in_the_log(activated, tmp_path):
    stray = tmp_path / "stray.sock"
    d = activated(fdname="unix_http_server:stray", extra=("-l", str(stray)))
    d.wait_ready()
    log = d.read_log()
    assert (
        "systemd passed a socket that matches no [unix_http_server], [inet_http_server] "
        "or [fcgi-program:x] section" in log
    )
    assert "named 'stray'" in log


FCGI = f"""
[fcgi-program:web]
socket=unix://{{dir}}/fcgi.sock
socket_mode=0700
command={sys.executable} -c "import socket; s = socket.socket(fileno=0); [c.sendall(b'hello from %%(process_num)d') or c.close() for c, _ in iter(s.accept, None)]"
process_name=%(program_name)s_%(process_num)d
numprocs=2
startsecs=0
"""


def test_an_fcgi_program_gets_its_socket_from_systemd_by_name(activated, tmp_path):
    d = activated(FCGI, fdname="unix_http_server:fcgi-program-web", extra=("-l", str(tmp_path / "fcgi.sock")))
    fcgi = d.workdir / "fcgi.sock"
    d.wait_ready()
    d.wait_state("web:web_0", "RUNNING")
    d.wait_state("web:web_1", "RUNNING")
    # systemd-socket-activate bound it at tmp_path; the section names a path
    # that does not exist: the name is what matched.
    assert not fcgi.exists()
    before = inode(tmp_path / "fcgi.sock")
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(10)
        c.connect(str(tmp_path / "fcgi.sock"))
        assert c.recv(100).startswith(b"hello from ")
    log = d.read_log()
    assert "matches no" not in log
    assert d.stop() == 0
    assert inode(tmp_path / "fcgi.sock") == before  # not chmod-ed, not unlinked


def test_clients_are_answered_throughout_a_sighup_restart(activated):
    """The socket stays open across generations: a client of the restarting
    daemon gets an answer (stock's SHUTDOWN_STATE fault while the old
    generation stops), never a refused or reset connection."""
    require_stock()
    d = activated(STUBBORN)
    d.wait_ready()
    d.wait_state("stubborn", "RUNNING")
    before = inode(d.sock)
    results: list[tuple[int, str]] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            r = d.ctl("pid", client="stock", timeout=30)
            results.append((r.returncode, r.stdout.strip() + r.stderr.strip()))
            time.sleep(0.05)

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        time.sleep(0.3)
        os.kill(d.pid, signal.SIGHUP)
        # the old generation waits stopwaitsecs for stubborn, then a new one starts
        d.wait_until(lambda: d.read_log().count("spawned: 'stubborn'") == 2, timeout=15, what="the restart")
        d.wait_state("stubborn", "RUNNING")
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
    answers = [out for rc, out in results if rc == 0]
    faults = [out for rc, out in results if rc != 0]
    assert answers and set(answers) == {str(d.pid)}, results
    assert all("SHUTDOWN_STATE" in out for out in faults), faults
    assert results[-1] == (0, str(d.pid))
    assert inode(d.sock) == before


LAUNCH = """
import os, sys
fd = int(sys.argv[1])
os.dup2(fd, 3)
os.close(fd)
os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES="unix_http_server")
os.execv(sys.argv[2], sys.argv[2:])
"""


def test_a_client_waits_while_the_daemon_process_restarts(daemon_factory):
    """What systemd does on ``systemctl restart``: the socket unit keeps the
    listening socket while one daemon exits and the next starts.  A client
    that connects in between waits in the backlog and gets its answer from
    the new daemon."""
    require_stock()
    import socket as socketlib

    d = daemon_factory(start=False)
    listening = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
    listening.bind(str(d.sock))
    listening.listen(16)
    before = inode(d.sock)
    fd = listening.fileno()

    def launch() -> None:
        with open(d.output, "ab") as out:
            d.proc = subprocess.Popen(
                [sys.executable, "-c", LAUNCH, str(fd), str(bin_path("ours", "supervisord")), "-n", "-c", str(d.conf)],
                pass_fds=(fd,), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=d.workdir,
            )

    try:
        launch()
        d.wait_ready()
        assert d.stop() == 0
        assert inode(d.sock) == before
        waiting = subprocess.Popen(
            [str(bin_path("stock", "supervisorctl")), "-c", str(d.conf), "pid"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        time.sleep(1.0)
        assert waiting.poll() is None  # connected, waiting in the backlog
        launch()
        out, _ = waiting.communicate(timeout=20)
        assert waiting.returncode == 0, out
        assert out.strip() == str(d.pid)
    finally:
        listening.close()
