"""What launching, reading and stopping N programs cost at the least: the syscalls no daemon avoids.

    .venv/bin/python bench/spawn_floor.py            # 1000 and 5000 children
    .venv/bin/python bench/spawn_floor.py --sizes 500

Issue 19 asks for 5,000 programs RUNNING within 4 s of launch.  This times a
plain loop doing for each child only what any supervisor must: three pipes,
one ``posix_spawn`` of ``sleep`` in a process group of its own (as
``runtime/spawn.py`` does), and, where the unified cgroup hierarchy is
writable, the two ``cgroup.procs`` writes that place the child in a cgroup
of its own before it runs (``runtime/cgroup.py``: the spawner steps into the
child's cgroup for the call and back), plus the ``mkdir`` of that cgroup.
No event loop, no state machine, no log line: the launch of a daemon cannot
be faster than this on the same machine.

Two more floors, in the cgroup run: one pass of the files ``/metrics`` reads
for each program on a host whose cgroups have no memory or pids controller
(``cgroup.procs``, ``cpu.stat`` and the process's ``/proc/PID/statm``,
runtime/cgroup_figures.py), and the stop: SIGTERM to every child, then
``waitpid`` for each and the ``rmdir`` of its cgroup.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import sys
import time
from typing import Optional

UNIFIED = "/sys/fs/cgroup/unified"


def _cgroup_root() -> Optional[str]:
    """A writable cgroup2 directory of our own, or None."""
    for base in (UNIFIED, "/sys/fs/cgroup"):
        if os.path.exists(os.path.join(base, "cgroup.procs")) and os.access(base, os.W_OK):
            root = os.path.join(base, f"spawn-floor-{os.getpid()}")
            try:
                os.mkdir(root)
                os.mkdir(os.path.join(root, "self"))
            except OSError:
                continue
            return root
    return None


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def launch(count: int, cgroups: Optional[str]) -> tuple[float, list[int], list[int]]:
    sleep = shutil.which("sleep") or "/bin/sleep"
    pids: list[int] = []
    fds: list[int] = []
    began = time.perf_counter()
    for n in range(count):
        ends = [os.pipe() for _ in range(3)]
        actions = [(os.POSIX_SPAWN_DUP2, ends[0][0], 0), (os.POSIX_SPAWN_DUP2, ends[1][1], 1),
                   (os.POSIX_SPAWN_DUP2, ends[2][1], 2)]
        if cgroups is not None:
            path = os.path.join(cgroups, f"p{n}")
            os.mkdir(path)
            _write(os.path.join(path, "cgroup.procs"), "0")
        try:
            pids.append(os.posix_spawn(sleep, [sleep, "1000"], os.environ, file_actions=actions,
                                       setpgroup=0, setsigmask=()))
        finally:
            if cgroups is not None:
                _write(os.path.join(cgroups, "self", "cgroup.procs"), "0")
        # The daemon keeps one end of each pipe, as here.
        os.close(ends[0][0])
        os.close(ends[1][1])
        os.close(ends[2][1])
        fds.extend((ends[0][1], ends[1][0], ends[2][0]))
    return time.perf_counter() - began, pids, fds


def read_figures(pids: list[int], cgroups: str) -> float:
    began = time.perf_counter()
    for n, pid in enumerate(pids):
        path = os.path.join(cgroups, f"p{n}")
        for name in (os.path.join(path, "cgroup.procs"), os.path.join(path, "cpu.stat"), f"/proc/{pid}/statm"):
            fd = os.open(name, os.O_RDONLY)
            try:
                os.read(fd, 4096)
            finally:
                os.close(fd)
    return time.perf_counter() - began


def clean(pids: list[int], fds: list[int], cgroups: Optional[str], count: int) -> float:
    """Stop every child (SIGTERM, reap, rmdir): the seconds it took."""
    began = time.perf_counter()
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    for pid in pids:
        os.waitpid(pid, 0)
    if cgroups is not None:
        for n in range(count):
            os.rmdir(os.path.join(cgroups, f"p{n}"))
    took = time.perf_counter() - began
    for fd in fds:
        os.close(fd)
    return took


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    need = max(sizes) * 3 + 100
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < need:
        print(f"skipped: {need} fds needed, the hard limit is {hard}")
        return 0
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    root = _cgroup_root()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs, "
          f"cgroups: {root or 'none writable (psutil mode only)'}")
    print("| children | spawn only | per child | + cgroup (mkdir, 2 moves) | per child "
          "| /metrics files, one pass | stop (TERM, reap, rmdir) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    try:
        if root is not None:
            _write(os.path.join(root, "self", "cgroup.procs"), "0")
        for size in sizes:
            plain, pids, fds = launch(size, None)
            clean(pids, fds, None, size)
            cells = [f"{plain:.2f} s", f"{plain / size * 1e3:.2f} ms"]
            if root is not None:
                placed, pids, fds = launch(size, root)
                figures = read_figures(pids, root)
                stop = clean(pids, fds, root, size)
                cells += [f"{placed:.2f} s", f"{placed / size * 1e3:.2f} ms", f"{figures * 1e3:.0f} ms",
                          f"{stop * 1e3:.0f} ms"]
            else:
                cells += ["—"] * 4
            print(f"| {size} | " + " | ".join(cells) + " |", flush=True)
    finally:
        if root is not None:
            parent = os.path.dirname(root)
            _write(os.path.join(parent, "cgroup.procs"), "0")
            os.rmdir(os.path.join(root, "self"))
            os.rmdir(root)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
