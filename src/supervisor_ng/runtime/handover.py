"""Hand-over by exec: the running daemon replaces its own program image.

Everything this module needs is imported at start-up: when a package upgrade
asks for the hand-over, the files on disk are already the new version's.

The envelope (``{"format", "daemon", "generation"}``) goes into a memfd that
survives the exec; every fd the new daemon needs loses FD_CLOEXEC just before
``execv``.  Before anything is disturbed, the new binary is asked to read a
snapshot of the envelope (``--handover-check 0``, the memfd as its stdin): a
binary that cannot adopt the state refuses here and the old daemon goes on.

The state part of the envelope is :mod:`.handover_state`'s; this module only
moves it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..config.model import ConfigError
from ..core.process import describe_wait_status
from ..core.states import SupervisorState
from . import handover_state
from .handover_envelope import HANDOVER_CHECK_OPTION, HANDOVER_FD_OPTION, write_envelope
from .spawn import SpawnError, SpawnRequest

if TYPE_CHECKING:
    from .reaper import Reaper
    from .supervisor import Supervisor

# The supervisord to hand over to, when not the one running (tests use it to
# offer a binary that refuses).
BINARY_ENV = "SUPERVISOR_NG_HANDOVER_BINARY"
_CHECK_OUTPUT_LIMIT = 64 * 1024
# Resolved now, at start-up: a daemonized supervisord has changed directory
# by the time it hands over, and a relative argv[0] would name nothing.
_STARTED_AS = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""


class HandoverRefused(Exception):
    """The hand-over cannot happen; str() says why, for the operator."""


def keep_across_exec(fds: Iterable[int]) -> None:
    for fd in fds:
        os.set_inheritable(fd, True)


def close_on_exec(fds: Iterable[int]) -> None:
    """Undo :func:`keep_across_exec` after a failed exec: children must not inherit them."""
    for fd in fds:
        try:
            os.set_inheritable(fd, False)
        except OSError:
            pass


def daemon_argv(option: str, fd: int, config_path: str, argv: Optional[list[str]] = None) -> list[str]:
    """The command line we were started with, less a previous hand-over's
    option, plus ``option fd`` and the config's absolute path (a daemonized
    daemon has changed its directory since a relative ``-c`` was given)."""
    if argv is None:
        argv = [_STARTED_AS, *sys.argv[1:]]
    program = os.path.abspath(argv[0])
    args: list[str] = []
    rest = iter(argv[1:])
    for arg in rest:
        if arg in (HANDOVER_FD_OPTION, HANDOVER_CHECK_OPTION):
            next(rest, None)
        elif arg.startswith((HANDOVER_FD_OPTION + "=", HANDOVER_CHECK_OPTION + "=")):
            continue
        else:
            args.append(arg)
    if os.environ.get(BINARY_ENV):
        head = [os.environ[BINARY_ENV]]
    elif program.endswith(".py"):  # run as `python -m supervisor_ng.daemon`
        head = [sys.executable, "-m", "supervisor_ng.daemon"]
    else:
        head = [program]
    # click keeps the last -c given.
    return [*head, *args, "-c", os.path.abspath(config_path), option, str(fd)]


async def dry_run(memfd: int, config_path: str, reaper: Reaper, spawn: Callable[[SpawnRequest], Any]) -> None:
    """Ask the new binary whether it can adopt the envelope in ``memfd``;
    raises :class:`HandoverRefused` with its answer if not.  The check runs as
    a child of the daemon's own spawner and reaper (a second waitpid would
    race the reaper's waitpid(-1))."""
    argv = daemon_argv(HANDOVER_CHECK_OPTION, 0, config_path)
    out_r, out_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    loop = asyncio.get_running_loop()
    output = bytearray()
    done: asyncio.Future[int] = loop.create_future()

    def readable() -> None:
        try:
            chunk = os.read(out_r, 65536)
        except BlockingIOError:
            return
        if not chunk:
            loop.remove_reader(out_r)
        elif len(output) < _CHECK_OUTPUT_LIMIT:
            output.extend(chunk)

    try:
        try:
            pid, pipes = spawn(
                SpawnRequest(
                    filename=argv[0],
                    argv=argv,
                    env=dict(os.environ),
                    stdin_socket=memfd,
                    stdout_fd=out_w,
                    stderr_fd=out_w,
                )
            )
        except SpawnError as exc:
            raise HandoverRefused(f"the new supervisord cannot be run: {exc}") from None
        finally:
            os.close(out_w)
        pipes.close()
        reaper.watch(pid, lambda _pid, status: done.done() or done.set_result(status))
        loop.add_reader(out_r, readable)
        status = await done
        readable()
    finally:
        loop.remove_reader(out_r)
        os.close(out_r)
    code, text = describe_wait_status(status)
    if code != 0:
        said = " ".join(output.decode("utf-8", "replace").split())
        raise HandoverRefused(f"the new supervisord refused the hand-over ({text}): {said or 'no reason given'}")


