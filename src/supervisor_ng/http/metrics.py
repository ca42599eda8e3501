"""``GET /metrics``: the Prometheus text exposition format (version 0.0.4).

Written by hand (a few lines) so the daemon does not depend on
prometheus_client.  The figures come from the same API calls as everywhere
else (``ng.getAllProcessStats``, ``ng.getDaemonStats``), measured at scrape
time: nothing is collected between scrapes.  A reading serves every request
of the following second (runtime/resources.py), so scrapers, the page and
``supervisorctl status --stats`` arriving together cost one reading.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..core.states import ProcessState
from ..rpc.registry import Registry

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
        # A process's labels recur in every family: escaped once per scrape,
        # not once per family (a third of a 1000-program scrape's time).
        self._labels: dict[tuple[tuple[str, Any], ...], str] = {}

    def family(
        self, name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, Any], float]]
    ) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        known = self._labels
        for labels, value in samples:
            key = tuple(labels.items())
            text = known.get(key)
            if text is None:
                text = known[key] = _labels(labels)
            self.lines.append(f"{name}{text} {_number(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


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

    def each(key: str, scale: float = 1) -> list[tuple[dict[str, Any], float]]:
        return [
            ({"group": p["group"], "name": p["name"]}, p[key] * scale if scale != 1 else p[key])
            for p in procs
        ]

    out.family(
        "supervisor_process_state", "gauge", f"Process state code ({_STATE_CODES}).", each("state")
    )
    out.family(
        "supervisor_process_up",
        "gauge",
        "1 when the process is RUNNING.",
        [({"group": p["group"], "name": p["name"]}, p["statename"] == "RUNNING") for p in procs],
    )
    out.family(
        "supervisor_process_restarts_total",
        "counter",
        "Spawns after the first one since the daemon (re)loaded its configuration.",
        each("restarts"),
    )
    out.family(
        "supervisor_process_uptime_seconds",
        "gauge",
        "Seconds since the process entered RUNNING (0 if not).",
        each("uptime"),
    )
    out.family(
        "supervisor_process_start_time_seconds",
        "gauge",
        "When the process was last spawned (unix time, 0 = never).",
        each("start"),
    )
    out.family(
        "supervisor_process_cpu_seconds_total",
        "counter",
        "User + system CPU time of the process and all its descendants.",
        each("cpu_seconds"),
    )
    out.family(
        "supervisor_process_resident_memory_bytes",
        "gauge",
        "Resident memory of the process and all its descendants.",
        each("rss_kb", 1024),
    )
    # Cgroup figures (issue 17) only where measured: -1 is "not here", not a value.
    for key, name, kind, help_text in _CGROUP_FAMILIES:
        measured = [p for p in procs if p.get(key, -1) >= 0]
        if measured:
            scale = 1024 if key.endswith("_kb") else 1
            out.family(
                name,
                kind,
                help_text,
                [({"group": p["group"], "name": p["name"]}, p[key] * scale) for p in measured],
            )
    out.family(
        "supervisor_process_processes",
        "gauge",
        "Processes in the program's tree.",
        each("processes"),
    )
    out.family(
        "supervisor_process_exit_status",
        "gauge",
        "Exit status of the last exit.",
        each("exitstatus"),
    )
    # Only the processes a watchdog or health check watches: a "healthy" of
    # 0 or 1 for the others would be made up.
    watched = [p for p in procs if p["has_checks"]]
    out.family(
        "supervisor_process_healthy",
        "gauge",
        "1 when the process is RUNNING and passes its watchdog and health check.",
        [({"group": p["group"], "name": p["name"]}, p["healthy"]) for p in watched],
    )
    out.family(
        "supervisor_process_healthchecks_total",
        "counter",
        "Health checks run.",
        each("health_checks"),
    )
    out.family(
        "supervisor_process_healthcheck_failures_total",
        "counter",
        "Health checks failed.",
        each("health_failures"),
    )
    out.family(
        "supervisor_process_watchdog_timeouts_total",
        "counter",
        "Watchdog periods that passed without WATCHDOG=1.",
        each("watchdog_timeouts"),
    )
    out.family(
        "supervisor_process_unhealthy_restarts_total",
        "counter",
        "Restarts for a failed watchdog or health check.",
        each("unhealthy_restarts"),
    )
    return out.text()
