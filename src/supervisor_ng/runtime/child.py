"""A managed process: the state machine plus the I/O that carries it out."""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Callable, Optional

import psutil

from ..config.model import AUTO, ChannelLogConfig, ProcessConfig
from ..core.process import Action, Kill, Log, ProcessMachine, Spawn, StateChanged
from ..core.states import ProcessState
from ..logs.paths import auto_log_path
from ..logs.rotating import LogFileError, LogFileResumed, RotatingFile
from .journal_output import direct_streams, wire_journal
from .listener import wire_output_events
from .output import OutputChannel
from .spawn import ChildPipes, SpawnError, SpawnRequest, child_environment, spawn
from .tree import is_alive, kill_survivors, signal_tree, tree_members

if TYPE_CHECKING:
    from .supervisor import ProcessGroup, Supervisor

StateObserver = Callable[["Process", StateChanged], None]


class Process:
    """One process of a group.  ``state``, ``pid``, ``spawnerr``,
    ``exitstatus``, ``start_time`` and ``stop_time`` are what the API shows."""

    def __init__(self, config: ProcessConfig, group: ProcessGroup, supervisor: Supervisor) -> None:
        self.config = config
        self.group = group
        self.supervisor = supervisor
        self.machine = ProcessMachine(config)
        self.start_time = 0.0  # wall clock of the last spawn (0 = never started)
        self.spawns = 0  # successful spawns in this generation (restarts = spawns - 1)
        self.stop_time = 0.0  # wall clock of the last exit
        self.pipes: Optional[ChildPipes] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._tree: dict[int, psutil.Process] = {}
        self._tree_deadline = 0.0
        self.stdout_logfile = self._log_path(config.stdout, "stdout")
        if config.redirect_stderr:
            self.stderr_logfile: Optional[str] = None
        else:
            self.stderr_logfile = self._log_path(config.stderr, "stderr")
        self.stdout = self._channel("stdout", config.stdout, self.stdout_logfile)
        self.stderr = self._channel("stderr", config.stderr, self.stderr_logfile)
        wire_output_events(self)  # events: capture mode, PROCESS_LOG_*
        wire_journal(self)

    # -- what the API reads -------------------------------------------------

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def state(self) -> ProcessState:
        return self.machine.state

    @property
    def pid(self) -> int:
        return self.machine.pid

    @property
    def spawnerr(self) -> Optional[str]:
        return self.machine.spawnerr

    @property
    def exitstatus(self) -> Optional[int]:
        return self.machine.exitstatus

    # -- commands -----------------------------------------------------------

    def start(self) -> None:
        self._apply(self.machine.request_start(time.monotonic()))

    def stop(self) -> None:
        self._apply(self.machine.request_stop(time.monotonic()))

    def give_up(self) -> None:
        self._apply(self.machine.give_up_backoff())

    def send_signal(self, sig: int) -> None:
        self._apply(self.machine.request_signal(sig))

    def tick(self) -> None:
        self._timer = None
        self._apply(self.machine.tick(time.monotonic(), self.supervisor.may_autostart))

    def write_stdin(self, data: bytes) -> None:
        """sendProcessStdin: raises OSError (EPIPE...) for the caller to report."""
        if self.pipes is None or self.pipes.stdin is None:
            raise BrokenPipeError("no stdin")
        view = memoryview(data)
        while view:
            written = os.write(self.pipes.stdin, view)
            view = view[written:]

    def reopen_logs(self) -> None:
        for channel in (self.stdout, self.stderr):
            if channel.logfile is not None:
                channel.logfile.reopen()

    def close(self) -> None:
        """The process leaves the daemon (group removed): free its resources."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.stdout.close()
        self.stderr.close()
        if self.pipes is not None:
            self.pipes.close()
            self.pipes = None

    # -- carrying out the machine's actions -----------------------------------

    def _apply(self, actions: list[Action]) -> None:
        queue = list(actions)
        while queue:
            action = queue.pop(0)
            if isinstance(action, Log):
                self.supervisor.log.log(action.level, action.text)
            elif isinstance(action, StateChanged):
                self.supervisor.process_state_changed(self, action)
            elif isinstance(action, Spawn):
                queue[:0] = self._spawn()
            elif isinstance(action, Kill):
                queue[:0] = self._kill(action)
        self._arm_timer()

    def _arm_timer(self) -> None:
        deadline = self.machine.deadline()
        if self._timer is not None:
            if deadline is not None and self._timer.when() == deadline:
                return
            self._timer.cancel()
            self._timer = None
        if deadline is not None:
            self._timer = self.supervisor.loop.call_at(deadline, self.tick)

    def _spawn(self) -> list[Action]:
        sv = self.supervisor
        config = self.config
        env = child_environment(
            sv.base_env,
            process_name=config.name,
            group_name=config.group,
            serverurl=sv.serverurl_for(config),
            daemon_env=sv.config.supervisord.environment,
            program_env=config.environment,
        )
        now = time.monotonic()
        streams = direct_streams(self)
        try:
            filename, argv = sv.resolve_command(config.command, env.get("PATH", os.defpath))
            pid, pipes = spawn(
                SpawnRequest(
                    filename=filename,
                    argv=argv,
                    env=env,
                    redirect_stderr=config.redirect_stderr,
                    directory=config.directory,
                    umask=config.umask,
                    uid=config.uid,
                    gid=config.gid,
                    user=config.user,
                    stdin_socket=self.group.stdin_socket(),
                    stdout_fd=streams[0],
                    stderr_fd=streams[1],
                )
            )
        except SpawnError as exc:
            return self.machine.spawn_failed(str(exc), now)
        finally:
            for fd in streams:
                if fd is not None:
                    os.close(fd)  # the child has its copy
        self.start_time = time.time()
        self.spawns += 1
        self.pipes = pipes
        self._tree = {}
        sv.reaper.watch(pid, self._exited)
        if pipes.stdout is not None:
            self.stdout.attach(pipes.stdout, sv.loop)
            pipes.stdout = None  # the channel owns it now
        if pipes.stderr is not None:
            self.stderr.attach(pipes.stderr, sv.loop)
            pipes.stderr = None
        return self.machine.spawned(pid, now)

    def _exited(self, pid: int, status: int) -> None:
        self.stop_time = time.time()
        self.stdout.detach()
        self.stderr.detach()
        if self.pipes is not None:
            self.pipes.close()
            self.pipes = None
        whole_tree_stop = self.machine.killing and self._stopping_tree()
        self._apply(self.machine.exited(status, time.monotonic(), self.supervisor.may_autostart))
        if whole_tree_stop:
            self._finish_tree(pid)

    def _stopping_tree(self) -> bool:
        return self.config.stopasgroup or self.config.killasgroup

    def _kill(self, action: Kill) -> list[Action]:
        pid = self.machine.pid
        if not pid:
            return []
        try:
            if action.whole_tree:
                self._tree.update(self._tree_members(pid))
                self._tree_deadline = time.monotonic() + self.config.stopwaitsecs
                signal_tree(pid, action.sig, self._tree)
            else:
                os.kill(pid, action.sig)
        except ProcessLookupError:
            pass  # it died already; the reaper will tell the machine
        except OSError as exc:
            return self.machine.kill_failed(str(exc))
        return []

    def _tree_members(self, pid: int) -> dict[int, psutil.Process]:
        sv = self.supervisor
        return tree_members(pid, self.config.group, self.config.name, sv.pids(), sv.process_table())

    def _finish_tree(self, pid: int) -> None:
        """The main process is gone; descendants that outlived it get SIGKILL
        once stopwaitsecs (counted from the stop signal) have passed."""
        self._tree.update(self._tree_members(pid))
        members = {p: proc for p, proc in self._tree.items() if is_alive(proc)}
        self._tree = {}
        if not members:
            return
        delay = max(0.0, self._tree_deadline - time.monotonic())

        def kill() -> None:
            killed = kill_survivors(members)
            if killed:
                self.supervisor.log.warn(
                    f"killed {len(killed)} leftover process(es) of {self.config.name}: "
                    + ", ".join(map(str, killed))
                )

        self.supervisor.loop.call_later(delay, kill)

    # -- logs -----------------------------------------------------------------

    def _log_path(self, log: ChannelLogConfig, channel: str) -> Optional[str]:
        if log.logfile is AUTO:
            sv = self.supervisor.config.supervisord
            return auto_log_path(sv.childlogdir, self.config.name, channel, sv.identifier)
        return log.logfile  # type: ignore[return-value]

    def _channel(self, channel: str, log: ChannelLogConfig, path: Optional[str]) -> OutputChannel:
        logfile = None
        if channel == "stderr" and path is not None and path == self.stdout_logfile:
            # One writer per file, or the two would rotate it from under each other.
            logfile = self.stdout.logfile
        elif path is not None:
            try:
                # AUTO files appear with the first output (mode 0600 as stock's
                # mkstemp): starting hundreds of quiet programs creates no files.
                auto = log.logfile is AUTO
                logfile = RotatingFile(
                    path, log.maxbytes, log.backups, on_error=self._log_error,
                    on_resume=self._log_resumed,
                    lazy=auto, mode=0o600 if auto else 0o666,
                )
            except OSError as exc:
                self.supervisor.log.error(f"couldn't open {channel} log of {self.config.name}: {exc}")
        sv = self.supervisor
        echo = None
        if sv.log.level <= 10:  # debug copies child output into the main log, as stock
            def echo(data: bytes, channel: str = channel) -> None:
                sv.log.debug(f"{self.config.name!r} {channel} output:\n{data.decode(errors='replace')}")
        return OutputChannel(
            channel,
            logfile,
            strip_ansi=self.config.strip_ansi,
            syslog_tag=self.config.name if log.syslog else None,
            debug_echo=echo,
        )

    def _log_error(self, err: LogFileError) -> None:
        self.supervisor.log.error(f"{self.config.name}: {err}")

    def _log_resumed(self, note: LogFileResumed) -> None:
        self.supervisor.log.warn(f"{self.config.name}: {note}")  # output was lost meanwhile

