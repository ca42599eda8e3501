"""``supervisor.*``: the stock XML-RPC API, method for method.

Names (aliases included), parameters, return values, fault codes and fault
texts are Supervisor 4.3's, because supervisorctl and third-party tools
depend on every one of them.  What differs is how waiting works: a call that
waits for a process to start or stop awaits a future the runtime resolves
at the state change itself, so it answers the moment the state is reached.
"""

from __future__ import annotations

import asyncio
import errno
import os
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from .. import API_VERSION, SUPERVISOR_VERSION
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
from ..runtime.spawn import SpawnError
from . import info
from .faults import Faults, RPCError
from .stdin import write_stdin

if TYPE_CHECKING:
    from ..runtime.child import Process
    from ..runtime.supervisor import ProcessGroup, Supervisor



def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise RPCError(Faults.INCORRECT_PARAMETERS)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false")
    return bool(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise RPCError(Faults.INCORRECT_PARAMETERS)
    return value


def _decode(data: bytes) -> str:
    # Stock decodes strictly and fails the whole call on a byte sequence cut
    # in half by the offset; a replacement character is more useful.
    return data.decode("utf-8", "replace")


class _Pending:
    """The waiting half of a start or stop: a future from Supervisor.wait_for
    and the check that turns the final state into a result or a fault."""

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


def process_log_path(proc: Process, channel: str) -> Optional[str]:
    return proc.stdout_logfile if channel == "stdout" else proc.stderr_logfile


def auto_log_pending(proc: Process, channel: str) -> bool:
    """An AUTO log file is only created with the first output; until then
    the API treats it as the empty file stock would have created at start."""
    config = proc.config.stdout if channel == "stdout" else proc.config.stderr
    return config.logfile is AUTO and process_log_path(proc, channel) is not None


def _started_or_failed(proc: Process) -> bool:
    return proc.state != ProcessState.STARTING or bool(proc.spawnerr)


def _stopped(proc: Process) -> bool:
    return proc.state in STOPPED_STATES


class SupervisorNamespace:
    """The methods of ``[rpcinterface:supervisor]``.

    ``get_supervisor`` returns the Supervisor of the current generation: the
    daemon replaces it on every restart and this object outlives them.
    """

    def __init__(self, get_supervisor: Callable[[], Supervisor]) -> None:
        self._get = get_supervisor

    # -- helpers -------------------------------------------------------------

    def _sv(self) -> Supervisor:
        """The current Supervisor, or SHUTDOWN_STATE while it stops."""
        sv = self._get()
        if sv.state < SupervisorState.RUNNING:
            raise RPCError(Faults.SHUTDOWN_STATE)
        return sv

    @staticmethod
    def _lookup(sv: Supervisor, name: Any) -> tuple[ProcessGroup, Optional[Process]]:
        name = _text(name)
        group_name, proc_name = split_namespec(name)
        group = sv.groups.get(group_name)
        if group is None:
            raise RPCError(Faults.BAD_NAME, name)
        if proc_name is None:
            return group, None
        proc = group.processes.get(proc_name)
        if proc is None:
            raise RPCError(Faults.BAD_NAME, name)
        return group, proc

    def _process(self, sv: Supervisor, name: Any) -> Process:
        _group, proc = self._lookup(sv, name)
        if proc is None:
            raise RPCError(Faults.BAD_NAME, name)
        return proc

    @staticmethod
    def _group(sv: Supervisor, name: Any) -> ProcessGroup:
        group = sv.groups.get(_text(name))
        if group is None:
            raise RPCError(Faults.BAD_NAME, name)
        return group

    @staticmethod
    async def _each(
        procs: list[Process],
        wanted: Callable[[Process], bool],
        begin: Callable[[Process, str], Optional[_Pending]],
    ) -> list[dict[str, Any]]:
        """Apply ``begin`` to every wanted process; the result list holds
        immediate outcomes first (in priority order), then the waiting ones
        in the order they finish."""
        results: list[dict[str, Any]] = []
        pending: list[_Pending] = []
        for proc in procs:
            if not wanted(proc):
                continue
            try:
                waiting = begin(proc, make_namespec(proc.group.name, proc.name))
            except RPCError as exc:
                results.append(info.group_result(proc, exc.code, exc.text))
                continue
            if waiting is None:
                results.append(info.group_result(proc, Faults.SUCCESS, "OK"))
            else:
                pending.append(waiting)
        try:
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

    @staticmethod
    def _check_command(sv: Supervisor, proc: Process) -> None:
        """Refuse at once a start that could only fail (stock's pre-check)."""
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

    def _begin_start(self, sv: Supervisor, proc: Process, name: str, wait: bool) -> Optional[_Pending]:
        self._check_command(sv, proc)
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

        return _Pending(proc, sv.wait_for(proc, _started_or_failed), finish)

    @staticmethod
    def _begin_stop(sv: Supervisor, proc: Process, name: str, wait: bool) -> Optional[_Pending]:
        if proc.state not in RUNNING_STATES:
            raise RPCError(Faults.NOT_RUNNING, name)
        proc.stop()
        if proc.state == ProcessState.UNKNOWN:
            raise RPCError(Faults.FAILED, f"could not send the stop signal to {name}")
        if not wait or proc.state in STOPPED_STATES:
            return None
        return _Pending(proc, sv.wait_for(proc, _stopped), lambda: None)

    @staticmethod
    def _signal_one(proc: Process, name: str, signal: Any) -> None:
        try:
            sig = datatypes.signal_number(signal)
        except (ValueError, TypeError):
            raise RPCError(Faults.BAD_SIGNAL, signal) from None
        if proc.state not in SIGNALLABLE_STATES:
            raise RPCError(Faults.NOT_RUNNING, name)
        proc.send_signal(sig)
        if proc.state == ProcessState.UNKNOWN:
            raise RPCError(Faults.FAILED, f"could not send {signal} to {name}")

    @staticmethod
    async def _read(path: str, offset: int, length: int) -> str:
        # One thread, one loop: a read of a whole 50 MB log stalls the loop
        # for the few tens of milliseconds it takes (stock stalls likewise).
        try:
            return _decode(reader.read_file(path, offset, length))
        except reader.BadArguments:
            raise RPCError(Faults.BAD_ARGUMENTS) from None
        except reader.NoFile:
            raise RPCError(Faults.NO_FILE, path) from None
        except reader.Failed:
            raise RPCError(Faults.FAILED) from None

    # -- status and control of the daemon ------------------------------------

    def getAPIVersion(self) -> str:
        """The version of this XML-RPC API (not of the package).

        @return string version  the API version, '3.0'
        """
        self._sv()
        return API_VERSION

    getVersion = getAPIVersion

    def getSupervisorVersion(self) -> str:
        """The version of supervisord this daemon is compatible with.

        @return string version  e.g. '4.3.0'
        """
        self._sv()
        return SUPERVISOR_VERSION

    def getIdentification(self) -> str:
        """The identifier of this daemon ([supervisord] identifier).

        @return string identifier  the identifier
        """
        return self._sv().config.supervisord.identifier

    def getState(self) -> dict[str, Any]:
        """The state of the daemon itself.

        @return struct state  {statecode: int, statename: string}; codes are
                              FATAL 2, RUNNING 1, RESTARTING 0, SHUTDOWN -1
        """
        state = self._sv().state
        return {"statecode": int(state), "statename": state.name}

    def getPID(self) -> int:
        """The process id of the daemon.

        @return int pid  the daemon's pid
        """
        self._sv()
        return os.getpid()

    async def readLog(self, offset: int, length: int) -> str:
        """Read part of the daemon's own log file.

        offset >= 0 and length 0 reads to the end; offset >= 0 and length > 0
        reads that many bytes; a negative offset with length 0 reads the last
        -offset bytes.  Anything else is BAD_ARGUMENTS.

        @param int offset   where to start, or how far from the end if negative
        @param int length   how many bytes, 0 for all
        @return string log  the bytes read, as text
        """
        sv = self._sv()
        offset, length = _int(offset), _int(length)
        path = sv.log.path
        if path is None:
            raise RPCError(Faults.NO_FILE)
        if not os.path.exists(path):
            raise RPCError(Faults.NO_FILE, path)
        return await self._read(path, offset, length)

    readMainLog = readLog

    def clearLog(self) -> bool:
        """Empty the daemon's log file (it is removed and opened anew).

        @return boolean result  True, or a fault
        """
        sv = self._sv()
        try:
            sv.log.clear()
        except FileNotFoundError:
            raise RPCError(Faults.NO_FILE) from None
        except OSError:
            raise RPCError(Faults.FAILED) from None
        return True

    def shutdown(self) -> bool:
        """Stop every process, then the daemon.

        @return boolean result  True; the daemon stops after answering
        """
        self._sv().request_shutdown()
        return True

    def restart(self) -> bool:
        """Stop every process, read the configuration again and start afresh
        in the same daemon process.

        @return boolean result  True, or CANT_REREAD if the file has an error
        """
        sv = self._sv()
        from ..config.loader import load

        try:
            new = load(sv.config.path, overrides=sv.overrides)
        except ConfigError as exc:
            # Restarting into a config that cannot be read would end the
            # daemon; refuse and keep running what runs.
            sv.log.error(f"not restarting, the config file has an error: {exc}")
            raise RPCError(Faults.CANT_REREAD, exc) from None
        sv.request_restart(new)
        return True

    def reloadConfig(self) -> list[list[list[str]]]:
        """Read the configuration file again and tell how it differs from the
        groups now active.  Nothing is started or stopped: use
        addProcessGroup / removeProcessGroup (supervisorctl update) for that.

        @return array result  [[added, changed, removed]], each a list of group names
        """
        sv = self._sv()
        from ..config.loader import load

        try:
            new = load(sv.config.path, overrides=sv.overrides)
        except ConfigError as exc:
            raise RPCError(Faults.CANT_REREAD, exc) from None
        sv.config = new
        active = {name: group.config for name, group in sv.groups.items()}
        wanted = {g.name: g for g in new.groups}
        added = [g.name for g in new.groups if g.name not in active]
        changed = [g.name for g in new.groups if g.name in active and active[g.name] != g]
        removed = [name for name in active if name not in wanted]
        return [[added, changed, removed]]

    def addProcessGroup(self, name: str) -> bool:
        """Activate a group that the configuration (as last read) defines.

        @param string name      the group name
        @return boolean result  True; ALREADY_ADDED if it is active already
        """
        sv = self._sv()
        name = _text(name)
        gconfig: Optional[GroupConfig] = sv.config.group(name)
        if gconfig is None:
            raise RPCError(Faults.BAD_NAME, name)
        if name in sv.groups:
            raise RPCError(Faults.ALREADY_ADDED, name)
        sv.add_group(gconfig)
        return True

    def removeProcessGroup(self, name: str) -> bool:
        """Deactivate a group whose processes are all stopped.

        @param string name      the group name
        @return boolean result  True; STILL_RUNNING if a process is not stopped
        """
        sv = self._sv()
        group = self._group(sv, name)
        if group.unstopped():
            raise RPCError(Faults.STILL_RUNNING, name)
        sv.remove_group(group.name)
        return True

    # -- starting and stopping -------------------------------------------------

    async def startProcess(self, name: str, wait: bool = True) -> Any:
        """Start one process, or a whole group with 'group:*'.

        @param string name      process name, 'group:name' or 'group:*'
        @param boolean wait     answer only once it is RUNNING (default true)
        @return boolean result  True, or a fault (SPAWN_ERROR, ALREADY_STARTED...)
        """
        sv = self._sv()
        group, proc = self._lookup(sv, name)
        if proc is None:
            return await self.startProcessGroup(group.name, wait)
        waiting = self._begin_start(sv, proc, name, _bool(wait))
        if waiting is None:
            return True
        return await waiting.result()

    async def startProcessGroup(self, name: str, wait: bool = True) -> list[dict[str, Any]]:
        """Start every process of a group that is not running.

        @param string name    the group name
        @param boolean wait   answer only once each one is RUNNING (default true)
        @return array result  one {name, group, status, description} per process started
        """
        sv = self._sv()
        group = self._group(sv, name)
        wait = _bool(wait)
        return await self._each(
            info.by_priority(list(group.processes.values())),
            lambda p: p.state not in RUNNING_STATES,
            lambda p, spec: self._begin_start(sv, p, spec, wait),
        )

    async def startAllProcesses(self, wait: bool = True) -> list[dict[str, Any]]:
        """Start every process that is not running, in priority order.

        @param boolean wait   answer only once each one is RUNNING (default true)
        @return array result  one {name, group, status, description} per process started
        """
        sv = self._sv()
        wait = _bool(wait)
        return await self._each(
            info.all_processes_by_priority(sv.groups),
            lambda p: p.state not in RUNNING_STATES,
            lambda p, spec: self._begin_start(sv, p, spec, wait),
        )

    async def stopProcess(self, name: str, wait: bool = True) -> Any:
        """Stop one process, or a whole group with 'group:*'.

        @param string name      process name, 'group:name' or 'group:*'
        @param boolean wait     answer only once it has stopped (default true)
        @return boolean result  True, or a fault (NOT_RUNNING...)
        """
        sv = self._sv()
        group, proc = self._lookup(sv, name)
        if proc is None:
            return await self.stopProcessGroup(group.name, wait)
        waiting = self._begin_stop(sv, proc, name, _bool(wait))
        if waiting is None:
            return True
        return await waiting.result()

    async def stopProcessGroup(self, name: str, wait: bool = True) -> list[dict[str, Any]]:
        """Stop every running process of a group.

        @param string name    the group name
        @param boolean wait   answer only once each one has stopped (default true)
        @return array result  one {name, group, status, description} per process stopped
        """
        sv = self._sv()
        group = self._group(sv, name)
        wait = _bool(wait)
        return await self._each(
            info.by_priority(list(group.processes.values())),
            lambda p: p.state in RUNNING_STATES,
            lambda p, spec: self._begin_stop(sv, p, spec, wait),
        )

    async def stopAllProcesses(self, wait: bool = True) -> list[dict[str, Any]]:
        """Stop every running process.

        @param boolean wait   answer only once each one has stopped (default true)
        @return array result  one {name, group, status, description} per process stopped
        """
        sv = self._sv()
        wait = _bool(wait)
        return await self._each(
            info.all_processes_by_priority(sv.groups),
            lambda p: p.state in RUNNING_STATES,
            lambda p, spec: self._begin_stop(sv, p, spec, wait),
        )

    def signalProcess(self, name: str, signal: str) -> Any:
        """Send a signal to one process (to its pid only), or to a group with
        'group:*'.

        @param string name      process name, 'group:name' or 'group:*'
        @param string signal    signal name ('HUP', 'SIGHUP') or number ('1')
        @return boolean result  True, or a fault (BAD_SIGNAL, NOT_RUNNING...)
        """
        sv = self._sv()
        group, proc = self._lookup(sv, name)
        if proc is None:
            return self.signalProcessGroup(group.name, signal)
        self._signal_one(proc, name, signal)
        return True

    def _signal_all(self, procs: list[Process], signal: Any) -> list[dict[str, Any]]:
        results = []
        for proc in procs:
            if proc.state not in SIGNALLABLE_STATES:
                continue
            try:
                self._signal_one(proc, make_namespec(proc.group.name, proc.name), signal)
            except RPCError as exc:
                results.append(info.group_result(proc, exc.code, exc.text))
            else:
                results.append(info.group_result(proc, Faults.SUCCESS, "OK"))
        return results

    def signalProcessGroup(self, name: str, signal: str) -> list[dict[str, Any]]:
        """Send a signal to every process of a group that can take one
        (STARTING, RUNNING, STOPPING).

        @param string name    the group name
        @param string signal  signal name or number
        @return array result  one {name, group, status, description} per process signalled
        """
        sv = self._sv()
        group = self._group(sv, name)
        results = self._signal_all(info.by_priority(list(group.processes.values())), signal)
        self._sv()
        return results

    def signalAllProcesses(self, signal: str) -> list[dict[str, Any]]:
        """Send a signal to every process that can take one.

        @param string signal  signal name or number
        @return array result  one {name, group, status, description} per process signalled
        """
        sv = self._get()
        results = self._signal_all(info.all_processes_by_priority(sv.groups), signal)
        self._sv()
        return results

    # -- information ---------------------------------------------------------

    def getProcessInfo(self, name: str) -> dict[str, Any]:
        """Everything about one process.

        @param string name    process name or 'group:name'
        @return struct info   name, group, start, stop, now, state, statename,
                              spawnerr, exitstatus, logfile, stdout_logfile,
                              stderr_logfile, pid, description
        """
        return info.process_info(self._process(self._sv(), name))

    def getAllProcessInfo(self) -> list[dict[str, Any]]:
        """getProcessInfo for every process, by group name then process name.

        @return array result  one getProcessInfo struct per process
        """
        sv = self._sv()
        now = time.time()
        return [info.process_info(p, now) for p in info.all_processes_lexical(sv.groups)]

    def getAllConfigInfo(self) -> list[dict[str, Any]]:
        """The configuration of every process the configuration file (as last
        read) defines, active or not, sorted by process name.

        @return array result  one struct per process; 'inuse' tells whether
                              its group is active
        """
        sv = self._sv()
        out = []
        for gconfig in sv.config.groups:
            live = sv.groups.get(gconfig.name)
            same = live is not None and live.config is gconfig
            for pconfig in gconfig.processes:
                proc = live.processes.get(pconfig.name) if same and live is not None else None
                out.append(info.config_info(gconfig, pconfig, live is not None, proc))
        out.sort(key=lambda d: d["name"])
        return out

    # -- process logs ----------------------------------------------------------

    async def _read_process_log(self, name: Any, offset: Any, length: Any, channel: str) -> str:
        proc = self._process(self._sv(), name)
        offset, length = _int(offset), _int(length)
        path = process_log_path(proc, channel)
        if path is None:
            journal = journal_reader.for_process(proc, channel)
            if journal is None:
                raise RPCError(Faults.NO_FILE)
            try:
                return _decode(journal.read(offset, length))
            except reader.BadArguments:
                raise RPCError(Faults.BAD_ARGUMENTS) from None
            except reader.Failed:
                raise RPCError(Faults.FAILED) from None
        if not os.path.exists(path):
            if not auto_log_pending(proc, channel):
                raise RPCError(Faults.NO_FILE, path)
            # An AUTO log nobody wrote to yet: stock has an empty file there.
            if (offset < 0 and length != 0) or length < 0:
                raise RPCError(Faults.BAD_ARGUMENTS)
            return ""
        return await self._read(path, offset, length)

    async def readProcessStdoutLog(self, name: str, offset: int, length: int) -> str:
        """Read part of a process's stdout log; offset and length work as in readLog.

        @param string name    process name or 'group:name'
        @param int offset     where to start, or how far from the end if negative
        @param int length     how many bytes, 0 for all
        @return string log    the bytes read, as text
        """
        return await self._read_process_log(name, offset, length, "stdout")

    readProcessLog = readProcessStdoutLog

    async def readProcessStderrLog(self, name: str, offset: int, length: int) -> str:
        """Read part of a process's stderr log; offset and length work as in readLog.

        @param string name    process name or 'group:name'
        @param int offset     where to start, or how far from the end if negative
        @param int length     how many bytes, 0 for all
        @return string log    the bytes read, as text
        """
        return await self._read_process_log(name, offset, length, "stderr")

    def _tail_process_log(self, name: Any, offset: Any, length: Any, channel: str) -> list[Any]:
        proc = self._process(self._sv(), name)
        offset, length = _int(offset), _int(length)
        path = process_log_path(proc, channel)
        if path is None:
            journal = journal_reader.for_process(proc, channel)
            if journal is not None:
                try:
                    data, new_offset, overflow = journal.tail(offset, length)
                except reader.Failed:
                    return ["", offset, False]  # as for an unreadable file
                return [_decode(data), new_offset, overflow]
        if path is None or not os.path.exists(path):
            return ["", 0, False]
        data, new_offset, overflow = reader.tail_file(path, offset, length)
        return [_decode(data), new_offset, overflow]

    def tailProcessStdoutLog(self, name: str, offset: int, length: int) -> list[Any]:
        """Follow a process's stdout log: ask for up to length bytes from
        offset.  If the log has grown past offset + length, only its last
        length bytes come back and overflow is true.  The offset returned is
        the log's size: pass it in the next call.

        @param string name    process name or 'group:name'
        @param int offset     where the previous call ended
        @param int length     the most bytes wanted
        @return array result  [string bytes, int offset, boolean overflow]
        """
        return self._tail_process_log(name, offset, length, "stdout")

    tailProcessLog = tailProcessStdoutLog

    def tailProcessStderrLog(self, name: str, offset: int, length: int) -> list[Any]:
        """tailProcessStdoutLog for the stderr log.

        @param string name    process name or 'group:name'
        @param int offset     where the previous call ended
        @param int length     the most bytes wanted
        @return array result  [string bytes, int offset, boolean overflow]
        """
        return self._tail_process_log(name, offset, length, "stderr")

    @staticmethod
    def _clear_one(proc: Process, name: str) -> None:
        for channel in (proc.stdout, proc.stderr):
            if channel.logfile is None:
                continue
            try:
                channel.logfile.clear()
            except OSError:
                raise RPCError(Faults.FAILED, name) from None

    def clearProcessLogs(self, name: str) -> bool:
        """Empty both log files of a process (removed and opened anew).

        @param string name      process name or 'group:name'
        @return boolean result  True, or a fault
        """
        proc = self._process(self._sv(), name)
        self._clear_one(proc, name)
        return True

    clearProcessLog = clearProcessLogs

    def clearAllProcessLogs(self) -> list[dict[str, Any]]:
        """clearProcessLogs for every process.

        @return array result  one {name, group, status, description} per process
        """
        sv = self._sv()
        results = []
        for proc in info.all_processes_by_priority(sv.groups):
            try:
                self._clear_one(proc, make_namespec(proc.group.name, proc.name))
            except RPCError as exc:
                results.append(info.group_result(proc, exc.code, exc.text))
            else:
                results.append(info.group_result(proc, Faults.SUCCESS, "OK"))
        return results

    # -- talking to processes ----------------------------------------------------

    def sendProcessStdin(self, name: str, chars: str) -> bool:
        """Write to a process's stdin (text is sent as UTF-8).

        @param string name      process name or 'group:name'
        @param string chars     what to write
        @return boolean result  True; NOT_RUNNING, or NO_FILE if its stdin is closed
        """
        sv = self._sv()
        if isinstance(chars, str):
            data = chars.encode("utf-8")
        elif isinstance(chars, (bytes, bytearray)):
            data = bytes(chars)
        else:
            raise RPCError(Faults.INCORRECT_PARAMETERS, chars)
        proc = self._process(sv, name)
        if not proc.pid or proc.machine.killing:
            raise RPCError(Faults.NOT_RUNNING, name)
        try:
            write_stdin(proc, data, sv.loop)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise RPCError(Faults.NO_FILE, name) from None
            raise
        return True

    def sendRemoteCommEvent(self, type: str, data: str) -> bool:
        """Send a REMOTE_COMMUNICATION event to the event listeners that
        subscribe to it.

        @param string type      the 'type' header of the event
        @param string data      the event body
        @return boolean result  True
        """
        self._get().emit_remote_communication(str(type), str(data))
        return True
