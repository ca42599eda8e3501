"""A managed process: the state machine plus the I/O that carries it out."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional

from ..config.model import ProcessConfig
from ..core.process import Action, Kill, Log, ProcessMachine, Spawn, StateChanged
from ..core.states import STOPPED_STATES, ProcessState
from . import cgroup, destinations
from .direct_output import direct_streams
from .liveness import Liveness
from .output import OutputChannel
from .spawn import ChildPipes, SpawnError, SpawnRequest, child_environment
from .stdin_writer import StdinWriter
from .tree import descends_from, parent_of
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

    # Thousands of these live as long as the daemon: no per-instance dict.
    __slots__ = (
        "config", "group", "supervisor", "machine", "start_time", "spawns", "stop_time", "pipes",
        "stdin", "listener", "info_cache", "_timer", "tree_stop", "liveness", "notify_status",
        "notify_stopping", "journal_logs", "stdout_logfile", "stderr_logfile", "stdout", "stderr",
        "__weakref__",
    )  # fmt: skip

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
        self.liveness = Liveness(self)  # readiness checks, watchdog, health checks
        self.notify_status: Optional[str] = None  # the program's last sd_notify STATUS=
        self.notify_stopping = False  # it said STOPPING=1 since its spawn
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
            "liveness": self.liveness.live_state(),
            "notify_status": self.notify_status,
            "listener": self.listener.live_state() if self.listener is not None else None,
            "journal_logs": sorted(self.journal_logs),
            "waiting_calls": waiting_calls,
        }

    # -- hand-over to a new daemon binary (issue 16, runtime/handover_state.py) --

    def hand_over(self) -> tuple[dict, list[int]]:
        """Stop every activity of this process in this daemon and give up its
        fds, left open: (what :meth:`adopt` needs, the fds it names)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        out_fd = self.stdout.release()
        err_fd = self.stderr.release()
        in_fd, backlog = self.stdin.release()
        fds = [fd for fd in (out_fd, err_fd, in_fd) if fd is not None]
        for fd in fds:
            os.set_inheritable(fd, True)  # they must survive the exec
        saved = {
            "machine": self.machine.snapshot(),
            "start_time": self.start_time,
            "stop_time": self.stop_time,
            "spawns": self.spawns,
            "notify_status": self.notify_status,
            "notify_stopping": self.notify_stopping,
            "stdout_fd": out_fd,
            "stderr_fd": err_fd,
            "stdin_fd": in_fd,
            "stdin_backlog": backlog.hex(),
            "held": {"stdout": self.stdout.held(), "stderr": self.stderr.held()},
            "liveness": self.liveness.hand_over(),
            "tree_stop": self.tree_stop.hand_over(),
        }
        return saved, fds

    def adopt(self, saved: dict) -> None:
        """Take the process over as :meth:`hand_over` left it (in a new daemon,
        or in this one when the hand-over is called off): same pid, state and
        times, its pipes read again, its exit watched, its timer re-armed from
        the saved monotonic deadline.  Raises on a state it cannot read."""
        machine = ProcessMachine.restore(self.config, saved["machine"])
        backlog = bytes.fromhex(saved["stdin_backlog"])
        sv = self.supervisor
        self.machine = machine
        self.start_time = saved["start_time"]
        self.stop_time = saved["stop_time"]
        self.spawns = saved["spawns"]
        self.notify_status = saved["notify_status"]
        self.notify_stopping = saved["notify_stopping"]
        for channel, key in ((self.stdout, "stdout_fd"), (self.stderr, "stderr_fd")):
            channel.hold(saved.get("held", {}).get(channel.channel, {}))
            fd = saved[key]
            if fd is not None:
                os.set_inheritable(fd, False)  # not into the programs spawned from now on
                channel.attach(fd, sv.loop)
        in_fd = saved["stdin_fd"]
        if in_fd is not None:
            os.set_inheritable(in_fd, False)
        self.stdin.adopt(in_fd, backlog, sv.loop)
        if machine.pid:
            sv.reaper.watch(machine.pid, self._exited)
            sv.by_pid[machine.pid] = self
            tree = cgroup.active()
            if tree is not None and tree.of_pid(machine.pid) is None:
                tree.adopt(machine.pid, self.config.group, self.config.name)
        # Called off (the same daemon resumes), the stop's bookkeeping is still here.
        if saved.get("tree_stop") is not None and not self.tree_stop.busy:
            self.tree_stop.take_over(saved["tree_stop"])
        if saved.get("liveness") is not None:
            self.liveness.take_over(saved["liveness"])
        self._arm_timer()

    # -- commands -----------------------------------------------------------

    def start(self) -> None:
        self._apply(self.machine.request_start(self.supervisor.host.monotonic()))

    def stop(self) -> None:
        """Stop; when programs that depend on this one still run, they stop
        first and this one after them (runtime/dependencies.py)."""
        if self.supervisor.dependencies.may_stop(self):
            self.stop_now()

    def stop_now(self) -> None:
        self._apply(self.machine.request_stop(self.supervisor.host.monotonic()))

    def spawn_now(self) -> None:
        """The dependencies a spawn waited for are there."""
        if self.state == ProcessState.STARTING and not self.pid:
            self._apply(self._spawn_process())

    def dependency_failed(self, message: str) -> None:
        self._apply(self.machine.dependency_failed(message, self.supervisor.host.monotonic()))

    def mark_ready(self, how: str) -> None:
        """The program is ready (READY=1, or its ``ready`` check passed)."""
        self._apply(self.machine.ready(self.supervisor.host.monotonic(), how))

    def restart_unhealthy(self, reason: str) -> None:
        """Stop and spawn again a RUNNING program that hangs or fails its checks."""
        self._apply(self.machine.request_restart(self.supervisor.host.monotonic()))

    def notified(self, sender: int, fields: dict[str, str]) -> None:
        """One sd_notify datagram from this program's tree (runtime/notify_server.py
        matched the sender's credentials)."""
        machine = self.machine
        now = self.supervisor.host.monotonic()
        mainpid = fields.get("MAINPID")
        if mainpid is not None:
            self._main_pid(sender, mainpid)
        if "STATUS" in fields:
            self.notify_status = fields["STATUS"]
        if fields.get("STOPPING") == "1":
            self.notify_stopping = True
        extend = fields.get("EXTEND_TIMEOUT_USEC")
        if extend is not None and extend.isdigit():
            self._apply(machine.extend_timeout(now, int(extend) / 1e6))
        if fields.get("READY") == "1" and self.config.ready == "notify":
            self.mark_ready("ready=notify")
        if "WATCHDOG" in fields or "WATCHDOG_USEC" in fields:
            self.liveness.watchdog(fields)

    def _main_pid(self, sender: int, value: str) -> None:
        """MAINPID=: a program that forks names its real main process, which
        must be in its tree (the current main process or a descendant)."""
        old = self.pid
        try:
            new = int(value)
        except ValueError:
            new = 0
        if not old or new <= 0 or new == old:
            return
        # A forking parent often exits right after naming its child: the child
        # is then already ours (we are its subreaper).  Only the main process
        # itself is believed about such an orphan.
        adopted = sender == old and parent_of(new) == os.getpid()
        if not (adopted or descends_from(new, old)):
            self.supervisor.log.warn(
                f"{self.name}: ignoring MAINPID={value} from pid {sender}: "
                f"not a descendant of its main process {old}"
            )
            return
        sv = self.supervisor
        sv.reaper.watch(new, self._exited)
        sv.reaper.watch(old, self._former_main_exited)
        sv.by_pid.pop(old, None)
        sv.by_pid[new] = self
        self._apply(self.machine.main_pid_changed(new))

    def _former_main_exited(self, pid: int, status: int) -> None:
        self.supervisor.log.debug(f"former main process {pid} of {self.name} exited")

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
        self.liveness.state_changed(change)

    def reopen_logs(self) -> None:
        for channel in (self.stdout, self.stderr):
            if channel.logfile is not None:
                channel.logfile.reopen()

    def close(self) -> None:
        """The process leaves the daemon (group removed): free its resources."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.liveness.close()
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
        """The machine asks for a spawn; it waits for dependencies first."""
        verdict = self.supervisor.dependencies.may_spawn(self)
        if verdict is None:
            return []  # STARTING with no pid: Dependencies.changed() spawns it
        if verdict:
            return self.machine.dependency_failed(verdict, self.supervisor.host.monotonic())
        return self._spawn_process()

    def _readiness_env(self) -> tuple[tuple[str, str], ...]:
        """NOTIFY_SOCKET (and WATCHDOG_USEC) for a ``ready = notify`` program,
        set before the program's own environment so that it can override them."""
        config = self.config
        address = self.supervisor.notify_address
        if config.ready != "notify" or not address:
            return ()
        env = [("NOTIFY_SOCKET", address)]
        if config.watchdog_secs > 0:
            env.append(("WATCHDOG_USEC", str(int(config.watchdog_secs * 1e6))))
        return tuple(env)

    def environment(self) -> dict[str, str]:
        """The environment the program (and its exec: checks) runs with."""
        sv = self.supervisor
        config = self.config
        return child_environment(
            sv.base_env,
            process_name=config.name,
            group_name=config.group,
            serverurl=sv.serverurl_for(config),
            daemon_env=sv.config.supervisord.environment,
            program_env=self._readiness_env() + config.environment,
        )

    def _spawn_process(self) -> list[Action]:
        sv = self.supervisor
        config = self.config
        self.notify_stopping = False
        env = self.environment()
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
                    cgroup_limits=config.cgroup_limits,
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
        sv.by_pid[pid] = self
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
        self.supervisor.by_pid.pop(pid, None)
        oom = cgroup.oom_note(pid, status)  # issue 17
        if oom:
            self.supervisor.log.warn(f"{self.config.name}: {oom}")
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
