"""Write the supervisord.conf each scenario runs with.

Both daemons read the same file: a unix socket for XML-RPC, the daemon's log,
pid file and AUTO child logs inside the run's scratch directory, and one
``[program:x]`` section per entry of *programs*.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

SOCKET_NAME = "supervisor.sock"


def _value(text: str) -> str:
    # The config reader expands %(name)s, so a literal % has to be doubled.
    return str(text).replace("%", "%%")


def write_config(workdir: Path, programs: Mapping[str, Mapping[str, str]]) -> Path:
    """Write ``supervisord.conf`` into *workdir* and return its path.

    *programs* maps a program name to its options, e.g.
    ``{"web": {"command": "sleep 1000", "startsecs": "0"}}``.
    """
    childlogs = workdir / "childlogs"
    childlogs.mkdir(exist_ok=True)
    socket = workdir / SOCKET_NAME
    lines = [
        "[unix_http_server]",
        f"file={_value(str(socket))}",
        "",
        "[supervisord]",
        f"logfile={_value(str(workdir / 'supervisord.log'))}",
        f"pidfile={_value(str(workdir / 'supervisord.pid'))}",
        f"childlogdir={_value(str(childlogs))}",
        "loglevel=info",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{_value(str(socket))}",
        "",
    ]
    for name, options in programs.items():
        lines.append(f"[program:{name}]")
        lines.extend(f"{key}={_value(value)}" for key, value in options.items())
        lines.append("")
    path = workdir / "supervisord.conf"
    path.write_text("\n".join(lines))
    return path
