"""Program output to the journal vs to a file: daemon CPU per GiB and throughput.

    .venv/bin/python bench/journal_bench.py            # 64 MiB per run
    .venv/bin/python bench/journal_bench.py --mib 256

One program writes N MiB of numbered 100-byte lines to stdout and exits; the
daemon's CPU (utime+stime from /proc/<pid>/stat) is read before the program
starts and once it has EXITED (its pipe is drained before that), and the
wall time between the two gives the throughput.  Each daemon runs in a
private mount namespace with a standalone systemd-journald (root needed),
as tests/integration/test_systemd_journal.py does; journald's rate limit is
switched off there, or most lines would be dropped.  Stock Supervisor has no
journal output: it is measured on the file case only (when .venv-stock exists).
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.daemon_harness import unix_proxy  # noqa: E402

JOURNALD = "/lib/systemd/systemd-journald"
LINE = 100  # bytes per line, newline included
TICK = os.sysconf("SC_CLK_TCK")

NAMESPACE_SCRIPT = """\
set -e
mkdir -p /run/systemd/journal /run/log/journal
mount -t tmpfs tmpfs /run/systemd/journal
mount -t tmpfs tmpfs /run/log/journal
if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal; fi
mount --bind "$JCONF" /etc/systemd/journald.conf
{journald} &
echo $! > "$JPID"
while [ ! -S /run/systemd/journal/socket ]; do sleep 0.05; done
exec "$@"
"""
JOURNALD_CONF = "[Journal]\nStorage=volatile\nRateLimitBurst=0\nRuntimeMaxUse=4G\n"

WRITER = (
    "import sys; w = sys.stdout.buffer.write; n = {lines}; "
    "pad = b'x' * ({line} - 11); "
    "[w(b'%09d ' % i + pad + b'\\n') for i in range(n)]; sys.stdout.flush()"
)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def config(work: Path, mode: str, lines: int) -> str:
    writer = WRITER.format(lines=lines, line=LINE).replace("%", "%%")
    if mode == "journal":  # the child writes to a journald stream itself
        out = "stdout_logfile=NONE\nstdout_journal=true\n"
    elif mode == "journal+file":  # the daemon reads the pipe and sends each line
        out = f"stdout_logfile={work}/writer.log\nstdout_logfile_maxbytes=0\nstdout_journal=true\n"
    else:
        out = f"stdout_logfile={work}/writer.log\nstdout_logfile_maxbytes=0\n"
    return (
        f"[supervisord]\nlogfile={work}/supervisord.log\npidfile={work}/supervisord.pid\n"
        f"childlogdir={work}\nloglevel=warn\n"
        f"[unix_http_server]\nfile={work}/s.sock\n"
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
        f'[program:writer]\ncommand={sys.executable} -c "{writer}"\n'
        f"autostart=false\nstartsecs=0\nautorestart=false\n{out}"
    )


def run(kind: str, mode: str, mib: int) -> tuple[float, float, Optional[float]]:
    """(daemon CPU seconds per GiB, MiB/s, journald CPU seconds per GiB) for one run."""
    lines = mib * 1024 * 1024 // LINE
    work = Path(tempfile.mkdtemp(prefix="sng-jbench-"))
    conf = work / "supervisord.conf"
    conf.write_text(config(work, mode, lines))
    (work / "journald.conf").write_text(JOURNALD_CONF)
    venv = REPO / (".venv" if kind == "ours" else ".venv-stock")
    daemon = [str(venv / "bin" / "supervisord"), "-n", "-c", str(conf)]
    env = dict(os.environ, JCONF=str(work / "journald.conf"), JPID=str(work / "journald.pid"))
    if mode.startswith("journal"):
        script = NAMESPACE_SCRIPT.format(journald=JOURNALD)
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *daemon]
    else:
        cmd = daemon
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rpc = unix_proxy(str(work / "s.sock"))
        deadline = time.monotonic() + 20
        while True:
            try:
                rpc.supervisor.getState()
                break
            except (OSError, xmlrpc.client.ProtocolError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{kind} supervisord did not start") from None
                time.sleep(0.05)
        journald = int((work / "journald.pid").read_text()) if mode.startswith("journal") else None
        jcpu0 = cpu_seconds(journald) if journald else 0.0
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        rpc.supervisor.startProcess("writer", False)
        while rpc.supervisor.getProcessInfo("writer")["statename"] not in (
            "EXITED",
            "FATAL",
            "STOPPED",
        ):
            time.sleep(0.5)  # seldom: each status call is daemon CPU too
        cpu, wall = cpu_seconds(proc.pid) - cpu0, time.monotonic() - t0
        jcpu = None
        if journald:
            # journald may still be writing what it has read: let it finish
            got = 0
            deadline = time.monotonic() + 60
            while got < lines * LINE and time.monotonic() < deadline:
                got = rpc.supervisor.tailProcessStdoutLog("writer", 0, 0)[1]
                time.sleep(0.2)
            jcpu = cpu_seconds(journald) - jcpu0
            if got < lines * LINE:
                print(f"warning: the journal holds {got} of {lines * LINE} bytes", file=sys.stderr)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        _kill_journald(work / "journald.pid")
        shutil.rmtree(work, ignore_errors=True)
    return cpu * 1024 / mib, mib / wall, None if jcpu is None else jcpu * 1024 / mib


def _kill_journald(pidfile: Path) -> None:
    try:
        os.kill(int(pidfile.read_text()), signal.SIGTERM)
    except (OSError, ValueError):
        pass


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=64, help="MiB written per run (default 64)")
    args = parser.parse_args(argv)
    cases = [("ours", "journal"), ("ours", "journal+file"), ("ours", "file")]
    if (REPO / ".venv-stock" / "bin" / "supervisord").exists():
        cases.append(("stock", "file"))
    print(f"{args.mib} MiB of {LINE}-byte lines to stdout\n")
    print("| daemon | output | daemon CPU s/GiB | journald CPU s/GiB | MiB/s |")
    print("|---|---|---:|---:|---:|")
    for kind, mode in cases:
        cpu_per_gib, rate, jcpu = run(kind, mode, args.mib)
        jtext = "—" if jcpu is None else f"{jcpu:.1f}"
        print(f"| {kind} | {mode} | {cpu_per_gib:.2f} | {jtext} | {rate:.1f} |", flush=True)


if __name__ == "__main__":
    main()
