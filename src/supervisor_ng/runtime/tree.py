"""Finding and signalling a program's whole process tree.

A process group is not enough: a grandchild that calls setsid() or
double-forks leaves it (stock Supervisor's issue #1101).  Descendants still
attached are found by following children down from the main pid; ones whose
parent died were reparented to the daemon (it is a child subreaper) and are
recognised by the SUPERVISOR_GROUP_NAME / SUPERVISOR_PROCESS_NAME they
inherited.

Children are read from ``/proc/PID/task/TID/children``, which the kernel
keeps: finding a tree costs in proportion to the tree, not to the number of
processes on the host.  Kernels built without CONFIG_PROC_CHILDREN lack those
files; there one pass over all of /proc answers instead.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from typing import Optional

from ..lazy_import import psutil

Owner = tuple[str, str]  # (group, process name) of the program a process belongs to


def _children_files_work() -> bool:
    me = os.getpid()
    return os.path.exists(f"/proc/{me}/task/{me}/children")


_CHILDREN_FILES = _children_files_work()


def _read_children(pid: int) -> list[int]:
    """Direct children of ``pid``: each thread lists the ones it forked."""
    found: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                found.extend(int(child) for child in f.read().split())
        except OSError:
            continue  # the thread (or the whole process) ended meanwhile
    return found


class ProcessTable:
    """Who is whose child, read when first asked and remembered while the
    table lives (one loop turn, see ``Supervisor.process_table``, or one
    reading of figures), so lookups made together read each file once."""

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}
        self._children: dict[int, list[int]] = {}
        self._scanned = not _CHILDREN_FILES
        if self._scanned:
            for proc in psutil.process_iter(["ppid"]):
                ppid = proc.info["ppid"]
                if ppid is None:  # not readable
                    continue
                self._procs[proc.pid] = proc
                self._children.setdefault(ppid, []).append(proc.pid)
        self._environs: dict[int, Optional[Owner]] = {}
        self._adopted: Optional[dict[Owner, list[psutil.Process]]] = None

    def process(self, pid: int) -> Optional[psutil.Process]:
        proc = self._procs.get(pid)
        if proc is None and not self._scanned:
            try:
                proc = self._procs[pid] = psutil.Process(pid)
            except psutil.Error:
                return None
        return proc

    def child_pids(self, pid: int) -> list[int]:
        pids = self._children.get(pid)
        if pids is None:
            pids = [] if self._scanned else _read_children(pid)
            self._children[pid] = pids
        return pids

    def children(self, pid: int) -> list[psutil.Process]:
        return [proc for proc in map(self.process, self.child_pids(pid)) if proc is not None]

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

    def adopted(self, managed: Iterable[int]) -> dict[Owner, list[psutil.Process]]:
        """The daemon's children that are not managed main processes, by the
        program whose names they carry in their environment: descendants a
        program left behind, reparented to the daemon.  ``managed`` (the
        daemon's main pids) of the first call holds for the table's life:
        lookups made together skip the same ones."""
        if self._adopted is not None:
            return self._adopted
        skip = set(managed)
        out: dict[Owner, list[psutil.Process]] = {}
        self._adopted = out
        for pid in self.child_pids(os.getpid()):
            if pid in skip:
                continue  # reading 500 environments to learn nothing is the cost to avoid
            proc = self.process(pid)
            if proc is None:
                continue
            owner = self._owner(proc)
            if owner is not None:
                out.setdefault(owner, []).append(proc)
        return out

    def _owner(self, proc: psutil.Process) -> Optional[Owner]:
        if proc.pid not in self._environs:
            try:
                env = proc.environ()
            except psutil.Error:
                env = {}
            group, name = env.get("SUPERVISOR_GROUP_NAME"), env.get("SUPERVISOR_PROCESS_NAME")
            self._environs[proc.pid] = (group, name) if group is not None and name is not None else None
        return self._environs[proc.pid]

    def members(
        self,
        roots: Iterable[psutil.Process],
        owner: Owner,
        managed: Iterable[int],
        orphans: bool = True,
    ) -> dict[int, psutil.Process]:
        """``roots``, every descendant of them, and (``orphans``) the program's
        adopted orphans with theirs.  Managed main processes are never members."""
        skip = set(managed)
        found: dict[int, psutil.Process] = {}
        tops = [*roots, *(self.adopted(skip).get(owner, ()) if orphans else ())]
        for top in tops:
            for proc in (top, *self.descendants(top)):
                if proc.pid not in skip:
                    found[proc.pid] = proc
        return found


def tree_members(
    pid: int,
    group: str,
    name: str,
    managed: Iterable[int] = (),
    table: Optional[ProcessTable] = None,
    extra: Iterable[psutil.Process] = (),
    orphans: bool = True,
) -> dict[int, psutil.Process]:
    """Every live process that belongs to the program whose main pid is ``pid``
    (``pid`` itself excluded), looked up in ``table`` (a fresh one if None);
    ``extra`` are members known from earlier, whose descendants count too.
    ``orphans=False`` leaves out the daemon's adopted children (reading
    them costs in proportion to every program of the daemon)."""
    if table is None:
        table = ProcessTable()
    main = table.process(pid)
    roots = [main] if main is not None else []
    roots.extend(proc for proc in extra if is_alive(proc))
    members = table.members(roots, (group, name), {*managed, pid}, orphans)
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
    signal_members(sig, members.values())


def signal_members(sig: int, members: Iterable[psutil.Process]) -> list[int]:
    """Send ``sig`` to each member still alive; return the pids it reached."""
    reached = []
    for proc in members:
        try:
            if proc.is_running():
                proc.send_signal(sig)  # checks create time: never hits a reused pid
                reached.append(proc.pid)
        except psutil.Error:
            pass
    return reached


def kill_survivors(members: dict[int, psutil.Process]) -> list[int]:
    """SIGKILL the members still alive; return their pids."""
    return signal_members(signal.SIGKILL, [proc for proc in members.values() if is_alive(proc)])


def is_alive(proc: psutil.Process) -> bool:
    """Running and not a zombie waiting to be reaped."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def parent_of(pid: int) -> int:
    """The parent pid from /proc/PID/stat (0 when the process is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return 0
    # The command name may hold spaces and parentheses: the fields follow the last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else 0


def descends_from(pid: int, ancestor: int, limit: int = 64) -> bool:
    """Is ``pid`` ``ancestor`` or below it?  At most ``limit`` steps up."""
    for _ in range(limit):
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
        pid = parent_of(pid)
    return False
