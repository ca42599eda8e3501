"""OpenSSL on demand, for the two opt-in features that need it.

The daemon keeps ``ssl`` and ``_hashlib`` out at start-up
(:mod:`..runtime.startup`: ~7 MiB and ~60 ms nobody else needs).  A
listener with ``certfile``, or a ``{SCRYPT}`` password, does need them: this
lifts the block and hands ``ssl`` to the asyncio modules that looked for it
while it was blocked (they keep a module-level ``ssl = None`` then).
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

_ASYNCIO_USERS = (
    "asyncio.sslproto",
    "asyncio.base_events",
    "asyncio.selector_events",
    "asyncio.unix_events",
)


def _unblock(name: str) -> None:
    if name in sys.modules and sys.modules[name] is None:
        del sys.modules[name]


def ssl_module() -> ModuleType:
    """The ``ssl`` module, usable by asyncio servers from now on."""
    _unblock("_hashlib")
    _unblock("ssl")
    import ssl

    for name in _ASYNCIO_USERS:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "ssl", ssl) is None:
            module.ssl = ssl  # type: ignore[attr-defined]
            if name == "asyncio.sslproto":
                # It defines some names only when ssl imported; callers look
                # its classes up on the module, so they get the new ones.
                importlib.reload(module)
    return ssl


def scrypt() -> Any:
    """``hashlib.scrypt`` (OpenSSL's; hashlib leaves it out when ``_hashlib``
    was blocked at its import)."""
    _unblock("_hashlib")
    from _hashlib import scrypt as openssl_scrypt

    return openssl_scrypt
