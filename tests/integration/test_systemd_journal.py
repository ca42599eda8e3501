"""Program output to a real systemd-journald, and read back by supervisorctl.

The daemon runs in a private mount namespace with a standalone
systemd-journald of its own: tmpfs on /run/systemd/journal (journald's
sockets, where systemd-python sends), the test's directory bound on
/run/log/journal (so the journal files can be read from outside with
``journalctl --directory``), and a tmpfs hiding /var/log/journal (so nothing
reaches the host's persistent journal).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.daemon_harness import Daemon, bin_path, short_workdir, stock_available

JOURNALD = "/lib/systemd/systemd-journald"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0
    or not os.path.exists(JOURNALD)
    or not shutil.which("unshare")
    or not shutil.which("journalctl"),
    reason="needs root (mount namespaces), systemd-journald, unshare and journalctl",
)

PY = sys.executable
PROGRAMS = f"""
[group:grp]
programs=jout

[program:jout]
command={PY} -u -c "import sys, time; [print('out-%%d' %% i) for i in (1, 2, 3)]; print('err-1', file=sys.stderr); time.sleep(3600)"
stdout_logfile=NONE
stdout_journal=true
stderr_logfile=NONE
stderr_journal=true
startsecs=0

[program:jfile]
command={PY} -u -c "import sys, time; print('file-1'); print('file-err', file=sys.stderr); time.sleep(3600)"
stdout_logfile=%(here)s/jfile.log
stderr_logfile=%(here)s/jfile.err
stdout_journal=true
stderr_journal=true
startsecs=0

[program:auto]
command={PY} -u -c "import sys, time; print('auto-1'); print('auto-err', file=sys.stderr); time.sleep(3600)"
stdout_journal=true
stderr_journal=true
startsecs=0

[program:ticker]
command={PY} -u -c "import time, itertools; [print('tick-%%d' %% i) or time.sleep(0.1) for i in itertools.count()]"
stdout_logfile=NONE
stdout_journal=true
startsecs=0
"""

NAMESPACE_SCRIPT = """\
set -e
mkdir -p /run/systemd/journal /run/log/journal
mount -t tmpfs tmpfs /run/systemd/journal
mount --bind "$JDIR" /run/log/journal
if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal; fi
if [ -n "$JCONF" ]; then mount --bind "$JCONF" /etc/systemd/journald.conf; fi
{journald} &
echo $! > "$JPID"
i=0
while [ ! -S /run/systemd/journal/socket ]; do
  i=$((i+1)); [ $i -lt 200 ] || exit 97
  sleep 0.05
