"""The .deb under a real systemd: install, start, reload, socket activation,
watchdog, stop, remove, purge and upgrade, the way a Debian user does them.

Each test boots its own Debian 12 container (about a second) and installs
the freshly built package with apt-get, from the packages bound at /pkgs.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.waiting import wait_until

from .inside import (
    CHATTY,
    SLEEPER,
    alive,
    install,
    is_active,
    main_pid,
    program,
    running_programs,
    status,
)

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("e2e_available")]

CONF_D = "/etc/supervisor/conf.d"


def test_install_starts_ready_service_with_journal_logs(boot, packages):
    c = boot()
    # Programs already in conf.d when the package arrives; "slow" takes 3 s
    # to count as started.
    c.write(f"{CONF_D}/slow.conf", program("slow", SLEEPER, startsecs=3))
    c.write(f"{CONF_D}/chatty.conf", program("chatty", CHATTY, startsecs=1))
    install(c, packages.deb.name)

    assert is_active(c, "supervisord") == "active"
    assert is_active(c, "supervisord.socket") == "active"
    assert c.run("systemctl is-enabled supervisord supervisord.socket").stdout.split() == ["enabled", "enabled"]
    # Type=notify: the install (systemctl start) returned only once every
    # program was RUNNING.
    assert {name: state for name, (state, _) in status(c).items()} == {"slow": "RUNNING", "chatty": "RUNNING"}

    # Same for a plain restart, and under the stock package's unit name.
    before = status(c)
    c.run("systemctl restart supervisor", check=True, timeout=60)
    after = status(c)
    assert {state for state, _ in after.values()} == {"RUNNING"}
    assert all(after[name][1] != before[name][1] for name in after)
    assert is_active(c, "supervisor.service") == "active"

    # The packaged socket: 0700 root, named in [supervisorctl].
    assert c.run("stat -c '%a %U' /run/supervisor/supervisor.sock").stdout.split() == ["700", "root"]
    assert "RUNNING" in c.run("supervisorctl -c /etc/supervisor/supervisord.conf status slow", check=True).stdout

    # Programs' output in the journal under the unit, identifier = program.
    def chatty_entries() -> list[dict[str, str]]:
        out = c.run("journalctl -u supervisord -t chatty -o json --no-pager", check=True).stdout
        entries = [json.loads(line) for line in out.splitlines() if line.strip()]
        messages = {e.get("MESSAGE") for e in entries}
        return entries if {"to-stdout", "to-stderr"} <= messages else []

    entries = wait_until(chatty_entries, timeout=20, what="chatty's lines in the journal")
    by_message = {e["MESSAGE"]: e for e in entries}
    assert by_message["to-stdout"]["PRIORITY"] == "6"
    assert by_message["to-stderr"]["PRIORITY"] == "3"
    # The program wrote to journald itself (the daemon is not in the byte path).
    chatty_pid = status(c)["chatty"][1]
    assert by_message["to-stdout"]["_TRANSPORT"] == "stdout"
    assert by_message["to-stdout"]["_PID"] == str(chatty_pid)
    errors = c.run("journalctl -u supervisord -t chatty -p err -o cat --no-pager", check=True).stdout
    assert "to-stderr" in errors and "to-stdout" not in errors
    # The daemon's own log goes to the journal too, in stock wording.
    daemon_log = c.run("journalctl -u supervisord -t supervisord -o cat --no-pager", check=True).stdout
    assert "spawned: 'chatty' with pid" in daemon_log
    assert "success: slow entered RUNNING state" in daemon_log
    # ... and tail reads the program's output back from the journal (no AUTO file).
    assert "to-stdout" in c.run("supervisorctl tail chatty", check=True).stdout
    assert "to-stderr" in c.run("supervisorctl tail chatty stderr", check=True).stdout
    assert c.run("ls /var/log/supervisor").stdout.split() == ["supervisord.log"]

    # Debian layout around it.
    files = c.run("dpkg-query -W -f='${Conffiles}' supervisor-ng", check=True).stdout
    assert "/etc/supervisor/supervisord.conf" in files
    c.run(
        "test -d /var/log/supervisor && test -d /etc/supervisor/conf.d"
        " && test -f /usr/share/man/man8/supervisord.8.gz"
        " && test -f /usr/share/man/man1/supervisorctl.1.gz"
        " && test -f /usr/share/man/man1/echo_supervisord_conf.1.gz",
        check=True,
    )
    assert "[program:" in c.run("echo_supervisord_conf", check=True).stdout


def test_reload_starts_new_program_and_keeps_the_others(boot, packages):
    c = boot()
    c.write(f"{CONF_D}/one.conf", program("one", SLEEPER))
    c.write(f"{CONF_D}/two.conf", program("two", SLEEPER))
    install(c, packages.deb.name)
    before = status(c)
    daemon = main_pid(c)
    assert {state for state, _ in before.values()} == {"RUNNING"}

    c.write(f"{CONF_D}/three.conf", program("three", SLEEPER, startsecs=0))
    c.run("systemctl reload supervisord", check=True, timeout=60)

    after = wait_until(
        lambda: (s := status(c)).get("three", ("",))[0] == "RUNNING" and s,
        timeout=20, what="three RUNNING",
    )
    assert after["one"] == before["one"] and after["two"] == before["two"]
    assert main_pid(c) == daemon
    assert is_active(c, "supervisord") == "active"


def test_socket_activation_starts_the_stopped_service(boot, packages):
    c = boot()
    c.write(f"{CONF_D}/one.conf", program("one", SLEEPER))
    install(c, packages.deb.name)
    c.run("systemctl stop supervisord.service", check=True, timeout=60)
    assert is_active(c, "supervisord.service") == "inactive"
    assert is_active(c, "supervisord.socket") == "active"
    assert not running_programs(c)

    # The connection waits in the socket's backlog while systemd starts the
    # daemon, which answers it (its programs may still be STARTING).
    done = c.run("supervisorctl status", timeout=60)
    assert done.returncode in (0, 3), done.output
    assert re.search(r"^one\s+(STARTING|RUNNING)", done.stdout, re.MULTILINE), done.stdout
    wait_until(lambda: is_active(c, "supervisord.service") == "active", timeout=30, what="the service active")
    assert status(c)["one"][0] == "RUNNING"
    journal = c.run("journalctl -u supervisord -t supervisord -o cat --no-pager").stdout
    assert "using the socket passed by systemd" in journal


def test_watchdog_restarts_a_wedged_daemon_and_its_children_go(boot, packages):
    c = boot()
    c.write(f"{CONF_D}/one.conf", program("one", SLEEPER))
    c.write(f"{CONF_D}/two.conf", program("two", CHATTY))
    install(c, packages.deb.name)
    # The packaged unit, with a watchdog short enough for a test (and no
    # core file from the SIGABRT).
    c.write(
        "/etc/systemd/system/supervisord.service.d/e2e.conf",
        "[Service]\nWatchdogSec=3\nRestartSec=1\nLimitCORE=0\n",
    )
    c.run("systemctl daemon-reload && systemctl restart supervisord", check=True, timeout=60)
    old_daemon = main_pid(c)
    old_children = [pid for _, pid in status(c).values()]
    assert len(old_children) == 2 and all(old_children)

    c.run(f"kill -STOP {old_daemon}", check=True)

    def restarted() -> bool:
        pid = main_pid(c)
        return pid not in (0, old_daemon) and is_active(c, "supervisord") == "active"

    wait_until(restarted, timeout=60, what="systemd to restart the daemon")
    journal = c.run("journalctl -u supervisord -o cat --no-pager", check=True).stdout
    assert "Watchdog timeout" in journal
    assert "Failed with result 'watchdog'" in journal
    assert int(c.run("systemctl show -p NRestarts --value supervisord").stdout) >= 1
    assert not alive(c, old_daemon)
    assert not [pid for pid in old_children if alive(c, pid)]
    new = status(c)
    assert {state for state, _ in new.values()} == {"RUNNING"}
    assert not set(old_children) & {pid for _, pid in new.values()}


def test_stop_remove_and_purge_leave_nothing_behind(boot, packages):
    c = boot()
    c.write(f"{CONF_D}/one.conf", program("one", SLEEPER, numprocs=2, process_name="%(program_name)s_%(process_num)d"))
    c.write(f"{CONF_D}/two.conf", program("two", CHATTY))
    install(c, packages.deb.name)
    assert len(status(c)) == 3
    assert running_programs(c)

    c.run("systemctl stop supervisord", check=True, timeout=60)
    assert not running_programs(c)
    assert not c.run("pgrep -x supervisord").stdout

    c.run("systemctl start supervisord", check=True, timeout=60)
    assert running_programs(c)
    c.run("DEBIAN_FRONTEND=noninteractive apt-get remove -y -q supervisor-ng", check=True, timeout=120)
    assert not running_programs(c)
    assert not c.run("pgrep -x supervisord").stdout
    assert is_active(c, "supervisord.socket") == "inactive"
    # remove keeps the configuration, including conf.d.
    c.run(f"test -f /etc/supervisor/supervisord.conf && test -f {CONF_D}/one.conf", check=True)

    c.run("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q supervisor-ng", check=True, timeout=120)
    assert not running_programs(c)
    assert c.run("test -e /etc/supervisor").returncode != 0
    assert c.run("test -e /var/log/supervisor").returncode != 0
    assert c.run("ls /etc/systemd/system/supervisor.service /etc/systemd/system/*/supervisord.*").stdout == ""


def test_upgrade_hands_over_without_restarting_a_program(boot, packages):
    c = boot()
    c.write(f"{CONF_D}/one.conf", program("one", SLEEPER))
    c.write(f"{CONF_D}/chatty.conf", program("chatty", CHATTY, startsecs=1))
    install(c, packages.deb.name)
    # A local edit of the conffile survives too.
    c.run("echo '; edited here' >> /etc/supervisor/supervisord.conf", check=True)
    old_daemon = main_pid(c)
    before = status(c)
    assert {state for state, _ in before.values()} == {"RUNNING"}
    uptime_before = _uptimes(c)

    install(c, packages.deb_upgrade.name)
    version = c.run("dpkg-query -W -f='${Version}' supervisor-ng", check=True).stdout
    assert version == packages.deb_upgrade.name.split("_")[1]
    c.run(f"test -f {CONF_D}/one.conf", check=True)
    assert "; edited here" in c.run("cat /etc/supervisor/supervisord.conf").stdout

    # The same daemon (systemd's MainPID), the same children, their uptimes
    # going on: nothing was restarted.  (RELOADING=1, then READY=1 once the
    # new binary adopted everything.)
    wait_until(lambda: is_active(c, "supervisord") != "reloading", timeout=30, what="READY=1 after the hand-over")
    assert is_active(c, "supervisord") == "active"
    assert is_active(c, "supervisord.socket") == "active"
    journal = c.run("journalctl -u supervisord -o cat --no-pager").stdout
    assert main_pid(c) == old_daemon, journal
    assert status(c) == before
    uptime_after = _uptimes(c)
    assert all(uptime_after[name] >= uptime_before[name] for name in before)
    assert journal.count("spawned: 'one'") == 1, journal
    assert "stopped: one" not in journal and "stopped: chatty" not in journal
    assert "Failed" not in c.run("journalctl -u supervisord.socket -o cat --no-pager").stdout


def _uptimes(c) -> dict[str, int]:
    """Seconds of uptime per program, from `supervisorctl status`."""
    found = {}
    for line in c.run("supervisorctl status", check=True).stdout.splitlines():
        match = re.match(r"^(\S+)\s+RUNNING .*uptime (?:(\d+) days?, )?(\d+):(\d\d):(\d\d)", line)
        if match:
            days, h, m, sec = (int(g or 0) for g in match.groups()[1:])
            found[match.group(1)] = ((days * 24 + h) * 60 + m) * 60 + sec
    return found

