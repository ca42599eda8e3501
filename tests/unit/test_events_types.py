"""Event types: names, the class tree subscriptions rely on, and every body,
checked against the stock 4.3.0 classes themselves when they are installed."""

from __future__ import annotations

import json
import subprocess

import pytest
from tests.daemon_harness import STOCK_VENV

from supervisor_ng.config.datatypes import EVENT_NAMES
from supervisor_ng.core.process import StateChanged
from supervisor_ng.core.states import ProcessState as S
from supervisor_ng.events import types as ev
from supervisor_ng.events.pool import Queued, envelope


def test_every_stock_name_has_a_type_and_nothing_else() -> None:
    assert set(ev.EVENT_TYPES) == set(EVENT_NAMES)
    for name, cls in ev.EVENT_TYPES.items():
        assert cls.NAME == name
        assert issubclass(cls, ev.Event)


@pytest.mark.parametrize(
    "abstract, concrete",
    [
        ("EVENT", [*EVENT_NAMES]),
        ("PROCESS_STATE", [n for n in EVENT_NAMES if n.startswith("PROCESS_STATE")]),
        ("PROCESS_LOG", ["PROCESS_LOG", "PROCESS_LOG_STDOUT", "PROCESS_LOG_STDERR"]),
        ("PROCESS_COMMUNICATION", ["PROCESS_COMMUNICATION", "PROCESS_COMMUNICATION_STDOUT", "PROCESS_COMMUNICATION_STDERR"]),
        ("SUPERVISOR_STATE_CHANGE", ["SUPERVISOR_STATE_CHANGE", "SUPERVISOR_STATE_CHANGE_RUNNING", "SUPERVISOR_STATE_CHANGE_STOPPING"]),
        ("TICK", ["TICK", "TICK_5", "TICK_60", "TICK_3600"]),
        ("PROCESS_GROUP", ["PROCESS_GROUP", "PROCESS_GROUP_ADDED", "PROCESS_GROUP_REMOVED"]),
    ],
)
def test_abstract_types_cover_their_subtypes(abstract: str, concrete: list[str]) -> None:
    parent = ev.EVENT_TYPES[abstract]
    assert sorted(n for n, c in ev.EVENT_TYPES.items() if issubclass(c, parent)) == sorted(concrete)


def change(old: S, new: S, pid: int = 0, tries: int = 0, expected=None) -> StateChanged:
    return StateChanged(old, new, pid, tries, expected)


@pytest.mark.parametrize(
    "c, name, body",
    [
        (change(S.STOPPED, S.STARTING), "PROCESS_STATE_STARTING", "processname:p groupname:g from_state:STOPPED tries:0"),
        (change(S.BACKOFF, S.STARTING, tries=2), "PROCESS_STATE_STARTING", "processname:p groupname:g from_state:BACKOFF tries:2"),
        (change(S.STARTING, S.BACKOFF, tries=1), "PROCESS_STATE_BACKOFF", "processname:p groupname:g from_state:STARTING tries:1"),
        (change(S.STARTING, S.RUNNING, pid=42), "PROCESS_STATE_RUNNING", "processname:p groupname:g from_state:STARTING pid:42"),
        (change(S.RUNNING, S.STOPPING, pid=42), "PROCESS_STATE_STOPPING", "processname:p groupname:g from_state:RUNNING pid:42"),
        (change(S.STOPPING, S.STOPPED, pid=42), "PROCESS_STATE_STOPPED", "processname:p groupname:g from_state:STOPPING pid:42"),
        (change(S.BACKOFF, S.STOPPED), "PROCESS_STATE_STOPPED", "processname:p groupname:g from_state:BACKOFF pid:0"),
        (change(S.RUNNING, S.EXITED, pid=42, expected=True), "PROCESS_STATE_EXITED",
         "processname:p groupname:g from_state:RUNNING expected:1 pid:42"),
        (change(S.RUNNING, S.EXITED, pid=42, expected=False), "PROCESS_STATE_EXITED",
         "processname:p groupname:g from_state:RUNNING expected:0 pid:42"),
        (change(S.BACKOFF, S.FATAL), "PROCESS_STATE_FATAL", "processname:p groupname:g from_state:BACKOFF"),
        (change(S.STOPPING, S.UNKNOWN, pid=42), "PROCESS_STATE_UNKNOWN", "processname:p groupname:g from_state:STOPPING"),
    ],
)
def test_process_state_bodies(c: StateChanged, name: str, body: str) -> None:
    event = ev.process_state_event("p", "g", c)
    assert event.NAME == name
    assert event.payload() == body


def test_other_bodies() -> None:
    assert ev.ProcessLogStdout("p", "g", 7, b"hi\n").payload() == "processname:p groupname:g pid:7 channel:stdout\nhi\n"
    assert ev.ProcessLogStderr("p", "g", 7, b"\xff").payload() == (
        "processname:p groupname:g pid:7 channel:stderr\nUndecodable: b'\\xff'"
    )
    assert ev.ProcessCommunicationStdout("p", "g", 7, b"msg").payload() == "processname:p groupname:g pid:7\nmsg"
    assert ev.RemoteCommunication("kind", "some\ndata").payload() == "type:kind\nsome\ndata"
    assert ev.SupervisorRunning().payload() == ""
    assert ev.SupervisorStopping().payload() == ""
    assert ev.ProcessGroupAdded("g").payload() == "groupname:g\n"
    assert ev.ProcessGroupRemoved("g").payload() == "groupname:g\n"
    assert ev.Tick60(1200).payload() == "when:1200"


