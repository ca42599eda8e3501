"""``twiddler.*``: supervisor_twiddler's API, served natively.

Served while the config has a section with supervisor_twiddler's factory::

    [rpcinterface:twiddler]
    supervisor.rpcinterface_factory = supervisor_twiddler.rpcinterface:make_twiddler_rpcinterface
    whitelist = getAPIVersion,getGroupNames     ; optional

Method names, arguments, results, fault codes and texts are the plugin's
1.0 API, so its users' scripts work unchanged; the package itself is not
needed (nor imported).  The work is :mod:`..runtime.added_programs`', which
``ng.*`` shares.
"""

from __future__ import annotations

from typing import Any

from ..config import datatypes as dt
from ..config.model import LEVEL_TAGS
from ..config.rpc_plugins import TWIDDLER_FACTORY, native_interface
from .api_added_programs import add_program_to_group, remove_process_from_group
from .api_common import ApiPart
from .faults import Faults, RPCError

API_VERSION = "1.0"
NOT_IN_WHITELIST = 230  # the plugin's own fault code
_LEVELS_BY_TAG = {tag: number for number, tag in LEVEL_TAGS.items()}


class TwiddlerNamespace(ApiPart):
    """supervisor_twiddler's methods."""

    def _rpc_served(self) -> bool:
        """Whether the current config declares the plugin (the registry asks)."""
        return self._interface() is not None

    def _interface(self) -> Any:
        sv = self._get()
        if sv is None:
            return None
        return native_interface(sv.config.native_rpcinterfaces, TWIDDLER_FACTORY)

    def _update(self, method: str) -> None:
        """The plugin's checks before every call: not shutting down, and in
        the whitelist when one is given."""
        self._control()
        interface = self._interface()
        options = dict(interface[2]) if interface is not None else {}
        whitelist = dt.list_of_strings(options.get("whitelist"))
        if whitelist and method not in whitelist:
            raise RPCError(NOT_IN_WHITELIST, method)

    def getAPIVersion(self) -> str:
        """The version of the twiddler API.

        @return string version  '1.0'
        """
        self._update("getAPIVersion")
        return API_VERSION

    def getGroupNames(self) -> list[str]:
        """The names of the process groups, in start order.

        @return array names  group names
        """
        self._update("getGroupNames")
        return list(self._control().sv.groups)

    def log(self, message: str, level: Any = "INFO") -> bool:
        """Write a line to the daemon's log.

        @param string message     the text
        @param string level       a level name (CRIT, ERRO, WARN, INFO, DEBG, TRAC, BLAT) or number
        @return boolean result    True
        """
        self._update("log")
        number = _LEVELS_BY_TAG.get(level.upper()) if isinstance(level, str) else level
        if not isinstance(number, int) or isinstance(number, bool) or number not in LEVEL_TAGS:
            raise RPCError(Faults.INCORRECT_PARAMETERS)
        self._control().main_log.log(number, str(message))
        return True

    def addProgramToGroup(self, group_name: str, program_name: str, program_options: dict[str, str]) -> bool:
        """Add a program to an existing group: its processes (numprocs) are
        controlled like the file's; they start at once if autostart says so.

        @param string group_name       an existing group
        @param string program_name     the program name, as in [program:x]
        @param struct program_options  the section's options, 'command' required
        @return boolean result         True
        """
        self._update("addProgramToGroup")
        return add_program_to_group(self, group_name, program_name, program_options)

    def removeProcessFromGroup(self, group_name: str, process_name: str) -> bool:
        """Remove one process from a group; it must be stopped.

        @param string group_name    the group
        @param string process_name  the process, as numprocs and process_name name it
        @return boolean result      True
        """
        self._update("removeProcessFromGroup")
        return remove_process_from_group(self, group_name, process_name)
