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

import psutil

_Key = tuple[int, float]  # (pid, create time): a pid alone may be reused


def tree_members(
    pid: int, group: str, name: str, managed: Iterable[int] = ()
) -> dict[int, psutil.Process]:
    """Every live process that belongs to the program whose main pid is ``pid``
    (``pid`` itself excluded)."""
    members: dict[int, psutil.Process] = {}
    roots: list[psutil.Process] = []
    try:
        roots.append(psutil.Process(pid))
    except psutil.Error:
        pass
    skip = set(managed) | {pid}
    try:
        for child in psutil.Process(os.getpid()).children():
            if child.pid in skip:
                continue
            try:
                env = child.environ()
            except psutil.Error:
                continue
            if (
                env.get("SUPERVISOR_GROUP_NAME") == group
                and env.get("SUPERVISOR_PROCESS_NAME") == name
            ):
                members[child.pid] = child
                roots.append(child)
    except psutil.Error:
        pass
    for root in roots:
        try:
            for proc in root.children(recursive=True):
                members[proc.pid] = proc
        except psutil.Error:
            continue
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
