"""`supervisorctl status` prints each line as it formats it (issue 19).

With thousands of programs the client must not build the whole table before
the first line goes out; the name column is still sized from every name, as
stock sizes it.
"""

from __future__ import annotations

from typing import Any

from supervisor_ng.ctl.actions import processes


class _Info(dict):
    """A process info that notes when its description is formatted."""

    formatted: list[str] = []

    def __getitem__(self, key: str) -> Any:
        if key == "description":
            _Info.formatted.append(dict.__getitem__(self, "name"))
        return dict.__getitem__(self, key)


class _Ctl:
    def __init__(self, infos: list[_Info]) -> None:
        self.infos = infos
        self.exitstatus = 0
        self.printed: list[tuple[str, int]] = []  # (line, descriptions formatted by then)

    def upcheck(self) -> bool:
        return True

    def supervisor(self, namespace: str = "supervisor") -> Any:
        return self

    def getAllProcessInfo(self) -> list[_Info]:
        return self.infos

    def output(self, line: str) -> None:
        self.printed.append((line, len(_Info.formatted)))


def _info(name: str) -> _Info:
    return _Info(group=name, name=name, statename="RUNNING", state=20, description="pid 1, uptime 0:00:01", pid=1)


def test_each_line_is_printed_before_the_next_is_formatted() -> None:
    _Info.formatted = []
    names = [f"p{i}" for i in range(50)] + ["a" * 40]
    ctl = _Ctl([_info(name) for name in names])
    processes.status(ctl, "")
    assert [seen for _, seen in ctl.printed] == list(range(1, len(names) + 1))
    # The column is as wide as the longest name (plus 3), on every line, first included.
    assert ctl.printed[0][0] == "p0".ljust(43) + "RUNNING".ljust(10) + "pid 1, uptime 0:00:01"
    assert all(line[43:50] == "RUNNING" for line, _ in ctl.printed)
