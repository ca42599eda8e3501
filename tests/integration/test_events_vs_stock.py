"""The same config under the stock supervisord 4.3.0 and ours: the same
events reach the same listener, with the same headers and bodies."""

from __future__ import annotations

import re

import pytest

from tests.integration.events_fixtures import has, read_events, recorder, wait_events

PROGRAMS = """
[eventlistener:rec]
command={cmd}
events=PROCESS_STATE,PROCESS_GROUP,SUPERVISOR_STATE_CHANGE,REMOTE_COMMUNICATION
buffer_size=100

[program:crasher]
command=sh -c 'sleep 1.3; exit 3'
startsecs=1
autorestart=false

[program:quitter]
command=sh -c 'exit 1'
startretries=1

[program:steady]
command=sh -c 'trap "sleep 0.3; exit 0" TERM; while :; do sleep 0.1; done'
stopwaitsecs=5
"""


def normalized(events: list[dict], server: str) -> list[tuple[str, str, str]]:
    out = []
    for e in events:
        h = e["headers"]
        assert h["server"] == server
        assert int(h["len"]) == len(e["payload"])
        out.append((h["eventname"], re.sub(r"pid:\d+", "pid:N", e["payload"]), h["poolserial"]))
    return out


def by_process(events: list[tuple[str, str, str]]) -> dict[str, list[tuple[str, str]]]:
    result: dict[str, list[tuple[str, str]]] = {}
    for name, body, _ in events:
        m = re.match(r"processname:(\S+) ", body)
        if m and name.startswith("PROCESS_STATE"):
            result.setdefault(m.group(1), []).append((name, body))
    return result


@pytest.mark.timeout(90)
def test_same_events_as_stock(daemon_factory, tmp_path) -> None:
    runs = {}
    for kind in ("stock", "ours"):
        directory = tmp_path / kind
        directory.mkdir()
        cmd, out = recorder(directory, "rec")
        d = daemon_factory(PROGRAMS.format(cmd=cmd), kind=kind)
        wait_events(out, has("PROCESS_STATE_FATAL"), timeout=20)
        wait_events(out, has("PROCESS_STATE_EXITED"), timeout=20)
        d.rpc.supervisor.sendRemoteCommEvent("kind", "payload with\nnewline")
        wait_events(out, has("REMOTE_COMMUNICATION"))
        d.stop()
        runs[kind] = normalized(read_events(out), f"test-{kind}")

    # What a listener still gets while it is being stopped itself is a race
    # in both daemons: compare up to the daemon's STOPPING event.
    for kind, events in runs.items():
        names = [e[0] for e in events]
        runs[kind] = events[: names.index("SUPERVISOR_STATE_CHANGE_STOPPING") + 1]
    stock, ours = runs["stock"], runs["ours"]
    # Start-up: the same events in the same order, with the same pool serials.
    assert ours[:6] == stock[:6]
    # Each process went through the same states, with the same bodies.
    assert by_process(ours) == by_process(stock)
    # Nothing more, nothing less (the order of different processes' events
    # depends on timing: stock only looks once a second).
    assert sorted(e[:2] for e in ours) == sorted(e[:2] for e in stock)
