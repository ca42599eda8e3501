"""Starting one child: resolve the command, build its environment, fork+exec.

Spawning must be cheap (hundreds of programs start at once), so the common
case uses ``os.posix_spawn``, which glibc implements with a vfork-style clone:
no copy of the daemon's page tables and exec errors come back as an exception.
Only when the child must change user (setgroups/setgid/setuid, which
posix_spawn cannot do) do we fork and run a few lines of Python in the child.

No close-fd-by-fd loop is needed: every fd Python opens is close-on-exec
(PEP 446) and the daemon marks inherited fds close-on-exec at start, so a
child gets exactly fds 0, 1 and 2.
"""

from __future__ import annotations

import errno
import functools
import os
import pwd
import shlex
import signal
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

from ..config.cgroup_limits import CgroupLimits
from ..dataclass_slots import SLOTS
from . import cgroup

# Variables that describe the daemon's own relation to systemd; a child that
# saw them would think they were meant for it.
_NOT_INHERITED = (
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
)

# Signals whose disposition the child gets back to default (Python ignores
# SIGPIPE, and an exec keeps ignored signals ignored).
_DEFAULT_SIGNALS = frozenset(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}


class SpawnError(Exception):
    """The child could not be started; str() is the spawnerr shown to users."""


@functools.lru_cache(maxsize=4096)
def _split(command: str) -> tuple[str, ...]:
    # shlex is slow and a command is split at every spawn: remember it.
    return tuple(shlex.split(command))


def resolve_command(command: str, path: Optional[str]) -> tuple[str, list[str]]:
    """(filename, argv) for a config ``command``, looked up in ``path``.

    Raises SpawnError with the same texts stock Supervisor reports.
    """
    try:
        argv = list(_split(command))
    except ValueError as exc:
        raise SpawnError(f"can't parse command {command!r}: {exc}") from None
    if not argv:
        raise SpawnError("command is empty")
    if "\0" in command:
        # A literal NUL in the config file: stat() and exec would raise ValueError.
        raise SpawnError(f"couldn't exec {argv[0]!r}: the command contains a NUL byte")
    program = argv[0]
    st = None
    if "/" in program:
        filename = program
        try:
            st = os.stat(filename)
        except OSError:
            st = None
    else:
        filename = program
        for directory in (path if path is not None else os.defpath).split(os.pathsep):
            candidate = os.path.join(directory, program)
            try:
                st = os.stat(candidate)
            except OSError:
                continue
            filename = candidate
            break
    if st is None:
        raise SpawnError(f"can't find command {filename!r}")
    if stat.S_ISDIR(st.st_mode):
        raise SpawnError(f"command at {filename!r} is a directory")
    if not stat.S_IMODE(st.st_mode) & 0o111:
        raise SpawnError(f"command at {filename!r} is not executable")
    if not os.access(filename, os.X_OK):
        raise SpawnError(f"no permission to run command {filename!r}")
    return filename, argv


def child_environment(
    base: Mapping[str, str],
    *,
    process_name: str,
    group_name: str,
    serverurl: Optional[str],
    daemon_env: Sequence[tuple[str, str]],
    program_env: Sequence[tuple[str, str]],
) -> dict[str, str]:
    """The stock merge order: daemon's env, SUPERVISOR_*, [supervisord]
    environment, then the program's own environment (which wins)."""
    env = {k: v for k, v in base.items() if k not in _NOT_INHERITED}
    env["SUPERVISOR_ENABLED"] = "1"
    if serverurl:
        env["SUPERVISOR_SERVER_URL"] = serverurl
    env["SUPERVISOR_PROCESS_NAME"] = process_name
    env["SUPERVISOR_GROUP_NAME"] = group_name
    env.update(daemon_env)
    env.update(program_env)
    return env


@dataclass(**SLOTS)
class ChildPipes:
    """The daemon's ends of a child's stdio (None where there is no pipe)."""

    stdin: Optional[int]
    stdout: Optional[int]
    stderr: Optional[int]

    def close(self) -> None:
        for fd in (self.stdin, self.stdout, self.stderr):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.stdin = self.stdout = self.stderr = None


@dataclass(frozen=True)
class SpawnRequest:
    filename: str
    argv: list[str]
    env: dict[str, str]
    redirect_stderr: bool = False
    directory: Optional[str] = None
    umask: Optional[int] = None
    uid: Optional[int] = None
    gid: Optional[int] = None
    user: Optional[str] = None  # for supplementary groups
    stdin_socket: Optional[int] = None  # fcgi-program: the listening socket becomes fd 0
    # fds the child writes its stdout/stderr to directly (a journald stream),
    # instead of a pipe to the daemon; the caller keeps and closes them.
    stdout_fd: Optional[int] = None
    stderr_fd: Optional[int] = None
    # The limits of the program's cgroup (issue 17), applied in cgroup mode.
    cgroup_limits: Optional[CgroupLimits] = None