done
exec "$@"
"""


def _namespace_works() -> bool:
    try:
        done = subprocess.run(
            [
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                "mount -t tmpfs tmpfs /run/systemd/journal",
            ],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


class JournalDaemon(Daemon):
    """Our supervisord, run in a mount namespace with its own journald."""

    def __init__(self, workdir: Path, programs: str, journald_conf: str = "") -> None:
        super().__init__(workdir, programs)
        self.journald_conf = journald_conf  # a journald.conf to use instead of the host's
        self.journal_dir = workdir / "journal"
        self.journal_dir.mkdir(exist_ok=True)
        self.journald_pidfile = workdir / "journald.pid"

    def start(self, wait: bool = True, timeout: float = 15.0) -> Daemon:
        out = open(self.output, "ab")
        env = dict(os.environ, JDIR=str(self.journal_dir), JPID=str(self.journald_pidfile), JCONF="")
        if self.journald_conf:
            env["JCONF"] = str(self.workdir / "journald.conf")
            (self.workdir / "journald.conf").write_text(self.journald_conf)
        script = NAMESPACE_SCRIPT.format(journald=JOURNALD)
        try:
            # unshare and sh exec: the pid is supervisord's, which is the
            # _PID journald records for the entries it sends.
            self.proc = subprocess.Popen(
                ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"]
                + [str(bin_path("ours", "supervisord")), "-n", "-c", str(self.conf)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                env=env,
            )
        finally:
            out.close()
        if wait:
            self.wait_ready(timeout)
        return self

    def stop_journald(self) -> None:
        try:
            pid = int(self.journald_pidfile.read_text())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def journal_entries(self, *matches: str) -> list[dict[str, str]]:
        dirs = [p for p in self.journal_dir.iterdir() if p.is_dir()]
        if not dirs:
            return []
        done = subprocess.run(
            ["journalctl", f"--directory={dirs[0]}", "-o", "json", "--no-pager", *matches],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@pytest.fixture
def jdaemon(tmp_path: Path):
    if not _namespace_works():
        pytest.skip(
            "cannot create a mount namespace with tmpfs mounts here (unshare -m / mount failed)"
        )
    d = JournalDaemon(short_workdir(tmp_path, "journal"), PROGRAMS)
    try:
        d.start()
        d.wait_state("grp:jout", "RUNNING")
        yield d
    finally:
        code = d.stop()
        d.stop_journald()
    assert code == 0, d.read_output()


def _wait_entries(d: JournalDaemon, count: int, *matches: str) -> list[dict[str, str]]:
    return d.wait_until(
        lambda: (lambda e: e if len(e) >= count else None)(d.journal_entries(*matches)),
        10.0,
        f"{count} journal entries for {matches}",
    )


def test_journal_only_output_goes_straight_from_the_child_to_journald(
    jdaemon: JournalDaemon,
) -> None:
    """With no log file, the child writes to a journald stream: the daemon is
    not in the byte path, the entries still say who wrote them."""
    out = _wait_entries(jdaemon, 3, "SYSLOG_IDENTIFIER=jout", "PRIORITY=6")
    assert [e["MESSAGE"] for e in out] == ["out-1", "out-2", "out-3"]
    for e in out:
        assert e["_TRANSPORT"] == "stdout"
        # journald credits the lines to their writer
        assert e["_PID"] == str(jdaemon.rpc.supervisor.getProcessInfo("grp:jout")["pid"])
    err = _wait_entries(jdaemon, 1, "SYSLOG_IDENTIFIER=jout", "PRIORITY=3")
    assert [e["MESSAGE"] for e in err] == ["err-1"]
    # journalctl -t NAME works as the README says
    assert len(_wait_entries(jdaemon, 4, "-t", "jout")) == 4
    child = jdaemon.rpc.supervisor.getProcessInfo("grp:jout")["pid"]
    for fd in (1, 2):
        assert os.readlink(f"/proc/{child}/fd/{fd}").startswith("socket:"), fd


def test_output_also_logged_to_a_file_reaches_journald_with_fields(
    jdaemon: JournalDaemon,
) -> None:
    """The daemon reads that output anyway (for the file named), so it sends
    each line itself, with the process, group and channel fields."""
    out = _wait_entries(jdaemon, 1, "SYSLOG_IDENTIFIER=jfile", "SUPERVISOR_CHANNEL=stdout")
    assert [(e["MESSAGE"], e["PRIORITY"]) for e in out] == [("file-1", "6")]
    assert out[0]["SUPERVISOR_PROCESS_NAME"] == "jfile"
    assert out[0]["SUPERVISOR_GROUP_NAME"] == "jfile"
    assert out[0]["_PID"] == str(jdaemon.pid)
    err = _wait_entries(jdaemon, 1, "SYSLOG_IDENTIFIER=jfile", "SUPERVISOR_CHANNEL=stderr")
    assert [(e["MESSAGE"], e["PRIORITY"]) for e in err] == [("file-err", "3")]
    jdaemon.wait_until(
        lambda: jdaemon.rpc.supervisor.readProcessStdoutLog("jfile", 0, 0) == "file-1\n",
        10.0,
        "the log file too",
    )


def test_the_journal_takes_the_place_of_an_auto_log_file(jdaemon: JournalDaemon) -> None:
    _wait_entries(jdaemon, 2, "SYSLOG_IDENTIFIER=auto")
    info = jdaemon.rpc.supervisor.getProcessInfo("auto")
    assert info["stdout_logfile"] == "" and info["stderr_logfile"] == ""
    assert jdaemon.rpc.supervisor.readProcessStdoutLog("auto", 0, 0) == "auto-1\n"
    assert jdaemon.rpc.supervisor.readProcessStderrLog("auto", 0, 0) == "auto-err\n"
    assert not list(jdaemon.workdir.glob("auto-*"))


def test_rpc_reads_channel_back_from_the_journal(jdaemon: JournalDaemon) -> None:
    _wait_entries(jdaemon, 4, "SYSLOG_IDENTIFIER=jout")
    sv = jdaemon.rpc.supervisor
    assert sv.readProcessStdoutLog("grp:jout", 0, 0) == "out-1\nout-2\nout-3\n"
    assert sv.readProcessStdoutLog("grp:jout", -6, 0) == "out-3\n"
    assert sv.readProcessStdoutLog("grp:jout", 6, 6) == "out-2\n"
    assert sv.readProcessStderrLog("grp:jout", 0, 0) == "err-1\n"
    assert sv.tailProcessStdoutLog("grp:jout", 0, 100) == ["out-1\nout-2\nout-3\n", 18, False]
    assert sv.tailProcessStdoutLog("grp:jout", 18, 100) == ["", 18, False]
    assert sv.tailProcessStdoutLog("grp:jout", 0, 6) == ["out-3\n", 18, True]


@pytest.mark.parametrize("client", ["stock", "ours"])
def test_supervisorctl_tail_reads_the_journal(jdaemon: JournalDaemon, client: str) -> None:
    if client == "stock" and not stock_available():
        pytest.skip("stock supervisorctl not installed")
    _wait_entries(jdaemon, 4, "SYSLOG_IDENTIFIER=jout")
    r = jdaemon.ctl("tail", "grp:jout", client=client)
    assert r.returncode == 0, r
    # (both clients print what they got plus a newline, as for a file)
    assert r.stdout == "out-1\nout-2\nout-3\n\n"
    r = jdaemon.ctl("tail", "grp:jout", "stderr", client=client)
    assert r.returncode == 0, r
    assert r.stdout == "err-1\n\n"


def _logtail_lines(sock: Path, path: str, count: int, timeout: float = 10.0) -> list[str]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(sock))
    conn = http.client.HTTPConnection("localhost")
    conn.sock = s
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        assert resp.status == 200, resp.status
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while len(lines) < count and time.monotonic() < deadline:
            lines.append(resp.readline().decode())
        return lines
    finally:
        conn.close()


def test_logtail_follows_the_journal(jdaemon: JournalDaemon) -> None:
    _wait_entries(jdaemon, 3, "SYSLOG_IDENTIFIER=ticker")
    lines = _logtail_lines(jdaemon.sock, "/logtail/ticker/stdout", 40)
    # the head may start mid-line; after it, consecutive ticks as they come
    ticks = [int(line.split("-")[1]) for line in lines[1:] if line.startswith("tick-")]
    assert len(ticks) >= 30
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks)))


@pytest.mark.parametrize("client", ["stock", "ours"])
def test_supervisorctl_tail_f_follows_the_journal(jdaemon: JournalDaemon, client: str) -> None:
    if client == "stock" and not stock_available():
        pytest.skip("stock supervisorctl not installed")
    _wait_entries(jdaemon, 3, "SYSLOG_IDENTIFIER=ticker")
    proc = subprocess.Popen(
        [str(bin_path(client, "supervisorctl")), "-c", str(jdaemon.conf), "tail", "-f", "ticker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().decode() for _ in range(20)]
    finally:
        proc.kill()
        proc.wait()
    ticks = [
        int(line[5:])
        for line in lines[2:]
        if line.startswith("tick-") and line[5:].strip().isdigit()
    ]
    assert len(ticks) >= 10, lines
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), lines
