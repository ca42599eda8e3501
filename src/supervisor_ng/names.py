"""Process names as users type them: ``name``, ``group:name``, ``group:*``."""

from __future__ import annotations

from typing import Optional


def make_namespec(group: str, name: str) -> str:
    """A process whose name is its group's is shown by its bare name."""
    return name if group == name else f"{group}:{name}"


def split_namespec(namespec: str) -> tuple[str, Optional[str]]:
    """``(group, process)``; process is None for ``group:`` and ``group:*``."""
    group, sep, process = namespec.partition(":")
    if not sep:
        return namespec, namespec
    if not process or process == "*":
        return group, None
    return group, process
