"""What a client of the daemon may do to it: the one interface the RPC API
and the web page (which speaks RPC) use to reach the runtime.

Everything here answers in the API's vocabulary (faults from
:mod:`..rpc.faults`), because the API and the page are its only clients and
both report faults to people.  Nothing outside ``runtime/`` needs to know
what a process's machine, pipes or log files are: lookups, starting,
stopping, signals, log read-back, config updates and the daemon's own state
are all answered here, and a change to how the runtime keeps them lands in
this module alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..config import datatypes
from ..config.model import AUTO, ConfigError, GroupConfig
from ..core.states import (
    RUNNING_STATES,
    SIGNALLABLE_STATES,
    STOPPED_STATES,
    ProcessState,
    SupervisorState,
)
from ..logs import journal_reader, reader
from ..names import make_namespec, split_namespec
from ..rpc import info
from ..rpc.faults import Faults, RPCError
from .slices import in_slices
from .spawn import SpawnError

if TYPE_CHECKING:
    from .child import Process
    from .supervisor import ProcessGroup, Supervisor

Result = dict[str, Any]


class Pending:
    """The waiting half of a start or stop: a future resolved at the state
    change, and the check that turns the final state into a result or a fault."""

    __slots__ = ("proc", "future", "finish")

    def __init__(self, proc: Process, future: asyncio.Future[None], finish: Callable[[], None]) -> None:
        self.proc = proc
        self.future = future
        self.finish = finish

    async def result(self) -> bool:
        try:
            await self.future
        finally:
            self.future.cancel()  # no-op once done; frees the waiter if we were cancelled
        self.finish()
        return True


def spec_of(proc: Process) -> str:
    return make_namespec(proc.group.name, proc.name)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise RPCError(Faults.INCORRECT_PARAMETERS)
    return value


def _started_or_failed(proc: Process) -> bool:
    return proc.state != ProcessState.STARTING or bool(proc.spawnerr)


def _stopped(proc: Process) -> bool:
    return proc.state in STOPPED_STATES


def _journal(proc: Process, channel: str) -> Optional[journal_reader.JournalLog]:
    """The one place the journal read-back is reached from outside logs/."""
    return journal_reader.for_process(proc, channel)


async def _journal_call(result: Any) -> Any:
    # Journal reads may be made to run off the loop (awaitable) or stay
    # plain calls: both are taken here so call sites need not change.
    if inspect.isawaitable(result):
        return await result
    return result


async def _settled(waiting: Optional[Pending]) -> bool:
    return True if waiting is None else await waiting.result()


class Control:
    """Operations on one generation of the daemon (``supervisor``)."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.sv = supervisor

    # -- the daemon ------------------------------------------------------------

    @property
    def state(self) -> SupervisorState:
        return self.sv.state

    @property
    def running(self) -> bool:
        return self.sv.state >= SupervisorState.RUNNING

    def require_running(self) -> None:
        """SHUTDOWN_STATE once the daemon is stopping or restarting."""
        if not self.running:
            raise RPCError(Faults.SHUTDOWN_STATE)

    @property
    def identification(self) -> str:
        return self.sv.config.supervisord.identifier

    @property
    def main_log(self) -> Any:
        return self.sv.log

    async def read_main_log(self, offset: int, length: int) -> bytes:
        path = self.sv.log.path
        if path is None:
            raise RPCError(Faults.NO_FILE)
        if not os.path.exists(path):
            raise RPCError(Faults.NO_FILE, path)
        return await _read_file(path, offset, length)

    def clear_main_log(self) -> None:
        try:
            self.sv.log.clear()
        except FileNotFoundError:
            raise RPCError(Faults.NO_FILE) from None
        except OSError:
            raise RPCError(Faults.FAILED) from None

    def shutdown(self) -> None:
        self.sv.request_shutdown()

    async def restart(self) -> None:
        try:
            await self.sv.restart_with_new_config()
        except ConfigError as exc:
            raise RPCError(Faults.CANT_REREAD, exc) from None

    async def reload_config(self) -> tuple[list[str], list[str], list[str]]:
        """Read the config again; (added, changed, removed) group names."""
        sv = self.sv
        try:
            new = await sv.config_reader.read()
        except ConfigError as exc:
            raise RPCError(Faults.CANT_REREAD, exc) from None
        active = {name: group.config for name, group in sv.groups.items()}
        added, changed, groups = [], [], []
        for gconfig in new.groups:
            current = active.get(gconfig.name)
            if current is None:
                added.append(gconfig.name)
            elif current != gconfig:
                changed.append(gconfig.name)
            else:
                # The running group's own config object, so that a reread
                # does not keep a second copy of every unchanged program
                # (5,000 programs: 14 MiB).
                gconfig = current
            groups.append(gconfig)
        sv.config = dataclasses.replace(new, groups=tuple(groups))
        sv.config_reads += 1
        wanted = {g.name for g in new.groups}
        removed = [name for name in active if name not in wanted]
        return added, changed, removed

    def add_group(self, name: Any) -> None:
        name = _text(name)
        gconfig: Optional[GroupConfig] = self.sv.config.group(name)
        if gconfig is None:
            raise RPCError(Faults.BAD_NAME, name)
        if name in self.sv.groups:
            raise RPCError(Faults.ALREADY_ADDED, name)
        self.sv.add_group(gconfig)

    def remove_group(self, name: Any) -> None:
        group = self.group(name)
        if group.unstopped():
            raise RPCError(Faults.STILL_RUNNING, name)
        self.sv.remove_group(group.name)

    def emit_remote_communication(self, type: str, data: str) -> None:
        self.sv.emit_remote_communication(type, data)

    # -- finding processes -------------------------------------------------------

    def lookup(self, name: Any) -> tuple[ProcessGroup, Optional[Process]]:
        """``group``, ``group:*`` -> (group, None); ``name``, ``group:name`` -> (group, process)."""
        name = _text(name)
        group_name, proc_name = split_namespec(name)
        group = self.sv.groups.get(group_name)
        if group is None:
            raise RPCError(Faults.BAD_NAME, name)
        if proc_name is None:
            return group, None
        proc = group.processes.get(proc_name)
        if proc is None:
            raise RPCError(Faults.BAD_NAME, name)
        return group, proc

    def process(self, name: Any) -> Process:
        _group, proc = self.lookup(name)
        if proc is None:
            raise RPCError(Faults.BAD_NAME, name)
        return proc

    def find_process(self, spec: str) -> Optional[Process]:
        """The process named ``spec``, or None (no fault): for HTTP lookups."""
        try:
            return self.process(spec)
        except RPCError:
            return None

    def group(self, name: Any) -> ProcessGroup:
        group = self.sv.groups.get(_text(name))
        if group is None:
            raise RPCError(Faults.BAD_NAME, name)
        return group

    def by_priority(self, group: Optional[ProcessGroup] = None) -> list[Process]:
        """A group's processes (every process without one) in start order."""
        if group is None:
            return info.all_processes_by_priority(self.sv.groups)
        return info.by_priority(list(group.processes.values()))

    def lexical(self) -> list[Process]:
        return self.sv.lexical()

    # -- starting, stopping, signals ----------------------------------------------

    def _check_command(self, proc: Process) -> None:
        """Refuse at once a start that could only fail (stock's pre-check)."""
        sv = self.sv
        # The PATH the child would get: its own environment wins, as in the spawn.
        path = sv.base_env.get("PATH", os.defpath)
        for key, value in (*sv.config.supervisord.environment, *proc.config.environment):
            if key == "PATH":
                path = value
        try:
            sv.resolve_command(proc.config.command, path)
        except SpawnError as exc:
            text = str(exc)
            if text.startswith("can't find command"):
                raise RPCError(Faults.NO_FILE, text) from None
            raise RPCError(Faults.NOT_EXECUTABLE, text) from None

    def begin_start(self, proc: Process, name: str, wait: bool) -> Optional[Pending]:
        """Start ``proc``; a Pending to await when ``wait`` and it is not RUNNING yet."""
        self._check_command(proc)
        state = proc.state
        if state in RUNNING_STATES:
            raise RPCError(Faults.ALREADY_STARTED, name)
        if state == ProcessState.UNKNOWN:
            raise RPCError(Faults.FAILED, f"{name} is in an unknown process state")
        proc.start()
        if proc.spawnerr:
            raise RPCError(Faults.SPAWN_ERROR, name)
        if not wait or proc.state == ProcessState.RUNNING:
            return None

        def finish() -> None:
            if proc.spawnerr:
                raise RPCError(Faults.SPAWN_ERROR, name)
            if proc.state not in (ProcessState.STARTING, ProcessState.RUNNING):
                raise RPCError(Faults.ABNORMAL_TERMINATION, name)

        return Pending(proc, self.sv.wait_for(proc, _started_or_failed), finish)

    def begin_stop(self, proc: Process, name: str, wait: bool) -> Optional[Pending]:
        if proc.state not in RUNNING_STATES:
            if proc.state == ProcessState.FATAL and proc.machine.deadline() is not None:
                proc.stop_now()  # the operator said stop: no fatal_retry_secs retry
            raise RPCError(Faults.NOT_RUNNING, name)
        proc.stop()
        if proc.state == ProcessState.UNKNOWN:
            raise RPCError(Faults.FAILED, f"could not send the stop signal to {name}")
        if not wait or proc.state in STOPPED_STATES:
            return None
        return Pending(proc, self.sv.wait_for(proc, _stopped), lambda: None)

    async def start(self, proc: Process, name: str, wait: bool) -> bool:
        """startProcess of one process: True once started (RUNNING with ``wait``)."""
        return await _settled(self.begin_start(proc, name, wait))

    async def stop(self, proc: Process, name: str, wait: bool) -> bool:
        """stopProcess of one process: True once asked (stopped with ``wait``)."""
        return await _settled(self.begin_stop(proc, name, wait))

    def signal(self, proc: Process, name: str, signal: Any) -> None:
        try:
            sig = datatypes.signal_number(signal)
        except (ValueError, TypeError):
            raise RPCError(Faults.BAD_SIGNAL, signal) from None
        if proc.state not in SIGNALLABLE_STATES:
            raise RPCError(Faults.NOT_RUNNING, name)
        proc.send_signal(sig)
        if proc.state == ProcessState.UNKNOWN:
            raise RPCError(Faults.FAILED, f"could not send {signal} to {name}")

    async def start_many(self, procs: Iterable[Process], wait: bool) -> list[Result]:
        """Start every process of ``procs`` that is not running (stock's group start)."""
        return await self._each(
            procs,
            lambda p: p.state not in RUNNING_STATES,
            lambda p, spec: self.begin_start(p, spec, wait),
            # Starting more once the daemon stops would leave them running
            # past the stop of their group.
            still_wanted=self.require_running,
        )

    async def stop_many(self, procs: Iterable[Process], wait: bool) -> list[Result]:
        """Stop every running process of ``procs``."""
        return await self._each(
            procs,
            lambda p: p.state in RUNNING_STATES,
            lambda p, spec: self.begin_stop(p, spec, wait),
        )

    async def signal_many(self, procs: Iterable[Process], signal: Any) -> list[Result]:
        """Signal every process of ``procs`` that can take one."""

        def begin(proc: Process, spec: str) -> None:
            self.signal(proc, spec, signal)

        return await self._each(procs, lambda p: p.state in SIGNALLABLE_STATES, begin)

    async def _each(
        self,
        procs: Iterable[Process],
        wanted: Callable[[Process], bool],
        begin: Callable[[Process, str], Optional[Pending]],
        still_wanted: Optional[Callable[[], None]] = None,
    ) -> list[Result]:
        """Apply ``begin`` to every wanted process, in slices (see
        :mod:`.slices`).  The result list holds immediate outcomes first (in
        the order given), then the waiting ones in the order they finish:
        stock's order."""
        results: list[Result] = []
        pending: list[Pending] = []

        def one(proc: Process) -> None:
            if not wanted(proc):
                return
            try:
                waiting = begin(proc, spec_of(proc))
            except RPCError as exc:
                results.append(info.group_result(proc, exc.code, exc.text))
                return
            if waiting is None:
                results.append(info.group_result(proc, Faults.SUCCESS, "OK"))
            else:
                pending.append(waiting)

        try:
            await in_slices(procs, one, still_wanted=still_wanted)
            while pending:
                await asyncio.wait([p.future for p in pending], return_when=asyncio.FIRST_COMPLETED)
                still = []
                for waiting in pending:
                    if not waiting.future.done():
                        still.append(waiting)
                        continue
                    try:
                        waiting.finish()
                    except RPCError as exc:
                        results.append(info.group_result(waiting.proc, exc.code, exc.text))
                    else:
                        results.append(info.group_result(waiting.proc, Faults.SUCCESS, "OK"))
                pending = still
        finally:
            for waiting in pending:
                waiting.future.cancel()
        return results

    # -- what clients read about processes -------------------------------------------

    def process_info(self, proc: Process, now: Optional[float] = None) -> Result:
        return info.process_info(proc, now)

    def config_info(self) -> list[Result]:
        """getAllConfigInfo: every process the config (as last read) defines."""
        sv = self.sv
        out = []
        for gconfig in sv.config.groups:
            live = sv.groups.get(gconfig.name)
            same = live is not None and live.config is gconfig and live.config_read == sv.config_reads
            for pconfig in gconfig.processes:
                proc = live.processes.get(pconfig.name) if same and live is not None else None
                out.append(info.config_info(gconfig, pconfig, live is not None, proc))
        out.sort(key=lambda d: d["name"])
        return out

    # -- process logs -----------------------------------------------------------------

    @staticmethod
    def log_path(proc: Process, channel: str) -> Optional[str]:
        """The file a channel is logged to (None: no file)."""
        return proc.stdout_logfile if channel == "stdout" else proc.stderr_logfile

    def auto_log_pending(self, proc: Process, channel: str) -> bool:
        """An AUTO log file is only created with the first output; until then
        clients see the empty file stock would have created at start."""
        config = proc.config.stdout if channel == "stdout" else proc.config.stderr
        return config.logfile is AUTO and self.log_path(proc, channel) is not None

    def output_of(self, spec: str, channel: str) -> Optional[Any]:
        """The output channel a log follower (``/logtail``) waits on for
        ``spec``'s ``channel``, or None once the program is gone."""
        proc = self.find_process(spec)
        return getattr(proc, channel, None) if proc is not None else None

    def journal_log(self, proc: Process, channel: str) -> Optional[journal_reader.JournalLog]:
        """The journal read-back of a channel with no log file, else None."""
        if self.log_path(proc, channel) is not None:
            return None
        return _journal(proc, channel)

    async def read_log(self, proc: Process, channel: str, offset: int, length: int) -> bytes:
        path = self.log_path(proc, channel)
        if path is None:
            journal = _journal(proc, channel)
            if journal is None:
                raise RPCError(Faults.NO_FILE)
            try:
                return await _journal_call(journal.read(offset, length))
            except reader.BadArguments:
                raise RPCError(Faults.BAD_ARGUMENTS) from None
            except reader.Failed:
                raise RPCError(Faults.FAILED) from None
        if not os.path.exists(path):
            if not self.auto_log_pending(proc, channel):
                raise RPCError(Faults.NO_FILE, path)
            # An AUTO log nobody wrote to yet: stock has an empty file there.
            if (offset < 0 and length != 0) or length < 0:
                raise RPCError(Faults.BAD_ARGUMENTS)
            return b""
        return await _read_file(path, offset, length)

    async def tail_log(self, proc: Process, channel: str, offset: int, length: int) -> tuple[bytes, int, bool]:
        path = self.log_path(proc, channel)
        if path is None:
            journal = _journal(proc, channel)
            if journal is not None:
                try:
                    return await _journal_call(journal.tail(offset, length))
                except reader.Failed:
                    return b"", offset, False  # as for an unreadable file
        if path is None or not os.path.exists(path):
            return b"", 0, False
        return reader.tail_file(path, offset, length)

    def clear_logs(self, proc: Process, name: str) -> None:
        """Empty both log files of ``proc``; FAILED if one cannot be."""
        for channel in (proc.stdout, proc.stderr):
            if channel.logfile is None:
                continue
            try:
                channel.logfile.clear()
            except OSError:
                raise RPCError(Faults.FAILED, name) from None

    async def clear_many(self, procs: Iterable[Process]) -> list[Result]:
        def begin(proc: Process, spec: str) -> None:
            self.clear_logs(proc, spec)

        return await self._each(procs, lambda p: True, begin)

    # -- talking to processes -------------------------------------------------------------

    def write_stdin(self, proc: Process, name: str, data: bytes) -> None:
        """Write to a process's stdin: NOT_RUNNING without a live child (or
        while it is being stopped), NO_FILE once nobody reads it."""
        if not proc.pid or proc.machine.killing:
            raise RPCError(Faults.NOT_RUNNING, name)
        try:
            proc.stdin.write(data)
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):
                raise RPCError(Faults.NO_FILE, name) from None
            raise


async def _read_file(path: str, offset: int, length: int) -> bytes:
    # One thread, one loop: a read of a whole 50 MB log stalls the loop
    # for the few tens of milliseconds it takes (stock stalls likewise).
    try:
        return reader.read_file(path, offset, length)
    except reader.BadArguments:
        raise RPCError(Faults.BAD_ARGUMENTS) from None
    except reader.NoFile:
        raise RPCError(Faults.NO_FILE, path) from None
    except reader.Failed:
        raise RPCError(Faults.FAILED) from None
