"""A real supervisord of ours, watched through its log file.

For lifecycle tests that need no control socket: write a config into a temp
dir, run ``supervisord -n``, wait for the stock log lines operators grep for.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Optional

from tests.waiting import wait_until

SUPERVISORD = str(Path(sys.executable).with_name("supervisord"))


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class LogDaemon:
    def __init__(
        self,
        tmp_path: Path,
        programs: str,
        *,
        supervisord: str = "",
        nodaemon: bool = True,
    ) -> None:
        self.dir = tmp_path
        self.log = tmp_path / "supervisord.log"
        self.conf = tmp_path / "supervisord.conf"
        self.conf.write_text(
            "[supervisord]\n"
            f"logfile={self.log}\npidfile={tmp_path}/supervisord.pid\n"
            f"childlogdir={tmp_path}\nnodaemon={'true' if nodaemon else 'false'}\nsilent=true\n"
            "loglevel=info\n" + supervisord + "\n" + programs
        )
        self.proc: Optional[subprocess.Popen] = None
        self.returncode: Optional[int] = None

    def command(self) -> list[str]:
        return [SUPERVISORD, "-c", str(self.conf)]

    def start(self) -> LogDaemon:
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self

    def stop(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("supervisord did not exit within the timeout after SIGTERM") from None
        self.returncode = self.proc.returncode
        return self.returncode

    def __enter__(self) -> LogDaemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        rc = self.stop()
        if exc[0] is None:
            assert rc == 0, self.proc.stderr.read() if self.proc and self.proc.stderr else rc

    def text(self) -> str:
        try:
            return self.log.read_text()
        except FileNotFoundError:
            return ""

    def grep(self, pattern: str) -> list[re.Match[str]]:
        return list(re.finditer(pattern, self.text()))

    def wait_log(self, pattern: str, count: int = 1, timeout: float = 15.0) -> list[re.Match[str]]:
        """Wait until ``pattern`` occurs ``count`` times in the log; return the matches."""
        found: list[re.Match[str]] = []

        def enough() -> bool:
            nonlocal found
            if self.proc is not None and self.proc.poll() is not None and self.proc.returncode != 0:
                raise AssertionError(f"supervisord exited {self.proc.returncode}: {self.proc.stderr.read()}")
            found = self.grep(pattern)
            return len(found) >= count

        try:
            wait_until(enough, timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{pattern!r} x{count} not in log:\n{self.text()}") from None
        return found

    def append_programs(self, text: str) -> None:
        with open(self.conf, "a") as f:
            f.write("\n" + text)


__all__ = ["LogDaemon", "wait_until", "pid_alive"]
