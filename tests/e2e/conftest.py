"""Fixtures of the end-to-end tests: the packages, the cached Debian tree, containers.

The packages and the tree are built once per content: every xdist worker
takes the same file lock, the first builds, the others find the result.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from . import nspawn

REPO = Path(__file__).resolve().parents[2]
# What the packages are built from (packaging/*/build.sh copy the same).
PACKAGE_INPUTS = ("pyproject.toml", "README.md", "src", "units", "packaging")
UPGRADE_SUFFIX = "+e2e2"


@dataclass(frozen=True)
class Packages:
    version: str
    deb: Path
    deb_upgrade: Path
    rpm: Path

    @property
    def dir(self) -> Path:
        return self.deb.parent


def _skip_reason() -> str | None:
    reason = nspawn.unavailable()
    if reason is None:
        for tool in ("dpkg-buildpackage", "rpmbuild"):
            if shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
                reason = f"not installed: {tool}"
    return reason


def _inputs_hash() -> str:
    digest = hashlib.sha256()
    for top in PACKAGE_INPUTS:
        path = REPO / top
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            rel = file.relative_to(REPO)
            if "__pycache__" in rel.parts or file.suffix == ".pyc" or any(
                part.endswith(".egg-info") for part in rel.parts
            ):
                continue
            digest.update(str(rel).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _build(script: str, out: Path, version: str) -> Path:
    done = subprocess.run(
        ["bash", str(REPO / script), str(out)],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "VERSION": version, "HOME": "/root", "LANG": "C.UTF-8"},
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def e2e_available() -> None:
    reason = _skip_reason()
    if reason is not None:
        pytest.skip(f"end-to-end tests need systemd-nspawn as root: {reason}")


@pytest.fixture(scope="session")
def packages(e2e_available: None) -> Packages:
    """The .deb (and a newer one for the upgrade) and the .rpm of this tree."""
    text = (REPO / "pyproject.toml").read_text()
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    assert match
    version = match.group(1)
    key = _inputs_hash()
    out = nspawn.CACHE / "packages" / key
    with nspawn.locked(nspawn.CACHE / "packages.lock"):
        done = out / "complete"
        if not done.exists():
            # Packages of older trees: nobody waits for them any more.
            for old in (nspawn.CACHE / "packages").glob("*"):
                if old.is_dir() and time.time() - old.stat().st_mtime > 3600:
                    shutil.rmtree(old, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            _build("packaging/deb/build.sh", out, version)
            _build("packaging/deb/build.sh", out, version + UPGRADE_SUFFIX)
            _build("packaging/rpm/build.sh", out, version)
            done.write_text(key + "\n")
    return Packages(
        version=version,
        deb=out / f"supervisor-ng_{version}_all.deb",
        deb_upgrade=out / f"supervisor-ng_{version}{UPGRADE_SUFFIX}_all.deb",
        rpm=out / f"supervisor-ng-{version}-1.noarch.rpm",
    )


@pytest.fixture(scope="session")
def image(e2e_available: None) -> Path:
    return nspawn.image()


@pytest.fixture
def boot(image: Path, packages: Packages, tmp_path: Path) -> Iterator[Callable[..., nspawn.Container]]:
    """Boot containers (the packages at /pkgs); all of them are shut down at teardown."""
    booted: list[nspawn.Container] = []

    def start(**binds: Path) -> nspawn.Container:
        mounts = {packages.dir: "/pkgs", **{path: f"/mnt/{name}" for name, path in binds.items()}}
        container = nspawn.Container(image, tmp_path / f"console-{len(booted)}.log", mounts)
        booted.append(container)
        container.boot()
        return container

    try:
        yield start
    finally:
        for container in booted:
            container.shutdown()
