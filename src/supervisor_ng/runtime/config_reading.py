"""Reading the config file again while the daemon runs (reloadConfig,
restart, SIGHUP), off the event loop.

The parse grows with the file (0.7 s for 5,000 programs on our 2-CPU
machines); on the loop it would hold every answer, timer and SIGCHLD that
long.  One worker thread parses and the loop awaits the result.  Requests
queue behind one another on that one thread, so two reloads never parse at
the same time and their results come back in the order they were asked.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from ..config.loader import load
from ..config.model import Config


class ConfigReader:
    """The config file of one generation, read on demand off the loop."""

    def __init__(self, path: str, overrides: dict) -> None:
        self._path = path
        self._overrides = overrides
        self._worker: Optional[ThreadPoolExecutor] = None

    async def read(self) -> Config:
        """The file as it is now; ConfigError if it has one."""
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="config-reader")
        # The directory as of now, on the loop: the worker must not resolve a
        # relative path while a spawn has borrowed the process's (spawn.py).
        cwd = os.getcwd()
        return await asyncio.get_running_loop().run_in_executor(self._worker, self._load, cwd)

    def _load(self, cwd: str) -> Config:
        return load(self._path, overrides=self._overrides, cwd=cwd)

    def close(self) -> None:
        # A parse still under way finishes on its own; nobody awaits it.
        if self._worker is not None:
            self._worker.shutdown(wait=False)
            self._worker = None
