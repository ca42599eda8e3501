"""Actions on logs and the foreground: tail, maintail, fg."""

from __future__ import annotations

from typing import Any, Optional

from ...rpc.faults import Faults
from .. import codes
from ..helptext import TOPICS
from ..wire import Fault

DEFAULT_TAIL_BYTES = 1600


def _fail(ctl: Any, message: str, topic: Optional[str] = None) -> None:
    ctl.output(message)
    ctl.exitstatus = codes.GENERIC
    if topic is not None:
        ctl.output(TOPICS[topic])


def _follow(ctl: Any, path: str) -> None:
    """Stream a log to stdout until the user presses Ctrl-C."""
    from ..logtail import LogFollower
    from ..shell import check_encoding

    check_encoding(ctl)
    ctl.output("==> Press Ctrl-C to exit <==")
    ctl.stdout.flush()
    s = ctl.settings
    follower = LogFollower(s.serverurl, path, s.username, s.password, s.cafile)
    try:
        follower.run()
    except KeyboardInterrupt:
        follower.stop()
        ctl.output("")


def _log_error(ctl: Any, exc: Fault, name: str, extra: dict[int, str]) -> None:
    messages = {Faults.NO_FILE: "no log file", Faults.FAILED: "unknown error reading log", **extra}
    ctl.exitstatus = codes.GENERIC
    if exc.faultCode not in messages:
        raise exc
    ctl.output(f"{name}: ERROR ({messages[exc.faultCode]})")


def tail(ctl: Any, arg: str) -> None:
    if not ctl.upcheck():
        return
    args = arg.split()
    if not args:
        return _fail(ctl, "Error: too few arguments", "tail")
    if len(args) > 3:
        return _fail(ctl, "Error: too many arguments", "tail")

    modifier = args.pop(0) if args[0].startswith("-") else None
    if len(args) == 1:
        name, channel = args[0], "stdout"
    elif args:
        name, channel = args[0], args[-1].lower()
        if channel not in ("stderr", "stdout"):
            return _fail(ctl, f"Error: bad channel {channel!r}")
    else:
        return _fail(ctl, "Error: tail requires process name")

    count: Optional[int] = DEFAULT_TAIL_BYTES
    if modifier is not None:
        if modifier[1:] == "f":
            count = None
        else:
            try:
                count = int(modifier[1:])
            except ValueError:
                return _fail(ctl, f"Error: bad argument {modifier}")

    supervisor = ctl.supervisor()
    if count is None:
        return _follow(ctl, f"/logtail/{name}/{channel}")

    from ..shell import check_encoding

    check_encoding(ctl)
    read = (
        supervisor.readProcessStdoutLog if channel == "stdout" else supervisor.readProcessStderrLog
    )
    try:
        output = read(name, -count, 0)
    except Fault as exc:
        _log_error(ctl, exc, name, {Faults.BAD_NAME: "no such process name"})
    else:
        ctl.output(output)


def maintail(ctl: Any, arg: str) -> None:
    if not ctl.upcheck():
        return
    args = arg.split()
    if len(args) > 1:
        return _fail(ctl, "Error: too many arguments", "maintail")
    count = DEFAULT_TAIL_BYTES
    if args:
        what = args[0]
        if not what.startswith("-"):
            return _fail(ctl, f"Error: bad argument {what}")
        if what[1:] == "f":
            return _follow(ctl, "/mainlogtail")
        try:
            count = int(what[1:])
        except ValueError:
            return _fail(ctl, f"Error: bad argument {what}")
    try:
        output = ctl.supervisor().readLog(-count, 0)
    except Fault as exc:
        _log_error(ctl, exc, "supervisord", {})
    else:
        ctl.output(output)


def fg(ctl: Any, arg: str) -> None:
    if not ctl.upcheck():
        return
    names = arg.split()
    if not names:
        return _fail(ctl, "ERROR: no process name supplied", "fg")
    if len(names) > 1:
        return _fail(ctl, "ERROR: too many process names supplied")
    name = names[0]
    supervisor = ctl.supervisor()
    try:
        info = supervisor.getProcessInfo(name)
    except Fault as exc:
        if exc.faultCode == Faults.BAD_NAME:
            return _fail(ctl, "ERROR: bad process name supplied")
        ctl.output(f"ERROR: {exc}")
        return
    if info["state"] != codes.RUNNING_STATE:
        return _fail(ctl, "ERROR: process not running")

    ctl.output("==> Press Ctrl-C to exit <==")
    ctl.stdout.flush()
    followers = _follow_in_background(ctl, name)
    try:
        farewell = _forward_input(supervisor, name)
    except (KeyboardInterrupt, EOFError):
        farewell = []
    finally:
        # Silence the log streams first so nothing of theirs follows our last words.
        for follower, thread in followers:
            follower.stop()
            thread.join(1)
    for line in [*farewell, "Exiting foreground"]:
        ctl.output(line)


def _forward_input(supervisor: Any, name: str) -> list[str]:
    """Send what the user types to the process until it goes away; what to
    say about why it ended."""
    while True:
        line = input() + "\n"
        try:
            supervisor.sendProcessStdin(name, line)
        except Fault as exc:
            if exc.faultCode == Faults.NOT_RUNNING:
                return ["Process got killed"]
            return [f"ERROR: {exc}"]
        if supervisor.getProcessInfo(name)["state"] != codes.RUNNING_STATE:
            return ["Process got killed"]


def _follow_in_background(ctl: Any, name: str) -> list[tuple[Any, Any]]:
    """Copy the process's stdout and stderr logs to our stdout while the
    main thread forwards what the user types."""
    import threading

    from ..logtail import LogFollower

    s = ctl.settings
    followers = [
        LogFollower(s.serverurl, f"/logtail/{name}/{channel}", s.username, s.password, s.cafile)
        for channel in ("stdout", "stderr")
    ]
    started = []
    for follower in followers:
        thread = threading.Thread(target=_run_quietly, args=(follower,), daemon=True)
        thread.start()
        started.append((follower, thread))
    return started


def _run_quietly(follower: Any) -> None:
    try:
        follower.run()
    except Exception as exc:
        if not follower.stopped:
            import sys

            sys.stderr.write(f"{follower.url} Cannot connect, error: {type(exc)} ({exc})\n")
