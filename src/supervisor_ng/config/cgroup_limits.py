"""``memory_max``, ``memory_high``, ``cpu_weight``, ``cpu_quota``,
``tasks_max``, ``io_weight``: the resource limits of a program's cgroup
(issue 17; stock ignores them), with the meanings and units of systemd's
``MemoryMax=``, ``MemoryHigh=``, ``CPUWeight=``, ``CPUQuota=``,
``TasksMax=`` and ``IOWeight=``.

Each value is kept as the text its cgroup v2 file takes, so applying a
limit is one write.  A limit the host cannot honour (no cgroup mode, or
the controller it needs is not available to the daemon's cgroup) is a
config error, not a silent no-op.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from typing import Optional

from ..dataclass_slots import SLOTS

_SUFFIX = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}

# option -> (cgroup file, controller it needs)
FILES = {
    "memory_max": ("memory.max", "memory"),
    "memory_high": ("memory.high", "memory"),
    "cpu_weight": ("cpu.weight", "cpu"),
    "cpu_quota": ("cpu.max", "cpu"),
    "tasks_max": ("pids.max", "pids"),
    "io_weight": ("io.weight", "io"),
}


@dataclass(frozen=True, **SLOTS)
class CgroupLimits:
    """File contents for a program's cgroup, None where the option is unset."""

    memory_max: Optional[str] = None
    memory_high: Optional[str] = None
    cpu_weight: Optional[str] = None
    cpu_quota: Optional[str] = None
    tasks_max: Optional[str] = None
    io_weight: Optional[str] = None

    def items(self) -> list[tuple[str, str]]:
        """(option, value) of each option that is set."""
        return [(f.name, getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None]


def _physical_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_bytes(value: object) -> str:
    """Bytes with an optional K, M, G or T suffix (base 1024), a percentage
    of physical memory, or ``infinity``."""
    text = str(value).strip().lower()
    if text == "infinity":
        return "max"
    m = re.fullmatch(r"(\d+(?:\.\d+)?)%", text)
    if m:
        return str(int(_physical_memory() * float(m.group(1)) / 100))
    m = re.fullmatch(r"(\d+)([kmgt]?)", text)
    if not m:
        raise ValueError(f"{value!r} is not a memory size (bytes with K, M, G or T, a percentage, or infinity)")
    return str(int(m.group(1)) * _SUFFIX[m.group(2)])


def weight(value: object) -> str:
    """1 to 10000 (systemd's CPUWeight=/IOWeight=; 100 is the default)."""
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 10000:
        raise ValueError(f"{value!r} is not a weight (a whole number from 1 to 10000)")
    return text


def cpu_quota(value: object) -> str:
    """A percentage of one CPU (200% = two CPUs), as ``cpu.max`` takes it
    over systemd's 100 ms period."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)%", str(value).strip())
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"{value!r} is not a CPU quota (a percentage above 0, such as 50% or 200%)")
    return f"{max(1000, int(float(m.group(1)) * 1000))} 100000"


def tasks(value: object) -> str:
    """A number of tasks, a percentage of the kernel's pid limit, or ``infinity``."""
    text = str(value).strip().lower()
    if text == "infinity":
        return "max"
    m = re.fullmatch(r"(\d+(?:\.\d+)?)%", text)
    if m:
        with open("/proc/sys/kernel/pid_max") as f:
            return str(max(1, int(int(f.read()) * float(m.group(1)) / 100)))
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{value!r} is not a number of tasks (a whole number, a percentage, or infinity)")
    return text


_PARSERS = {
    "memory_max": memory_bytes,
    "memory_high": memory_bytes,
    "cpu_weight": weight,
    "cpu_quota": cpu_quota,
    "tasks_max": tasks,
    "io_weight": lambda v: f"default {weight(v)}",
}


def read(r) -> CgroupLimits:  # noqa: ANN001 - a config.reader.SectionReader
    """The limits of one ``[program:x]`` section; errors name the option."""
    values = {option: r.value(option, parser, None) for option, parser in _PARSERS.items()}
    limits = CgroupLimits(**values)
    if limits.items():
        missing = unavailable(limits)
        if missing:
            option, why = missing
            raise r.error(option, f"cannot be honoured on this host: {why}")
    return limits


def unavailable(limits: CgroupLimits) -> Optional[tuple[str, str]]:
    """(option, why) of the first set limit the host cannot apply, or None."""
    from ..runtime import cgroup  # the runtime side knows where cgroups are

    available = cgroup.available_controllers()
    for option, _value in limits.items():
        controller = FILES[option][1]
        if available is None:
            return option, "the daemon cannot have a cgroup v2 subtree here (psutil mode)"
        if controller not in available:
            return option, f"the {controller} controller is not available to the daemon's cgroup"
    return None
