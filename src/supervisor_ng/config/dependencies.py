"""``depends_on``: what a name means, and the checks the loader makes.

A name is a group (all its processes), ``group:process`` (that one;
``group:*`` is the whole group, as in supervisorctl) or a program, that is
the ``x`` of ``[program:x]``, ``[fcgi-program:x]`` or ``[eventlistener:x]``
(all its processes, whatever group holds them).  The loader refuses a name
that means nothing and a cycle; the runtime resolves names again with
:func:`targets` whenever groups change (``update`` adds and removes them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Optional, Protocol

from .model import Config, GroupConfig, ProcessConfig
from .reader import option_error

OPTION = "depends_on"

Key = tuple[str, str]  # (group name, process name)


def program_name(proc: ProcessConfig) -> str:
    """The ``x`` of the section ``proc`` came from."""
    return proc.section.partition(":")[2] or proc.group


def targets(name: str, groups: Mapping[str, Sequence[ProcessConfig]]) -> list[Key]:
    """The (group, process) pairs ``name`` stands for, in group order; [] when
    it names nothing."""
    group, sep, process = name.strip().partition(":")
    if sep:
        members = groups.get(group, ())
        if process == "*":
            return [(group, p.name) for p in members]
        return [(group, p.name) for p in members if p.name == process]
    found: dict[Key, None] = {(group, p.name): None for p in groups.get(group, ())}
    for group_name, members in groups.items():
        for p in members:
            if program_name(p) == group:
                found[(group_name, p.name)] = None
    return list(found)


def label(key: Key) -> str:
    """How a process is spelled in messages: its name when that is its
    group's (a plain program), else ``group:process``."""
    group, process = key
    return process if group == process else f"{group}:{process}"


class _Lines(Protocol):
    def where(self, section: str, option: Optional[str] = None) -> tuple[str, Optional[int]]: ...


class _NoLines:
    """Where an option is when only the main file is known."""

    def __init__(self, path: str) -> None:
        self.path = path

    def where(self, section: str, option: Optional[str] = None) -> tuple[str, Optional[int]]:
        return self.path, None


def check(config: Config, doc: Optional[_Lines] = None) -> None:
    """Raise ConfigError for a ``depends_on`` name that means nothing, or for
    a cycle (a process depending on its own group is one).  ``doc`` (the
    loader's IniDocument) lets the message name the file and line."""
    check_groups(config.groups, doc or _NoLines(config.path))


def check_groups(groups: Iterable[GroupConfig], doc: _Lines) -> None:
    by_name = {g.name: g.processes for g in groups}
    # Without the name nodes, closed again on its first process.
    cycle = [key for key in find_cycle(_graph(by_name, doc))[:-1] if key[0]]
    if cycle:
        cycle.append(cycle[0])
        section = _process(by_name, cycle[0]).section
        spelled = " -> ".join(label(key) for key in cycle)
        raise option_error(doc, section, OPTION, f"a dependency cycle: {spelled}")


def _graph(groups: Mapping[str, Sequence[ProcessConfig]], doc: _Lines) -> dict[Key, list[Key]]:
    """Process -> the names it depends on -> their processes.  A name is a
    node of its own, ("", name), so that a program of many processes
    depending on another costs their sum, not their product."""
    edges: dict[Key, list[Key]] = {}
    for group, members in groups.items():
        for proc in members:
            # The process first: a cycle is then spelled from its first
            # process in start order.
            edges[(group, proc.name)] = [("", name) for name in proc.depends_on]
            for name in proc.depends_on:
                node = ("", name)
                if node not in edges:
                    edges[node] = targets(name, groups)
                if not edges[node]:
                    raise option_error(
                        doc,
                        proc.section,
                        OPTION,
                        f"{name!r} is not a program, a group or a group:process",
                    )
    return edges


def find_cycle(edges: Mapping[Key, Sequence[Key]]) -> list[Key]:
    """A cycle as the path that closes it (first node repeated at the end),
    or [] when there is none.  Iterative: a long chain must not hit the
    recursion limit."""
    done: set[Key] = set()
    for start in edges:
        if start in done:
            continue
        path: list[Key] = [start]
        on_path = {start: 0}
        pending = [iter(edges.get(start, ()))]
        while pending:
            step = next(pending[-1], None)
            if step is None:
                pending.pop()
                node = path.pop()
                del on_path[node]
                done.add(node)
                continue
            if step in on_path:
                return path[on_path[step] :] + [step]
            if step in done:
                continue
            on_path[step] = len(path)
            path.append(step)
            pending.append(iter(edges.get(step, ())))
    return []


def _process(groups: Mapping[str, Sequence[ProcessConfig]], key: Key) -> ProcessConfig:
    return next(p for p in groups[key[0]] if p.name == key[1])
