"""``supervisor.*``, starting and stopping: start, stop and signal one
process, a group or all of them.

A call that waits for a process to start or stop awaits a future the
runtime resolves at the state change itself, so it answers the moment the
state is reached.  Group and "all" calls work through the processes a
slice per loop turn (:mod:`..runtime.slices`).
"""

from __future__ import annotations

from typing import Any

from .api_common import ApiPart, as_bool


class ProcessMethods(ApiPart):
    """Starting, stopping and signalling processes."""

    async def startProcess(self, name: str, wait: bool = True) -> Any:
        """Start one process, or a whole group with 'group:*'.

        @param string name      process name, 'group:name' or 'group:*'
        @param boolean wait     answer only once it is RUNNING (default true)
        @return boolean result  True, or a fault (SPAWN_ERROR, ALREADY_STARTED...)
        """
        control = self._control()
        group, proc = control.lookup(name)
        if proc is None:
            return await self.startProcessGroup(group.name, wait)
        return await control.start(proc, name, as_bool(wait))

    async def startProcessGroup(self, name: str, wait: bool = True) -> list[dict[str, Any]]:
        """Start every process of a group that is not running.

        @param string name    the group name
        @param boolean wait   answer only once each one is RUNNING (default true)
        @return array result  one {name, group, status, description} per process started
        """
        control = self._control()
        group = control.group(name)
        return await control.start_many(control.by_priority(group), as_bool(wait))

    async def startAllProcesses(self, wait: bool = True) -> list[dict[str, Any]]:
        """Start every process that is not running, in priority order.

        @param boolean wait   answer only once each one is RUNNING (default true)
        @return array result  one {name, group, status, description} per process started
        """
        control = self._control()
        return await control.start_many(control.by_priority(), as_bool(wait))

    async def stopProcess(self, name: str, wait: bool = True) -> Any:
        """Stop one process, or a whole group with 'group:*'.

        @param string name      process name, 'group:name' or 'group:*'
        @param boolean wait     answer only once it has stopped (default true)
        @return boolean result  True, or a fault (NOT_RUNNING...)
        """
        control = self._control()
        group, proc = control.lookup(name)
        if proc is None:
            return await self.stopProcessGroup(group.name, wait)
        return await control.stop(proc, name, as_bool(wait))

    async def stopProcessGroup(self, name: str, wait: bool = True) -> list[dict[str, Any]]:
        """Stop every running process of a group.

        @param string name    the group name
        @param boolean wait   answer only once each one has stopped (default true)
        @return array result  one {name, group, status, description} per process stopped
        """
        control = self._control()
        group = control.group(name)
        return await control.stop_many(control.by_priority(group), as_bool(wait))

    async def stopAllProcesses(self, wait: bool = True) -> list[dict[str, Any]]:
        """Stop every running process.

        @param boolean wait   answer only once each one has stopped (default true)
        @return array result  one {name, group, status, description} per process stopped
        """
        control = self._control()
        return await control.stop_many(control.by_priority(), as_bool(wait))

    async def signalProcess(self, name: str, signal: str) -> Any:
        """Send a signal to one process (to its pid only), or to a group with
        'group:*'.

        @param string name      process name, 'group:name' or 'group:*'
        @param string signal    signal name ('HUP', 'SIGHUP') or number ('1')
        @return boolean result  True, or a fault (BAD_SIGNAL, NOT_RUNNING...)
        """
        control = self._control()
        group, proc = control.lookup(name)
        if proc is None:
            return await self.signalProcessGroup(group.name, signal)
        control.signal(proc, name, signal)
        return True

    async def signalProcessGroup(self, name: str, signal: str) -> list[dict[str, Any]]:
        """Send a signal to every process of a group that can take one
        (STARTING, RUNNING, STOPPING).

        @param string name    the group name
        @param string signal  signal name or number
        @return array result  one {name, group, status, description} per process signalled
        """
        control = self._control()
        results = await control.signal_many(control.by_priority(control.group(name)), signal)
        self._control()  # stock checks the state again once the signals are sent
        return results

    async def signalAllProcesses(self, signal: str) -> list[dict[str, Any]]:
        """Send a signal to every process that can take one.

        @param string signal  signal name or number
        @return array result  one {name, group, status, description} per process signalled
        """
        control = self._any_control()
        results = await control.signal_many(control.by_priority(), signal)
        self._control()  # stock checks the state only once the signals are sent
        return results
