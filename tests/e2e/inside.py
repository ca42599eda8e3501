"""Looking at supervisor-ng inside a container: programs, status, processes."""

from __future__ import annotations

import re

from .nspawn import Container

STATUS_LINE = re.compile(r"^(\S+)\s+([A-Z]+)\s+(?:pid (\d+),)?")


def program(name: str, script: str, **options: object) -> str:
    lines = [f"[program:{name}]", f"command=/bin/sh -c '{script}'"]
    lines += [f"{key}={value}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


SLEEPER = "exec sleep 100000"
CHATTY = "while :; do echo to-stdout; echo to-stderr >&2; sleep 0.2; done"


def install(c: Container, deb: str) -> None:
    c.run(
        f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q /pkgs/{deb}",
        check=True, timeout=180,
    )


def status(c: Container) -> dict[str, tuple[str, int]]:
    """`supervisorctl status` as root through the packaged config and socket."""
    done = c.run("supervisorctl status")
    assert done.returncode in (0, 3), done.output
    result = {}
    for line in done.stdout.splitlines():
        match = STATUS_LINE.match(line)
        assert match, line
        result[match.group(1)] = (match.group(2), int(match.group(3) or 0))
    return result


def main_pid(c: Container) -> int:
    return int(c.run("systemctl show -p MainPID --value supervisord", check=True).stdout)


def alive(c: Container, pid: int) -> bool:
    # A zombie is not alive: its process has exited.
    state = c.run(f"ps -o stat= -p {pid}").stdout.strip()
    return bool(state) and not state.startswith("Z")


def is_active(c: Container, unit: str) -> str:
    return c.run(f"systemctl is-active {unit}").stdout.strip()


def running_programs(c: Container) -> str:
    """Managed programs alive anywhere in the container (the sleepers and chatty loops)."""
    return c.run("ps -eo pid,args | grep -e 'sleep 100000' -e 'to-stdout' | grep -v grep").stdout
