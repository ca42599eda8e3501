"""A daemon at rest holds only what it uses (issue 19): psutil, the XML
parser and the HTTP layer are loaded when first needed, not at start.

Seen from outside, in the daemon's /proc/PID/maps: a C extension is mapped
once its module is imported.  ``_psutil_linux`` comes with psutil,
``pyexpat`` with the XML-RPC request parser, ``_json`` with the HTTP layer
(:mod:`supervisor_ng.http.wire` imports json; nothing else the daemon loads
at start does).  Readiness is read from the log, not asked over the socket:
a request would load what the test looks for.
"""

from __future__ import annotations

from pathlib import Path

from tests.waiting import wait_until

PROGRAMS = """
[program:quiet]
command=sleep 1000
startsecs=0
stdout_logfile=NONE
stderr_logfile=NONE
"""


def _mapped(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def _has(pid: int, extension: str) -> bool:
    return f"/{extension}." in _mapped(pid)


def test_daemon_at_rest_has_not_loaded_psutil_expat_or_the_http_layer(daemon_factory):
    d = daemon_factory(PROGRAMS, start=False)
    d.start(wait=False)
    wait_until(lambda: "quiet entered RUNNING state" in d.read_log(), what="quiet RUNNING in the log")
    pid = d.pid
    assert _has(pid, "_asyncio")  # the check sees extensions that are loaded
    for extension in ("_psutil_linux", "pyexpat", "_json"):
        assert not _has(pid, extension), f"{extension} is loaded in a daemon nobody has talked to"

    # The first request loads the HTTP layer and the parser, and is answered.
    assert d.rpc.supervisor.getProcessInfo("quiet")["statename"] == "RUNNING"
    assert _has(pid, "pyexpat") and _has(pid, "_json")
    assert not _has(pid, "_psutil_linux")

    # psutil comes with its first use: the daemon's own figures.
    assert d.rpc.ng.getDaemonStats()["pid"] == pid
    assert _has(pid, "_psutil_linux")
