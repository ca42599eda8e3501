"""``user=`` drops privileges completely, as stock does: real, effective and
saved uid and gid become the user's, and the supplementary groups become the
user's own (its initgroups list: primary group plus every group that lists
it as a member), for children and for the daemon itself, whether the user is
given by name or by number.  The tests run as root."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import tempfile
from pathlib import Path

import psutil
import pytest

from tests.daemon_harness import Daemon
from tests.log_daemon import LogDaemon
from tests.waiting import wait_until

from .conftest import figures


def _user_with_groups() -> pwd.struct_passwd:
    """A user with supplementary groups if the system has one (that is the
    case worth checking), else nobody."""
    for group in grp.getgrall():
        for member in group.gr_mem:
            try:
                entry = pwd.getpwnam(member)
            except KeyError:
                continue
            if len(os.getgrouplist(entry.pw_name, entry.pw_gid)) > 1:
                return entry
    return pwd.getpwnam("nobody")


USER = _user_with_groups()
EXPECTED_GROUPS = sorted(set(os.getgrouplist(USER.pw_name, USER.pw_gid)))


def credentials(pid: int) -> dict[str, object]:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = {line.split(":", 1)[0]: line.split(":", 1)[1].split() for line in status}
    return {
        "uids": [int(x) for x in fields["Uid"]],  # real, effective, saved, fs
        "gids": [int(x) for x in fields["Gid"]],
        "groups": sorted(int(x) for x in fields["Groups"]),
    }


def expected() -> dict[str, object]:
    return {"uids": [USER.pw_uid] * 4, "gids": [USER.pw_gid] * 4, "groups": EXPECTED_GROUPS}


@pytest.fixture
def open_workdir():
    # Root's pytest temp root is private; a daemon that becomes USER needs a
    # directory it can write its log to.
    workdir = Path(tempfile.mkdtemp(prefix="sng-priv-"))
    os.chmod(workdir, 0o755)
    os.chown(workdir, USER.pw_uid, USER.pw_gid)
    yield workdir
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize("spelling", ["name", "uid"])
def test_children_get_the_users_ids_and_supplementary_groups(tmp_path: Path, spelling: str) -> None:
    user = USER.pw_name if spelling == "name" else str(USER.pw_uid)
    d = LogDaemon(tmp_path, f"[program:p]\ncommand=sleep 1000\nuser={user}\nstartsecs=0\n")
    with d:
        pid = int(d.wait_log(r"spawned: 'p' with pid (\d+)")[0].group(1))
        # Changing user takes a fork; "spawned" is logged before the exec.
        wait_until(lambda: psutil.Process(pid).name() == "sleep")
        got = credentials(pid)
    figures("user_child", user=f"{USER.pw_name}({spelling})", **got)
    assert got == expected()


@pytest.mark.parametrize("spelling", ["name", "uid"])
def test_daemon_and_its_children_drop_to_the_user(open_workdir: Path, spelling: str) -> None:
    user = USER.pw_name if spelling == "name" else str(USER.pw_uid)
    d = LogDaemon(open_workdir, "[program:a]\ncommand=sleep 1000\nstartsecs=0\n", supervisord=f"user={user}\n")
    with d:
        pid = int(d.wait_log(r"spawned: 'a' with pid (\d+)")[0].group(1))
        daemon = credentials(d.proc.pid)
        child = credentials(pid)
    figures("user_daemon", user=f"{USER.pw_name}({spelling})", daemon=daemon, child=child)
    assert daemon == expected()
    assert child == expected()


def test_a_child_cannot_regain_root(open_workdir: Path) -> None:
    """setuid is complete: the child's attempt to switch back fails."""
    probe = open_workdir / "probe.sh"
    probe.write_text("#!/bin/sh\n/usr/bin/python3 -c 'import os; os.setuid(0)' 2>&1 | tail -1\nsleep 1000\n")
    probe.chmod(0o755)
    out = open_workdir / "p.out"
    d = LogDaemon(
        open_workdir,
        f"[program:p]\ncommand={probe}\nuser={USER.pw_name}\nstartsecs=0\nstdout_logfile={out}\n",
    )
    with d:
        wait_until(lambda: out.exists() and out.read_text(), timeout=15)
    assert "PermissionError" in out.read_text(), out.read_text()


def test_daemon_socket_and_logs_belong_to_the_user(open_workdir: Path) -> None:
    d = Daemon(open_workdir, "[program:a]\ncommand=sleep 1000\nstartsecs=0\n", supervisord_options=f"user={USER.pw_name}\n")
    d.start()
    try:
        assert d.rpc.supervisor.getState()["statename"] == "RUNNING"
        log = os.stat(d.logfile)
        assert (log.st_uid, log.st_gid) == (USER.pw_uid, USER.pw_gid)
    finally:
        assert d.stop() == 0