def spawn(req: SpawnRequest) -> tuple[int, ChildPipes]:
    """Start the child in its own process group; return (pid, pipes).

    Raises SpawnError (the pipes are closed then).
    """
    created: list[int] = []
    try:
        if req.stdin_socket is None:
            in_r, in_w = _pipe(created)
        else:
            in_r, in_w = req.stdin_socket, None
        if req.stdout_fd is None:
            out_r, out_w = _pipe(created)
        else:
            out_r, out_w = None, req.stdout_fd
        if req.redirect_stderr:
            err_r, err_w = None, out_w
        elif req.stderr_fd is None:
            err_r, err_w = _pipe(created)
        else:
            err_r, err_w = None, req.stderr_fd
    except OSError as exc:
        _close_all(created)
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            raise SpawnError(f"too many open files to spawn {_name(req)!r}") from None
        raise SpawnError(f"unknown error making dispatchers for {_name(req)!r}: {exc}") from None

    tree = cgroup.active()
    cg = None
    try:
        if tree is not None:
            cg = _program_cgroup(tree, req)
        if _needs_fork(req):
            # The forked child could only report this on its stderr: check first.
            _check_request(req)
            pid = _fork_exec(req, in_r, out_w, err_w, cg)
        elif cg is not None:
            # posix_spawn cannot place its child in a cgroup (Python 3.11,
            # glibc < 2.41): the daemon steps into the program's cgroup for
            # the call, so the child is born there, before any code of its
            # own runs, for two small writes (about 0.4 ms, measured against
            # forking, which costs in proportion to the daemon's size).
            assert tree is not None
            try:
                tree.enter(cg)
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE):
                    raise SpawnError(f"too many open files to spawn {_name(req)!r}") from None
                raise SpawnError(f"couldn't place {_name(req)!r} in {cg.path}: {_errname(exc)}") from None
            try:
                pid = _posix_spawn(req, in_r, out_w, err_w)
            finally:
                tree.leave()
        else:
            pid = _posix_spawn(req, in_r, out_w, err_w)
    except SpawnError:
        _close_all(created)
        raise
    if tree is not None and cg is not None:
        tree.placed(pid, cg)
    # The child has its copies; ours of the child's ends go.
    for fd in (in_r, out_w, err_w):
        if fd is not None and fd != req.stdin_socket and fd in created:
            os.close(fd)
            created.remove(fd)
    for fd in (in_w, out_r, err_r):
        if fd is not None:
            os.set_blocking(fd, False)
    return pid, ChildPipes(stdin=in_w, stdout=out_r, stderr=err_r)


def _name(req: SpawnRequest) -> str:
    return req.env.get("SUPERVISOR_PROCESS_NAME", req.argv[0])


def _pipe(created: list[int]) -> tuple[int, int]:
    r, w = os.pipe2(os.O_CLOEXEC)
    created.extend((r, w))
    return r, w


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _needs_fork(req: SpawnRequest) -> bool:
    return req.uid is not None and (req.uid != os.geteuid() or req.gid != os.getegid())


