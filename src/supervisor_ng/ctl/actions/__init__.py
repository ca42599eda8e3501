"""The actions supervisorctl knows, by name.

Each action is ``action(ctl, arg)`` where ``arg`` is the rest of the command
line; it prints through ``ctl.output`` and sets ``ctl.exitstatus``.
"""

from __future__ import annotations

from typing import Any, Callable

from . import logs, processes, server, setup

Action = Callable[[Any, str], Any]

COMMANDS: dict[str, Action] = {
    "add": setup.add,
    "avail": setup.avail,
    "clear": processes.clear,
    "exit": server.quit_shell,
    "fg": logs.fg,
    "maintail": logs.maintail,
    "open": server.open_url,
    "pid": processes.pid,
    "quit": server.quit_shell,
    "reexec": server.reexec,  # ours (ng.reexec); not in stock's help listing
    "reload": server.reload,
    "remove": setup.remove,
    "reread": setup.reread,
    "restart": processes.restart,
    "shutdown": server.shutdown,
    "signal": processes.signal,
    "start": processes.start,
    "status": processes.status,
    "stop": processes.stop,
    "tail": logs.tail,
    "update": setup.update,
    "version": server.version,
}
