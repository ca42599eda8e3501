"""``depends_on``: what starts before what, and what stops before what.

A spawn of a process with dependencies waits (the process is STARTING with
no pid) until every dependency is *satisfied*: RUNNING (which, with
``ready``, means ready), or EXITED with an expected code (a program that runs
once, such as a migration).  Dependencies that are not on their way are
started first.  If one cannot be had (FATAL, stopped, exited for good) the
waiting process gives up with a spawn error naming it.

A stop goes the other way: a process whose dependents still run stops once
they have stopped, and asks them to stop first.

Everything is driven by state changes (runtime/dispatch.py calls
:meth:`Dependencies.changed`); nothing polls.  Names are resolved against
the groups of the generation as they are now, since ``update`` adds and
removes groups.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ..config.dependencies import targets
from ..config.model import AutoRestart
from ..core.states import STOPPED_STATES, ProcessState
from .slices import in_slices

if TYPE_CHECKING:
    from .child import Process
    from .supervisor import Supervisor

# A dependency in one of these gets there by itself, or is started.
_STARTABLE = frozenset({ProcessState.STOPPED, ProcessState.EXITED, ProcessState.FATAL})


def satisfied(proc: Process) -> bool:
    """Is ``proc`` what a dependent waits for?"""
    if proc.state == ProcessState.RUNNING:
        return True
    return proc.state == ProcessState.EXITED and proc.exitstatus in proc.config.exitcodes


def _will_restart(proc: Process) -> bool:
    restart = proc.config.autorestart
    return restart is AutoRestart.ALWAYS or (
        restart is AutoRestart.UNEXPECTED and proc.exitstatus not in proc.config.exitcodes
    )


class Dependencies:
    """The start and stop order of one generation's processes."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.sv = supervisor
        self._waiting_to_start: dict[Process, None] = {}  # ordered set
        self._waiting_to_stop: dict[Process, None] = {}
        self._requires: Optional[dict[Process, tuple[Process, ...]]] = None
        self._dependents: Optional[dict[Process, tuple[Process, ...]]] = None

    # -- the graph ------------------------------------------------------------------

    def forget(self) -> None:
        """Groups were added or removed: resolve the names again when next asked."""
        self._requires = None
        self._dependents = None

    def _graph(self) -> tuple[dict[Process, tuple[Process, ...]], dict[Process, tuple[Process, ...]]]:
        if self._requires is None or self._dependents is None:
            groups = self.sv.groups
            configs = {name: [p.config for p in g.processes.values()] for name, g in groups.items()}
            requires: dict[Process, tuple[Process, ...]] = {}
            dependents: dict[Process, list[Process]] = {}
            for proc in self.sv.processes():
                if not proc.config.depends_on:
                    continue
                found: dict[Process, None] = {}
                for name in proc.config.depends_on:
                    for group, pname in targets(name, configs):
                        dep = groups[group].processes.get(pname)
                        if dep is not None and dep is not proc:
                            found[dep] = None
                requires[proc] = tuple(found)
                for dep in found:
                    dependents.setdefault(dep, []).append(proc)
            self._requires = requires
            self._dependents = {p: tuple(ds) for p, ds in dependents.items()}
        return self._requires, self._dependents

    def requires(self, proc: Process) -> tuple[Process, ...]:
        """The processes ``proc`` depends on (names resolved)."""
        return self._graph()[0].get(proc, ())

    def dependents(self, proc: Process) -> tuple[Process, ...]:
        """The processes that depend on ``proc``."""
        return self._graph()[1].get(proc, ())

    def graph(self) -> list[dict[str, object]]:
        """ng.getDependencies: each process that depends on something or that
        something depends on, by ``group:process``, with both directions."""
        requires, dependents = self._graph()
        procs = sorted(set(requires) | set(dependents), key=_spec)
        return [
            {
                "name": _spec(proc),
                "depends_on": [_spec(d) for d in requires.get(proc, ())],
                "dependents": sorted(_spec(d) for d in dependents.get(proc, ())),
            }
            for proc in procs
        ]

    # -- starting ---------------------------------------------------------------------

    def may_spawn(self, proc: Process) -> Optional[str]:
        """The state machine asks to spawn ``proc``: "" to go ahead, None to
        wait (:meth:`changed` spawns it later), or the reason it cannot start."""
        deps = self.requires(proc)
        if not deps:
            return ""
        if self.sv.may_autostart:
            for dep in deps:
                if dep.state in _STARTABLE and not satisfied(dep):
                    self.sv.faults.run(f"starting {dep.name}, a dependency of {proc.name}", dep.start)
        verdict = self._verdict(proc, deps)
        if verdict is None:
            self._waiting_to_start[proc] = None
        return verdict

    def _verdict(self, proc: Process, deps: tuple[Process, ...]) -> Optional[str]:
        waiting = False
        for dep in deps:
            if satisfied(dep):
                continue
            state = dep.state
            if state in STOPPED_STATES:
                if state == ProcessState.EXITED and _will_restart(dep) and self.sv.may_autostart:
                    waiting = True
                    continue
                return f"dependency {_spec(dep)} is {state.name}"
            waiting = True
        return None if waiting else ""

    # -- stopping ----------------------------------------------------------------------

    def may_stop(self, proc: Process) -> bool:
        """``proc`` is asked to stop: True to stop it now; False when its
        running dependents stop first (:meth:`changed` stops it after them)."""
        self._waiting_to_stop.pop(proc, None)
        running = [d for d in self.dependents(proc) if d.state not in STOPPED_STATES]
        for dep in running:
            if dep.state != ProcessState.STOPPING:
                self.sv.faults.run(f"stopping {dep.name}, which depends on {proc.name}", dep.stop)
        # Registered only now: the dependents' own changes above must not stop it twice.
        if any(d.state not in STOPPED_STATES for d in running):
            self._waiting_to_stop[proc] = None
            return False
        return True

    def stop_pending(self, proc: Process) -> bool:
        """Is a stop of ``proc`` waiting for its dependents?"""
        return proc in self._waiting_to_stop

    # -- state changes ---------------------------------------------------------------

    def changed(self, proc: Process) -> None:
        """A state change of ``proc``: the spawns and stops that waited for it."""
        if proc in self._waiting_to_start and (proc.state != ProcessState.STARTING or proc.pid):
            del self._waiting_to_start[proc]  # stopped while it waited
        if proc in self._waiting_to_stop and proc.state in STOPPED_STATES:
            del self._waiting_to_stop[proc]
        released: list[Process] = []
        for waiter in list(self._waiting_to_start):
            if waiter not in self._waiting_to_start:
                continue  # handled by a nested change
            deps = self.requires(waiter)
            if proc not in deps:
                continue
            verdict = self._verdict(waiter, deps)
            if verdict is None:
                continue
            del self._waiting_to_start[waiter]
            if verdict:
                self.sv.faults.run(f"giving up the start of {waiter.name}", waiter.dependency_failed, verdict)
            else:
                released.append(waiter)
        if released:
            # One dependency may release hundreds of spawns: a slice per turn
            # of the loop, as autostart does.
            self.sv.background(f"spawning what waited for {proc.name}", in_slices(released, self._spawn))
        for stopper in list(self._waiting_to_stop):
            if stopper not in self._waiting_to_stop or proc not in self.dependents(stopper):
                continue
            if all(d.state in STOPPED_STATES for d in self.dependents(stopper)):
                del self._waiting_to_stop[stopper]
                self.sv.faults.run(f"stopping {stopper.name}", stopper.stop_now)

    def _spawn(self, proc: Process) -> None:
        if proc not in self._waiting_to_start:  # not stopped and asked again meanwhile
            self.sv.faults.run(f"spawning {proc.name}", proc.spawn_now)

    def hand_over(self) -> dict:
        """Hand-over by exec (issue 16): who waits, as (group, process) names."""
        return {
            "waiting_to_start": [[p.group.name, p.name] for p in self._waiting_to_start],
            "waiting_to_stop": [[p.group.name, p.name] for p in self._waiting_to_stop],
        }

    def take_over(self, saved: dict) -> None:
        """The waiters a former daemon binary had, once every process is adopted;
        a spawn whose dependencies came up during the exec goes ahead now."""
        def lookup(group: str, name: str) -> Optional[Process]:
            found = self.sv.groups.get(group)
            return found.processes.get(name) if found is not None else None

        for group, name in saved["waiting_to_stop"]:
            proc = lookup(group, name)
            if proc is not None:
                self._waiting_to_stop[proc] = None
        for group, name in saved["waiting_to_start"]:
            proc = lookup(group, name)
            if proc is None or proc.state != ProcessState.STARTING or proc.pid:
                continue
            verdict = self._verdict(proc, self.requires(proc))
            if verdict is None:
                self._waiting_to_start[proc] = None
            elif verdict:
                self.sv.faults.run(f"giving up the start of {proc.name}", proc.dependency_failed, verdict)
            else:
                self.sv.faults.run(f"spawning {proc.name}", proc.spawn_now)

    def live_state(self) -> dict:
        return {
            "waiting_to_start": [_spec(p) for p in self._waiting_to_start],
            "waiting_to_stop": [_spec(p) for p in self._waiting_to_stop],
        }


def _spec(proc: Process) -> str:
    return f"{proc.group.name}:{proc.name}"
