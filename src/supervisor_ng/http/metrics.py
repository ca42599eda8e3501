"""``GET /metrics``: the Prometheus text exposition format (version 0.0.4).

Written by hand (a few lines) so the daemon does not depend on
prometheus_client.  The figures come from the same API calls as everywhere
else (``ng.getAllProcessStats``, ``ng.getDaemonStats``), measured at scrape
time: nothing is collected between scrapes.  A reading serves every request
of the following second (runtime/resources.py), so scrapers, the page and
``supervisorctl status --stats`` arriving together cost one reading.

With a thousand programs the exposition is some 20000 samples: they are
written a slice per turn of the loop (:func:`~..runtime.slices.in_slices`),
as the stats they come from are built, so that a scrape never holds the
daemon's loop for more than a few milliseconds.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Iterator
from typing import Any, Callable, NamedTuple, Optional

from ..core.states import ProcessState
from ..rpc.registry import Registry
from ..runtime.slices import in_slices

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_STATE_CODES = ", ".join(f"{s.value}={s.name}" for s in ProcessState)


_CGROUP_FAMILIES = (
    (
        "memory_peak_kb",
        "supervisor_process_memory_peak_bytes",
        "gauge",
        "Highest memory use of the program's cgroup during the process's run (memory.peak).",
    ),
    (
        "io_read_kb",
        "supervisor_process_io_read_bytes_total",
        "counter",
        "Bytes read from block devices by the program's cgroup (io.stat).",
    ),
    (
        "io_write_kb",
        "supervisor_process_io_write_bytes_total",
        "counter",
        "Bytes written to block devices by the program's cgroup (io.stat).",
    ),
    (
        "oom_kills",
        "supervisor_process_oom_kills",
        "gauge",
        "Processes the OOM killer took in the program's cgroup during its last ended run.",
    ),
)


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: dict[str, Any]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in pairs.items()) + "}"


def _number(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(
        self, name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, Any], float]]
    ) -> None:
        self.head(name, kind, help_text)
        self.lines.extend(f"{name}{_labels(labels)} {_number(value)}" for labels, value in samples)

    def head(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def samples(
        self, family: _Family, labels: list[str], procs: list[dict[str, Any]], which: Iterable[int]
    ) -> None:
        """``family``'s samples of ``procs[i]`` for each i in ``which`` (``labels[i]``: its labels)."""
        name, value = family.name, family.value
        for i in which:
            v = value(procs[i])
            # Most figures are plain ints: formatted in place, not by a call.
            self.lines.append(f"{name}{labels[i]} {v if type(v) is int else _number(v)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


# The families with one sample per process, in the exposition's order.
class _Family(NamedTuple):
    name: str
    kind: str
    help_text: str
    value: Callable[[dict[str, Any]], float]
    only: Optional[Callable[[dict[str, Any]], bool]] = None  # None: every process
    omit_empty: bool = False  # left out when ``only`` keeps no process


def _key(key: str, scale: int = 1) -> Callable[[dict[str, Any]], float]:
    if scale == 1:
        return operator.itemgetter(key)
    return lambda p: p[key] * scale


def _measured(key: str) -> Callable[[dict[str, Any]], bool]:
    # Cgroup figures (issue 17) only where measured: -1 is "not here", not a value.
    return lambda p: p.get(key, -1) >= 0


def _is_running(p: dict[str, Any]) -> bool:
    return p["statename"] == "RUNNING"


def _is_watched(p: dict[str, Any]) -> bool:
    # Only the processes a watchdog or health check watches: a "healthy" of
    # 0 or 1 for the others would be made up.
    return p["has_checks"]


_PROCESS_FAMILIES = (
    _Family(
        "supervisor_process_state", "gauge", f"Process state code ({_STATE_CODES}).", _key("state")
    ),
    _Family("supervisor_process_up", "gauge", "1 when the process is RUNNING.", _is_running),
    _Family(
        "supervisor_process_restarts_total",
        "counter",
        "Spawns after the first one since the daemon (re)loaded its configuration.",
        _key("restarts"),
    ),
    _Family(
        "supervisor_process_uptime_seconds",
        "gauge",
        "Seconds since the process entered RUNNING (0 if not).",
        _key("uptime"),
    ),
    _Family(
        "supervisor_process_start_time_seconds",
        "gauge",
        "When the process was last spawned (unix time, 0 = never).",
        _key("start"),
    ),
    _Family(
        "supervisor_process_cpu_seconds_total",
        "counter",
        "User + system CPU time of the process and all its descendants.",
        _key("cpu_seconds"),
    ),
    _Family(
        "supervisor_process_resident_memory_bytes",
        "gauge",
        "Resident memory of the process and all its descendants.",
        _key("rss_kb", 1024),
    ),
    *(
        _Family(
            name,
            kind,
            help_text,
            _key(key, 1024 if key.endswith("_kb") else 1),
            _measured(key),
            True,
        )
        for key, name, kind, help_text in _CGROUP_FAMILIES
    ),
    _Family(
        "supervisor_process_processes",
        "gauge",
        "Processes in the program's tree.",
        _key("processes"),
    ),
    _Family(
        "supervisor_process_exit_status",
        "gauge",
        "Exit status of the last exit.",
        _key("exitstatus"),
    ),
    _Family(
        "supervisor_process_healthy",
        "gauge",
        "1 when the process is RUNNING and passes its watchdog and health check.",
        _key("healthy"),
        _is_watched,
    ),
    _Family(
        "supervisor_process_healthchecks_total",
        "counter",
        "Health checks run.",
        _key("health_checks"),
    ),
    _Family(
        "supervisor_process_healthcheck_failures_total",
        "counter",
        "Health checks failed.",
        _key("health_failures"),
    ),
    _Family(
        "supervisor_process_watchdog_timeouts_total",
        "counter",
        "Watchdog periods that passed without WATCHDOG=1.",
        _key("watchdog_timeouts"),
    ),
    _Family(
        "supervisor_process_unhealthy_restarts_total",
        "counter",
        "Restarts for a failed watchdog or health check.",
        _key("unhealthy_restarts"),
    ),
)

# Samples written between two looks at the clock (see _process_families):
# in_slices yields after 32 pieces at most, about a millisecond of this size.
_BATCH = 64


def _add_labels(labels: list[str], procs: list[dict[str, Any]]) -> None:
    labels.extend(_labels({"group": p["group"], "name": p["name"]}) for p in procs)


def _process_families(out: _Writer, procs: list[dict[str, Any]]) -> Iterator[Callable[[], None]]:
    """The per-process families as small pieces of work, for in_slices: a
    thousand processes are some 20000 samples, tens of milliseconds that
    must not be one turn of the loop."""
    # A process's labels recur in every family: escaped once per scrape.
    labels: list[str] = []
    for first in range(0, len(procs), _BATCH):
        yield functools.partial(_add_labels, labels, procs[first : first + _BATCH])
    for family in _PROCESS_FAMILIES:
        only = family.only
        chosen = range(len(procs)) if only is None else [i for i, p in enumerate(procs) if only(p)]
        if family.omit_empty and not chosen:
            continue
        yield functools.partial(out.head, family.name, family.kind, family.help_text)
        for first in range(0, len(chosen), _BATCH):
            yield functools.partial(
                out.samples, family, labels, procs, chosen[first : first + _BATCH]
            )


async def render(registry: Registry) -> str:
    """The whole exposition; RPCError (no API, shutting down) propagates."""
    daemon = await registry.call("ng.getDaemonStats", [])
    procs = await registry.call("ng.getAllProcessStats", [])
    out = _Writer()
    out.family(
        "supervisord_info",
        "gauge",
        "The daemon: versions and identifier (value always 1).",
        [
            (
                {
                    "version": daemon["version"],
                    "supervisor_version": daemon["supervisor_version"],
                    "identification": daemon["identification"],
                },
                1,
            )
        ],
    )
    out.family(
        "supervisord_up",
        "gauge",
        "1 while the daemon is RUNNING.",
        [({}, daemon["statename"] == "RUNNING")],
    )
    out.family("supervisord_pid", "gauge", "Process id of the daemon.", [({}, daemon["pid"])])
    out.family(
        "supervisord_start_time_seconds",
        "gauge",
        "When the daemon started (unix time).",
        [({}, daemon["start"])],
    )
    out.family(
        "supervisord_cpu_seconds_total",
        "counter",
        "CPU time of the daemon itself.",
        [({}, daemon["cpu_seconds"])],
    )
    out.family(
        "supervisord_resident_memory_bytes",
        "gauge",
        "Resident memory of the daemon itself.",
        [({}, daemon["rss_kb"] * 1024)],
    )
    await in_slices(_process_families(out, procs), _call)
    return out.text()


def _call(piece: Callable[[], None]) -> None:
    piece()
