"""Programs added and removed at run time, without editing a file.

A program is given as the options of a ``[program:x]`` section (a dict of
strings) and read by the same code that reads the file, so it means what the
same section would mean there; its processes are then built and run like
any other: spawned, logged, events, status, the web page.

What is added lives in the generation's idea of its config
(``Supervisor.config``), as supervisor_twiddler's additions live in stock's:
``getAllConfigInfo`` and ``avail`` show them, and a ``reread``/``update``
brings the daemon back to what the file says (a group that gained a program
is "changed", a group that exists only at run time is "removed").  A restart
of the daemon forgets them.
"""

from __future__ import annotations

import dataclasses
import os
import platform
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..config import programs
from ..config.expand import env_names
from ..config.ini import IniDocument
from ..config.model import ConfigError, GroupConfig, ProcessConfig
from ..config.reader import Messages
from ..core.states import STOPPED_STATES
from ..rpc.faults import Faults, RPCError
from .child import Process

if TYPE_CHECKING:
    from .supervisor import ProcessGroup, Supervisor

# Where errors in options given over the API say they come from.
_ORIGIN = "<added at run time>"
# Kinds whose processes are plain programs: a pool's members speak the
# listener protocol and an fcgi group's share its socket.
_PROGRAM_KINDS = ("program", "group")


def read_program(
    sv: Supervisor, group_name: str, program_name: str, options: Any
) -> tuple[ProcessConfig, ...]:
    """The processes ``[program:program_name]`` with ``options`` would make in
    ``group_name``; INCORRECT_PARAMETERS with the loader's message if the
    options are not a valid section."""
    if not isinstance(options, Mapping) or not isinstance(program_name, str):
        raise RPCError(Faults.INCORRECT_PARAMETERS)
    section = f"program:{program_name}"
    doc = IniDocument()
    try:
        # The header comes from text (so errors can name an origin); values
        # are set one by one, never parsed: a newline in one cannot make a section.
        doc.read(_ORIGIN, f"[{section}]\n")
        for key, value in options.items():
            if not isinstance(key, str) or not isinstance(value, (str, int, float)):
                raise RPCError(Faults.INCORRECT_PARAMETERS, f"option {key!r}: a string is expected")
            doc.parser.set(section, key, str(value))
    except (ConfigError, ValueError) as exc:  # a bad section name, or a key with a bracket...
        raise RPCError(Faults.INCORRECT_PARAMETERS, exc) from None
    sd = sv.config.supervisord
    env_vars = env_names(os.environ)
    env_vars.update(env_names(dict(sd.environment)))
    messages = Messages()
    ctx = programs.Context(
        doc, sv.config.here, platform.node(), env_vars, messages, sd.strip_ansi, sd.child_journal
    )
    try:
        processes = programs.program_processes(ctx, section, group_name)
    except ConfigError as exc:
        raise RPCError(Faults.INCORRECT_PARAMETERS, exc) from None
    for message in messages.result():
        sv.log.log(message.level, message.text)
    return processes


def add_to_group(sv: Supervisor, group: ProcessGroup, new: tuple[ProcessConfig, ...]) -> None:
    """Add processes to a running group and start those that autostart."""
    if group.config.kind not in _PROGRAM_KINDS:
        raise RPCError(
            Faults.INCORRECT_PARAMETERS, f"group {group.name!r} is an [{group.config.kind}:x] section"
        )
    for pconfig in new:
        if pconfig.name in group.processes:
            raise RPCError(Faults.BAD_NAME, pconfig.name)
    _set_group_config(sv, group, dataclasses.replace(group.config, processes=group.config.processes + new))
    added = []
    for pconfig in new:
        proc = Process(pconfig, group, sv)
        group.processes[pconfig.name] = proc
        added.append(proc)
    sv.membership_changed()
    if sv.may_autostart:
        for proc in added:
            sv.faults.run(f"the autostart of {proc.name}", proc.tick)


def remove_from_group(sv: Supervisor, group: ProcessGroup, process_name: Any) -> None:
    """Forget one stopped process of a group (the group stays, even empty)."""
    proc = group.processes.get(process_name) if isinstance(process_name, str) else None
    if proc is None:
        raise RPCError(Faults.BAD_NAME, process_name)
    if proc.pid or proc.state not in STOPPED_STATES:
        raise RPCError(Faults.STILL_RUNNING, process_name)
    kept = tuple(p for p in group.config.processes if p.name != process_name)
    _set_group_config(sv, group, dataclasses.replace(group.config, processes=kept))
    del group.processes[process_name]
    sv.membership_changed(removed=1)
    sv.faults.run(f"closing {proc.name}", proc.close)


def add_group(sv: Supervisor, name: str, new: tuple[ProcessConfig, ...], priority: int) -> None:
    """A new group holding one program, as a ``[program:x]`` section makes."""
    if name in sv.groups:
        raise RPCError(Faults.ALREADY_ADDED, name)
    gconfig = GroupConfig(name, "program", priority, new)
    kept = tuple(g for g in sv.config.groups if g.name != name)
    groups = tuple(sorted((*kept, gconfig), key=lambda g: (g.priority, g.name)))
    sv.config = dataclasses.replace(sv.config, groups=groups)
    sv.add_group(gconfig)


def drop_group_config(sv: Supervisor, name: str) -> None:
    """A removed group leaves the config as last read too: it is not offered
    to ``addProcessGroup`` again until the file is read again."""
    sv.config = dataclasses.replace(sv.config, groups=tuple(g for g in sv.config.groups if g.name != name))


def _set_group_config(sv: Supervisor, group: ProcessGroup, gconfig: GroupConfig) -> None:
    # The config as last read holds the same object while the group is as
    # the file had it: then both change, and getAllConfigInfo shows the new
    # processes as in use.
    old = group.config
    group.config = gconfig
    if any(g is old for g in sv.config.groups):
        groups = tuple(gconfig if g is old else g for g in sv.config.groups)
        sv.config = dataclasses.replace(sv.config, groups=groups)


