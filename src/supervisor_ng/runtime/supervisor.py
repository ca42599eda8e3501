"""The daemon's process table: groups, start-up, shutdown and signals.

One ``Supervisor`` lives for one configuration generation: SIGHUP ends it
(after stopping everything) and the entry point builds a new one from the
re-read file, as stock supervisord does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Coroutine, Iterable
from typing import Any, Optional

from ..config.loader import default_serverurl
from ..config.model import AUTO, Config, ConfigError, GroupConfig, ProcessConfig
from ..core.process import describe_wait_status
from ..core.states import STOPPED_STATES, ProcessState, SupervisorState
from ..events import types as ev
from ..events.bus import EventBus, SerialCounter
from ..events.ticks import TickTimer
from ..lazy_import import psutil
from . import cgroup, heap
from .child import Process
from .config_reading import ConfigReader
from .dependencies import Dependencies
from .dispatch import Predicate, StateDispatch
from .faults import Faults
from .fcgi_socket import FcgiSocket
from .host import Host, Timer
from .listener import ListenerPool
from .reaper import Reaper, become_subreaper
from .slices import in_slices
from .spawn import resolve_command
from .tree import ProcessTable, is_alive


class _NotWanted(Exception):
    """An autostart the daemon no longer wants (shutting down, group removed)."""


_WAIT_LOG_INTERVAL = 3.0  # "waiting for x to die", as often as stock says it
_SETTLE_SECS = 1.0  # quiet time after group changes before their objects are frozen
_LEFTOVER_GRACE = 2.0  # seconds a leftover descendant gets between SIGTERM and SIGKILL


class ProcessGroup:
    def __init__(self, config: GroupConfig, supervisor: Supervisor) -> None:
        self.config = config
        self.supervisor = supervisor
        # Which read of the config file the group was made from: stock's
        # getAllConfigInfo shows a group's AUTO log names only while nothing
        # re-read the file since (then 'auto', though the config is the same).
        self.config_read = supervisor.config_reads
        self._socket = FcgiSocket(config.socket, f"fcgi-program:{config.name}") if config.socket is not None else None
        self.processes: dict[str, Process] = {}
        for pconfig in config.processes:
            self.processes[pconfig.name] = Process(pconfig, self, supervisor)
        # events: an [eventlistener:x] pool subscribes to the bus from here on
        self.listeners = ListenerPool(self) if config.kind == "eventlistener" else None

    @property
    def name(self) -> str:
        return self.config.name

    def stdin_socket(self) -> Optional[int]:
        """fcgi-program: the listening socket every child gets as fd 0."""
        return self._socket.fileno() if self._socket is not None else None

    def hand_over_socket(self) -> Optional[dict]:
        """fcgi-program: the listening socket, for a hand-over by exec."""
        return self._socket.hand_over() if self._socket is not None else None

    def take_over_socket(self, saved: Optional[dict]) -> None:
        if saved is not None and self._socket is not None:
            self._socket.take_over(saved)

    def by_priority(self) -> list[Process]:
        return sorted(self.processes.values(), key=lambda p: (p.config.priority, p.name))

    def unstopped(self) -> list[Process]:
        return [p for p in self.processes.values() if p.state not in STOPPED_STATES]

    def autostart(self) -> None:
        """Start the processes that start by themselves (see Supervisor.autostart)."""
        self.supervisor.autostart([self])

    def close(self) -> None:
        run = self.supervisor.faults.run
        if self.listeners is not None:
            run(f"closing the listener pool {self.name}", self.listeners.close)
        for proc in self.processes.values():
            run(f"closing {proc.name}", proc.close)
        if self._socket is not None:
            self._socket.close()


class Supervisor:
    def __init__(
        self,
        config: Config,
        log,
        *,
        overrides: Optional[dict] = None,
        base_env: Optional[dict[str, str]] = None,
        reaper: Optional[Reaper] = None,
        serial: Optional[SerialCounter] = None,
        faults: Optional[Faults] = None,
        host: Optional[Host] = None,
        notify_address: Optional[str] = None,
        adopt: Optional[dict] = None,
    ) -> None:
        """``reaper``, ``serial`` (the event serial) and ``faults`` outlive a
        generation: the daemon passes the same ones to each.  ``host`` is the
        clock, timers and spawner (tests inject one); by default the loop's.
        ``notify_address`` is the NOTIFY_SOCKET of ``ready = notify`` programs
        (the daemon's runtime/notify_server.py).  ``adopt``: the state a former
        daemon binary handed over (runtime/handover_state.py); run() adopts
        its processes instead of starting them."""
        self.config = config
        self.log = log
        self.overrides = overrides or {}
        self.config_reader = ConfigReader(config.path, self.overrides)
        self.config_reads = 0  # reloadConfig calls that replaced self.config
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.state = SupervisorState.RUNNING
        self.groups: dict[str, ProcessGroup] = {}
        self.faults = faults or Faults(log)
        self.reaper = reaper or Reaper()
        self.reaper.on_unknown = self._reaped_unknown
        self.reaper.faults = self.faults
        self.next_config: Optional[Config] = None
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self.host: Host = host  # type: ignore[assignment]  # set in run() if None
        self._done: Optional[asyncio.Future[str]] = None
        self.events = EventBus(config.supervisord.identifier, serial or SerialCounter())
        self.dependencies = Dependencies(self)
        self.dispatch = StateDispatch(self.events, self.faults, self.dependencies)
        self.notify_address = notify_address
        self.by_pid: dict[int, Process] = {}  # main pids: kept by each Process as it spawns and exits
        self.ticks: Optional[TickTimer] = None
        self._settle_timer: Optional[Timer] = None
        self._lexical: Optional[list[Process]] = None
        self._shared_names: Optional[set[str]] = None
        self._removed_unwalked = 0  # programs of removed groups, frozen since
        self._tasks: set[asyncio.Task[None]] = set()
        self._memo: Optional[dict] = None
        self._adopt = adopt

    # -- queries ----------------------------------------------------------------

    @property
    def may_autostart(self) -> bool:
        return self.state == SupervisorState.RUNNING

    def processes(self) -> Iterable[Process]:
        for group in self.groups.values():
            yield from group.processes.values()

    def pids(self) -> set[int]:
        return {p.pid for p in self.processes() if p.pid}

    def owner_of(self, pid: int) -> Optional[Process]:
        """The process whose main pid ``pid`` is."""
        return self.by_pid.get(pid)

    def process_table(self) -> ProcessTable:
        """Who is whose child, remembered for one turn of the loop: every
        whole-tree stop made in one turn (stopAllProcesses, a group, the
        exits the reaper collected together) reads each children list and
        each orphan's environment once."""
        memo = self._turn_memo()
        table = memo.get("process table")
        if table is None:
            table = memo["process table"] = ProcessTable()
        return table

    def resolve_command(self, command: str, path: str) -> tuple[str, list[str]]:
        """:func:`~.spawn.resolve_command`, looked up once per turn of the
        loop: starting hundreds of programs that run the same command (each
        checked by the API, then spawned) searches PATH once, not twice per
        program.  Failures are not remembered."""
        memo = self._turn_memo()
        key = ("command", command, path)
        found = memo.get(key)
        if found is None:
            found = memo[key] = resolve_command(command, path)
        filename, argv = found
        return filename, list(argv)

    def _turn_memo(self) -> dict:
        """What was read from the system in this turn of the loop; forgotten
        when the loop turns, since anything may have changed by then."""
        if self._memo is None:
            if self.loop is None:  # not running: nothing to share with
                return {}
            self._memo = {}
            self.loop.call_soon(self._forget_memo)
        return self._memo

    def _forget_memo(self) -> None:
        self._memo = None

    def serverurl_for(self, pconfig: ProcessConfig) -> Optional[str]:
        if pconfig.serverurl is AUTO:
            return default_serverurl(self.config)
        return pconfig.serverurl  # type: ignore[return-value]

    # -- running ------------------------------------------------------------------

    async def run(self) -> str:
        """Start everything, serve until asked to stop, stop everything.

        Returns "shutdown" or "restart".
        """
        self.bind(asyncio.get_running_loop())
        self._done = self.loop.create_future()
        become_subreaper()
        cgroup.setup(self.log.info)  # issue 17: cgroup or psutil mode, said once in the log
        self.reaper.install(self.loop)
        try:
            self.ticks = TickTimer(self.events, self.loop)
            if self._adopt is not None:
                # The reaper's first sweep (call_soon) comes after this, and
                # collects the children that exited during the exec.
                from .handover_state import adopt_generation

                adopt, self._adopt = self._adopt, None
                adopt_generation(self, adopt)
                self._settle_soon()
            else:
                # Stock order: every group is added (PROCESS_GROUP_ADDED), then
                # SUPERVISOR_STATE_CHANGE_RUNNING, then the first spawns.
                for gconfig in self.config.groups:
                    self.add_group(gconfig, start=False)
                self.events.notify(ev.SupervisorRunning())
                self.autostart(list(self.groups.values()))
            reason = await self._done
            self.events.notify(ev.SupervisorStopping())
            await self.stop_groups(list(self.groups.values()))
            await self._stop_leftovers()
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._settle_timer is not None:
                self._settle_timer.cancel()
            if self.ticks is not None:
                self.ticks.close()
            for group in self.groups.values():
                group.close()
            self.reaper.uninstall()
            self.config_reader.close()
            cgroup.close()  # issue 17: the daemon exits with os._exit, no atexit
        return reason

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop this generation runs on (run() calls it; unit tests too)."""
        self.loop = loop
        if self.host is None:
            self.host = Host(loop)

    def live_state(self) -> dict:
        """The whole live state of this generation, enumerated from here:
        what the daemon holds for each group and process beyond its config
        (what a hand-over to a new daemon binary must carry)."""
        waiting = {id(proc): n for proc, n in self.dispatch.waiting()}
        return {
            "state": self.state.name,
            "event_serial": self.events.serial,
            "groups": {
                name: {
                    "listener_buffer": group.listeners.buffered() if group.listeners is not None else None,
                    "processes": {
                        pname: proc.live_state(waiting.get(id(proc), 0))
                        for pname, proc in group.processes.items()
                    },
                }
                for name, group in self.groups.items()
            },
            "dependencies": self.dependencies.live_state(),
        }

    def request_shutdown(self) -> None:
        if self.state > SupervisorState.RESTARTING:
            self.state = SupervisorState.SHUTDOWN
            self._finish("shutdown")

    def request_restart(self, new_config: Optional[Config] = None) -> None:
        if self.state > SupervisorState.RESTARTING:
            self.next_config = new_config
            self.state = SupervisorState.RESTARTING
            self._finish("restart")

    async def restart_with_new_config(self) -> None:
        """Restart into the config file as it is now, or, when it has an
        error, log it and keep running what runs (ConfigError is raised for
        the caller to report too)."""
        try:
            new_config = await self.config_reader.read()
        except ConfigError as exc:
            # Stopping everything for a config we cannot run would leave
            # nothing running; keep the current generation instead.
            self.log.error(f"not restarting, the config file has an error: {exc}")
            raise
        self.request_restart(new_config)

    async def _restart_on_sighup(self) -> None:
        with contextlib.suppress(ConfigError):  # logged; nobody else to tell
            await self.restart_with_new_config()

    def _finish(self, reason: str) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(reason)

    def handle_signal(self, sig: int) -> None:
        """TERM/INT/QUIT shut down, HUP restarts with the re-read config, USR2
        reopens the logs (the daemon routes its signals here)."""
        name = signal.Signals(sig).name
        if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            self.log.warn(f"received {name} indicating exit request")
            if self.state == SupervisorState.RESTARTING:
                # Already stopping everything for a restart: make it the last stop.
                self.state = SupervisorState.SHUTDOWN
                self.next_config = None
            self.request_shutdown()
        elif sig == signal.SIGHUP:
            if self.state < SupervisorState.RUNNING:
                self.log.warn(f"ignored {name} indicating restart request (shutdown in progress)")
                return
            self.log.warn(f"received {name} indicating restart request")
            self.background("the restart on SIGHUP", self._restart_on_sighup())
        elif sig == signal.SIGUSR2:
            self.log.info(f"received {name} indicating log reopen request")
            self.log.reopen()
            for proc in self.processes():
                self.faults.run(f"reopening the logs of {proc.name}", proc.reopen_logs)

    # -- groups -------------------------------------------------------------------

    def lexical(self) -> list[Process]:
        """Every process by group name, then by name: getAllProcessInfo's
        order.  Kept until a group comes or goes (sorting 5,000 names for
        each call cost more than the rest of the call)."""
        if self._lexical is None:
            self._lexical = [
                group.processes[name]
                for _gname, group in sorted(self.groups.items())
                for name in sorted(group.processes)
            ]
        return self._lexical

    def shared_names(self) -> set[str]:
        """Process names that more than one process has (in different
        groups).  Kept until a group comes or goes: every spawn of a
        journal-only program asks."""
        if self._shared_names is None:
            seen: set[str] = set()
            self._shared_names = set()
            for proc in self.processes():
                name = proc.config.name
                (self._shared_names if name in seen else seen).add(name)
        return self._shared_names

    def membership_changed(self, removed: int = 0) -> None:
        """A group, or a process of a group, came or went (``removed``: how
        many processes went, whose objects a full settle walks)."""
        self._lexical = None
        self._shared_names = None
        self.dependencies.forget()
        if removed:
            self._removed_unwalked += removed
            self._settle_soon()

    def add_group(self, gconfig: GroupConfig, start: bool = True) -> ProcessGroup:
        group = ProcessGroup(gconfig, self)
        self.groups[gconfig.name] = group
        self.membership_changed()
        self.events.notify(ev.ProcessGroupAdded(gconfig.name))
        if start:
            group.autostart()
        return group

    def remove_group(self, name: str) -> None:
        """Forget a group whose processes are all stopped."""
        group = self.groups.pop(name)
        self.membership_changed(removed=len(group.processes))
        group.close()
        self.events.notify(ev.ProcessGroupRemoved(name))

    def autostart(self, groups: list[ProcessGroup]) -> None:
        """Start what starts by itself in ``groups``, in their order, a slice
        per turn of the loop, all in one task: 5,000 one-program groups as
        5,000 tasks all ran in the same turn (seconds without an answer)."""
        if self.may_autostart:
            self.background("the autostart", self._autostart(groups))

    async def _autostart(self, groups: list[ProcessGroup]) -> None:
        def still_wanted() -> None:
            if not self.may_autostart:
                raise _NotWanted
            # What the spawns so far made lives as long as their programs:
            # frozen at once, it is not walked by the full passes the
            # collector makes while thousands start (40-70 ms each at 5,000).
            heap.freeze_new()

        def tick(proc: Process) -> None:
            if self.groups.get(proc.group.name) is proc.group:  # not removed meanwhile
                self.faults.run(f"the autostart of {proc.name}", proc.tick)

        try:
            await in_slices([p for g in groups for p in g.processes.values()], tick, still_wanted=still_wanted)
        except _NotWanted:
            pass
        self._settle_soon()

    def _settle_soon(self) -> None:
        """Once the groups stop changing for a second, freeze what they are
        made of (heap.settled): one pass after a burst of changes, such
        as an update adding and removing many groups."""
        if self._settle_timer is not None:
            self._settle_timer.cancel()
        self._settle_timer = self.host.call_at(self.host.monotonic() + _SETTLE_SECS, self._settle)

    def _settle(self) -> None:
        self._settle_timer = None
        # The objects of removed groups are kept frozen until they are a
        # quarter of what lives, the collector's own rule for its full
        # passes: memory stays bounded and an update of one program in
        # thousands does not pay for a walk over all of them.
        live = sum(len(group.processes) for group in self.groups.values())
        full = self._removed_unwalked * 4 > live
        if full:
            self._removed_unwalked = 0
        took = heap.settled(full)
        self.log.debug(f"groups settled: objects frozen in {took * 1000:.0f} ms")

    def background(self, what: str, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on the loop; a failure is reported as a fault.  The
        generation owns these tasks and cancels what is left when it ends."""
        task = self.loop.create_task(work)
        self._tasks.add(task)

        def done(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            if not task.cancelled() and task.exception() is not None:
                self.faults.report(what, task.exception())  # type: ignore[arg-type]

        task.add_done_callback(done)

    def emit_remote_communication(self, type: str, data: str) -> None:
        """sendRemoteCommEvent: a REMOTE_COMMUNICATION event."""
        self.events.notify(ev.RemoteCommunication(type, data))

    async def stop_groups(self, groups: list[ProcessGroup]) -> None:
        """Stop groups highest priority number first; a priority waits until
        every group of the one before it has stopped.  Groups that share a
        priority have no order among them, so they stop together."""
        by_priority: dict[int, list[ProcessGroup]] = {}
        for group in groups:
            by_priority.setdefault(group.config.priority, []).append(group)
        for priority in sorted(by_priority, reverse=True):
            batch = sorted(by_priority[priority], key=lambda g: g.name, reverse=True)
            # Each group's processes highest priority number first, in slices
            # across the groups (5,000 one-program groups are one batch).
            await in_slices([p for group in batch for p in reversed(group.by_priority())], self._stop_one)
            await self.wait_stopped(p for group in batch for p in group.processes.values())

    def _stop_one(self, proc: Process) -> None:
        if proc.state in (ProcessState.RUNNING, ProcessState.STARTING):
            self.faults.run(f"stopping {proc.name}", proc.stop)
        elif proc.state == ProcessState.BACKOFF:
            self.faults.run(f"stopping {proc.name}", proc.give_up)

    async def wait_stopped(self, processes: Iterable[Process]) -> None:
        pending = [p for p in processes if p.state not in STOPPED_STATES]
        if not pending:
            return
        futures = [self.wait_for(p, lambda p: p.state in STOPPED_STATES) for p in pending]
        while True:
            done, _ = await asyncio.wait(futures, timeout=_WAIT_LOG_INTERVAL)
            if len(done) == len(futures):
                return
            names = ", ".join(p.name for p in pending if p.state not in STOPPED_STATES)
            self.log.info(f"waiting for {names} to die")

    # -- state changes --------------------------------------------------------------

    def wait_for(self, proc: Process, predicate: Predicate) -> asyncio.Future[None]:
        """A future resolved the moment ``predicate(proc)`` holds after a state change
        (or at once if it holds now)."""
        return self.dispatch.wait_for(proc, predicate, self.loop)

    # -- reaping --------------------------------------------------------------------

    def _reaped_unknown(self, pid: int, status: int) -> None:
        self.log.info(f"reaped unknown pid {pid} ({describe_wait_status(status)[1]})")

    async def _stop_leftovers(self) -> None:
        """No process of ours outlives the daemon: descendants that programs left
        behind get SIGTERM, then SIGKILL after a short grace."""
        try:
            leftovers = psutil.Process(os.getpid()).children(recursive=True)
        except psutil.Error:
            return
        leftovers = [p for p in leftovers if is_alive(p)]
        if not leftovers:
            return
        for proc in leftovers:
            self.log.warn(f"stopping leftover process {proc.pid} ({_cmdline(proc)})")
            try:
                proc.terminate()
            except psutil.Error:
                pass
        gone = [self._gone(proc.pid) for proc in leftovers]
        await asyncio.wait(gone, timeout=_LEFTOVER_GRACE)
        for fut in gone:
            fut.cancel()
        for proc in leftovers:
            if is_alive(proc):
                self.log.warn(f"killing leftover process {proc.pid} with SIGKILL")
                try:
                    proc.kill()
                except psutil.Error:
                    pass

    def _gone(self, pid: int) -> asyncio.Future[None]:
        """Resolved when ``pid`` exits; a pidfd makes this an event, not a poll."""
        fut: asyncio.Future[None] = self.loop.create_future()
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            fut.set_result(None)
            return fut
        self.loop.add_reader(fd, lambda: fut.done() or fut.set_result(None))

        def cleanup(_: object) -> None:
            self.loop.remove_reader(fd)
            os.close(fd)

        fut.add_done_callback(cleanup)
        return fut


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline()) or proc.name()
    except psutil.Error:
        return "?"
