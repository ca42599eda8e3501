"""Actions on the daemon and the session: shutdown, reload, version, open, quit."""

from __future__ import annotations

import errno
from typing import Any

from ...rpc.faults import Faults
from .. import codes
from ..helptext import no_arguments
from ..wire import Fault


def _confirmed(ctl: Any, question: str) -> bool:
    if not ctl.settings.interactive:
        return True
    return input(question).lower().startswith("y")


def shutdown(ctl: Any, arg: str) -> None:
    if not no_arguments(ctl, "shutdown", arg):
        return
    if not _confirmed(ctl, "Really shut the remote supervisord process down y/N? "):
        return
    try:
        ctl.supervisor().shutdown()
    except Fault as exc:
        if exc.faultCode != Faults.SHUTDOWN_STATE:
            ctl.exitstatus = codes.GENERIC
            raise
        ctl.output("ERROR: already shutting down")
    except OSError as exc:
        ctl.exitstatus = codes.GENERIC
        url = ctl.settings.serverurl
        if exc.args and exc.args[0] == errno.ECONNREFUSED:
            ctl.output(f"ERROR: {url} refused connection (already shut down?)")
        elif exc.args and exc.args[0] == errno.ENOENT:
            ctl.output(f"ERROR: {url} no such file (already shut down?)")
        else:
            raise
    else:
        ctl.output("Shut down")


def reload(ctl: Any, arg: str) -> None:
    if not no_arguments(ctl, "reload", arg):
        return
    if not _confirmed(ctl, "Really restart the remote supervisord process y/N? "):
        return
    try:
        ctl.supervisor().restart()
    except Fault as exc:
        ctl.exitstatus = codes.GENERIC
        if exc.faultCode != Faults.SHUTDOWN_STATE:
            raise
        ctl.output("ERROR: already shutting down")
    else:
        ctl.output("Restarted supervisord")


def reexec(ctl: Any, arg: str) -> None:
    """Ours: ng.reexec(), the daemon's hand-over to its binary on disk."""
    if not no_arguments(ctl, "reexec", arg):
        return
    try:
        ctl.supervisor("ng").reexec()
    except Fault as exc:
        ctl.exitstatus = codes.GENERIC
        if exc.faultCode == Faults.UNKNOWN_METHOD:
            ctl.output("ERROR: reexec needs a supervisor-ng daemon (ng.reexec)")
        else:
            ctl.output(f"ERROR: reexec: {exc.faultString}")
    else:
        ctl.output("reexec: handed over")


def version(ctl: Any, arg: str) -> None:
    if not no_arguments(ctl, "version", arg):
        return
    if not ctl.upcheck():
        return
    ctl.output(ctl.supervisor().getSupervisorVersion())


def open_url(ctl: Any, arg: str) -> None:
    from urllib.parse import urlsplit

    url = arg.strip()
    if urlsplit(url).scheme not in ("unix", "http", "https"):
        ctl.output("ERROR: url must be http:// or unix://")
        ctl.exitstatus = codes.GENERIC
        return
    ctl.disconnect()
    ctl.settings.serverurl = url
    # Showing the new server's status is informational: it leaves the exit
    # status alone.
    before = ctl.exitstatus
    from .processes import status

    status(ctl, "")
    ctl.exitstatus = before


def quit_shell(ctl: Any, arg: str) -> bool:
    return ctl.do_EOF(arg)
