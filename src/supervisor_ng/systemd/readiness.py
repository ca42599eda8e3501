"""When the daemon tells systemd it is ready, reloading or stopping.

``READY=1`` means "the service does what it is for": the control sockets
answer and every program that starts by itself has settled (RUNNING, or
FATAL after its retries, or EXITED...).  Saying it earlier would let units
ordered ``After=supervisord.service`` start before the programs they need.

Everything here is driven by the supervisor's state changes (its
``readiness`` watcher, runtime/dispatch.py) and
the generation boundaries of the daemon: no timer and no polling, apart
from the watchdog ping, which must come from the loop itself.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Optional

from ..core.process import StateChanged
from ..core.states import ProcessState, SupervisorState
from .notify import Notifier, summary

if TYPE_CHECKING:
    from ..runtime.child import Process
    from ..runtime.supervisor import Supervisor

# A process in one of these is still on its way somewhere.
_UNSETTLED_STATES = frozenset({ProcessState.STARTING, ProcessState.BACKOFF, ProcessState.STOPPING})


def settled(proc: Process) -> bool:
    """Has this process reached where it goes by itself?  An autostart
    program that was never spawned has not: its first spawn is pending."""
    if proc.state in _UNSETTLED_STATES:
        return False
    if proc.config.autostart and not proc.machine.started_once:
        return proc.state != ProcessState.STOPPED
    return True


class Readiness:
    """The daemon's side of ``Type=notify``, across configuration generations.

    Call :meth:`start` once on the loop, :meth:`attach` for each new
    generation, :meth:`listening` once its control sockets serve, and
    :meth:`generation_ended` when it returns; :meth:`close` at the end.
    """

    def __init__(self, notifier: Optional[Notifier] = None) -> None:
        self.notifier = notifier if notifier is not None else Notifier()
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.supervisor: Optional[Supervisor] = None
        self._listening = False
        self._ready = False  # READY=1 sent for the current generation / reload
        self._reloading = False  # RELOADING=1 sent, READY=1 not yet
        self._stopping = False
        self._known: set[Process] = set()
        self._pending: set[Process] = set()

    @property
    def enabled(self) -> bool:
        return self.notifier.enabled

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.notifier.start_watchdog(loop)

    def close(self) -> None:
        self.notifier.stop_watchdog()

    # -- generations ---------------------------------------------------------------

    def attach(self, supervisor: Supervisor) -> None:
        """A new generation whose groups were just added (and autostarted)."""
        self.supervisor = supervisor
        self._ready = False
        self._stopping = False
        if not self.enabled:
            return
        self._known = set(supervisor.processes())
        self._pending = {p for p in self._known if not settled(p)}
        supervisor.dispatch.watch("readiness", self._changed)
        self._check()

    def listening(self) -> None:
        """The control sockets of the current generation accept clients."""
        self._listening = True
        self._check()

    def generation_ended(self, reason: str) -> None:
        """The supervisor returned ``reason`` ("restart" or "shutdown") with its
        programs stopped: say so if no state change has said it already."""
        sv = self.supervisor
        if reason == "restart" and sv is not None and sv.next_config is not None:
            self._begin_reload()
        else:
            self._begin_stop()

    def handing_over(self) -> None:
        """The daemon is about to exec itself: the new image says READY=1."""
        self._begin_reload()
        if self.notifier.watchdog_interval is not None:
            # A fresh ping: the new image's first one comes only once it runs.
            self.notifier.send("WATCHDOG=1")

    def handover_failed(self) -> None:
        """The exec failed and this daemon runs on as it was."""
        self._reloading = False
        if self.enabled and self._listening:
            self._ready = True
            self.notifier.ready(self._status_text())

    # -- state changes ---------------------------------------------------------------

    def _changed(self, proc: Process, change: StateChanged) -> None:
        sv = self.supervisor
        if sv is None or proc.supervisor is not sv:
            return
        if sv.state == SupervisorState.RESTARTING:
            self._begin_reload()
        elif sv.state <= SupervisorState.SHUTDOWN:
            self._begin_stop()
        elif proc not in self._known:
            # A group added while running (supervisorctl update): a reload
            # until its programs settle too.
            self._known.add(proc)
            if not settled(proc):
                self._pending.add(proc)
                if self._ready:
                    self._ready = False
                    self._reloading = True
                    self.notifier.reloading()
        if proc in self._pending and settled(proc):
            self._pending.discard(proc)
            if not self._pending:
                # After the rest of this change is carried out: its log line
                # ("gave up: ...") comes before READY=1.
                sv.loop.call_soon(self._check)
        self.notifier.status_soon(sv.loop, self._status_text)

    def _check(self) -> None:
        if self._ready or self._stopping or not self._listening or self._pending:
            return
        if self.supervisor is None or self.supervisor.state != SupervisorState.RUNNING:
            return
        self._ready = True
        self._reloading = False
        self.notifier.ready(self._status_text())

    def _begin_reload(self) -> None:
        if self._reloading or not self.enabled:
            return
        self._reloading = True
        self._ready = False
        self._pending = set()
        self.notifier.reloading()
        self.notifier.status("reloading the configuration")

    def _begin_stop(self) -> None:
        if self._stopping or not self.enabled:
            return
        self._stopping = True
        self.notifier.stopping()
        self.notifier.status("stopping")

    def _status_text(self) -> str:
        sv = self.supervisor
        if sv is None:
            return "starting"
        if self._stopping:
            return "stopping"
        if self._reloading and sv.state == SupervisorState.RESTARTING:
            return "reloading the configuration"
        return summary(p.state for p in sv.processes())
