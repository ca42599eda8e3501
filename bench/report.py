"""Turn measured runs into the side-by-side table, the JSON file and RESULTS.md."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

# Column order of the table; a daemon that was not run shows as "—".
DAEMON_ORDER = ("stock", "ours")
RATIO_NOTE = "speed-up = stock median / ours median (above 1: ours is faster)"


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

    @property
    def speedup(self) -> Optional[float]:
        stock, ours = self.by_daemon.get("stock"), self.by_daemon.get("ours")
        if stock is None or ours is None or ours.median <= 0:
            return None
        return stock.median / ours.median


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


def _cell(summary: Optional[Summary]) -> str:
    return format_seconds(summary.median) if summary else "—"


def _spread(summary: Optional[Summary]) -> str:
    if summary is None:
        return "—"
    if summary.runs == 1:
        return "1 run"
    return f"{format_seconds(summary.low)} – {format_seconds(summary.high)}"


def markdown_table(rows: Sequence[Row], labels: dict[str, str]) -> str:
    stock, ours = labels.get("stock", "stock"), labels.get("ours", "ours")
    lines = [
        f"| figure | {stock} median | {ours} median | speed-up (stock/ours) "
        f"| {stock} spread (min – max) | {ours} spread (min – max) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ratio = f"{row.speedup:.1f}×" if row.speedup is not None else "—"
        stock_s, ours_s = row.by_daemon.get("stock"), row.by_daemon.get("ours")
        lines.append(
            f"| {row.figure} | {_cell(stock_s)} | {_cell(ours_s)} | {ratio} "
            f"| {_spread(stock_s)} | {_spread(ours_s)} |"
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
