"""Names of AUTO child log files and their clean-up at start.

An AUTO log is ``<childlogdir>/<name>-<channel>---<identifier>-<random>.log``.
The file is created (exclusively, mode 0600, like :func:`tempfile.mkstemp`)
when the name is chosen, so two processes can never be handed the same file.
The ``---<identifier>-`` part is what lets a daemon find and delete the
leftovers of its earlier runs, and only its own.
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import Callable, Optional


def auto_log_path(childlogdir: str, name: str, channel: str, identifier: str) -> str:
    """Create a fresh, empty AUTO log file and return its path.

    Raises :class:`OSError` if ``childlogdir`` is unusable."""
    prefix = f"{name}-{channel}---{identifier}-"
    fd, path = tempfile.mkstemp(suffix=".log", prefix=prefix, dir=childlogdir)
    os.close(fd)
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