def test_envelope_counts_characters_not_bytes() -> None:
    event = ev.RemoteCommunication("t", "héllo")
    event.serial = 12
    data = envelope("sv", "pool", Queued(event, 3))
    header, body = data.split(b"\n", 1)
    assert header == b"ver:3.0 server:sv serial:12 pool:pool poolserial:3 eventname:REMOTE_COMMUNICATION len:12"
    assert body.decode() == "type:t\nhéllo"
    assert len(body) == 13  # bytes; len: says 12 characters, as stock


# -- the same bodies from the stock classes ------------------------------------------------

_STOCK_SCRIPT = r"""
import json, sys
from supervisor import events
from supervisor.states import ProcessStates as S

class Cfg: name = "p"
class GroupCfg: name = "g"
class Group: config = GroupCfg()
class Proc:
    config = Cfg(); group = Group(); pid = 42; backoff = 2

p = Proc()
out = {}
for name, cls, frm in [
    ("STARTING", events.ProcessStateStartingEvent, S.BACKOFF),
    ("BACKOFF", events.ProcessStateBackoffEvent, S.STARTING),
    ("RUNNING", events.ProcessStateRunningEvent, S.STARTING),
    ("STOPPING", events.ProcessStateStoppingEvent, S.RUNNING),
    ("STOPPED", events.ProcessStateStoppedEvent, S.STOPPING),
    ("FATAL", events.ProcessStateFatalEvent, S.BACKOFF),
    ("UNKNOWN", events.ProcessStateUnknownEvent, S.STOPPING),
]:
    out[name] = cls(p, frm).payload()
out["EXITED0"] = events.ProcessStateExitedEvent(p, S.RUNNING, expected=False).payload()
out["EXITED1"] = events.ProcessStateExitedEvent(p, S.RUNNING, expected=True).payload()
out["LOG_STDOUT"] = events.ProcessLogStdoutEvent(p, 42, b"a\nb").payload()
out["LOG_STDERR"] = events.ProcessLogStderrEvent(p, 42, b"\xff\xfe").payload()
out["COMM_STDOUT"] = events.ProcessCommunicationStdoutEvent(p, 42, b"x").payload()
out["COMM_STDERR"] = events.ProcessCommunicationStderrEvent(p, 42, b"y").payload()
out["REMOTE"] = events.RemoteCommunicationEvent("t", "d\ne").payload()
out["RUNNING_SV"] = events.SupervisorRunningEvent().payload()
out["ADDED"] = events.ProcessGroupAddedEvent("g").payload()
out["REMOVED"] = events.ProcessGroupRemovedEvent("g").payload()
out["TICK"] = events.Tick5Event(1795266630, None).payload()
names = {}
for n, t in vars(events.EventTypes).items():
    if isinstance(t, type):
        names[n] = sorted(m for m, u in vars(events.EventTypes).items() if isinstance(u, type) and issubclass(u, t))
out["TREE"] = names
print(json.dumps(out))
"""


def test_bodies_and_type_tree_match_stock() -> None:
    python = STOCK_VENV / "bin" / "python"
    if not python.exists():
        pytest.skip("stock supervisor not installed")
    stock = json.loads(subprocess.run([str(python), "-c", _STOCK_SCRIPT], capture_output=True, text=True, check=True).stdout)
    stock_names = set(stock["TREE"])
    ours = {
        "STARTING": ev.process_state_event("p", "g", change(S.BACKOFF, S.STARTING, 42, 2)).payload(),
        "BACKOFF": ev.process_state_event("p", "g", change(S.STARTING, S.BACKOFF, 42, 2)).payload(),
        "RUNNING": ev.process_state_event("p", "g", change(S.STARTING, S.RUNNING, 42, 2)).payload(),
        "STOPPING": ev.process_state_event("p", "g", change(S.RUNNING, S.STOPPING, 42, 2)).payload(),
        "STOPPED": ev.process_state_event("p", "g", change(S.STOPPING, S.STOPPED, 42, 2)).payload(),
        "FATAL": ev.process_state_event("p", "g", change(S.BACKOFF, S.FATAL, 42, 2)).payload(),
        "UNKNOWN": ev.process_state_event("p", "g", change(S.STOPPING, S.UNKNOWN, 42, 2)).payload(),
        "EXITED0": ev.process_state_event("p", "g", change(S.RUNNING, S.EXITED, 42, 2, False)).payload(),
        "EXITED1": ev.process_state_event("p", "g", change(S.RUNNING, S.EXITED, 42, 2, True)).payload(),
        "LOG_STDOUT": ev.ProcessLogStdout("p", "g", 42, b"a\nb").payload(),
        "LOG_STDERR": ev.ProcessLogStderr("p", "g", 42, b"\xff\xfe").payload(),
        "COMM_STDOUT": ev.ProcessCommunicationStdout("p", "g", 42, b"x").payload(),
        "COMM_STDERR": ev.ProcessCommunicationStderr("p", "g", 42, b"y").payload(),
        "REMOTE": ev.RemoteCommunication("t", "d\ne").payload(),
        "RUNNING_SV": ev.SupervisorRunning().payload(),
        "ADDED": ev.ProcessGroupAdded("g").payload(),
        "REMOVED": ev.ProcessGroupRemoved("g").payload(),
        "TICK": ev.Tick5(1795266630).payload(),
        "TREE": {  # stock's types only: PROCESS_UNHEALTHY is supervisor-ng's own
            name: sorted(n for n, c in ev.EVENT_TYPES.items() if issubclass(c, cls) and n in stock_names)
            for name, cls in ev.EVENT_TYPES.items()
            if name in stock_names
        },
    }
    assert ours == stock
