"""Noticing the stock ``supervisor`` distribution beside ours.

Both install console scripts named ``supervisord``, ``supervisorctl`` and
``echo_supervisord_conf``; whichever was installed last owns them, and a
listener tool installed without ``--no-deps`` (superlance, supervisor-checks,
multivisor) pulls the stock one in silently.  Our commands say so at start,
on one line, so nobody runs the wrong supervisor without knowing.
"""

from __future__ import annotations

import os
import sys
from typing import Optional

STOCK_DISTRIBUTION = "supervisor"
_METADATA_SUFFIXES = (".dist-info", ".egg-info")


def _metadata_dir_present() -> bool:
    # importlib.metadata costs tens of milliseconds to import, which would
    # double supervisorctl's start; a listing of the import path finds the
    # same ``supervisor-<version>.dist-info`` (or ``.egg-info``) directory.
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(_METADATA_SUFFIXES) and name.split("-", 1)[0].lower() == STOCK_DISTRIBUTION:
                return True
    return False


def stock_supervisor_found() -> Optional[str]:
    """``"4.3.0 (in /path)"`` when the stock distribution is installed where
    this interpreter looks for packages, else None."""
    if not _metadata_dir_present():
        return None
    import importlib.metadata

    try:
        dist = importlib.metadata.distribution(STOCK_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    return f"{dist.version} (in {dist.locate_file('')})"


def clash_warning() -> Optional[str]:
    """The one line our commands print (and the daemon logs), or None."""
    found = stock_supervisor_found()
    if found is None:
        return None
    return (
        f"supervisor-ng: the stock 'supervisor' distribution {found} is installed in the same "
        "environment: its supervisord, supervisorctl and echo_supervisord_conf scripts may replace "
        "ours; remove it (pip uninstall supervisor; pip install --force-reinstall --no-deps "
        "supervisor-ng) and install listener tools with pip install --no-deps"
    )


def warn_at_start() -> Optional[str]:
    """Print the warning on stderr; returns it (the daemon logs it too)."""
    line = clash_warning()
    if line is not None:
        print(line, file=sys.stderr, flush=True)
    return line
