"""``supervisor.*``, information: the process and config structures."""

from __future__ import annotations

import time
from typing import Any

from ..runtime.slices import in_slices
from .api_common import ApiPart


class InfoMethods(ApiPart):
    """What the daemon tells about its processes."""

    def getProcessInfo(self, name: str) -> dict[str, Any]:
        """Everything about one process.

        @param string name    process name or 'group:name'
        @return struct info   name, group, start, stop, now, state, statename,
                              spawnerr, exitstatus, logfile, stdout_logfile,
                              stderr_logfile, pid, description
        """
        control = self._control()
        return control.process_info(control.process(name))

    async def getAllProcessInfo(self) -> list[dict[str, Any]]:
        """getProcessInfo for every process, by group name then process name.

        @return array result  one getProcessInfo struct per process
        """
        control = self._control()
        now = time.time()
        out: list[dict[str, Any]] = []
        # A struct whose process changed state is marshalled anew: right
        # after 5,000 programs started, that is all of them, ~150 ms in one
        # turn; built in slices, the loop is handed back every 5 ms.
        await in_slices(control.lexical(), lambda proc: out.append(control.process_info(proc, now)), max_items=512)
        return out

    def getAllConfigInfo(self) -> list[dict[str, Any]]:
        """The configuration of every process the configuration file (as last
        read) defines, active or not, sorted by process name.

        @return array result  one struct per process; 'inuse' tells whether
                              its group is active
        """
        return self._control().config_info()
