"""Turn measured runs into the side-by-side table, the JSON file and RESULTS.md."""

from __future__ import annotations

import math
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

# Column order of the table; a daemon that was not run shows as "—".
DAEMON_ORDER = ("stock", "ours")
RATIO_NOTE = (
    "speed-up = stock median / ours median (above 1: ours is faster, or uses less); "
    "targets are the issue's, for ours at full size"
)


@dataclass(frozen=True)
class Summary:
    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(statistics.median(values), min(values), max(values), len(values))

    def as_json(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.low, "max": self.high, "runs": self.runs}


@dataclass(frozen=True)
class Row:
    scenario: str
    figure: str
    by_daemon: dict[str, Optional[Summary]]
    unit: str = "s"
    # The target for our median (lower is better), when there is one.
    target: Optional[float] = None

    @property
    def speedup(self) -> Optional[float]:
        stock, ours = self.by_daemon.get("stock"), self.by_daemon.get("ours")
        if stock is None or ours is None:
            return None
        if ours.median <= 0:
            return math.inf if stock.median > 0 else None
        return stock.median / ours.median

    @property
    def target_met(self) -> Optional[bool]:
        ours = self.by_daemon.get("ours")
        if self.target is None or ours is None:
            return None
        return ours.median <= self.target


def machine() -> dict[str, Any]:
    uname = platform.uname()
    return {
        "uname": f"{uname.system} {uname.release} {uname.machine}",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def load_average() -> float:
    """The 1-minute load average: other work on the machine skews every figure."""
    return round(os.getloadavg()[0], 2)


def format_seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 0.01:
        return f"{value * 1000:.0f} ms"
    return f"{value * 1000:.1f} ms"


def format_value(value: float, unit: str = "s") -> str:
    """A figure in its unit: seconds scale to ms, the others print as they are."""
    if unit == "s":
        return format_seconds(value)
    if unit == "MiB":
        return f"{value:.1f} MiB"
    return f"{value:.2f} {unit}" if value < 10 else f"{value:.0f} {unit}"


def _cell(summary: Optional[Summary], unit: str) -> str:
    return format_value(summary.median, unit) if summary else "—"


def _spread(summary: Optional[Summary], unit: str) -> str:
    if summary is None:
        return "—"
    if summary.runs == 1:
        return "1 run"
    return f"{format_value(summary.low, unit)} – {format_value(summary.high, unit)}"


def _ratio(row: Row) -> str:
    if row.speedup is None:
        return "—"
    return "∞" if math.isinf(row.speedup) else f"{row.speedup:.1f}×"


def _target(row: Row) -> str:
    if row.target is None:
        return "—"
    met = {True: "yes", False: "**no**", None: "—"}[row.target_met]
    return f"≤ {format_value(row.target, row.unit)}: {met}"


def markdown_table(rows: Sequence[Row], labels: dict[str, str]) -> str:
    stock, ours = labels.get("stock", "stock"), labels.get("ours", "ours")
    lines = [
        f"| figure | {stock} median | {ours} median | speed-up (stock/ours) | target for ours: met? "
        f"| {stock} spread (min – max) | {ours} spread (min – max) |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for row in rows:
        stock_s, ours_s = row.by_daemon.get("stock"), row.by_daemon.get("ours")
        lines.append(
            f"| {row.figure} | {_cell(stock_s, row.unit)} | {_cell(ours_s, row.unit)} | {_ratio(row)} "
            f"| {_target(row)} | {_spread(stock_s, row.unit)} | {_spread(ours_s, row.unit)} |"
        )
    return "\n".join(lines)


def results_markdown(
    date: str,
    info: dict[str, Any],
    load: float,
    table: str,
    runs: int,
    problems: Sequence[str],
) -> str:
    """The body of RESULTS.md: the latest table, where and when it was measured."""
    parts = [
        "# Benchmark results",
        "",
        f"Latest full run of `python bench/run.py` on {date}: {info['uname']}, "
        f"{info['cpus']} CPUs, Python {info['python']}, load average {load} at the start. "
        f"Medians of {runs} runs per daemon; "
        f"{RATIO_NOTE}. See README.md in this directory for what each figure measures.",
        "",
        table,
        "",
    ]
    if problems:
        parts += ["Problems seen during the run:", ""]
        parts += [f"- {problem}" for problem in problems]
        parts.append("")
    return "\n".join(parts)
