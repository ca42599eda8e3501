"""The daemon process: rlimits, privileges, daemonizing, the pidfile, and the
loop with its configuration generations, from the first start (or the
adoption of a former image's state) to the exit.

Imported by :mod:`.daemon` once the command line says a daemon is to run:
the dry run of a hand-over (``--handover-check``) reads the config and the
state without paying for the HTTP server, the runtime and their imports.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pwd
import resource
import signal
from typing import TYPE_CHECKING, Any, Optional

from . import lazy_import
from .cli import usage_error
from .config.model import Config
from .events.bus import SerialCounter
from .http.server import ControlPlane, ControlSocketError
from .logs import journal
from .logs.mainlog import MainLog
from .logs.paths import clean_auto_logs
from .runtime import handover, signals, startup
from .runtime.faults import Faults
from .runtime.notify_server import NotifyServer
from .runtime.reaper import Reaper
from .runtime.supervisor import Supervisor
from .stock_clash import clash_warning
from .systemd.readiness import Readiness

if TYPE_CHECKING:
    from .runtime.child import Process

PROG = "supervisord"
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR2)


class Daemon:
    def __init__(self, config: Config, overrides: dict[str, Any], envelope: Optional[dict[str, Any]] = None) -> None:
        self.config = config
        self.overrides = overrides
        # Set when a previous image of this daemon handed over to us by exec.
        self.envelope = envelope
        self._handed: dict[str, Any] = envelope["daemon"] if envelope is not None else {}
        self.log = MainLog.buffering(config.supervisord.loglevel)
        self.pidfile: Optional[str] = None
        # The control plane outlives generations; it always asks for the current one.
        self.supervisor: Optional[Supervisor] = None
        self.control = ControlPlane(self.log, lambda: self.supervisor)  # type: ignore[arg-type, return-value]
        self.systemd = Readiness()
        self._journal: Optional[journal.MainLogJournal] = None

    def main(self) -> int:
        sd = self.config.supervisord
        self._raise_rlimits()
        self._drop_privileges()
        try:
            self.log.attach_config(sd, self.config.messages)
        except OSError as exc:
            usage_error(PROG, f"could not open the log file {sd.logfile!r}: {exc.strerror}")
        self._journal = journal.sync_main_log(self.log, sd.journal, self._journal)
        clash = clash_warning()
        if clash is not None:
            self.log.warn(clash)
        if not sd.nocleanup and self.envelope is None:  # adopted programs still write there
            clean_auto_logs(sd.childlogdir, sd.identifier, warn=self.log.warn)
        if os.geteuid() == 0 and sd.user is None:
            self.log.critical(
                "Supervisor is running as root.  Privileges were not dropped because no user "
                "is specified in the config file.  If you intend to run as root, you can set "
                "user=root in the config file to avoid this message."
            )
        _close_on_exec_inherited()
        try:
            self.control.bind(self.config, self._handed.get("sockets"))
        except ControlSocketError as exc:
            usage_error(PROG, str(exc))
        if self.envelope is not None:
            # Same process as before the exec: already a daemon, its pidfile written.
            self.pidfile = self._handed.get("pidfile")
        else:
            if not sd.nodaemon and "NOTIFY_SOCKET" not in os.environ:
                self.log.info("daemonizing the supervisord process")
                self._daemonize()
            self._write_pidfile()
            self.log.info(f"supervisord started with pid {os.getpid()}")
        startup.started()
        try:
            asyncio.run(self._serve())
            for sig in HANDLED_SIGNALS:  # the loop is gone: nothing may kill the clean-up
                signal.signal(sig, signal.SIG_IGN)
        finally:
            self.control.close_sockets()
            self._remove_pidfile()
            self.log.close()
        return 0

    async def _serve(self) -> None:
        # What outlives a configuration generation: the reaper, the event
        # serial, where failures are reported, the programs' NOTIFY_SOCKET.
        faults = Faults(self.log)
        handed_notify = self._handed.get("notify")
        notify = NotifyServer(
            self._notify_owner,
            self.log,
            faults,
            adopt=(handed_notify["fd"], handed_notify["address"]) if handed_notify else None,
        )
        reaper = Reaper(before_sweep=notify.drain)
        serial = SerialCounter()
        if "serial" in self._handed:
            serial.last = self._handed["serial"]
        adopt = self.envelope["generation"] if self.envelope is not None else None
        self.envelope = None
        config = self.config

        def daemon_part() -> tuple[dict[str, Any], list[int]]:
            handed_sockets = self.control.handed_sockets()
            part: dict[str, Any] = {
                "serial": serial.last,
                "sockets": handed_sockets,
                "pidfile": self.pidfile,
            }
            fds = [entry["fd"] for entry in handed_sockets]
            notify_fd = notify.fileno()
            if notify_fd is not None:
                part["notify"] = {"fd": notify_fd, "address": notify.address}
                fds.append(notify_fd)
            return part, fds

        self.control.handover = handover.Handover(
            self.log, lambda: self.supervisor, daemon_part, reaper, lambda: self.config.path, self.systemd
        )
        loop = asyncio.get_running_loop()
        # Whatever escapes a callback is logged with its traceback, and the
        # daemon goes on (asyncio's default would print it to a stderr that
        # is /dev/null once daemonized).
        loop.set_exception_handler(faults.loop_handler)
        # Installed once for the daemon's whole life: a second SIGTERM while
        # shutting down, or one between generations, must not kill us.
        for sig in HANDLED_SIGNALS:
            signals.add(loop, sig, self._on_signal, sig)
        self.systemd.start(loop)
        notify.start(loop)
        try:
            while True:
                supervisor = Supervisor(
                    config,
                    self.log,
                    overrides=self.overrides,
                    reaper=reaper,
                    serial=serial,
                    faults=faults,
                    notify_address=notify.address,
                    adopt=adopt,
                )
                run = asyncio.ensure_future(supervisor.run())
                # run() adds the groups before its first await: clients see the
                # new generation only once it has them.
                await asyncio.sleep(0)
                if adopt is not None:
                    adopt = None
                    self.log.info(
                        f"supervisord handed over to itself: pid {os.getpid()}, "
                        f"{handover.adopted_count(supervisor)} programs adopted"
                    )
                self.supervisor = supervisor
                self.systemd.attach(supervisor)
                if not self.control.serving:
                    await self.control.start()
                else:
                    await self.control.reconfigure(config)
                self.systemd.listening()
                reason = await run
                self.systemd.generation_ended(reason)
                if reason != "restart" or supervisor.next_config is None:
                    return
                config = supervisor.next_config
                self.config = config
                self.log.attach_config(config.supervisord, config.messages)
                self._journal = journal.sync_main_log(self.log, config.supervisord.journal, self._journal)
                self.log.info(f"supervisord started with pid {os.getpid()}")
        finally:
            notify.close()
            self.systemd.close()
            await self.control.close()

    def _notify_owner(self, pid: int) -> Optional[Process]:
        return self.supervisor.owner_of(pid) if self.supervisor is not None else None

    def _on_signal(self, sig: int) -> None:
        if self.supervisor is not None:
            self.supervisor.handle_signal(sig)

    # -- process setup -----------------------------------------------------------

    def _raise_rlimits(self) -> None:
        sd = self.config.supervisord
        for limit, want, option in (
            (resource.RLIMIT_NOFILE, sd.minfds, "minfds"),
            (resource.RLIMIT_NPROC, sd.minprocs, "minprocs"),
        ):
            soft, hard = resource.getrlimit(limit)
            if soft == resource.RLIM_INFINITY or soft >= want:
                continue
            new_hard = hard if hard == resource.RLIM_INFINITY or hard >= want else want
            try:
                resource.setrlimit(limit, (want, new_hard))
            except (ValueError, OverflowError, OSError):
                usage_error(
                    PROG,
                    f"{option}={want} needs a limit this environment does not allow "
                    f"(soft {soft}, hard {hard}); raise the limit (ulimit) or lower {option} "
                    f"in [supervisord] of {self.config.path}",
                )

    def _drop_privileges(self) -> None:
        sd = self.config.supervisord
        if sd.uid is None or sd.uid == os.getuid():
            return
        if os.getuid() != 0:
            usage_error(PROG, "Can't drop privilege as nonroot user")
        assert sd.gid is not None
        lazy_import.preload()
        try:
            try:
                # The passwd name, also for user=<uid>: groups list members by name.
                os.initgroups(pwd.getpwuid(sd.uid).pw_name, sd.gid)
            except KeyError:
                os.setgroups([])
            os.setgid(sd.gid)
            os.setuid(sd.uid)
        except OSError as exc:
            usage_error(PROG, f"could not switch to user {sd.user!r}: {exc.strerror}")

    def _daemonize(self) -> None:
        sd = self.config.supervisord
        if os.fork():
            os._exit(0)
        os.setsid()
        if sd.directory:
            try:
                os.chdir(sd.directory)
            except OSError as exc:
                self.log.critical(f"can't chdir into {sd.directory!r}: {exc.strerror}")
                os._exit(2)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        os.umask(sd.umask)

    def _write_pidfile(self) -> None:
        path = self.config.supervisord.pidfile
        if not path:
            return
        try:
            with open(path, "w") as f:
                f.write(f"{os.getpid()}\n")
        except OSError as exc:
            self.log.critical(f"could not write pidfile {path}: {exc.strerror}")
            return
        self.pidfile = path

    def _remove_pidfile(self) -> None:
        if self.pidfile is None:
            return
        try:
            os.unlink(self.pidfile)
        except OSError as exc:
            self.log.warn(f"could not remove pidfile {self.pidfile}: {exc.strerror}")


def _close_on_exec_inherited() -> None:
    """Fds we inherited (3 and up) must not reach children."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        if fd < 3:
            continue
        try:
            flags = fcntl.fcntl(fd, fcntl.F_GETFD)
            fcntl.fcntl(fd, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)
        except OSError:
            pass