def execute(argv: list[str]) -> None:
    """Replace this process; returns only by raising OSError."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)


def adopted_count(supervisor: Supervisor) -> int:
    return sum(1 for group in supervisor.groups.values() for proc in group.processes.values() if proc.pid)


class Handover:
    """The daemon's side of one hand-over: :meth:`prepare` (the dry run, on
    the loop) then :meth:`execute` (synchronous, once the caller has been
    answered).  ``daemon_part()`` returns what the daemon carries itself
    (serial, sockets, ...) and the fds that go with it."""

    def __init__(
        self,
        log: Any,
        get_supervisor: Callable[[], Optional[Supervisor]],
        daemon_part: Callable[[], tuple[dict[str, Any], list[int]]],
        reaper: Reaper,
        config_path: Callable[[], str],
        systemd: Any,
    ) -> None:
        self.log = log
        self._get = get_supervisor
        self._daemon_part = daemon_part
        self._reaper = reaper
        self._config_path = config_path
        self._systemd = systemd
        self._busy = False

    def _supervisor(self) -> Supervisor:
        sv = self._get()
        if sv is None or sv.state != SupervisorState.RUNNING:
            raise HandoverRefused("supervisord is not running (starting, reloading or shutting down)")
        return sv

    def _envelope(self, state: Any, sv: Supervisor, for_exec: bool) -> tuple[dict[str, Any], list[int]]:
        """Raises HandoverRefused if the state cannot be captured (the
        caller still calls ``state.abort``)."""
        daemon, daemon_fds = self._daemon_part()
        try:
            generation, generation_fds = state.capture(sv, compare_config=for_exec)
        except ConfigError as exc:
            raise HandoverRefused(f"the configuration on disk does not load: {exc}") from None
        envelope = {"format": state.FORMAT_VERSION, "daemon": daemon, "generation": generation}
        return envelope, [*daemon_fds, *generation_fds]

    async def prepare(self) -> None:
        if self._busy:
            raise HandoverRefused("a hand-over is already under way")
        self._busy = True
        try:
            state = handover_state
            sv = self._supervisor()
            # A snapshot for the check only: everything runs on meanwhile, and
            # execute() captures again, so nothing that happens now is lost.
            try:
                envelope, _fds = self._envelope(state, sv, for_exec=False)
            finally:
                state.abort(sv)
            memfd = write_envelope(envelope)
            try:
                await dry_run(memfd, self._config_path(), self._reaper, sv.host.spawn)
            finally:
                os.close(memfd)
        except BaseException:
            self._busy = False
            raise

    def execute(self) -> None:
        """Capture and exec; on a failed exec, log it and go on as before."""
        state = handover_state
        try:
            sv = self._supervisor()
        except HandoverRefused as exc:
            self.log.error(f"hand-over abandoned: {exc}")
            self._busy = False
            return
        try:
            envelope, fds = self._envelope(state, sv, for_exec=True)
        except Exception as exc:  # noqa: BLE001 - the daemon must run on whatever failed
            state.abort(sv)
            self.log.error(f"hand-over abandoned: {exc}")
            self._busy = False
            return
        self._systemd.handing_over()
        memfd = write_envelope(envelope)
        argv = daemon_argv(HANDOVER_FD_OPTION, memfd, self._config_path())
        self.log.info(f"handing over to {argv[0]} (pid {os.getpid()})")
        keep_across_exec(fds)
        try:
            execute(argv)
        except OSError as exc:
            close_on_exec(fds)
            os.close(memfd)
            self.log.error(f"hand-over failed: cannot exec {argv[0]}: {exc.strerror or exc}; running on as before")
            state.abort(sv)
            self._systemd.handover_failed()
            self._busy = False
