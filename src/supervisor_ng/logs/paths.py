"""Names of AUTO child log files and their clean-up at start.

An AUTO log is ``<childlogdir>/<name>-<channel>---<identifier>-<random>.log``.
The name is chosen here, avoiding files that exist; the log writer creates the
file (mode 0600, as stock's mkstemp does) when the first output arrives.
The ``---<identifier>-`` part is what lets a daemon find and delete the
leftovers of its earlier runs, and only its own.
"""

from __future__ import annotations

import os
import random
import re
from typing import Callable, Optional

_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"


def auto_log_path(childlogdir: str, name: str, channel: str, identifier: str) -> str:
    """A fresh AUTO log name: ``<childlogdir>/<name>-<channel>---<identifier>-<random>.log``.

    The file itself is not created here: the log writer creates it with the
    first output, so a daemon starting hundreds of quiet programs makes no
    files at all."""
    prefix = f"{name}-{channel}---{identifier}-"
    while True:
        suffix = "".join(random.choices(_NAME_CHARS, k=8))  # mkstemp's alphabet
        path = os.path.join(childlogdir, f"{prefix}{suffix}.log")
        if not os.path.lexists(path):
            return path


def _auto_log_pattern(identifier: str) -> re.Pattern[str]:
    # Anchored at the start only, as stock: rotated backups (".log.3") match too.
    return re.compile(r".+?---" + re.escape(identifier) + r"-\S+\.log")


def clean_auto_logs(
    childlogdir: str,
    identifier: str,
    warn: Optional[Callable[[str], None]] = None,
) -> list[str]:
    """Delete AUTO logs (and their backups) left by a daemon with this
    identifier; return the paths removed.

    Problems are passed to ``warn`` in stock wording and otherwise ignored:
    a dirty log directory is no reason not to start."""
    pattern = _auto_log_pattern(identifier)
    removed: list[str] = []
    try:
        names = os.listdir(childlogdir)
    except OSError:
        if warn is not None:
            warn("Could not clear childlog dir")
        return removed
    for filename in sorted(names):
        if not pattern.match(filename):
            continue
        path = os.path.join(childlogdir, filename)
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError:
            if warn is not None:
                warn(f"Failed to clean up {path!r}")
        else:
            removed.append(path)
    return removed
