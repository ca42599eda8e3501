"""The base class third-party ``[ctlplugin:x]`` plugins derive from.

Plugins written for stock Supervisor import it as
``supervisor.supervisorctl.ControllerPluginBase``.  Where the stock package
is not installed, :mod:`.plugins` makes that import resolve to this module,
so a plugin installed with ``pip install --no-deps`` works beside
supervisor-ng alone.  What a plugin sees is stock's contract: ``self.ctl``
is the controller, ``do_<cmd>(arg)`` are commands, ``help_<cmd>()`` or the
command's docstring is its help, and ``help`` lists the documented ones
under ``<name> commands (type help <topic>):``.
"""

from __future__ import annotations

from typing import Any


class ControllerPluginBase:
    name = "unnamed"

    def __init__(self, controller: Any, **config: str) -> None:
        self.ctl = controller

    @property
    def doc_header(self) -> str:
        return f"{self.name} commands (type help <topic>):"

    def do_help(self, arg: str) -> None:
        if arg:
            self._help_on(arg)
            return
        self.ctl.output("")
        self.ctl.print_topics(self.doc_header, self._documented_commands(), 15, 80)

    def _help_on(self, topic: str) -> None:
        explain = getattr(self, "help_" + topic, None)
        if explain is not None:
            explain()
            return
        command = getattr(self, "do_" + topic, None)
        doc = getattr(command, "__doc__", None)
        self.ctl.output(doc if doc else self.ctl.nohelp % (topic,))

    def _documented_commands(self) -> list[str]:
        names = set(dir(self))
        documented = []
        for name in sorted(names):
            if not name.startswith("do_"):
                continue
            command = name[3:]
            if "help_" + command in names or getattr(self, name).__doc__:
                documented.append(command)
        return documented