def _posix_spawn(req: SpawnRequest, stdin: int, stdout: int, stderr: int) -> int:
    actions = [
        (os.POSIX_SPAWN_DUP2, stdin, 0),
        (os.POSIX_SPAWN_DUP2, stdout, 1),
        (os.POSIX_SPAWN_DUP2, stderr, 2),
    ]
    # posix_spawn has no chdir or umask of its own; the daemon borrows its
    # own for the duration of the call.  Only the loop's thread spawns, and
    # the config reader's thread resolves paths against the directory the
    # loop saw (config_reading.py).
    old_cwd = None
    if req.directory:
        old_cwd = os.open(".", os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.chdir(req.directory)
        except OSError as exc:
            os.close(old_cwd)
            raise SpawnError(f"couldn't chdir to {req.directory}: {_errname(exc)}") from None
        except ValueError as exc:
            os.close(old_cwd)
            raise SpawnError(f"couldn't chdir to {req.directory!r}: {exc}") from None
    old_umask = os.umask(req.umask) if req.umask is not None else None
    try:
        return os.posix_spawn(
            req.filename,
            req.argv,
            req.env,
            file_actions=actions,
            setpgroup=0,
            setsigmask=(),
            setsigdef=_DEFAULT_SIGNALS,
        )
    except OSError as exc:
        if exc.errno == errno.EAGAIN:
            raise SpawnError(f"Too many processes in process table to spawn {_name(req)!r}") from None
        raise SpawnError(f"couldn't exec {req.argv[0]}: {_errname(exc)}") from None
    except ValueError as exc:
        # Checked only once posix_spawn refused: the common case pays nothing.
        _check_request(req)
        raise SpawnError(f"couldn't exec {req.argv[0]!r}: {exc}") from None
    finally:
        if old_umask is not None:
            os.umask(old_umask)
        if old_cwd is not None:
            os.fchdir(old_cwd)
            os.close(old_cwd)


def _program_cgroup(tree: cgroup.CgroupTree, req: SpawnRequest) -> cgroup.ProgramCgroup:
    group = req.env.get("SUPERVISOR_GROUP_NAME", "")
    name = req.env.get("SUPERVISOR_PROCESS_NAME", req.argv[0])
    try:
        cg = tree.cgroup_for_spawn(group, name)
    except OSError as exc:
        raise SpawnError(f"couldn't make a cgroup for {name!r}: {_errname(exc)}") from None
    if req.cgroup_limits is not None:
        try:
            cgroup.apply_limits(cg, req.cgroup_limits)
        except OSError as exc:
            raise SpawnError(f"couldn't set the limits of {cg.path}: {_errname(exc)}") from None
    return cg


def _fork_exec(
    req: SpawnRequest, stdin: int, stdout: int, stderr: int, cg: Optional[cgroup.ProgramCgroup] = None
) -> int:
    # Groups list their members by name: user=<uid> needs the passwd name to
    # get the user's supplementary groups (looked up here, not in the child).
    group_user = _passwd_name(req.uid) if req.user is not None else None
    try:
        pid = os.fork()
    except OSError as exc:
        if exc.errno == errno.EAGAIN:
            raise SpawnError(f"Too many processes in process table to spawn {_name(req)!r}") from None
        raise SpawnError(f"unknown error during fork for {_name(req)!r}: {exc}") from None
    if pid:
        return pid
    # In the child: anything that fails is reported on its stderr, as stock does.
    step = "set up"
    try:
        if cg is not None:
            step = f"enter cgroup {cg.path}"
            fd = os.open(cg.file("cgroup.procs"), os.O_WRONLY)
            os.write(fd, b"0")
            os.close(fd)
            step = "set up"
        os.setpgid(0, 0)
        os.dup2(stdin, 0)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        for sig in _DEFAULT_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
        step = f"setuid to {req.uid}"
        assert req.uid is not None and req.gid is not None
        if group_user is not None:
            os.initgroups(group_user, req.gid)
        else:
            os.setgroups([])
        os.setgid(req.gid)
        os.setuid(req.uid)
        if req.directory:
            step = f"chdir to {req.directory}"
            os.chdir(req.directory)
        if req.umask is not None:
            os.umask(req.umask)
        step = f"exec {req.argv[0]}"
        os.execve(req.filename, req.argv, req.env)
    except BaseException as exc:  # noqa: B036 - the child must never return into the daemon
        try:
            detail = _errname(exc) if isinstance(exc, OSError) else str(exc)
            os.write(2, f"supervisor: couldn't {step}: {detail}\n".encode())
            os.write(2, b"supervisor: child process was not spawned\n")
        finally:
            os._exit(127)
    os._exit(127)


def _check_request(req: SpawnRequest) -> None:
    """SpawnError naming what of ``req`` the kernel cannot take: NUL bytes
    (a literal one in the config file reaches any value) or an environment
    name that execve would split at its '='."""
    if "\0" in req.filename or any("\0" in arg for arg in req.argv):
        raise SpawnError(f"couldn't exec {req.argv[0]!r}: the command contains a NUL byte")
    if req.directory and "\0" in req.directory:
        raise SpawnError(f"couldn't chdir to {req.directory!r}: the directory contains a NUL byte")
    for key, value in req.env.items():
        if "\0" in key or "\0" in value:
            raise SpawnError(
                f"couldn't exec {req.argv[0]!r}: environment variable {key!r} contains a NUL byte"
            )
        if not key or "=" in key[1:]:
            raise SpawnError(
                f"couldn't exec {req.argv[0]!r}: {key!r} is not a valid environment variable name"
            )


def _passwd_name(uid: Optional[int]) -> Optional[str]:
    try:
        return pwd.getpwuid(uid).pw_name if uid is not None else None
    except KeyError:
        return None


def _errname(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, str(exc))
