"""Cgroup mode under systemd (issue 17): the packaged unit delegates the
service's cgroup (Delegate=yes), the daemon moves into a leaf of it and
starts each program in a cgroup of its own, visible in ``systemd-cgls`` and
``systemd-cgtop``; a stop reaches an escapee, ``tasks_max`` and
``memory_max`` hold where the container has the controllers."""

from __future__ import annotations

import pytest

from tests.waiting import wait_until

from .inside import SLEEPER, install, main_pid, program, status

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("e2e_available")]

CONF_D = "/etc/supervisor/conf.d"
SERVICE_CG = "/sys/fs/cgroup/system.slice/supervisord.service"
# A grandchild that leaves the process group, its parent (reparented to the
# daemon) and its program's names (empty environment).
ESCAPER = "(setsid env -i sleep 100001 &); exec sleep 100000"


def _unified(c) -> bool:
    # A pure cgroup v2 container or a hybrid one (on a hybrid host): either
    # has a unified hierarchy the service's cgroup is delegated in.
    return bool(c.run("grep -w cgroup2 /proc/mounts").stdout.strip())


def test_programs_in_their_cgroups_and_a_stop_reaches_an_escapee(boot, packages):
    c = boot()
    if not _unified(c):
        pytest.skip("the container has no unified cgroup hierarchy")
    c.write(f"{CONF_D}/esc.conf", program("esc", ESCAPER, startsecs=0, stopasgroup="true", stopwaitsecs=2))
    c.write(f"{CONF_D}/idle.conf", program("idle", SLEEPER))
    install(c, packages.deb.name)

    assert c.run("systemctl show -p Delegate --value supervisord").stdout.strip() == "yes"
    journal = c.run("journalctl -u supervisord -t supervisord -o cat --no-pager", check=True).stdout
    assert "cgroup mode" in journal
    daemon = main_pid(c)
    own = [line for line in c.run(f"cat /proc/{daemon}/cgroup").stdout.splitlines() if line.startswith("0::")]
    assert own and own[0].endswith("supervisord.service/supervisord"), own

    tree = c.run("systemd-cgls --no-pager -u supervisord.service", check=True).stdout
    for name in ("supervisord", "program-esc", "program-idle"):
        assert name in tree, tree
    escapee = wait_until(
        lambda: c.run("pgrep -f 'sleep 10000[1]'").stdout.split(), what="the escapee"
    )[0]
    assert "0::/system.slice/supervisord.service/program-esc" in c.run(f"cat /proc/{escapee}/cgroup").stdout

    # Figures: the daemon's count of the idle program's tasks is systemd-cgtop's.
    idle_pid = status(c)["idle"][1]
    assert idle_pid
    cgtop = c.run("systemd-cgtop -b -n 1 -r -P --order=path", check=True).stdout
    line = next(row for row in cgtop.splitlines() if row.split() and row.split()[0].endswith("/program-idle"))
    assert line.split()[1] == "1"
    stats = c.run("supervisorctl status --stats idle", check=True).stdout
    assert "idle" in stats

    c.run("supervisorctl stop esc", check=True, timeout=60)
    wait_until(lambda: not c.run("pgrep -f 'sleep 10000[1]'").stdout.strip(), what="the escapee to go")


def test_limits_hold(boot, packages):
    c = boot()
    if not _unified(c):
        pytest.skip("the container has no unified cgroup hierarchy")
    controllers = c.run("cat /sys/fs/cgroup/cgroup.controllers").stdout.split()
    if not {"pids", "memory"} <= set(controllers):
        # The kernel has one cgroup2 hierarchy, shared by every container: a
        # controller the host keeps bound to a v1 hierarchy (hybrid host,
        # /proc/cgroups hierarchy != 0) cannot be had by any nspawn option.
        pytest.skip(f"the kernel's cgroup2 hierarchy lacks pids/memory (bound to v1 on the host?): {controllers}")
    bomb = "while :; do sleep 600 & done"
    hog = "echo x >> /tmp/hog-starts; exec python3 -c \"b=[]\nwhile 1: b.append(bytearray(1<<24))\""
    c.write(f"{CONF_D}/bomb.conf", program("bomb", bomb, startsecs=0, tasks_max=16, stopasgroup="true"))
    c.write(f"{CONF_D}/hog.conf", program("hog", hog, startsecs=0, autorestart="true", memory_max="64M"))
    install(c, packages.deb.name)

    pids_max = c.run(f"cat {SERVICE_CG}/program-bomb/pids.max", check=True).stdout.strip()
    assert pids_max == "16"
    events = wait_until(
        lambda: int(c.run(f"grep '^max ' {SERVICE_CG}/program-bomb/pids.events").stdout.split()[1] or 0) > 0,
        what="the fork bomb to hit tasks_max",
    )
    assert events
    assert int(c.run(f"cat {SERVICE_CG}/program-bomb/pids.current").stdout) <= 16

    wait_until(lambda: len(c.run("cat /tmp/hog-starts").stdout.split()) >= 2, timeout=60, what="the hog's restart")
    journal = c.run("journalctl -u supervisord -t supervisord -o cat --no-pager", check=True).stdout
    # "killed by the OOM killer" once child.py passes the wait status to oom_note.
    assert "hog: killed by the OOM killer" in journal or "hog: the OOM killer killed" in journal
