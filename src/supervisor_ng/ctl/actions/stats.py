"""``status --stats``: the status table with CPU, memory and restart columns.

Our supervisorctl only, and only when asked: plain ``status`` prints exactly
what stock prints.  The figures come from the daemon's ``ng`` namespace; a
daemon without it (stock supervisord) gets a clear message instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Optional

from ...names import make_namespec
from ...rpc.faults import Faults
from .. import codes
from ..wire import Fault

FLAG = "--stats"
UNSUPPORTED = (
    "Error: this supervisord does not report per-process figures "
    "(status --stats needs supervisor-ng's ng.getAllProcessStats)"
)

Result = dict[str, Any]


def human_kib(kib: int) -> str:
    value = float(kib)
    for unit in ("K", "M", "G"):
        if value < 1024 or unit == "G":
            return f"{value:.0f}{unit}" if unit == "K" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}T"  # pragma: no cover - unreachable


def fetch(ctl: Any) -> Optional[dict[tuple[str, str], Result]]:
    """Stats by (group, name), or None (message printed, exit status set)
    when the daemon does not have them."""
    try:
        rows = ctl.supervisor("ng").getAllProcessStats()
    except Fault as exc:
        if exc.faultCode != Faults.UNKNOWN_METHOD:
            raise
        ctl.output(UNSUPPORTED)
        ctl.exitstatus = codes.STATUS_UNKNOWN
        return None
    return {(row["group"], row["name"]): row for row in rows}


def name_width(infos: list[Result]) -> int:
    """The name column's width: stock sizes it from every name it prints, so
    it is known only after one pass over the lengths (no string kept)."""
    widest = max((len(make_namespec(info["group"], info["name"])) for info in infos), default=0)
    return max(30, widest) + 3


def lines(infos: list[Result], stats: dict[tuple[str, str], Result]) -> Iterator[str]:
    width = name_width(infos)
    yield f"{'NAME':<{width}}{'STATE':<10}{'CPU%':>6}{'RSS':>8}{'RESTARTS':>10}  DESCRIPTION"
    for info in infos:
        name = make_namespec(info["group"], info["name"])
        row = stats.get((info["group"], info["name"]), {})
        live = bool(info["pid"]) and row.get("pid") == info["pid"]
        cpu = f"{row['cpu_percent']:.1f}" if live else "-"
        rss = human_kib(row["rss_kb"]) if live else "-"
        restarts = str(row.get("restarts", "-"))
        yield f"{name:<{width}}{info['statename']:<10}{cpu:>6}{rss:>8}{restarts:>10}  {info['description']}"
        # Under the row, and only when there is something to say, so the
        # table keeps its shape for programs without sd_notify or checks.
        for label, key in (("status", "status_text"), ("health", "health")):
            if live and row.get(key):
                yield f"    {label}: {row[key]}"
