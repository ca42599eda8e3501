"""Process lifecycle with real daemons and real children, observed the way an
operator would: the daemon's log, the process table, the files programs wrote."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.log_daemon import LogDaemon, pid_alive, wait_until

PY = sys.executable


def test_sigkilled_program_comes_back_with_new_pid(tmp_path: Path):
    d = LogDaemon(tmp_path, "[program:victim]\ncommand=sleep 1000\nstartsecs=0\nautorestart=true\n")
    with d:
        first = int(d.wait_log(r"spawned: 'victim' with pid (\d+)")[0].group(1))
        d.wait_log(r"success: victim entered RUNNING state")
        os.kill(first, signal.SIGKILL)
        d.wait_log(r"exited: victim \(terminated by SIGKILL; not expected\)")
        matches = d.wait_log(r"spawned: 'victim' with pid (\d+)", count=2)
        second = int(matches[1].group(1))
        assert second != first
        assert pid_alive(second)
        assert not pid_alive(first)


def test_startretries_zero_dies_at_once_goes_fatal_and_is_never_restarted(tmp_path: Path):
    d = LogDaemon(
        tmp_path,
        "[program:once]\ncommand=sh -c 'exit 1'\nstartretries=0\nautorestart=true\n"
        "[program:marker]\ncommand=sleep 1000\nstartsecs=2\n",
    )
    with d:
        d.wait_log(r"gave up: once entered FATAL state, too many start retries too quickly")
        # The marker program becomes RUNNING 2 s later: plenty of time for a
        # wrong restart of "once" to show up in between.
        d.wait_log(r"success: marker entered RUNNING state")
        assert len(d.grep(r"spawned: 'once'")) == 1
        assert d.grep(r"exited: once \(exit status 1; not expected\)")


def test_backoff_retries_then_fatal_with_stock_lines(tmp_path: Path):
    d = LogDaemon(tmp_path, "[program:bad]\ncommand=sh -c 'exit 3'\nstartretries=2\n")
    with d:
        d.wait_log(r"gave up: bad entered FATAL state")
        assert len(d.grep(r"spawned: 'bad' with pid \d+")) == 3  # startretries=2 -> 3 attempts
        assert len(d.grep(r"WARN exited: bad \(exit status 3; not expected\)")) == 3


def test_missing_command_is_a_spawn_error(tmp_path: Path):
    d = LogDaemon(tmp_path, "[program:ghost]\ncommand=/nonexistent/bin\nstartretries=0\n")
    with d:
        d.wait_log(r"INFO spawnerr: can't find command '/nonexistent/bin'")
        d.wait_log(r"gave up: ghost entered FATAL state")


def test_autorestart_unexpected_respects_exitcodes(tmp_path: Path):
    d = LogDaemon(
        tmp_path,
        "[program:expected]\ncommand=sh -c 'sleep 0.2; exit 2'\nstartsecs=0\nexitcodes=0,2\n"
        "[program:unexpected]\ncommand=sh -c 'sleep 0.2; exit 1'\nstartsecs=0\nexitcodes=0,2\n",
    )
    with d:
        d.wait_log(r"exited: expected \(exit status 2; expected\)")
        d.wait_log(r"spawned: 'unexpected' with pid", count=3)
        assert len(d.grep(r"spawned: 'expected'")) == 1


def test_priorities_order_start_and_shutdown(tmp_path: Path):
    d = LogDaemon(
        tmp_path,
        "[program:late]\ncommand=sleep 1000\npriority=900\nstartsecs=0\n"
        "[program:early]\ncommand=sleep 1000\npriority=10\nstartsecs=0\n"
        "[program:middle]\ncommand=sleep 1000\npriority=500\nstartsecs=0\n",
    )
    with d:
        d.wait_log(r"success: late entered RUNNING")
        d.wait_log(r"success: early entered RUNNING")
        d.wait_log(r"success: middle entered RUNNING")
    spawned = [m.group(1) for m in d.grep(r"spawned: '(\w+)'")]
    stopped = [m.group(1) for m in d.grep(r"stopped: (\w+) \(terminated by SIGTERM\)")]
    assert spawned == ["early", "middle", "late"]
    assert stopped == ["late", "middle", "early"]


def test_numprocs_and_child_environment(tmp_path: Path):
    out = tmp_path / "env"
    out.mkdir()
    d = LogDaemon(
        tmp_path,
        "[program:w]\n"
        f"command={PY} -c 'import os,json,sys; json.dump(dict(os.environ), open(\"{out}/\" + os.environ[\"SUPERVISOR_PROCESS_NAME\"], \"w\")); import time; time.sleep(1000)'\n"
        "process_name=%(program_name)s_%(process_num)02d\nnumprocs=2\nnumprocs_start=1\n"
        "environment=FOO=\"bar,baz\",SHARED=program\nstartsecs=0\n",
        supervisord="environment=SHARED=daemon,DAEMONONLY=1\n",
    )
    with d:
        d.wait_log(r"success: w_01 entered RUNNING")
        d.wait_log(r"success: w_02 entered RUNNING")
        import json

        for name in ("w_01", "w_02"):
            path = out / name
            wait_until(lambda path=path: path.exists() and path.stat().st_size > 0)
        env = json.loads((out / "w_01").read_text())
    assert env["SUPERVISOR_ENABLED"] == "1"
    assert env["SUPERVISOR_PROCESS_NAME"] == "w_01"
    assert env["SUPERVISOR_GROUP_NAME"] == "w"
    assert env["FOO"] == "bar,baz"
    assert env["SHARED"] == "program"  # the program's environment wins
    assert env["DAEMONONLY"] == "1"
    assert "LISTEN_FDS" not in env


def test_directory_umask_and_own_process_group(tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    d = LogDaemon(
        tmp_path,
        "[program:p]\ncommand=sh -c 'pwd > where; touch made; exec sleep 1000'\n"
        f"directory={work}\numask=077\nstartsecs=0\n",
    )
    with d:
        pid = int(d.wait_log(r"spawned: 'p' with pid (\d+)")[0].group(1))
        wait_until(lambda: (work / "made").exists())
        assert (work / "where").read_text().strip() == str(work)
        assert (work / "made").stat().st_mode & 0o777 == 0o600
        assert os.getpgid(pid) == pid  # each child leads its own process group
        assert os.getpgid(pid) != os.getpgid(d.proc.pid)


def test_user_drops_privileges_of_children(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("switching users needs root")
    import pwd

    nobody = pwd.getpwnam("nobody")
    d = LogDaemon(tmp_path, "[program:p]\ncommand=sleep 1000\nuser=nobody\nstartsecs=0\n")
    with d:
        pid = int(d.wait_log(r"spawned: 'p' with pid (\d+)")[0].group(1))
        proc = psutil.Process(pid)
        # Changing user takes a fork; "spawned" is logged before the child execs.
        wait_until(lambda: proc.name() == "sleep")
        assert proc.uids().real == nobody.pw_uid and proc.uids().effective == nobody.pw_uid
        assert proc.gids().real == nobody.pw_gid
        status = Path(f"/proc/{pid}/status").read_text()
        groups_line = next(line for line in status.splitlines() if line.startswith("Groups:"))
        assert "0" not in groups_line.split()[1:]  # root's supplementary groups are gone


def test_shutdown_leaves_no_double_forked_setsid_grandchild(tmp_path: Path):
    pidfile = tmp_path / "grandchild.pid"
    script = tmp_path / "forker.py"
    script.write_text(
        "import os, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        open({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
        "        time.sleep(1000)\n"
        "    os._exit(0)\n"
        "time.sleep(1000)\n"
    )
    d = LogDaemon(tmp_path, f"[program:forker]\ncommand={PY} {script}\nstartsecs=0\n")
    with d:
        wait_until(lambda: pidfile.exists() and pidfile.read_text())
        grandchild = int(pidfile.read_text())
        assert pid_alive(grandchild)
    assert d.returncode == 0
    assert not pid_alive(grandchild)


def test_rotation_under_fast_writer_loses_no_numbered_line(tmp_path: Path):
    lines = 200_000
    script = tmp_path / "writer.py"
    script.write_text(f"import sys\nfor i in range({lines}):\n    sys.stdout.write('%d\\n' % i)\n")
    d = LogDaemon(
        tmp_path,
        f"[program:writer]\ncommand={PY} {script}\n"
        "autorestart=false\nstartsecs=0\n"
        f"stdout_logfile={tmp_path}/writer.log\nstdout_logfile_maxbytes=64KB\nstdout_logfile_backups=100\n",
    )
    with d:
        d.wait_log(r"exited: writer \(exit status 0; expected\)", timeout=60)
    files = sorted(tmp_path.glob("writer.log.*"), key=lambda p: -int(p.suffix[1:]))
    assert len(files) > 10  # it really rotated
    data = b"".join(p.read_bytes() for p in files) + (tmp_path / "writer.log").read_bytes()
    numbers = data.decode().split()
    assert numbers == [str(i) for i in range(lines)]


def test_redirect_stderr_and_strip_ansi(tmp_path: Path):
    d = LogDaemon(
        tmp_path,
        "[program:p]\ncommand=sh -c 'printf \"\\033[31mred\\033[0m\\n\"; echo to-err >&2; sleep 1000'\n"
        f"redirect_stderr=true\nstdout_logfile={tmp_path}/p.log\nstartsecs=0\n",
        supervisord="strip_ansi=true\n",
    )
    with d:
        log = tmp_path / "p.log"
        wait_until(lambda: log.exists() and b"to-err" in log.read_bytes())
        assert (tmp_path / "p.log").read_bytes().splitlines() == [b"red", b"to-err"]


def test_hup_rereads_config_and_restarts_everything(tmp_path: Path):
    d = LogDaemon(tmp_path, "[program:a]\ncommand=sleep 1000\nstartsecs=0\n")
    with d:
        first = int(d.wait_log(r"spawned: 'a' with pid (\d+)")[0].group(1))
        d.append_programs("[program:b]\ncommand=sleep 1000\nstartsecs=0\n")
        os.kill(d.proc.pid, signal.SIGHUP)
        d.wait_log(r"received SIGHUP indicating restart request")
        d.wait_log(r"spawned: 'b' with pid")
        second = int(d.wait_log(r"spawned: 'a' with pid (\d+)", count=2)[1].group(1))
        assert second != first and not pid_alive(first)
        assert d.proc.poll() is None  # same daemon, same pid


def test_hup_with_broken_config_keeps_programs_running(tmp_path: Path):
    d = LogDaemon(tmp_path, "[program:a]\ncommand=sleep 1000\nstartsecs=0\n")
    with d:
        pid = int(d.wait_log(r"spawned: 'a' with pid (\d+)")[0].group(1))
        d.append_programs("[program:b]\nstartsecs=notanumber\ncommand=x\n")
        os.kill(d.proc.pid, signal.SIGHUP)
        d.wait_log(r"ERRO not restarting.*startsecs")
        assert pid_alive(pid)
        assert len(d.grep(r"spawned: 'a'")) == 1


def test_usr2_reopens_logs(tmp_path: Path):
    out = tmp_path / "p.log"
    d = LogDaemon(
        tmp_path,
        f"[program:p]\ncommand=sh -c 'while true; do echo tick; sleep 0.1; done'\nstdout_logfile={out}\nstartsecs=0\n",
    )
    with d:
        wait_until(lambda: out.exists() and out.stat().st_size > 0)
        out.rename(tmp_path / "p.log.moved")
        d.log.rename(tmp_path / "main.log.moved")
        os.kill(d.proc.pid, signal.SIGUSR2)
        wait_until(lambda: out.exists() and out.stat().st_size > 0)
        wait_until(lambda: d.log.exists())


def test_fcgi_program_gets_listening_socket_as_stdin(tmp_path: Path):
    sock = tmp_path / "fcgi.sock"
    report = tmp_path / "fd0"
    d = LogDaemon(
        tmp_path,
        "[fcgi-program:f]\n"
        f"command={PY} -c 'import os,stat,socket; s=socket.socket(fileno=0); "
        f"open(\"{report}\",\"w\").write(str(stat.S_ISSOCK(os.fstat(0).st_mode)) + \" \" + str(s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))); c,_=s.accept(); c.sendall(b\"hello\"); import time; time.sleep(1000)'\n"
        f"socket=unix://{sock}\nstartsecs=0\n",
    )
    with d:
        wait_until(lambda: report.exists() and report.read_text())
        assert report.read_text() == "True 1"
        import socket

        client = socket.socket(socket.AF_UNIX)
        client.connect(str(sock))
        assert client.recv(5) == b"hello"
        client.close()
    assert not sock.exists()


def test_daemonize_writes_pidfile_and_detaches(tmp_path: Path):
    d = LogDaemon(tmp_path, "[program:a]\ncommand=sleep 1000\nstartsecs=0\n", nodaemon=False)
    rc = subprocess.run(d.command(), capture_output=True, timeout=30)
    assert rc.returncode == 0
    pidfile = tmp_path / "supervisord.pid"
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip())
    daemon_pid = int(pidfile.read_text())
    try:
        d.wait_log(r"success: a entered RUNNING")
        assert psutil.Process(daemon_pid).ppid() != os.getpid()  # detached
        assert os.getsid(daemon_pid) == daemon_pid
    finally:
        os.kill(daemon_pid, signal.SIGTERM)
    wait_until(lambda: not pid_alive(daemon_pid), timeout=15)
    assert not pidfile.exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGQUIT])
def test_exit_signals_stop_everything_and_exit_zero(tmp_path: Path, sig: int):
    d = LogDaemon(
        tmp_path,
        "[program:a]\ncommand=sleep 1000\nstartsecs=0\n"
        f"[program:b]\ncommand=sh -c 'trap \"\" TERM; touch {tmp_path}/trapped; sleep 1000'\n"
        "startsecs=0\nstopwaitsecs=1\n",
    )
    d.start()
    a = int(d.wait_log(r"spawned: 'a' with pid (\d+)")[0].group(1))
    b = int(d.wait_log(r"spawned: 'b' with pid (\d+)")[0].group(1))
    # RUNNING comes at once (startsecs=0): the shell may not have set its trap yet.
    wait_until(lambda: (tmp_path / "trapped").exists(), timeout=15)
    os.kill(d.proc.pid, sig)
    assert d.proc.wait(timeout=30) == 0
    d.wait_log(rf"received {signal.Signals(sig).name} indicating exit request")
    d.wait_log(r"killing 'b' \(\d+\) with SIGKILL")
    assert not pid_alive(a) and not pid_alive(b)
    assert not (tmp_path / "supervisord.pid").exists()


def test_reaps_unknown_children_without_zombies(tmp_path: Path):
    # The shell forks a background job and exits; the orphan comes back to the
    # daemon (subreaper), which reaps it when it dies.
    d = LogDaemon(
        tmp_path,
        "[program:p]\ncommand=sh -c '(sleep 0.3 &); exec sleep 1000'\nstartsecs=0\n",
    )
    with d:
        d.wait_log(r"reaped unknown pid \d+ \(exit status 0\)")
        zombies = [c for c in psutil.Process(d.proc.pid).children() if c.status() == psutil.STATUS_ZOMBIE]
        assert zombies == []


def test_log_lines_have_stock_format(tmp_path: Path):
    d = LogDaemon(tmp_path, "[program:a]\ncommand=sleep 1000\nstartsecs=0\n")
    with d:
        d.wait_log(r"success: a entered RUNNING")
    import re

    for line in d.log.read_text().splitlines():
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (CRIT|ERRO|WARN|INFO|DEBG|TRAC|BLAT) ", line), line


def test_minfds_beyond_hard_limit_fails_clearly(tmp_path: Path):
    d = LogDaemon(tmp_path, "[program:a]\ncommand=sleep 1000\n", supervisord="minfds=100000000\n")
    rc = subprocess.run(
        ["prlimit", "--nofile=1024:1024", "--", *d.command()], capture_output=True, text=True, timeout=30
    )
    assert rc.returncode == 2
    assert rc.stderr.startswith("Error: minfds=100000000")
    assert "For help, use supervisord -h" in rc.stderr


def test_fifty_programs_start_and_all_stop_on_shutdown(tmp_path: Path):
    """(How fast is measured in bench/, not here.)"""
    programs = "".join(f"[program:p{i}]\ncommand=sleep 1000\nstartsecs=0\n" for i in range(50))
    d = LogDaemon(tmp_path, programs)
    with d:
        d.wait_log(r"success: p\d+ entered RUNNING", count=50, timeout=30)
    assert len(d.grep(r"stopped: p\d+ \(terminated by SIGTERM\)")) == 50


def test_sample_config_from_echo_supervisord_conf_is_accepted(tmp_path: Path):
    echo = Path(sys.executable).with_name("echo_supervisord_conf")
    sample = subprocess.run([str(echo)], capture_output=True, text=True, timeout=30, check=True).stdout
    assert "[supervisord]" in sample and "[program:" in sample
    from supervisor_ng.config.loader import load

    conf = tmp_path / "supervisord.conf"
    conf.write_text(sample)
    config = load(str(conf))
    assert config.supervisord.identifier == "supervisor"


def test_auto_child_logs_are_cleaned_at_start_unless_nocleanup(tmp_path: Path):
    stale = tmp_path / "old-stdout---supervisor-abc123.log"
    other = tmp_path / "old-stdout---otherid-abc123.log"
    stale.write_text("x")
    other.write_text("x")
    d = LogDaemon(tmp_path, "[program:a]\ncommand=sleep 1000\nstartsecs=0\n", supervisord="nocleanup=true\n")
    with d:
        d.wait_log(r"success: a entered RUNNING")
    assert stale.exists()
    d = LogDaemon(tmp_path, "[program:a]\ncommand=sleep 1000\nstartsecs=0\n")
    with d:
        d.wait_log(r"success: a entered RUNNING", count=2)
    assert not stale.exists() and other.exists()


def test_nodaemon_echoes_log_to_stdout_unless_silent(tmp_path: Path):
    d = LogDaemon(tmp_path, "[program:a]\ncommand=sleep 1000\nstartsecs=0\n")
    d.conf.write_text(d.conf.read_text().replace("silent=true\n", ""))
    proc = subprocess.Popen(d.command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    d.proc = proc
    d.wait_log(r"success: a entered RUNNING")
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "INFO spawned: 'a' with pid" in out
    assert out == d.text()


def test_daemon_user_drops_its_own_privileges(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("switching users needs root")
    import pwd
    import shutil
    import tempfile

    nobody = pwd.getpwnam("nobody")
    # pytest's own temp root is private to root; the daemon opens its log after
    # dropping privileges (as stock does), so it needs a directory nobody can use.
    workdir = Path(tempfile.mkdtemp(prefix="sng-user-"))
    os.chmod(workdir, 0o755)
    os.chown(workdir, nobody.pw_uid, nobody.pw_gid)
    d = LogDaemon(workdir, "[program:a]\ncommand=sleep 1000\nstartsecs=0\n", supervisord="user=nobody\n")
    with d:
        pid = int(d.wait_log(r"spawned: 'a' with pid (\d+)")[0].group(1))
        assert psutil.Process(d.proc.pid).uids().effective == nobody.pw_uid
        assert psutil.Process(pid).uids().real == nobody.pw_uid
        assert not d.grep("Supervisor is running as root")
    shutil.rmtree(workdir)


def test_repeated_sigterm_while_stopping_still_exits_zero(tmp_path: Path):
    d = LogDaemon(
        tmp_path,
        "[program:slow]\ncommand=sh -c 'trap \"sleep 0.5; exit 0\" TERM; while true; do sleep 0.1; done'\n"
        "startsecs=0\n",
    )
    d.start()
    d.wait_log(r"success: slow entered RUNNING")
    for _ in range(3):
        os.kill(d.proc.pid, signal.SIGTERM)
        time.sleep(0.05)
    assert d.proc.wait(timeout=30) == 0
    assert len(d.grep(r"received SIGTERM indicating exit request")) >= 2


def test_sigterm_during_a_restart_ends_the_daemon(tmp_path: Path):
    d = LogDaemon(
        tmp_path,
        "[program:slow]\ncommand=sh -c 'trap \"sleep 0.5; exit 0\" TERM; while true; do sleep 0.1; done'\n"
        "startsecs=0\n",
    )
    d.start()
    d.wait_log(r"success: slow entered RUNNING")
    os.kill(d.proc.pid, signal.SIGHUP)
    d.wait_log(r"received SIGHUP indicating restart request")
    os.kill(d.proc.pid, signal.SIGTERM)
    assert d.proc.wait(timeout=30) == 0
    assert len(d.grep(r"spawned: 'slow'")) == 1


def test_fcgi_socket_that_cannot_be_bound_is_a_spawn_error(tmp_path: Path):
    d = LogDaemon(
        tmp_path,
        f"[fcgi-program:f]\ncommand=sleep 1000\nsocket=unix://{tmp_path}/missing-dir/f.sock\nstartretries=0\n"
        "[program:other]\ncommand=sleep 1000\nstartsecs=0\n",
    )
    with d:
        d.wait_log(r"spawnerr: couldn't bind socket unix://.*missing-dir/f\.sock: No such file or directory")
        d.wait_log(r"gave up: f entered FATAL state")
        d.wait_log(r"success: other entered RUNNING")
