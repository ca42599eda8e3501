"""Finding and signalling a program's whole process tree.

A process group is not enough: a grandchild that calls setsid() or
double-forks leaves it (stock Supervisor's issue #1101).  Descendants still
attached are found through psutil; ones whose parent died were reparented to
the daemon (it is a child subreaper) and are recognised by the
SUPERVISOR_GROUP_NAME / SUPERVISOR_PROCESS_NAME they inherited.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from typing import Optional

import psutil


class ProcessTable:
    """Who is whose child, for every process of the host, read from /proc once.

    Finding descendants means reading every /proc/PID/stat: psutil's
    ``children()`` does that on each call, and a stop of hundreds of
    stopasgroup programs made it once or twice per program (seconds in all).
    One table serves every lookup made while it is fresh (see
    ``Supervisor.process_table``).
    """

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}
        self._children: dict[int, list[int]] = {}
        for proc in psutil.process_iter(["ppid"]):
            ppid = proc.info["ppid"]
            if ppid is None:  # not readable
                continue
            self._procs[proc.pid] = proc
            self._children.setdefault(ppid, []).append(proc.pid)

    def process(self, pid: int) -> Optional[psutil.Process]:
        return self._procs.get(pid)

    def children(self, pid: int) -> list[psutil.Process]:
        return [self._procs[child] for child in self._children.get(pid, ())]

    def descendants(self, root: psutil.Process) -> list[psutil.Process]:
        """Every descendant of ``root``; as psutil does, a process younger
        than its supposed parent is not one (the pid was reused)."""
        found: list[psutil.Process] = []
        seen = {root.pid}
        stack = [root]
        while stack:
            parent = stack.pop()
            try:
                born = parent.create_time()
            except psutil.Error:
                continue
            for child in self.children(parent.pid):
                if child.pid in seen:
                    continue
                seen.add(child.pid)
                try:
                    if born <= child.create_time():
                        found.append(child)
                        stack.append(child)
                except psutil.Error:
                    continue
        return found


def tree_members(
    pid: int,
    group: str,
    name: str,
    managed: Iterable[int] = (),
    table: Optional[ProcessTable] = None,
) -> dict[int, psutil.Process]:
    """Every live process that belongs to the program whose main pid is ``pid``
    (``pid`` itself excluded), looked up in ``table`` (a fresh one if None)."""
    if table is None:
        table = ProcessTable()
    members: dict[int, psutil.Process] = {}
    roots: list[psutil.Process] = []
    main = table.process(pid)
    if main is not None:
        roots.append(main)
    skip = set(managed) | {pid}
    for child in table.children(os.getpid()):
        if child.pid in skip:
            continue
        try:
            env = child.environ()
        except psutil.Error:
            continue
        if env.get("SUPERVISOR_GROUP_NAME") == group and env.get("SUPERVISOR_PROCESS_NAME") == name:
            members[child.pid] = child
            roots.append(child)
    for root in roots:
        for proc in table.descendants(root):
            members[proc.pid] = proc
    members.pop(pid, None)
    return members


def signal_tree(pid: int, sig: int, members: dict[int, psutil.Process]) -> None:
    """Signal the process group of ``pid`` and every member that still lives.

    Raises the OSError of the group kill unless it is ESRCH (the caller decides
    what a failure means); members that vanished meanwhile are ignored.
    """
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    for proc in members.values():
        try:
            proc.send_signal(sig)  # checks create time: never hits a reused pid
        except psutil.Error:
            pass


def kill_survivors(members: dict[int, psutil.Process]) -> list[int]:
    """SIGKILL the members still alive; return their pids."""
    killed = []
    for proc in members.values():
        try:
            if proc.is_running():
                proc.send_signal(signal.SIGKILL)
                killed.append(proc.pid)
        except psutil.Error:
            pass
    return killed


def is_alive(proc: psutil.Process) -> bool:
    """Running and not a zombie waiting to be reaped."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
