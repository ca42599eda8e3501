"""Modules the daemon loads when it first touches them, not at start.

A daemon at rest never needs psutil (~0.8 MiB of RSS): cgroup mode reads
its figures from the cgroup files, and the process-tree walks run only when
a program stops or the daemon shuts down.  ``psutil`` below stands in for
the module; its first attribute read imports it.

An ``except psutil.Error:`` clause is evaluated only when an exception
reaches it, so it imports psutil then, not when the ``try`` is entered.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# What the daemon may import after its start: the LazyModule stand-ins and
# the imports inside functions (the HTTP layer at the first connection, the
# page, /metrics, a request's parser...).  A daemon that drops privileges
# (``user=``) imports them all first, while it can still read every file:
# the Python it runs from may be readable only by root.
ON_FIRST_USE = (
    "psutil",
    "base64",
    "datetime",
    "hashlib",
    "hmac",
    "ipaddress",
    "json",
    "pickle",
    "urllib.parse",
    "xml.parsers.expat",
    "supervisor_ng.http.logtail",
    "supervisor_ng.http.metrics",
    "supervisor_ng.http.ui",
    "supervisor_ng.http.wire",
    "supervisor_ng.rpc.stats_api",
    "supervisor_ng.runtime.handover_state",
)


def preload() -> None:
    """Import now what would otherwise be imported on first use."""
    for name in ON_FIRST_USE:
        importlib.import_module(name)


class LazyModule:
    """Imports ``name`` at the first attribute read, then keeps each
    attribute read so that later reads cost what a module's do."""

    def __init__(self, name: str) -> None:
        self._lazy_name = name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self._lazy_name), attr)
        setattr(self, attr, value)
        return value

    def __repr__(self) -> str:
        return f"<lazy module {self._lazy_name!r}>"


if TYPE_CHECKING:
    import psutil
else:
    psutil = LazyModule("psutil")
