"""superlance 2.0.0 from PyPI, unchanged, against our daemon.

Each listener runs twice: from the stock venv (superlance with the stock
``supervisor`` package it declares, see scripts/bootstrap.sh), and from a
venv that has supervisor-ng and no stock package, where superlance was
installed as the README says (``pip install --no-deps superlance``) and
imports supervisor-ng's own ``supervisor`` package.  They talk to our daemon
over its unix socket with XML-RPC, as in production.  They wake on TICK_5
here (production configs use TICK_60) to keep the tests short.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.daemon_harness import REPO, STOCK_VENV
from tests.integration.events_fixtures import require_stock_listeners, wait_until

LISTENER_VENV = Path(os.environ.get("LISTENER_VENV", REPO / ".venv-listeners"))

# Where `import supervisor` leads, and whether the stock distribution is there.
_WHICH_SUPERVISOR = (
    "import importlib.metadata as m, supervisor.childutils as c\n"
    "try:\n    m.distribution('supervisor'); stock = 'stock installed'\n"
    "except m.PackageNotFoundError:\n    stock = 'no stock'\n"
    "print(c.__file__, stock)\n"
)


@pytest.fixture(params=["stock", "ng-only"])
def superlance_bin(request: pytest.FixtureRequest) -> Path:
    if request.param == "stock":
        require_stock_listeners(superlance=True)
        return STOCK_VENV / "bin"
    bin_dir = LISTENER_VENV / "bin"
    if not (bin_dir / "memmon").exists():
        pytest.skip(f"superlance not installed in {LISTENER_VENV} (scripts/bootstrap.sh ensure_listener_tools)")
    found = subprocess.run(
        [str(bin_dir / "python"), "-c", _WHICH_SUPERVISOR], capture_output=True, text=True, timeout=60
    )
    assert found.returncode == 0, found.stderr
    path, stock = found.stdout.strip().split(" ", 1)
    assert stock == "no stock"
    # supervisor-ng's package, beside supervisor_ng in the same install
    assert (Path(path).parent.parent / "supervisor_ng").is_dir(), path
    return bin_dir


def test_memmon_restarts_a_program_above_its_memory_limit(daemon_factory, tmp_path, superlance_bin: Path) -> None:
    BIN = superlance_bin
    hog = tmp_path / "hog.py"
    # Resident, not just reserved: the bytes are written.
    hog.write_text("import time\nblob = b'x' * (80 * 1024 * 1024)\ntime.sleep(1000)\n")
    lean = tmp_path / "lean.py"
    lean.write_text("import time\ntime.sleep(1000)\n")
    d = daemon_factory(
        f"""
[eventlistener:memmon]
command={BIN}/memmon -p hog=40MB -p lean=40MB
events=TICK_5
stderr_logfile={tmp_path}/memmon.err

[program:hog]
command={BIN}/python {hog}
startsecs=0

[program:lean]
command={BIN}/python {lean}
startsecs=0
"""
    )
    rpc = d.rpc.supervisor
    d.wait_all(timeout=15)
    hog_pid = rpc.getProcessInfo("hog")["pid"]
    lean_pid = rpc.getProcessInfo("lean")["pid"]
    # One tick (at most 5 s) and the restart.
    wait_until(
        lambda: rpc.getProcessInfo("hog")["pid"] not in (0, hog_pid)
        and rpc.getProcessInfo("hog")["statename"] == "RUNNING",
        timeout=20,
        what="memmon to restart hog",
    )
    err_file = tmp_path / "memmon.err"
    wait_until(lambda: "RSS of lean:lean is" in err_file.read_text(), what="memmon to check lean")
    assert "Restarting hog:hog" in err_file.read_text()
    assert "Restarting lean" not in err_file.read_text()
    assert rpc.getProcessInfo("lean")["pid"] == lean_pid
    log = d.read_log()
    assert "stopped: hog (terminated by SIGTERM)" in log


def test_crashmail_mails_an_unexpected_exit_and_not_an_expected_one(daemon_factory, tmp_path, superlance_bin: Path) -> None:
    BIN = superlance_bin
    mail = tmp_path / "mail.txt"
    sendmail = tmp_path / "sendmail.sh"
    sendmail.write_text(f"#!/bin/sh\n{{ cat; echo '--- end of message ---'; }} >> {mail}\n")
    sendmail.chmod(0o755)
    d = daemon_factory(
        f"""
[eventlistener:crashmail]
command={BIN}/crashmail -a -m ops@example.com -s {sendmail}
events=PROCESS_STATE_EXITED
stderr_logfile={tmp_path}/crashmail.err

[program:crasher]
command=sh -c 'sleep 1.2; exit 3'
startsecs=1
autorestart=false

[program:finisher]
command=sh -c 'sleep 1.2; exit 0'
startsecs=1
autorestart=false
"""
    )
    rpc = d.rpc.supervisor
    wait_until(
        lambda: {p["statename"] for p in rpc.getAllProcessInfo() if p["name"] != "crashmail"} == {"EXITED"},
        timeout=15,
        what="both programs to exit",
    )
    wait_until(lambda: mail.exists() and "end of message" in mail.read_text(), timeout=10, what="a mail")
    time.sleep(0.5)  # room for a wrong second mail to show up
    text = mail.read_text()
    assert text.count("--- end of message ---") == 1
    assert "To: ops@example.com" in text
    assert "Subject:  crasher crashed at" in text
    pid = text.split("(pid ")[1].split(")")[0]
    assert f"Process crasher in group crasher exited unexpectedly (pid {pid}) from state RUNNING" in text
    assert "finisher" not in text
    assert "unexpected exit, mailing" in (tmp_path / "crashmail.err").read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_httpok_restarts_a_program_whose_http_check_fails(daemon_factory, tmp_path, superlance_bin: Path) -> None:
    BIN = superlance_bin
    port = _free_port()
    web = tmp_path / "web.py"
    # Healthy on /ok, 500 on /health: httpok checks /health.
    web.write_text(
        "import http.server, sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200 if self.path == '/ok' else 500)\n"
        "        self.end_headers()\n"
        "        self.wfile.write(b'body')\n"
        "    def log_message(self, *a):\n"
        "        pass\n"
        f"http.server.HTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
    )
    d = daemon_factory(
        f"""
[eventlistener:httpok]
command={BIN}/httpok -p web -t 5 http://127.0.0.1:{port}/health
events=TICK_5
stderr_logfile={tmp_path}/httpok.err

[program:web]
command={BIN}/python {web}
startsecs=1
"""
    )
    rpc = d.rpc.supervisor
    d.wait_state("web", "RUNNING", timeout=15)
    first = rpc.getProcessInfo("web")["pid"]
    wait_until(
        lambda: rpc.getProcessInfo("web")["pid"] not in (0, first)
        and rpc.getProcessInfo("web")["statename"] == "RUNNING",
        timeout=25,
        what="httpok to restart web",
    )
    # httpok writes "restarted" after startProcess returns, which is when the
    # new pid is RUNNING: the line may reach its log a moment after the pid.
    err_log = tmp_path / "httpok.err"
    wait_until(lambda: "web restarted" in err_log.read_text(), timeout=10, what="httpok's restarted line")
    assert "web is in RUNNING state, restarting" in err_log.read_text()
