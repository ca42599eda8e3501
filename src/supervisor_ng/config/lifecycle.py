"""The options of a program's life beyond stock (issue 15): readiness
(``ready``, ``ready_timeout``), ``depends_on``, liveness (``watchdog_secs``,
``healthcheck*``) and retries (``backoff``, ``backoff_max``,
``fatal_retry_secs``).

Stock ignores options it does not know, so a config using these still loads
there; their defaults are stock behaviour.  They expand ``%(name)s`` like the
stock options: the checks (``ready``, ``healthcheck``) per process, as
``command`` does (a worker's port is often ``%(process_num)d`` away from its
neighbour's), the others once per program, as ``startsecs`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import datatypes as dt
from .reader import SectionReader

# WATCHDOG_USEC tells the program its period in whole microseconds; 0 there
# means "no watchdog", so a shorter period could not be passed on.
MIN_WATCHDOG_SECS = 1e-6


def program_options(r: SectionReader) -> dict[str, Any]:
    """The options read once per program, as ProcessConfig keywords."""
    return {
        "ready_timeout": r.value("ready_timeout", dt.positive_duration, 90.0),
        "depends_on": r.value("depends_on", dt.dependency_names, ()),
        "watchdog_secs": r.value("watchdog_secs", dt.duration, 0.0),
        "healthcheck_interval": r.value("healthcheck_interval", dt.positive_duration, 30.0),
        "healthcheck_timeout": r.value("healthcheck_timeout", dt.positive_duration, 5.0),
        "healthcheck_retries": r.value("healthcheck_retries", dt.positive_integer, 3),
        "backoff": r.value("backoff", dt.backoff, "linear"),
        "backoff_max": r.value("backoff_max", dt.duration, 0.0),
        "fatal_retry_secs": r.value("fatal_retry_secs", dt.duration, 0.0),
    }


def process_options(
    r: SectionReader, names: Mapping[str, object], program: Mapping[str, Any]
) -> dict[str, Any]:
    """All the options for one process (``names`` = that process's names),
    as ProcessConfig keywords; ``program`` is :func:`program_options`."""
    ready, ready_probe = r.value("ready", dt.readiness, ("startsecs", None), names=names)
    healthcheck = r.value("healthcheck", dt.optional_probe, None, names=names)
    watchdog = program["watchdog_secs"]
    if watchdog and ready != "notify":
        raise r.error(
            "watchdog_secs",
            f"{watchdog:g}: a watchdog needs ready=notify (the program pings with "
            f"sd_notify WATCHDOG=1), but ready is {r.text('ready', 'startsecs', names=names)!r}",
        )
    if 0 < watchdog < MIN_WATCHDOG_SECS:
        raise r.error("watchdog_secs", f"{watchdog:g}: must be 0 (off) or at least 1 microsecond")
    return {
        **program,
        "ready": ready,
        "ready_probe": ready_probe,
        "healthcheck": healthcheck,
    }
