"""A managed process: the state machine plus the I/O that carries it out."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional

from ..config.model import ProcessConfig
from ..core.process import Action, Kill, Log, ProcessMachine, Spawn, StateChanged
from ..core.states import STOPPED_STATES, ProcessState
from . import destinations
from .journal_output import direct_streams
from .output import OutputChannel
from .spawn import ChildPipes, SpawnError, SpawnRequest, child_environment
from .stdin_writer import StdinWriter
from .tree_stop import TreeStop

if TYPE_CHECKING:
    from .listener import Listener
    from .supervisor import ProcessGroup, Supervisor

_EXIT_STATES = STOPPED_STATES | {ProcessState.BACKOFF}


class Process:
    """One process of a group.  ``state``, ``pid``, ``spawnerr``,
    ``exitstatus``, ``start_time`` and ``stop_time`` are what the API shows.

    It owns everything that lives with it: the state machine and its timer,
    the output channels and their destinations, the stdin writer, the
    journal read-back of its channels, the cached encoding of its info
    struct, and its place in an event listener pool (``listener``).
    """

    def __init__(self, config: ProcessConfig, group: ProcessGroup, supervisor: Supervisor) -> None:
        self.config = config
        self.group = group
        self.supervisor = supervisor
        self.machine = ProcessMachine(config)
        self.start_time = 0.0  # wall clock of the last spawn (0 = never started)
        self.spawns = 0  # successful spawns in this generation (restarts = spawns - 1)
        self.stop_time = 0.0  # wall clock of the last exit
        self.pipes: Optional[ChildPipes] = None
        self.stdin = StdinWriter()
        self.listener: Optional[Listener] = None  # set by its pool, if in one
        self.info_cache: Optional[Any] = None  # rpc/info.py: the XML of its last info struct
        self._timer: Optional[Any] = None
        self.tree_stop = TreeStop(self)  # the signals of a stop, and its leftovers
        # Read-back of channels that go to the journal, one per channel, made
        # on first use (logs/journal_reader.py); the process owns them.
        self.journal_logs: dict = {}
        self.stdout_logfile = destinations.log_path(self, config.stdout, "stdout")
        if config.redirect_stderr:
            self.stderr_logfile: Optional[str] = None
        else:
            self.stderr_logfile = destinations.log_path(self, config.stderr, "stderr")
        out = destinations.build(self, "stdout", self.stdout_logfile, None)
        shared = out.logfile if self.stderr_logfile is not None and self.stderr_logfile == self.stdout_logfile else None
        err = destinations.build(self, "stderr", self.stderr_logfile, shared)
        self.stdout = OutputChannel("stdout", out)
        self.stderr = OutputChannel("stderr", err)

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

    def live_state(self, waiting_calls: int = 0) -> dict:
        """What the daemon holds for this process beyond its config (see
        Supervisor.live_state)."""
        machine = self.machine
        return {
            "state": machine.state.name,
            "pid": machine.pid,
            "start_time": self.start_time,
            "stop_time": self.stop_time,
            "spawns": self.spawns,
            "backoff": machine.backoff,
            "exitstatus": machine.exitstatus,
            "spawnerr": machine.spawnerr,
            "deadline": machine.deadline(),
            "channels": {
                ch.channel: {"attached": ch.attached, "destinations": ch.destinations.names(),
                             "followers": len(ch.wakers)}
                for ch in (self.stdout, self.stderr)
            },
            "stdin": {"open": self.stdin.open, "pending": self.stdin.pending},
            "tree_stop": self.tree_stop.live_state(),
            "listener": self.listener.live_state() if self.listener is not None else None,
            "journal_logs": sorted(self.journal_logs),
            "waiting_calls": waiting_calls,
        }

    # -- commands -----------------------------------------------------------

    def start(self) -> None:
        self._apply(self.machine.request_start(self.supervisor.host.monotonic()))

    def stop(self) -> None:
        self._apply(self.machine.request_stop(self.supervisor.host.monotonic()))

    def give_up(self) -> None:
        self._apply(self.machine.give_up_backoff())

    def send_signal(self, sig: int) -> None:
        self._apply(self.machine.request_signal(sig))

    def tick(self) -> None:
        self._timer = None
        self._apply(self.machine.tick(self.supervisor.host.monotonic(), self.supervisor.may_autostart))

    def listener_output(self, data: bytes) -> None:
        """An event listener's stdout: its protocol, for its pool."""
        if self.listener is not None:
            self.listener.feed(data)

    def state_changed(self, change: StateChanged) -> None:
        """The process's own hooks on its state changes (runtime/dispatch.py
        says when they run among the others)."""
        if change.new in _EXIT_STATES:
            # The pipes were drained before the exit reached the state machine.
            self.stdout.flush()
            self.stderr.flush()
        if self.listener is not None:
            self.listener.state_changed(change)

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
        self.stdin.detach()
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
                self.supervisor.dispatch.changed(self, action)
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
            self._timer = self.supervisor.host.call_at(deadline, self.tick)

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
        host = sv.host
        now = host.monotonic()
        streams = direct_streams(self)
        try:
            filename, argv = sv.resolve_command(config.command, env.get("PATH", os.defpath))
            pid, pipes = host.spawn(
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
        self.start_time = host.time()
        self.spawns += 1
        self.pipes = pipes
        sv.reaper.watch(pid, self._exited)
        self.stdin.attach(pipes.stdin, sv.loop)
        pipes.stdin = None  # the writer owns it now
        if pipes.stdout is not None:
            self.stdout.attach(pipes.stdout, sv.loop)
            pipes.stdout = None  # the channel owns it now
        if pipes.stderr is not None:
            self.stderr.attach(pipes.stderr, sv.loop)
            pipes.stderr = None
        return self.machine.spawned(pid, now)

    def _exited(self, pid: int, status: int) -> None:
        self.stop_time = self.supervisor.host.time()
        self.stdout.detach()
        self.stderr.detach()
        self.stdin.detach()
        if self.pipes is not None:
            self.pipes.close()
            self.pipes = None
        stopped = self.machine.killing
        self._apply(self.machine.exited(status, self.supervisor.host.monotonic(), self.supervisor.may_autostart))
        if stopped:
            self.tree_stop.main_exited()

    def _kill(self, action: Kill) -> list[Action]:
        pid = self.machine.pid
        if not pid:
            return []
        try:
            self.tree_stop.kill(pid, action.sig, action.whole_tree, stopping=self.machine.killing)
        except OSError as exc:
            return self.machine.kill_failed(str(exc))
        return []
