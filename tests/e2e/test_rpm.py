"""The .rpm: EPEL layout and requirements, rpmlint, and its tree run under systemd.

The rpm is installed with `rpm --root` into a scratch directory; that tree
(its units, config, executables and Python package) is then laid over a
booted Debian 12 container, the closest thing to an EL host here that has
systemd as PID 1 and the Python dependencies.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.waiting import wait_until

from .conftest import REPO
from .inside import SLEEPER, alive, is_active, program, status

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("e2e_available")]

HOST_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def rpm_query(*args: str) -> str:
    done = subprocess.run(
        ["rpm", *args], capture_output=True, text=True, timeout=60, env={"PATH": HOST_PATH, "HOME": "/root"}
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_rpm_has_the_epel_layout_and_requirements(packages):
    files = set(rpm_query("-qpl", str(packages.rpm)).split())
    for path in (
        "/etc/supervisord.conf",
        "/etc/supervisord.d",
        "/etc/logrotate.d/supervisor-ng",
        "/var/log/supervisor",
        "/usr/lib/systemd/system/supervisord.service",
        "/usr/lib/systemd/system/supervisord.socket",
        "/usr/bin/supervisord",
        "/usr/bin/supervisorctl",
        "/usr/bin/echo_supervisord_conf",
        "/usr/share/man/man8/supervisord.8.gz",
        "/usr/share/man/man1/supervisorctl.1.gz",
        "/usr/share/man/man1/echo_supervisord_conf.1.gz",
    ):
        assert path in files, path
    assert any(re.fullmatch(r"/usr/lib/python3\.\d+/site-packages/supervisor_ng/daemon\.py", f) for f in files)
    assert any(f.endswith("supervisor_ng/config/sample.conf") for f in files)

    config = set(rpm_query("-qpc", str(packages.rpm)).split())
    assert config == {"/etc/supervisord.conf", "/etc/logrotate.d/supervisor-ng"}
    requires = {line.split()[0] for line in rpm_query("-qpR", str(packages.rpm)).splitlines()}
    assert {"python3-click", "python3-h11", "python3-psutil", "python3-systemd"} <= requires
    assert "supervisor" in {line.split()[0] for line in rpm_query("-qp", "--provides", str(packages.rpm)).splitlines()}
    assert rpm_query("-qp", "--conflicts", str(packages.rpm)).split() == ["supervisor"]
    assert rpm_query("-qp", "--qf", "%{ARCH}", str(packages.rpm)) == "noarch"
    # Scriptlets: the systemd macros where the build host has them, else
    # the equivalent systemctl calls.
    scripts = rpm_query("-qp", "--scripts", str(packages.rpm))
    for scriptlet in ("postinstall", "preuninstall", "postuninstall"):
        assert f"{scriptlet} scriptlet" in scripts
    assert "preset" in scripts and "try-restart supervisord.service" in scripts
    # An upgrade hands over to the new binary; a restart only where it cannot.
    postun = scripts.split("postuninstall scriptlet", 1)[1]
    assert "supervisorctl -c /etc/supervisord.conf reexec" in postun
    assert postun.index("reexec") < postun.index("try-restart supervisord.service")


def test_rpmlint_is_clean_with_the_explained_filters(packages):
    rpmlint = shutil.which("rpmlint", path=HOST_PATH)
    assert rpmlint, "rpmlint is one of the test system packages (scripts/bootstrap.sh)"
    done = subprocess.run(
        [rpmlint, "-r", str(REPO / "packaging/rpm/supervisor-ng.rpmlintrc"), str(packages.rpm),
         str(REPO / "packaging/rpm/supervisor-ng.spec")],
        capture_output=True, text=True, timeout=120, env={"PATH": HOST_PATH, "HOME": "/root"},
    )
    assert "0 errors, 0 warnings" in done.stdout, done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr


def test_rpm_tree_runs_under_systemd(boot, packages, tmp_path):
    tree = tmp_path / "root"
    tree.mkdir()
    # No shell in the empty root to run the scriptlets in: they run below,
    # by hand, in the container.
    done = subprocess.run(
        ["rpm", "--root", str(tree), "--dbpath", "/var/lib/rpm", "--nodeps", "--noscripts", "-i", str(packages.rpm)],
        capture_output=True, text=True, timeout=120, env={"PATH": HOST_PATH, "HOME": "/root"},
    )
    assert done.returncode == 0, done.stderr
    unit = (tree / "usr/lib/systemd/system/supervisord.service").read_text()
    assert "ExecStart=/usr/bin/supervisord -n -c /etc/supervisord.conf" in unit
    assert "ExecReload=/usr/bin/supervisorctl -c /etc/supervisord.conf update" in unit
    (sitelib,) = [p.relative_to(tree) for p in (tree / "usr/lib").glob("python3.*/site-packages")]

    c = boot(rpmroot=tree)
    c.run(
        "cp -a /mnt/rpmroot/etc/. /etc/ && cp -a /mnt/rpmroot/usr/. /usr/ && cp -a /mnt/rpmroot/var/log/. /var/log/",
        check=True,
    )
    # Debian's python3 does not read EL's site-packages: point it there.
    c.write("/usr/lib/python3/dist-packages/rpm-tree.pth", f"/{sitelib}\n")
    c.write("/etc/supervisord.d/one.ini", program("one", "echo hello from one; " + SLEEPER))
    c.run("systemctl daemon-reload && systemctl enable --now supervisord.socket supervisord.service", check=True, timeout=60)

    assert is_active(c, "supervisord") == "active"
    assert status(c)["one"][0] == "RUNNING"  # Type=notify: started means RUNNING
    assert "RUNNING" in c.run("supervisorctl -c /etc/supervisord.conf status one", check=True).stdout
    # File logging by default, in /var/log/supervisor.
    log = c.run("cat /var/log/supervisor/supervisord.log", check=True).stdout
    assert "spawned: 'one' with pid" in log
    assert "using the socket passed by systemd" in log
    wait_until(
        lambda: "hello from one" in c.run("cat /var/log/supervisor/one-stdout---supervisor-*.log").stdout,
        timeout=20, what="one's AUTO log file",
    )

    first = status(c)["one"]
    c.write("/etc/supervisord.d/two.ini", program("two", SLEEPER, startsecs=0))
    c.run("systemctl reload supervisord", check=True, timeout=60)
    after = wait_until(
        lambda: (s := status(c)).get("two", ("",))[0] == "RUNNING" and s, timeout=20, what="two RUNNING"
    )
    assert after["one"] == first

    pids = [pid for _, pid in after.values()]
    c.run("systemctl stop supervisord", check=True, timeout=60)
    assert not [pid for pid in pids if alive(c, pid)]
