"""Importing this imports shutil without letting it import bz2 and lzma.

The config loader needs tempfile, which imports shutil, which imports bz2
and lzma only to learn which archive formats it can make (the daemon never
makes one); they map libbz2 and liblzma, ~0.6 MiB of the daemon's RSS.  The
modules are hidden only while shutil is imported: a later ``import bz2``
works as usual.  ``daemon.py`` imports this before anything imports shutil.
"""

from __future__ import annotations

import sys


def _import_shutil_alone() -> None:
    hidden = [name for name in ("bz2", "lzma") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import shutil  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]


_import_shutil_alone()
