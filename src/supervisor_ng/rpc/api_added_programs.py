"""``ng.*``: adding and removing programs at run time, always served.

The same capability supervisor_twiddler gives stock (``twiddler.*``, see
:mod:`.api_twiddler`), with one call for the common case: a program that is
its own group, as a ``[program:x]`` section in the file makes.  Options are
the section's, as strings; what is added is forgotten by ``update`` (which
brings the daemon back to the file) and by a restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..runtime import added_programs
from .api_common import ApiPart, as_text
from .faults import Faults, RPCError

if TYPE_CHECKING:
    from ..runtime.control import Control
    from ..runtime.supervisor import ProcessGroup


class AddedProgramsMethods(ApiPart):
    """Programs added and removed without editing a file."""

    def addProgram(self, name: str, options: dict[str, str]) -> bool:
        """Add a program as its own group, as a [program:name] section would;
        it starts at once if autostart (the default) says so.

        @param string name      the program (and group) name
        @param struct options   the section's options as strings, 'command' required
        @return boolean result  True; ALREADY_ADDED if the group exists,
                                INCORRECT_PARAMETERS if an option is wrong
        """
        control = self._control()
        name = as_text(name)
        new = added_programs.read_program(control.sv, name, name, options)
        added_programs.add_group(control.sv, name, new, new[0].priority if new else 999)
        return True

    async def removeProgram(self, name: str) -> bool:
        """Stop every process of a group and remove the group.  A group the
        file defines comes back with 'update'.

        @param string name      the group name
        @return boolean result  True once stopped and removed; BAD_NAME if no such group
        """
        control = self._control()
        group = find_group(control, name)
        await control.stop_many(control.by_priority(group), True)
        control = self._control()
        if control.sv.groups.get(group.name) is group:
            control.remove_group(group.name)
            added_programs.drop_group_config(control.sv, group.name)
        return True

    def addProgramToGroup(self, group: str, name: str, options: dict[str, str]) -> bool:
        """Add a program to an existing group (twiddler.addProgramToGroup).

        @param string group     an existing group
        @param string name      the program name, as in [program:name]
        @param struct options   the section's options as strings, 'command' required
        @return boolean result  True; BAD_NAME if a process of that name exists
        """
        return add_program_to_group(self, group, name, options)

    def removeProcessFromGroup(self, group: str, name: str) -> bool:
        """Remove one stopped process from a group (twiddler.removeProcessFromGroup).

        @param string group     the group
        @param string name      the process name
        @return boolean result  True; STILL_RUNNING unless it is stopped
        """
        return remove_process_from_group(self, group, name)


def find_group(control: Control, name: Any) -> ProcessGroup:
    """The running group ``name``; BAD_NAME says 'group: name', as twiddler's does."""
    group = control.sv.groups.get(name) if isinstance(name, str) else None
    if group is None:
        raise RPCError(Faults.BAD_NAME, f"group: {name}")
    return group


def add_program_to_group(part: ApiPart, group: Any, name: Any, options: Any) -> bool:
    control = part._control()
    target = find_group(control, group)
    new = added_programs.read_program(control.sv, target.name, name, options)
    added_programs.add_to_group(control.sv, target, new)
    return True


def remove_process_from_group(part: ApiPart, group: Any, name: Any) -> bool:
    control = part._control()
    added_programs.remove_from_group(control.sv, find_group(control, group), name)
    return True
