"""Reading the config again (reloadConfig, SIGHUP) does not hold the loop.

The included file is a FIFO: the daemon's read of it waits until the test
writes, so the test knows the read is under way while it asks the daemon
something else.  A daemon that parsed on its loop could not answer then."""

from __future__ import annotations

import concurrent.futures
import errno
import os
import signal
import time
import xmlrpc.client
from pathlib import Path

from tests.daemon_harness import Daemon

PROGRAMS = "[program:a]\ncommand=sleep 1000\nstartsecs=0\n"
INCLUDE = "[include]\nfiles = conf.d/*.conf\n"
ADDED = "[program:b]\ncommand=sleep 1000\nstartsecs=0\n"


def _fifo_include(d: Daemon) -> Path:
    fifo = d.workdir / "conf.d" / "slow.conf"
    os.mkfifo(fifo)
    return fifo


def _writer_once_read(fifo: Path, timeout: float = 30.0) -> int:
    """A write end of ``fifo``, once the daemon has opened it to read (a
    non-blocking open for writing fails until a reader is there)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
        time.sleep(0.02)


def _started(daemon_factory) -> Daemon:
    d = daemon_factory(PROGRAMS, start=False, extra=INCLUDE)
    (d.workdir / "conf.d").mkdir()
    d.start()
    d.wait_state("a", "RUNNING")
    return d


def test_the_daemon_answers_while_reloadconfig_reads_the_file(daemon_factory):
    d = _started(daemon_factory)
    fifo = _fifo_include(d)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        reload = pool.submit(lambda: d.proxy(timeout=60).supervisor.reloadConfig())
        writer = _writer_once_read(fifo)
        try:
            # The read is under way and waits for us: the loop must still answer.
            assert d.proxy(timeout=10).supervisor.getState()["statename"] == "RUNNING"
            assert not reload.done()
            os.write(writer, ADDED.encode())
        finally:
            os.close(writer)
        assert reload.result(timeout=60) == [[["b"], [], []]]
    fifo.unlink()
    (fifo.parent / "b.conf").write_text(ADDED)
    assert d.ctl("update").returncode == 0
    d.wait_state("b", "RUNNING")
    assert d.state("a") == "RUNNING"


def test_the_daemon_answers_while_sighup_reads_the_file(daemon_factory):
    d = _started(daemon_factory)
    fifo = _fifo_include(d)
    os.kill(d.pid, signal.SIGHUP)
    writer = _writer_once_read(fifo)
    try:
        assert d.proxy(timeout=10).supervisor.getState()["statename"] == "RUNNING"
        assert d.state("a") == "RUNNING"
        os.write(writer, ADDED.encode())
    finally:
        os.close(writer)
    fifo.unlink()
    # The restart into the file as written: both programs, b new.
    def both_running() -> bool:
        try:
            info = d.proxy().supervisor.getAllProcessInfo()
        except xmlrpc.client.Fault:  # SHUTDOWN_STATE while the restart stops
            return False
        return sorted((p["name"], p["statename"]) for p in info) == [("a", "RUNNING"), ("b", "RUNNING")]

    d.wait_until(both_running, timeout=30, what="a and b RUNNING after the restart")


def test_a_config_error_found_by_sighup_keeps_everything_running(daemon_factory):
    d = _started(daemon_factory)
    pid = d.proxy().supervisor.getProcessInfo("a")["pid"]
    (d.workdir / "conf.d" / "bad.conf").write_text("[program:c]\ncommand=sleep 1\nstartsecs=abc\n")
    os.kill(d.pid, signal.SIGHUP)
    d.wait_until(lambda: "not restarting, the config file has an error" in d.read_log(), what="the refusal")
    assert "startsecs" in d.read_log()
    assert d.proxy().supervisor.getProcessInfo("a")["pid"] == pid
    assert d.proxy().supervisor.getState()["statename"] == "RUNNING"
