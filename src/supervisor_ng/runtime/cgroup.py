"""Every program process in a cgroup v2 of its own.

Where the daemon can manage a cgroup v2 subtree (a systemd service with
``Delegate=yes``, or root on a writable unified hierarchy) it moves itself
into a leaf of that subtree and starts each process in a child cgroup named
after its program, so that membership of a program's tree is the kernel's
answer, not a /proc scan: a ``setsid`` escapee is still a member, SIGKILL is
one write to ``cgroup.kill`` and figures are a few small file reads.
Anywhere else :func:`active` is None and the psutil code paths do the work.

The mode is decided once, by :func:`setup`, at the start of the daemon;
``SUPERVISOR_NG_CGROUP=off`` in its environment forces the psutil mode.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
import signal
import struct
from collections.abc import Callable
from typing import Optional

ENV_SWITCH = "SUPERVISOR_NG_CGROUP"
_WANTED_CONTROLLERS = ("cpu", "memory", "pids", "io")
_DAEMON_LEAF = "supervisord"
_OFF = ("0", "off", "no", "false")

_active: Optional[CgroupTree] = None


def active() -> Optional[CgroupTree]:
    """The daemon's cgroup subtree, or None in psutil mode."""
    return _active


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def read_small(path: str) -> str:
    """A small kernel file (cgroup, /proc) in one read.  os.open/os.read: a
    figure is a few hundred bytes read a thousand times per scrape; a file
    object costs more than the read."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 65536).decode("ascii", "replace")
    finally:
        os.close(fd)


_read = read_small


def _flat_keys(path: str) -> dict[str, int]:
    """A cgroup "key value" file (cpu.stat, memory.events) as a dict."""
    out = {}
    for line in _read(path).splitlines():
        key, _, value = line.partition(" ")
        if value.isdigit():
            out[key] = int(value)
    return out


def unified_mount() -> Optional[str]:
    """Where the cgroup v2 hierarchy is mounted (pure or hybrid host)."""
    try:
        mounts = _read("/proc/self/mounts").splitlines()
    except OSError:
        return None
    found = [line.split()[1] for line in mounts if len(line.split()) > 2 and line.split()[2] == "cgroup2"]
    if "/sys/fs/cgroup" in found:
        return "/sys/fs/cgroup"
    return found[0] if found else None


def own_cgroup(pid: str = "self") -> Optional[str]:
    """The v2 cgroup path of a process ("0::" line), or None."""
    try:
        for line in _read(f"/proc/{pid}/cgroup").splitlines():
            if line.startswith("0::"):
                return line[3:]
    except OSError:
        pass
    return None


def cgroup_name(group: str, name: str) -> str:
    """A directory name ``systemd-cgls`` shows readably: ``program-<group>-<name>``
    (just ``program-<name>`` for a program's own homonymous group), bytes
    outside [A-Za-z0-9_.:-] escaped as systemd does (``\\xNN``)."""
    text = f"program-{name}" if group == name else f"program-{group}-{name}"
    return re.sub(r"[^A-Za-z0-9_.:-]", lambda m: "".join(f"\\x{b:02x}" for b in m.group().encode()), text)


class ProgramCgroup:
    """The cgroup one process of a program (and everything it starts) lives in."""

    __slots__ = ("path", "stem")  # one per program

    def __init__(self, path: str, stem: str = "") -> None:
        self.path = path
        self.stem = stem  # the program's name for it, without the ".N" of a sibling

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in _read(self.file("cgroup.procs")).split()]
        except OSError:
            return []

    def populated(self) -> bool:
        try:
            return _flat_keys(self.file("cgroup.events")).get("populated", 0) == 1
        except OSError:
            return False

    def signal(self, sig: int, skip: frozenset[int] = frozenset()) -> list[int]:
        """Send ``sig`` to every member (but ``skip``); the pids reached.
        Members are read from the kernel at the time of the call, so no pid
        can have been reused by a stranger meanwhile."""
        reached = []
        for pid in self.pids():
            if pid in skip:
                continue
            try:
                os.kill(pid, sig)
                reached.append(pid)
            except ProcessLookupError:
                pass
        return reached

    def kill(self) -> list[int]:
        """SIGKILL every member at once (``cgroup.kill``, Linux 5.14+; the
        members one by one before that); the pids there were."""
        members = self.pids()
        try:
            _write(self.file("cgroup.kill"), "1")
        except OSError:
            self.signal(signal.SIGKILL)
        return members

    def cpu_seconds(self) -> float:
        try:
            return _flat_keys(self.file("cpu.stat")).get("usage_usec", 0) / 1e6
        except OSError:
            return 0.0

    def memory(self) -> Optional[int]:
        """Bytes charged to the cgroup (None: no memory controller)."""
        try:
            return int(_read(self.file("memory.current")))
        except (OSError, ValueError):
            return None

    def memory_peak(self) -> Optional[int]:
        try:
            return int(_read(self.file("memory.peak")))
        except (OSError, ValueError):
            return None

    def tasks(self) -> Optional[int]:
        try:
            return int(_read(self.file("pids.current")))
        except (OSError, ValueError):
            return None

    def io_bytes(self) -> Optional[tuple[int, int]]:
        """(read, written) bytes over every device (None: no io controller)."""
        try:
            text = _read(self.file("io.stat"))
        except OSError:
            return None
        rbytes = wbytes = 0
        for word in text.split():
            key, _, value = word.partition("=")
            if key == "rbytes" and value.isdigit():
                rbytes += int(value)
            elif key == "wbytes" and value.isdigit():
                wbytes += int(value)
        return rbytes, wbytes

    def oom_kills(self) -> int:
        try:
            return _flat_keys(self.file("memory.events")).get("oom_kill", 0)
        except OSError:
            return 0

    def remove(self) -> bool:
        try:
            os.rmdir(self.path)
            return True
        except OSError:
            return False


class _Inotify:
    """One inotify fd for every watched ``cgroup.events``: the kernel marks
    that file modified when ``populated`` flips, so "tree gone" costs no
    polling.  Plain ``poll()`` on the file cannot be used with asyncio: it
    reports readable at all times."""

    IN_MODIFY = 0x2
    IN_NONBLOCK = 0o4000
    IN_CLOEXEC = 0o2000000

    def __init__(self) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._add = libc.inotify_add_watch
        self._add.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
        self._rm = libc.inotify_rm_watch
        self._rm.argtypes = (ctypes.c_int, ctypes.c_int)
        fd = libc.inotify_init1(self.IN_NONBLOCK | self.IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.fd = fd
        self._watches: dict[int, Callable[[], None]] = {}

    def add(self, path: str, callback: Callable[[], None]) -> int:
        wd = self._add(self.fd, os.fsencode(path), self.IN_MODIFY)
        if wd < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")
        self._watches[wd] = callback
        return wd

    def remove(self, wd: int) -> None:
        if self._watches.pop(wd, None) is not None:
            self._rm(self.fd, wd)

    def dispatch(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        fired = []
        offset = 0
        while offset + 16 <= len(data):
            wd, _mask, _cookie, length = struct.unpack_from("iIII", data, offset)
            offset += 16 + length
            if wd not in fired:
                fired.append(wd)
        for wd in fired:
            callback = self._watches.get(wd)
            if callback is not None:
                callback()


class CgroupTree:
    """The daemon's subtree: its own leaf and one child per program process."""

    def __init__(self, base: str, created: bool, home: str) -> None:
        self.base = base
        self._created = created  # ours to remove at exit
        self._home = home  # the cgroup the daemon came from (to go back to)
        self._by_pid: dict[int, ProgramCgroup] = {}
        self._current: dict[str, ProgramCgroup] = {}
        self._pid_of: dict[str, int] = {}
        self._oom_baseline: dict[int, int] = {}
        self._exit_notes: dict[str, tuple[int, str]] = {}  # by stem: (OOM kills, words)
        self._inotify: Optional[_Inotify] = None
        self._loop = None
        self.controllers: frozenset[str] = frozenset()

    # -- placement ---------------------------------------------------------------

    def cgroup_for_spawn(self, group: str, name: str) -> ProgramCgroup:
        """The cgroup the next process of a program starts in: the program's
        own, or a numbered sibling while leftovers of its last run still
        occupy it (their grace must not end with the new process's life)."""
        stem = cgroup_name(group, name)
        for n in range(1, 1000):
            path = os.path.join(self.base, stem if n == 1 else f"{stem}.{n}")
            cg = ProgramCgroup(path, stem)
            try:
                os.mkdir(path)
            except FileExistsError:
                if cg.populated():
                    continue
                # A fresh cgroup for a fresh run: memory.peak and the event
                # counters of the last run must not be this one's.
                if cg.remove():
                    try:
                        os.mkdir(path)
                    except FileExistsError:
                        pass
            self._current[stem] = cg
            return cg
        raise OSError(errno.EBUSY, f"every cgroup of {stem} is occupied")

    def adopt(self, pid: int, group: str, name: str) -> Optional[ProgramCgroup]:
        """A process a former image of this daemon started (a hand-over by
        exec): its cgroup, found where it runs, is known from now on as if
        we had placed it (stop by cgroup, figures, OOM kills from now)."""
        stem = cgroup_name(group, name)
        where = own_cgroup(str(pid))
        leaf = os.path.basename(where) if where else ""
        if leaf != stem and not leaf.startswith(stem + "."):
            return None
        cg = ProgramCgroup(os.path.join(self.base, leaf), stem)
        if not os.path.isdir(cg.path):
            return None
        self._current[stem] = cg
        self.placed(pid, cg)
        return cg

    def placed(self, pid: int, cg: ProgramCgroup) -> None:
        old = self._pid_of.get(cg.stem)
        if old is not None:
            self._by_pid.pop(old, None)
        self._pid_of[cg.stem] = pid
        self._by_pid[pid] = cg
        if "memory" in self.controllers:
            self._oom_baseline[pid] = cg.oom_kills()

    def oom_kills_since_spawn(self, pid: int) -> int:
        """How many processes of ``pid``'s cgroup the OOM killer took since
        ``pid`` was started there (memory.events ``oom_kill``)."""
        cg = self._by_pid.get(pid)
        if cg is None or pid not in self._oom_baseline:
            return 0
        return cg.oom_kills() - self._oom_baseline.pop(pid)

    def exit_note(self, pid: int, status: Optional[int] = None) -> str:
        """The OOM words of ``pid``'s exit ("" if none), remembered for
        :meth:`last_exit` (the stats of the program show them until its next exit)."""
        cg = self._by_pid.get(pid)
        n = self.oom_kills_since_spawn(pid)
        words = oom_description(n, status)
        if cg is not None:
            self._exit_notes[cg.stem] = (max(n, 0), words)
        return words

    def last_exit(self, group: str, name: str) -> tuple[int, str]:
        """(OOM kills, words) of the program's last exit; (0, "") before one."""
        return self._exit_notes.get(cgroup_name(group, name), (0, ""))

    def is_current(self, cg: ProgramCgroup) -> bool:
        """Is ``cg`` where the program's latest process was started?"""
        current = self._current.get(cg.stem)
        return current is not None and current.path == cg.path

    def of_pid(self, pid: int) -> Optional[ProgramCgroup]:
        return self._by_pid.get(pid)

    def forget(self, pid: int) -> None:
        self._by_pid.pop(pid, None)

    def enter(self, cg: ProgramCgroup) -> None:
        """Move the daemon into ``cg`` for one posix_spawn (the child is born
        there; see spawn.py); :meth:`leave` brings it back."""
        _write(cg.file("cgroup.procs"), "0")

    def leave(self) -> None:
        _write(os.path.join(self.base, _DAEMON_LEAF, "cgroup.procs"), "0")

    # -- "the tree is gone" --------------------------------------------------------

    def bind(self, loop) -> None:  # noqa: ANN001 - an asyncio loop
        self._loop = loop

    def when_empty(self, cg: ProgramCgroup, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (once, on the loop) when ``cg`` holds no process
        any more; returns a function that cancels the watch."""
        if self._inotify is None:
            self._inotify = _Inotify()
            if self._loop is None:
                import asyncio

                self._loop = asyncio.get_event_loop()
            self._loop.add_reader(self._inotify.fd, self._inotify.dispatch)
        notify = self._inotify
        wd = -1

        def cancel() -> None:
            notify.remove(wd)

        def check() -> None:
            if not cg.populated():
                cancel()
                callback()

        wd = notify.add(cg.file("cgroup.events"), check)
        if not cg.populated():  # emptied before the watch existed
            self._loop.call_soon(check)
        return cancel

    # -- end ---------------------------------------------------------------------

    def close(self) -> None:
        """Remove the empty program cgroups; a subtree we created goes too,
        once the daemon has gone back where it came from."""
        if self._inotify is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._inotify.fd)
            os.close(self._inotify.fd)
            self._inotify = None
        try:
            entries = os.listdir(self.base)
        except OSError:
            return
        for entry in entries:
            path = os.path.join(self.base, entry)
            if entry != _DAEMON_LEAF and os.path.isdir(path):
                ProgramCgroup(path).remove()
        if self._created:
            try:
                _write(os.path.join(self._home, "cgroup.procs"), "0")
                os.rmdir(os.path.join(self.base, _DAEMON_LEAF))
                os.rmdir(self.base)
            except OSError:
                pass


def available_controllers() -> Optional[frozenset[str]]:
    """The controllers program cgroups have (or, before :func:`setup`, will
    have); None where the daemon runs (or will run) in psutil mode."""
    if _active is not None:
        return _active.controllers
    mount, own = unified_mount(), own_cgroup()
    if os.environ.get(ENV_SWITCH, "").lower() in _OFF or mount is None or own is None:
        return None
    home = os.path.normpath(mount + own)
    under_systemd = bool(os.environ.get("INVOCATION_ID")) and own.endswith(".service")
    if (under_systemd and not _delegated(home)) or (not under_systemd and os.geteuid() != 0):
        return None
    try:
        return frozenset(_read(os.path.join(home, "cgroup.controllers")).split()) & set(_WANTED_CONTROLLERS)
    except OSError:
        return None


OOM_KILLED = "killed by the OOM killer"


def oom_description(n: int, status: Optional[int] = None) -> str:
    """How an exit with ``n`` OOM kills in the program's cgroup is described
    ("" for none).  Only a main process that died of SIGKILL was the OOM
    killer's own victim; otherwise it took others in the cgroup."""
    if n <= 0:
        return ""
    if status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        return f"{OOM_KILLED} (memory_max; {n} OOM kill(s) in its cgroup)"
    return f"the OOM killer killed {n} process(es) in its cgroup (memory_max)"


def oom_note(pid: int, status: Optional[int] = None) -> str:
    """"": no OOM kill in ``pid``'s cgroup since it started; else the words
    the daemon logs at its exit (``status``: its wait status, when known)."""
    tree = _active
    return tree.exit_note(pid, status) if tree is not None else ""


def exit_event_extras(group: str, name: str) -> tuple[tuple[str, object], ...]:
    """An ``oom_kills:N`` token for the PROCESS_STATE_EXITED body of an exit
    with OOM kills, none otherwise: the body of an ordinary exit stays
    byte for byte stock's, and a ``key:value`` token more is what
    ``childutils.get_headers`` (split on spaces, then colons) already takes."""
    tree = _active
    n = tree.last_exit(group, name)[0] if tree is not None else 0
    return (("oom_kills", n),) if n > 0 else ()


def apply_limits(cg: ProgramCgroup, limits: object) -> None:
    """Write a program's limits (a :class:`~..config.cgroup_limits.CgroupLimits`)
    into its cgroup before a process enters it.  Raises OSError."""
    from ..config.cgroup_limits import FILES

    for option, value in limits.items():  # type: ignore[attr-defined]
        _write(cg.file(FILES[option][0]), value)


def _delegated(path: str) -> bool:
    # systemd marks what it delegates (v251+); older ones leave the
    # service's cgroup owned by the service's user at least.
    for attr in ("trusted.delegate", "user.delegate"):
        try:
            if os.getxattr(path, attr) == b"1":
                return True
        except OSError:
            pass
    return False


def _remove_stale(parent: str) -> None:
    """Subtrees of daemons that died without cleaning up (SIGKILL)."""
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    for entry in entries:
        m = re.fullmatch(r"supervisor-ng-(\d+)", entry)
        if m is None or os.path.exists(f"/proc/{m.group(1)}"):
            continue
        stale = os.path.join(parent, entry)
        for sub in os.listdir(stale) if os.path.isdir(stale) else ():
            ProgramCgroup(os.path.join(stale, sub)).remove()
        ProgramCgroup(stale).remove()


def _choose_base(mount: str, own: str) -> tuple[Optional[str], bool, str]:
    """(base, created, why-not) of the subtree the daemon may manage."""
    parent = os.path.dirname(own)
    if os.path.basename(own) == _DAEMON_LEAF and (
        parent.endswith(".service") or os.path.basename(parent) == f"supervisor-ng-{os.getpid()}"
    ):
        # Handed over by exec (same pid): already in the leaf this daemon made
        # before it; nesting a new subtree in it would strand the programs'.
        return os.path.normpath(mount + parent), not parent.endswith(".service"), ""
    home = os.path.normpath(mount + own)
    if os.environ.get("INVOCATION_ID") and own.endswith(".service"):
        if not _delegated(home):
            return None, False, f"the service's cgroup {own} is not delegated (Delegate=yes)"
        return home, False, ""
    if os.geteuid() != 0:
        return None, False, "not root and not a delegated systemd service"
    _remove_stale(home)
    base = os.path.join(home, f"supervisor-ng-{os.getpid()}")
    try:
        os.makedirs(base, exist_ok=True)  # left over by our own previous generation
    except OSError as exc:
        return None, False, f"cannot create a cgroup under {home}: {exc.strerror}"
    return base, True, ""


def setup(log: Callable[[str], None]) -> Optional[CgroupTree]:
    """Decide the mode once, log it once; in cgroup mode move the daemon into
    its own leaf and turn on the controllers its children can have."""
    global _active
    if _active is not None:
        return _active
    why = ""
    tree = None
    mount = unified_mount()
    own = own_cgroup()
    if os.environ.get(ENV_SWITCH, "").lower() in _OFF:
        why = f"{ENV_SWITCH}=off"
    elif mount is None or own is None:
        why = "no cgroup v2 hierarchy"
    else:
        base, created, why = _choose_base(mount, own)
        if base is not None:
            tree = _take(base, created, os.path.dirname(base) if created else base)
            if isinstance(tree, str):
                why, tree = tree, None
    if tree is None:
        log(f"process trees are tracked through /proc (psutil mode): {why}")
        return None
    log(
        f"each program runs in a cgroup of its own under {tree.base} (cgroup mode; controllers: "
        f"{' '.join(sorted(tree.controllers)) or 'none'})"
    )
    _active = tree
    return tree


def _take(base: str, created: bool, home: str):  # noqa: ANN202 - CgroupTree or the reason
    leaf = os.path.join(base, _DAEMON_LEAF)
    try:
        os.makedirs(leaf, exist_ok=True)
        _write(os.path.join(leaf, "cgroup.procs"), "0")
    except OSError as exc:
        if created:
            try:
                os.rmdir(leaf)
                os.rmdir(base)
            except OSError:
                pass
        return f"cannot move the daemon into {leaf}: {exc.strerror}"
    tree = CgroupTree(base, created, home)
    if created:
        # Our subtree gets a controller only if the cgroup above enables it
        # for its children (the root cgroup may; a busy non-root one cannot).
        for controller in _WANTED_CONTROLLERS:
            try:
                _write(os.path.join(home, "cgroup.subtree_control"), f"+{controller}")
            except OSError:
                pass
    try:
        available = set(_read(os.path.join(base, "cgroup.controllers")).split())
    except OSError:
        available = set()
    enabled = set()
    for controller in _WANTED_CONTROLLERS:
        if controller in available:
            try:
                _write(os.path.join(base, "cgroup.subtree_control"), f"+{controller}")
                enabled.add(controller)
            except OSError:
                pass
    tree.controllers = frozenset(enabled)
    return tree


def close() -> None:
    """End of a generation of the daemon: empty program cgroups go (and the
    subtree if the daemon made it); a restart sets the mode up afresh."""
    global _active
    tree, _active = _active, None
    if tree is not None:
        tree.close()
