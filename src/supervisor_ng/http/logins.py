"""Checking Basic credentials on the loop: slow hashes off it, guessing slowed.

A ``{SCRYPT}`` check costs tens of milliseconds, so it runs on a worker
thread, and an ``Authorization`` header once verified is remembered (as a
keyed digest, never in clear) so that every call of a supervisorctl session
does not pay it again.  A client that keeps failing waits a little longer
before each 401 (an ``asyncio.sleep``: other clients are served meanwhile),
and its failures are logged for the operator.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Optional

from .auth import check_basic, hashlib, hmac, is_slow

if TYPE_CHECKING:
    from ..logs.mainlog import MainLog

FREE_FAILURES = 3  # mistyped passwords answered at once
MAX_DELAY = 10.0  # seconds, the longest a failing client waits for its 401
FORGET_AFTER = 15 * 60.0  # a client quiet this long starts afresh
_MAX_CLIENTS = 4096  # bounded memory whatever the number of guessing clients
_MAX_VERIFIED = 256


def failure_delay(failures: int) -> float:
    """How long the ``failures``-th failure in a row waits: nothing at first,
    then doubling from a quarter second up to :data:`MAX_DELAY`."""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(MAX_DELAY, 0.25 * 2 ** (failures - FREE_FAILURES - 1))


class LoginGuard:
    def __init__(self, log: MainLog) -> None:
        self.log = log
        self._key = os.urandom(32)
        self._verified: dict[bytes, tuple[str, str, str]] = {}
        self._failures: dict[str, tuple[int, float]] = {}

    async def check(
        self, header: Optional[str], username: str, password: str, client: str, section: str
    ) -> bool:
        """Whether ``header`` carries the credentials; after a failure, waits
        as long as this client's record asks before returning."""
        token = hmac.new(
            self._key, (header or "").encode("latin-1", "replace"), hashlib.sha256
        ).digest()
        if header and self._verified.get(token) == (section, username, password):
            self._failures.pop(client, None)
            return True
        if is_slow(password) and header:
            ok = await asyncio.get_running_loop().run_in_executor(
                None, check_basic, header, username, password
            )
        else:
            ok = check_basic(header, username, password)
        if ok:
            if len(self._verified) >= _MAX_VERIFIED:
                self._verified.clear()
            self._verified[token] = (section, username, password)
            self._failures.pop(client, None)
            return True
        if header:  # no header at all is a browser's first try, not a guess
            await self._failed(client, section)
        return False

    async def _failed(self, client: str, section: str) -> None:
        now = time.monotonic()
        count, last = self._failures.get(client, (0, now))
        if now - last > FORGET_AFTER:
            count = 0
        count += 1
        if len(self._failures) >= _MAX_CLIENTS and client not in self._failures:
            self._failures.clear()
        self._failures[client] = (count, now)
        delay = failure_delay(count)
        self.log.warn(
            f"[{section}] failed login from {client} ({count} in a row)"
            + (f"; answering after {delay:g}s" if delay else "")
        )
        if delay:
            await asyncio.sleep(delay)
