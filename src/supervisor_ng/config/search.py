"""Where supervisord and supervisorctl look for a config without ``-c``.

Kept apart from the loader so that supervisorctl can use it without
importing the whole config reader.
"""

from __future__ import annotations

import os
from typing import Optional


def config_search_paths(argv0: str, cwd: Optional[str] = None) -> list[str]:
    """Where supervisord/supervisorctl look for a config without ``-c``, in order."""
    prefix = os.path.dirname(os.path.dirname(argv0))
    paths = [
        os.path.join(prefix, "etc", "supervisord.conf"),
        os.path.join(prefix, "supervisord.conf"),
        "supervisord.conf",
        "etc/supervisord.conf",
        "/etc/supervisord.conf",
        "/etc/supervisor/supervisord.conf",
    ]
    if cwd is not None:
        paths = [os.path.join(cwd, p) for p in paths]
    return paths


def find_config_file(argv0: str, cwd: Optional[str] = None) -> Optional[str]:
    for path in config_search_paths(argv0, cwd):
        if os.path.exists(path):
            return path
    return None
