"""getProcessInfo structs keep most of their XML between state changes: the
bytes on the wire must be exactly those of the plain dicts, call after call."""

from __future__ import annotations

import copy
import subprocess
import sys
import time
from pathlib import Path

from supervisor_ng.config.loader import load
from supervisor_ng.core.states import ProcessState
from supervisor_ng.logs.mainlog import MainLog
from supervisor_ng.rpc import info
from supervisor_ng.rpc.codec import EncodedStruct, dump_members, dump_response
from supervisor_ng.runtime.supervisor import ProcessGroup, Supervisor
from supervisor_ng.runtime.tree import ProcessTable, tree_members


def _supervisor(tmp_path: Path, count: int) -> Supervisor:
    conf = tmp_path / "supervisord.conf"
    lines = [f"[supervisord]\nlogfile={tmp_path}/d.log\nchildlogdir={tmp_path}\n"]
    lines += [f"[program:p{i}]\ncommand=sleep 1000\n" for i in range(count)]
    conf.write_text("\n".join(lines))
    config = load(str(conf))
    sv = Supervisor(config, MainLog.buffering(config.supervisord.loglevel))
    for gconfig in config.groups:
        sv.groups[gconfig.name] = ProcessGroup(gconfig, sv)
    return sv


def test_encoded_structs_marshal_as_the_plain_dicts(tmp_path: Path):
    sv = _supervisor(tmp_path, 24)
    states = list(ProcessState)
    now = time.time()
    for i, proc in enumerate(sv.processes()):
        proc.machine.state = states[i % len(states)]
        proc.machine.pid = 1000 + i if i % 3 else 0
        proc.start_time = now - 90_000 - i if i % 5 else 0
        proc.stop_time = now - i
        proc.machine.spawnerr = "bad <x> & \x1b" if i % 7 == 0 else None
        proc.machine.exitstatus = i % 4
    for second in range(3):
        structs = [info.process_info(p, now + second) for p in sv.processes()]
        plain = [dict(s) for s in structs]
        assert dump_response(structs) == dump_response(plain)
        assert dump_response([structs[:2], {"x": structs[3]}]) == dump_response([plain[:2], {"x": plain[3]}])
        for i, proc in enumerate(sv.processes()):  # a state change for some
            if i % 2:
                proc.machine.state = ProcessState.RUNNING
                proc.machine.pid = 7


def test_a_changed_encoded_struct_marshals_what_it_now_holds():
    items = {"a": 1, "b": "x<y"}
    struct = EncodedStruct(items, (dump_members(items),))
    assert dump_response(copy.deepcopy(struct)) == dump_response(items)
    struct["c"] = 2
    assert dump_response(struct) == dump_response({**items, "c": 2})
    other = EncodedStruct(items, ("stale",))
    other.update(d=3)
    assert b"stale" not in dump_response(other)


def test_process_table_finds_descendants():
    script = "import subprocess, sys; subprocess.run(['sleep', '30']); "
    child = subprocess.Popen([sys.executable, "-c", script])
    members: dict = {}
    try:
        deadline = time.monotonic() + 10
        while True:
            members = tree_members(child.pid, "g", "p", table=ProcessTable())
            if members or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert [p.name() for p in members.values()] == ["sleep"]
    finally:
        for proc in members.values():
            proc.kill()
        child.kill()
        child.wait()
