"""``supervisor.*``, information: the process and config structures."""

from __future__ import annotations

import time
from typing import Any

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

    def getAllProcessInfo(self) -> list[dict[str, Any]]:
        """getProcessInfo for every process, by group name then process name.

        @return array result  one getProcessInfo struct per process
        """
        control = self._control()
        now = time.time()
        return [control.process_info(p, now) for p in control.lexical()]

    def getAllConfigInfo(self) -> list[dict[str, Any]]:
        """The configuration of every process the configuration file (as last
        read) defines, active or not, sorted by process name.

        @return array result  one struct per process; 'inuse' tells whether
                              its group is active
        """
        return self._control().config_info()
