"""Run the benchmark scenarios against the stock supervisord and ours, side by side.

    .venv/bin/python bench/run.py                 # everything, 3 runs per daemon
    .venv/bin/python bench/run.py --quick         # small sizes, 1 run (CI)
    .venv/bin/python bench/run.py --only shutdown50 --daemon stock
    .venv/bin/python bench/run.py scale [--sizes 1000,2500,5000]   # bench/scale.py

See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn, Optional

import handover  # noqa: F401  (registers its scenario)
import log_capture  # noqa: F401  (registers its scenarios)
import loop_stall  # noqa: F401  (registers its scenario)
import readiness  # noqa: F401  (registers its scenario)
from daemons import STOCK_VERSION, Supervisord, become_subreaper, ensure_stock, kill_descendants
from report import (
    DAEMON_ORDER,
    RATIO_NOTE,
    Row,
    Summary,
    format_value,
    load_average,
    machine,
    markdown_table,
    results_markdown,
)
from scenarios import FULL, QUICK, SCENARIOS, Bench, Outcome, Sizes

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RUNS = 3


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["scale"]:  # its own runner: sizes too big for the table's runs
        return _scale(argv[1:])
    args = _parser().parse_args(argv)
    sizes = QUICK if args.quick else FULL
    runs = args.runs or (1 if args.quick else RUNS)
    names = args.only or [n for n, s in SCENARIOS.items() if not (args.quick and s.full_only)]
    if not become_subreaper():
        print("bench: cannot become a child subreaper; clean-up may miss orphans", file=sys.stderr)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    _raise_fd_limit(sizes)
    daemons = _daemons(args)
    clients = _clients(args, names)
    started = time.strftime("%Y-%m-%d %H:%M:%S %z")
    load = load_average()
    if load >= 1:
        print(f"bench: load average is {load}; figures will be noisy", file=sys.stderr)
    try:
        outcomes = _run_all(names, daemons, clients, sizes, runs, keep=args.keep)
    finally:
        left = kill_descendants()
        if left:
            print(f"bench: could not kill pids {left}", file=sys.stderr)
    rows = _rows(names, outcomes, daemons)
    problems = _problems(outcomes)
    labels = {d.key: d.label for d in daemons}
    table = markdown_table(rows, labels)
    print(f"\n{RATIO_NOTE}; medians of {runs} run(s)\n\n{table}")
    for problem in problems:
        print(f"- {problem}")
    saved = _save_json(started, load, args, sizes, runs, daemons, clients, outcomes, rows)
    print(f"\nresults: {saved.relative_to(REPO)}", file=sys.stderr)
    complete = not args.quick and not args.only and args.daemon == "both" and runs >= RUNS
    if complete:
        text = results_markdown(started, machine(), load, table, runs, problems)
        results = BENCH / "RESULTS.md"
        results.write_text(text + _kept_notes(results))
        print("updated bench/RESULTS.md", file=sys.stderr)
    return 1 if problems else 0


# RESULTS.md from this line on is written by hand (what bounds a figure, the
# profiles behind it) and survives the table being regenerated.
NOTES_MARKER = "<!-- notes: kept when run.py rewrites the table above -->"


def _kept_notes(results: Path) -> str:
    try:
        text = results.read_text()
    except OSError:
        return ""
    at = text.find(NOTES_MARKER)
    return "\n" + text[at:] if at >= 0 else ""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description="Side-by-side benchmarks: stock supervisord vs ours."
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 run (for CI)")
    parser.add_argument(
        "--only", action="append", choices=list(SCENARIOS), metavar="SCENARIO",
        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}",
    )  # fmt: skip
    parser.add_argument("--daemon", choices=("both", "stock", "ours"), default="both")
    parser.add_argument("--runs", type=int, help=f"runs per scenario and daemon (default {RUNS})")
    parser.add_argument(
        "--stock", type=Path, metavar="SUPERVISORD",
        help=f"stock supervisord to use (default: bench/.venv-stock, created with supervisor=={STOCK_VERSION})",
    )  # fmt: skip
    parser.add_argument(
        "--ours", type=Path, metavar="SUPERVISORD",
        help="our supervisord to use (default: the one next to this python, else .venv/bin)",
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep each run's scratch directory")
    return parser


def _exit_on_signal(signum: int, frame: Any) -> NoReturn:
    # Unwinding runs every clean-up block, so the daemons die with the bench.
    raise SystemExit(128 + signum)


def _raise_fd_limit(sizes: Sizes) -> None:
    # Each program costs a daemon a few pipes and log files; both daemons
    # inherit the bench's limit.
    needed = 8 * sizes.most_programs() + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        ceiling = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))


def _daemons(args: argparse.Namespace) -> list[Supervisord]:
    chosen = []
    if args.daemon in ("both", "stock"):
        executable = args.stock or ensure_stock(BENCH / ".venv-stock")
        chosen.append(Supervisord("stock", f"stock {STOCK_VERSION}", executable))
    if args.daemon in ("both", "ours"):
        chosen.append(Supervisord("ours", "ours", args.ours or _our_supervisord()))
    for daemon in chosen:
        if not daemon.executable.exists():
            sys.exit(f"bench: {daemon.executable} not found")
    return chosen


def _clients(args: argparse.Namespace, names: list[str]) -> dict[str, Path]:
    """The supervisorctl beside each supervisord, whichever daemons are run."""
    if "ctl_status500" not in names:  # no need to create the stock venv for it
        return {}
    stock = args.stock or ensure_stock(BENCH / ".venv-stock")
    ours = args.ours or _our_supervisord()
    return {"stock": stock.parent / "supervisorctl", "ours": ours.parent / "supervisorctl"}


def _scale(argv: list[str]) -> int:
    import scale

    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)

    stock = REPO / ".venv-stock" / "bin" / "supervisord"
    if not stock.exists():
        stock = ensure_stock(BENCH / ".venv-stock")
    daemons = [
        Supervisord("stock", f"stock {STOCK_VERSION}", stock),
        Supervisord("ours", "ours", _our_supervisord()),
    ]
    return scale.main(argv, daemons, stock.parent / "supervisorctl")


def _our_supervisord() -> Path:
    beside = Path(sys.executable).parent / "supervisord"
    return beside if beside.exists() else REPO / ".venv" / "bin" / "supervisord"


# outcomes[scenario][daemon key] = one entry per run: an Outcome, or the error text.
Outcomes = dict[str, dict[str, list["Outcome | str"]]]


def _run_all(
    names: list[str],
    daemons: list[Supervisord],
    clients: dict[str, Path],
    sizes: Sizes,
    runs: int,
    keep: bool,
) -> Outcomes:
    outcomes: Outcomes = {name: {d.key: [] for d in daemons} for name in names}
    for name in names:
        for run in range(runs):
            # Interleaved so that drift on the machine hits both daemons alike.
            for daemon in daemons:
                result = _run_once(name, daemon, clients, sizes, run, keep)
                outcomes[name][daemon.key].append(result)
                print(
                    f"{name} · {daemon.key} · run {run + 1}/{runs}: {_describe(result)}",
                    file=sys.stderr,
                )
    return outcomes


def _run_once(
    name: str, daemon: Supervisord, clients: dict[str, Path], sizes: Sizes, run: int, keep: bool
) -> Outcome | str:
    workdir = Path(tempfile.mkdtemp(prefix=f"snbench-{daemon.key}-"))
    # Same seed for both daemons: they see the same sequence of pauses.
    bench = Bench(daemon, sizes, workdir, random.Random(f"{name}/{run}"), clients)
    failed = False
    try:
        return SCENARIOS[name].run(bench)
    except Exception as exc:  # one broken run must not hide the others
        failed = True
        return f"{type(exc).__name__}: {exc}"
    finally:
        if keep or failed:
            print(f"  scratch directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _describe(result: Outcome | str) -> str:
    if isinstance(result, str):
        return f"ERROR {result}"
    text = ", ".join(format_value(v, result.unit(k)) for k, v in result.figures.items())
    return text + "".join(f" [PROBLEM {p}]" for p in result.problems)


def _rows(names: list[str], outcomes: Outcomes, daemons: list[Supervisord]) -> list[Row]:
    rows = []
    for name in names:
        figures: dict[str, Outcome] = {}  # label -> an outcome that has it, first-seen order
        for results in outcomes[name].values():
            for result in results:
                if isinstance(result, Outcome):
                    for label in result.figures:
                        figures.setdefault(label, result)
        for figure, example in figures.items():
            by_daemon: dict[str, Optional[Summary]] = {}
            for key in DAEMON_ORDER:
                values = [
                    r.figures[figure]
                    for r in outcomes[name].get(key, [])
                    if isinstance(r, Outcome) and figure in r.figures
                ]
                by_daemon[key] = Summary.of(values) if values else None
            rows.append(
                Row(name, figure, by_daemon, example.unit(figure), example.targets.get(figure))
            )
    return rows


def _problems(outcomes: Outcomes) -> list[str]:
    problems = []
    for name, by_daemon in outcomes.items():
        for key, results in by_daemon.items():
            for run, result in enumerate(results, 1):
                found = [result] if isinstance(result, str) else result.problems
                problems += [f"{key}, {name}, run {run}: {text}" for text in found]
    return problems


def _save_json(
    started: str,
    load: float,
    args: argparse.Namespace,
    sizes: Sizes,
    runs: int,
    daemons: list[Supervisord],
    clients: dict[str, Path],
    outcomes: Outcomes,
    rows: list[Row],
) -> Path:
    def run_json(result: Outcome | str) -> dict[str, Any]:
        if isinstance(result, str):
            return {"error": result}
        return {
            "figures": result.figures,
            "units": {label: result.unit(label) for label in result.figures},
            "samples": result.samples,
            "problems": result.problems,
        }

    document = {
        "started": started,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine(),
        "load_average": {"start": load, "end": load_average()},
        "mode": "quick" if args.quick else "full",
        "runs": runs,
        "sizes": {
            **vars(sizes),
            "kill_pause": list(sizes.kill_pause),
            "info_programs": list(sizes.info_programs),
        },
        "clients": {key: str(path) for key, path in clients.items()},
        "daemons": {d.key: {"label": d.label, "supervisord": str(d.executable)} for d in daemons},
        "scenarios": {
            name: {
                "summary": SCENARIOS[name].summary,
                "runs": {key: [run_json(r) for r in results] for key, results in by_daemon.items()},
            }
            for name, by_daemon in outcomes.items()
        },
        "table": [
            {
                "scenario": row.scenario,
                "figure": row.figure,
                "unit": row.unit,
                "target": row.target,
                "target_met": row.target_met,
                **{key: s.as_json() if s else None for key, s in row.by_daemon.items()},
                # JSON has no infinity: a figure of 0 for ours (no wakeups) gives null.
                "speedup_stock_over_ours": row.speedup if row.speedup != math.inf else None,
            }
            for row in rows
        ],
    }
    folder = BENCH / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


if __name__ == "__main__":
    sys.exit(main())
