"""Helpers for the event tests: real listener processes written against the
stock ``supervisor.childutils`` (and superlance), run with the stock venv's
Python so that nothing of the stock package is installed next to ours.

The recorder listener appends every event it gets to a JSON-lines file, as
``{"headers": {...}, "payload": "..."}``, and can be told to misbehave:

- ``--fail N``      answer FAIL to the first N events it receives
- ``--die-at N``    exit (status 1) without answering the N-th event, once
- ``--hang-at N``   never answer the N-th event (and read nothing more), once
- ``--hang-poolserial N`` the same for the event of that pool serial, whichever
                    process of the pool gets it
- ``--garbage-at N`` answer the N-th event with a line that is not a RESULT, once
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.daemon_harness import STOCK_VENV
from tests.waiting import wait_until  # noqa: F401  (re-exported for the event tests)

STOCK_PYTHON = STOCK_VENV / "bin" / "python"

RECORDER = r'''
import json, os, sys, time
from supervisor import childutils

out = sys.argv[1]
args = sys.argv[2:]

def opt(name):
    return int(args[args.index(name) + 1]) if name in args else 0

fail, die_at, hang_at, garbage_at = opt("--fail"), opt("--die-at"), opt("--hang-at"), opt("--garbage-at")
hang_poolserial = opt("--hang-poolserial") if "--hang-poolserial" in args else -1

def once(tag):
    # Atomic: the processes of a pool share the marker.
    try:
        os.close(os.open(out + "." + tag, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True

count = 0
while True:
    headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
    count += 1
    with open(out, "a") as f:
        f.write(json.dumps({"headers": headers, "payload": payload, "pid": os.getpid()}) + "\n")
    if count == die_at and once("died"):
        os._exit(1)
    hang_here = count == hang_at or int(headers["poolserial"]) == hang_poolserial
    if hang_here and once("hung"):
        while True:
            time.sleep(60)
    if count == garbage_at and once("garbage"):
        sys.stdout.write("garbage\n")
        sys.stdout.flush()
        continue
    if count <= fail:
        childutils.listener.fail(sys.stdout)
    else:
        childutils.listener.ok(sys.stdout)
'''


def require_stock_listeners(superlance: bool = False) -> None:
    if not STOCK_PYTHON.exists():
        pytest.skip(f"stock supervisor not installed in {STOCK_VENV} (scripts/bootstrap.sh)")
    if superlance and not (STOCK_VENV / "bin" / "memmon").exists():
        pytest.skip(f"superlance not installed in {STOCK_VENV} (scripts/bootstrap.sh)")


def recorder(directory: Path, name: str = "events", *options: str) -> tuple[str, Path]:
    """(command line for an [eventlistener:x], the file it records to)."""
    require_stock_listeners()
    script = directory / "recorder.py"
    if not script.exists():
        script.write_text(RECORDER)
    out = directory / f"{name}.jsonl"
    return f"{STOCK_PYTHON} {script} {out} {' '.join(options)}".strip(), out


def read_events(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def wait_events(
    path: Path,
    predicate: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 15.0,
    what: str = "events",
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        events = read_events(path)
        if predicate(events):
            return events
        if time.monotonic() > deadline:
            names = [(e["headers"]["serial"], e["headers"]["eventname"], e["payload"][:80]) for e in events]
            raise AssertionError(f"timed out waiting for {what}; got:\n" + "\n".join(map(str, names)))
        time.sleep(0.05)


def names(events: list[dict[str, Any]]) -> list[str]:
    return [e["headers"]["eventname"] for e in events]


def has(name: str, count: int = 1, where: Callable[[dict[str, Any]], bool] = lambda e: True):
    return lambda events: sum(1 for e in events if e["headers"]["eventname"] == name and where(e)) >= count
