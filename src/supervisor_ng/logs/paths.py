"""Names of AUTO child log files and their clean-up at start.

An AUTO log is ``<childlogdir>/<name>-<channel>---<identifier>-<random>.log``.
The file is created (exclusively, mode 0600, like :func:`tempfile.mkstemp`)
when the name is chosen, so two processes can never be handed the same file.
The ``---<identifier>-`` part is what lets a daemon find and delete the
leftovers of its earlier runs, and only its own.
"""

from __future__ import annotations

import errno
import os
import random
import re
import tempfile
from typing import Callable, Optional

_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"


def auto_log_path(
    childlogdir: str, name: str, channel: str, identifier: str, *, create: bool = True
) -> str:
    """Choose a fresh AUTO log name (and create the file unless ``create`` is
    false) and return its path.

    Not creating is for callers that open the file themselves, exclusively and
    only once there is output: a daemon starting hundreds of quiet programs
    then makes no files at all.  Raises :class:`OSError` if ``childlogdir`` is
    unusable."""
    prefix = f"{name}-{channel}---{identifier}-"
    if create:
        fd, path = tempfile.mkstemp(suffix=".log", prefix=prefix, dir=childlogdir)
        os.close(fd)
        return path
    if not os.path.isdir(childlogdir):
        raise FileNotFoundError(errno.ENOENT, "no such directory", childlogdir)
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
