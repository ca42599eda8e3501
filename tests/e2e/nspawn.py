"""Debian 12 containers booted by systemd-nspawn, with systemd as PID 1.

The tree is made once by debootstrap and cached outside the repository
(:data:`CACHE`), keyed on a hash of what goes into it, so a changed package
list makes a new tree.  Each container boots it with ``--volatile=overlay``:
everything a test does lands in a tmpfs overlay and vanishes at shutdown,
the cached tree stays clean.

Commands run inside through ``nsenter`` into the namespaces of the
container's PID 1: no registration with machined is needed (the host may
not run systemd at all), and each command gets its own output and exit
status.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

CACHE = Path(os.environ.get("SUPERVISOR_NG_E2E_CACHE", "/var/cache/supervisor-ng-e2e"))
SUITE = "bookworm"
# systemd as init, and the .deb's dependencies preinstalled, so that
# `apt-get install ./x.deb` inside needs no network.
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "procps",
    "python3",
    "python3-click",
    "python3-h11",
    "python3-psutil",
    "python3-systemd",
)
INNER_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
TOOLS = ("systemd-nspawn", "debootstrap", "nsenter")


def unavailable() -> Optional[str]:
    """Why containers cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "systemd-nspawn needs root"
    missing = [tool for tool in TOOLS if shutil.which(tool, path=os.environ.get("PATH", "") + ":" + INNER_PATH) is None]
    if missing:
        return f"not installed: {', '.join(missing)}"
    return None


def _tool(name: str) -> str:
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":" + INNER_PATH)
    if found is None:
        raise RuntimeError(f"{name} is not installed")
    return found


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``: one xdist worker builds, the others wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def debian_mirror() -> str:
    """The host's Debian mirror (apt's own configuration), else deb.debian.org."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        try:
            text = path.read_text()
        except OSError:
            continue
        for match in re.finditer(r"(?:URIs:|^deb)\s+(\S+/debian)/?\s", text, re.MULTILINE):
            return match.group(1)
    return "http://deb.debian.org/debian"


def image_key() -> str:
    spec = json.dumps({"suite": SUITE, "variant": "minbase", "packages": sorted(PACKAGES)})
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def image() -> Path:
    """The cached tree for the current package list, built on first use (about a minute)."""
    root = CACHE / f"{SUITE}-{image_key()}"
    with locked(CACHE / "image.lock"):
        if (root / "etc" / ".supervisor-ng-e2e-complete").exists():
            return root
        for old in CACHE.glob(f"{SUITE}-*"):
            shutil.rmtree(old, ignore_errors=True)
        partial = root.with_name(root.name + ".partial")
        done = subprocess.run(
            [
                _tool("debootstrap"), "--variant=minbase", f"--include={','.join(PACKAGES)}",
                SUITE, str(partial), debian_mirror(),
            ],
            capture_output=True, text=True, timeout=900,
        )
        if done.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise RuntimeError(f"debootstrap failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        # No login prompt on the console: nothing reads it.
        (partial / "etc/systemd/system/console-getty.service").symlink_to("/dev/null")
        (partial / "etc" / ".supervisor-ng-e2e-complete").write_text(image_key() + "\n")
        partial.rename(root)
        return root


def _die_with_parent() -> None:
    # If the test process is killed outright, nspawn gets SIGTERM and powers
    # the container off instead of outliving the run.
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class CommandFailed(AssertionError):
    pass


class Container:
    """One booted container; use as a context manager so it is always torn down."""

    def __init__(self, root: Path, log: Path, binds: Optional[dict[Path, str]] = None):
        self.root = root
        self.log = log
        self.binds = binds or {}
        self.name = f"sng-{uuid.uuid4().hex[:10]}"
        self.nspawn: Optional[subprocess.Popen[bytes]] = None
        self.leader = 0

    def __enter__(self) -> Container:
        try:
            self.boot()
        except BaseException:
            self.shutdown()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def boot(self, timeout: float = 60.0) -> None:
        command = [
            _tool("systemd-nspawn"), "--quiet", "--register=no", "--keep-unit",
            "--volatile=overlay", f"--machine={self.name}", "--console=read-only",
            "-D", str(self.root),
        ]
        command += [f"--bind-ro={host}:{guest}" for host, guest in self.binds.items()]
        command.append("-b")
        with open(self.log, "ab") as log:
            self.nspawn = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while not self.leader:
            if self.nspawn.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited with {self.nspawn.returncode}; see {self.log}")
            self.leader = self._find_leader()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the container did not start; see {self.log}")
            time.sleep(0.05)
        # `--wait` returns once boot is over: running, or degraded if a unit
        # failed.  Until PID 1 listens on its bus, systemctl cannot connect.
        while True:
            state = self.run("systemctl is-system-running --wait", timeout=max(deadline - time.monotonic(), 5))
            if state.stdout.strip() in ("running", "degraded"):
                return
            if time.monotonic() > deadline or state.stdout.strip():
                raise RuntimeError(f"the container did not boot: {state.output}; see {self.log}")
            time.sleep(0.05)

    def _find_leader(self) -> int:
        assert self.nspawn is not None
        try:
            children = Path(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children").read_text().split()
        except OSError:
            return 0
        for child in children:
            try:
                if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                    return int(child)
            except OSError:
                continue
        return 0

    def run(self, script: str, timeout: float = 60.0, check: bool = False, input: Optional[str] = None) -> Result:
        """Run ``script`` with sh inside the container; stdout, stderr and exit status."""
        done = subprocess.run(
            [
                _tool("nsenter"), "-t", str(self.leader), "-a",
                "/usr/bin/env", "-i", f"PATH={INNER_PATH}", "LANG=C.UTF-8", "HOME=/root",
                "/bin/sh", "-c", script,
            ],
            capture_output=True, text=True, timeout=timeout, input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        result = Result(done.returncode, done.stdout, done.stderr)
        if check and done.returncode != 0:
            raise CommandFailed(f"`{script}` exited {done.returncode}:\n{result.output}")
        return result

    def write(self, path: str, text: str) -> None:
        self.run(f"mkdir -p \"$(dirname '{path}')\" && cat > '{path}'", input=text, check=True)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Power off (SIGTERM to nspawn), then kill what is left of this container."""
        proc = self.nspawn
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            # Killing the container's PID 1 kills its whole PID namespace.
            if self.leader:
                try:
                    os.kill(self.leader, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.kill()
            proc.wait(10)
