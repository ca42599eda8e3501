"""``supervisor.*``, status and control of the daemon: versions, state,
its own log, shutdown and restart, and the config update calls
(reloadConfig, addProcessGroup, removeProcessGroup)."""

from __future__ import annotations

import os
from typing import Any

from .. import API_VERSION, SUPERVISOR_VERSION
from .api_common import ApiPart, as_int, decode


class DaemonMethods(ApiPart):
    """The daemon's status, log, lifetime and configuration."""

    def getAPIVersion(self) -> str:
        """The version of this XML-RPC API (not of the package).

        @return string version  the API version, '3.0'
        """
        self._control()
        return API_VERSION

    getVersion = getAPIVersion

    def getSupervisorVersion(self) -> str:
        """The version of supervisord this daemon is compatible with.

        @return string version  e.g. '4.3.0'
        """
        self._control()
        return SUPERVISOR_VERSION

    def getIdentification(self) -> str:
        """The identifier of this daemon ([supervisord] identifier).

        @return string identifier  the identifier
        """
        return self._control().identification

    def getState(self) -> dict[str, Any]:
        """The state of the daemon itself.

        @return struct state  {statecode: int, statename: string}; codes are
                              FATAL 2, RUNNING 1, RESTARTING 0, SHUTDOWN -1
        """
        state = self._control().state
        return {"statecode": int(state), "statename": state.name}

    def getPID(self) -> int:
        """The process id of the daemon.

        @return int pid  the daemon's pid
        """
        self._control()
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
        control = self._control()
        return decode(await control.read_main_log(as_int(offset), as_int(length)))

    readMainLog = readLog

    def clearLog(self) -> bool:
        """Empty the daemon's log file (it is removed and opened anew).

        @return boolean result  True, or a fault
        """
        self._control().clear_main_log()
        return True

    def shutdown(self) -> bool:
        """Stop every process, then the daemon.

        @return boolean result  True; the daemon stops after answering
        """
        self._control().shutdown()
        return True

    async def restart(self) -> bool:
        """Stop every process, read the configuration again and start afresh
        in the same daemon process.

        @return boolean result  True, or CANT_REREAD if the file has an error
        """
        await self._control().restart()
        return True

    async def reloadConfig(self) -> list[list[list[str]]]:
        """Read the configuration file again and tell how it differs from the
        groups now active.  Nothing is started or stopped: use
        addProcessGroup / removeProcessGroup (supervisorctl update) for that.

        @return array result  [[added, changed, removed]], each a list of group names
        """
        added, changed, removed = await self._control().reload_config()
        return [[added, changed, removed]]

    def addProcessGroup(self, name: str) -> bool:
        """Activate a group that the configuration (as last read) defines.

        @param string name      the group name
        @return boolean result  True; ALREADY_ADDED if it is active already
        """
        self._control().add_group(name)
        return True

    def removeProcessGroup(self, name: str) -> bool:
        """Deactivate a group whose processes are all stopped.

        @param string name      the group name
        @return boolean result  True; STILL_RUNNING if a process is not stopped
        """
        self._control().remove_group(name)
        return True
