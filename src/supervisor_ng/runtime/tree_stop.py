"""Signals of a stop, and what a stopped program leaves behind.

The state machine follows the main process only, as stock's does; this is
what its ``Kill`` actions mean for the rest of the program's processes
(systemd's ``KillMode=mixed``):

- ``stopasgroup`` / ``killasgroup``: the signal goes to the process group
  and to every descendant (:mod:`.tree`), detached ones included;
- once the main process has exited on a stop, whatever it left (children,
  ``setsid`` grandchildren, orphans reparented to the daemon) gets the stop
  signal, unless it had it already, and SIGKILL when ``stopwaitsecs``,
  counted from the stop request, runs out: a leftover gets the same grace
  as the main process, never less;
- ``stopleftovers = false``: stock behaviour, the signal goes to the pid or
  its process group and nothing else is touched, for programs that leave a
  detached child running on purpose.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psutil

from ..core.process import signame
from .tree import kill_survivors, signal_members, signal_tree, tree_members

if TYPE_CHECKING:
    from .child import Process


@dataclass
class _Stop:
    """One stop of one main process, from the request to the last leftover."""

    pid: int
    deadline: float  # monotonic: stop request + stopwaitsecs
    members: dict[int, psutil.Process] = field(default_factory=dict)
    signalled: set[int] = field(default_factory=set)  # had the stop signal already


class TreeStop:
    """Owned by a :class:`~.child.Process`; it carries out the machine's
    kills and sees the leftovers of each stop to their end."""

    def __init__(self, process: Process) -> None:
        self._process = process
        self._stop: _Stop | None = None  # the stop under way, until the main pid exits
        self._leftovers: dict[int, psutil.Process] = {}  # waiting for their SIGKILL

    def kill(self, pid: int, sig: int, whole_tree: bool, stopping: bool) -> None:
        """Send a ``Kill`` of the machine to ``pid`` (and, as configured, to
        its tree).  ``stopping`` is False for signalProcess, which reaches the
        pid alone.  Raises OSError other than "no such process"."""
        config = self._process.config
        try:
            if not stopping:
                os.kill(pid, sig)
            elif not config.stopleftovers:
                if whole_tree:
                    os.killpg(pid, sig)
                else:
                    os.kill(pid, sig)
            else:
                stop = self._begin(pid)
                if whole_tree:
                    stop.members.update(self._members(stop, orphans=True))
                    signal_tree(pid, sig, stop.members)
                    if sig == config.stopsignal:
                        stop.signalled.update(stop.members)
                else:
                    os.kill(pid, sig)
        except ProcessLookupError:
            pass  # it died already; the reaper will tell the machine

    def main_exited(self) -> None:
        """The main process of a stop has exited: its leftovers get the stop
        signal now and SIGKILL at the stop's deadline."""
        stop, self._stop = self._stop, None
        if stop is None or not self._process.config.stopleftovers:
            return
        stop.members.update(self._members(stop, orphans=True))
        host = self._process.supervisor.host
        if host.monotonic() < stop.deadline:
            sig = self._process.config.stopsignal
            fresh = [proc for pid, proc in stop.members.items() if pid not in stop.signalled]
            reached = signal_members(sig, fresh)
            if reached:
                self._process.supervisor.log.info(
                    f"sent {signame(sig)} to {len(reached)} leftover process(es) of "
                    f"{self._process.config.name}: " + ", ".join(map(str, reached))
                )
        if stop.members:
            self._leftovers.update(stop.members)
            host.call_at(stop.deadline, lambda: self._kill_leftovers(stop.members))

    def live_state(self) -> dict:
        """What this holds between a stop request and its last SIGKILL."""
        stop = self._stop
        return {
            "stopping": None if stop is None else {"pid": stop.pid, "deadline": stop.deadline},
            "leftovers": sorted(self._leftovers),
        }

    def _begin(self, pid: int) -> _Stop:
        """The stop under way, or a new one from now: the first kill of a stop
        records who belongs to the program while the main process still
        lives (a child that later drops its environment is still known);
        orphans are looked for when the tree is signalled, not here."""
        stop = self._stop
        if stop is None or stop.pid != pid:
            now = self._process.supervisor.host.monotonic()
            stop = self._stop = _Stop(pid, now + self._process.config.stopwaitsecs)
            stop.members.update(self._members(stop, orphans=False))
        return stop

    def _members(self, stop: _Stop, orphans: bool) -> dict[int, psutil.Process]:
        sv = self._process.supervisor
        config = self._process.config
        managed = sv.pids() if orphans else ()
        return tree_members(
            stop.pid, config.group, config.name, managed, sv.process_table(), stop.members.values(), orphans
        )

    def _kill_leftovers(self, members: dict[int, psutil.Process]) -> None:
        for pid in members:
            self._leftovers.pop(pid, None)
        killed = kill_survivors(members)
        if killed:
            self._process.supervisor.log.warn(
                f"killed {len(killed)} leftover process(es) of {self._process.config.name}: "
                + ", ".join(map(str, killed))
            )

