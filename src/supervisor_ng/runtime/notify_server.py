"""The daemon as its programs' NOTIFY_SOCKET: the sd_notify protocol, systemd's side.

A ``ready = notify`` program (or anything it starts) sends datagrams of
newline-separated ``KEY=VALUE`` lines to the abstract socket named in its
``NOTIFY_SOCKET``.  Who sent one is taken from the kernel (SCM_CREDENTIALS,
which SO_PASSCRED makes it attach to every datagram), never from the content:
the sender is matched to the program whose main process it is or descends
from, and anything else is dropped.  Datagrams are read the way systemd's
manager reads them: at most 4096 bytes (longer ones are dropped whole, as
are ones with a NUL byte inside), lines split at ``\\n`` or ``\\r``, the first
assignment of a name counts, and file descriptors passed along (systemd's
fd store, which we do not offer) are closed at once.

The socket is read on the loop, a bounded number of datagrams per turn, so
a program that floods it cannot starve the rest of the daemon.
"""

from __future__ import annotations

import array
import asyncio
import os
import socket
import struct
from typing import Any, Callable, Optional, Protocol

from .faults import Faults
from .tree import parent_of

# systemd reads into a PIPE_BUF sized buffer and drops what does not fit.
MAX_DATAGRAM = 4096
# Datagrams read per turn of the loop; the rest wait for the next turn.
PER_TURN = 64
# drain() is called before each reaper sweep: enough to empty a full queue
# (net.unix.max_dgram_qlen is 10 by default, 512 where systemd raised it).
DRAIN_LIMIT = 1024
# How far up the process tree a sender may be from its program's main process.
ANCESTRY_LIMIT = 64
# The most fds one datagram can carry (the kernel's SCM_MAX_FD), so that
# every one arrives here and is closed rather than truncated away.
_MAX_FDS = 253
_UCRED = struct.Struct("3i")  # pid, uid, gid
_ANCILLARY = socket.CMSG_SPACE(_UCRED.size) + socket.CMSG_SPACE(_MAX_FDS * array.array("i").itemsize)
# Lines whose mere presence is what systemd looks for (it asks "is this line
# there?", not "what is the first value of this name?"); a later one of these
# beats an earlier different value of the same name.  WATCHDOG=trigger last:
# it is the stronger of the two.
_FLAG_LINES = ("READY=1", "STOPPING=1", "RELOADING=1", "WATCHDOG=1", "WATCHDOG=trigger")


class _Log(Protocol):
    def debug(self, msg: str) -> None: ...


class Notified(Protocol):
    name: str

    def notified(self, sender_pid: int, fields: dict[str, str]) -> None: ...


OwnerOf = Callable[[int], Optional[Notified]]


def parse_message(data: bytes) -> Optional[dict[str, str]]:
    """The assignments of one datagram, or None when systemd would drop it
    whole (a NUL byte inside).  Lines without ``=`` or that are not UTF-8 are
    skipped, as systemd skips a STATUS= that is not."""
    if b"\0" in data[:-1]:
        return None
    lines = data.rstrip(b"\0").replace(b"\r", b"\n").split(b"\n")
    fields: dict[str, str] = {}
    present: set[str] = set()
    for raw in lines:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key:
            continue
        present.add(line)
        fields.setdefault(key, value)
    for line in _FLAG_LINES:
        if line in present:
            key, _, value = line.partition("=")
            fields[key] = value
    return fields


def sender_of(ancdata: list[tuple[int, int, bytes]]) -> Optional[int]:
    """The sender pid in a datagram's ancillary data (None without
    credentials); every fd passed along is closed on the way."""
    pid: Optional[int] = None
    for level, kind, data in ancdata:
        if level != socket.SOL_SOCKET:
            continue
        if kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
        elif kind == socket.SCM_CREDENTIALS and len(data) >= _UCRED.size:
            pid = _UCRED.unpack_from(data)[0]
    return pid if pid is not None and pid > 0 else None


class NotifyServer:
    """One abstract AF_UNIX datagram socket for every program of the daemon;
    it outlives generations (the daemon owns it and hands ``address`` to
    each Supervisor)."""

    def __init__(
        self,
        owner_of: OwnerOf,
        log: _Log,
        faults: Optional[Faults] = None,
        adopt: Optional[tuple[int, str]] = None,
    ) -> None:
        """``owner_of(pid)``: the Process whose main pid ``pid`` is, or None.
        ``adopt``: (fd, address) of the socket a previous daemon image handed
        over; the programs' NOTIFY_SOCKET names it already."""
        self._owner_of = owner_of
        self.log = log
        self.faults = faults or Faults()
        self.received = 0
        self.delivered = 0
        self.dropped = 0
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        if adopt is not None:
            fd, self.address = adopt
            self._sock: Optional[socket.socket] = socket.socket(fileno=fd)
            self._sock.set_inheritable(False)
            self._sock.setblocking(False)
            return
        # Random, so that daemons side by side (and tests) never collide in
        # the one abstract namespace of the network namespace.
        name = f"supervisor-ng/{os.getpid()}/notify/{os.urandom(8).hex()}"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            sock.bind("\0" + name)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self.address = "@" + name

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._sock is None or self._loop is not None:
            return
        self._loop = loop
        loop.add_reader(self._sock.fileno(), self._readable)

    def fileno(self) -> Optional[int]:
        """The socket's fd, for a hand-over."""
        return self._sock.fileno() if self._sock is not None else None

    def close(self) -> None:
        if self._sock is None:
            return
        if self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._loop = None
        self._sock.close()
        self._sock = None

    def drain(self) -> None:
        """Handle what is queued now (the reaper asks before it handles exits,
        so that what a program said before it exited is heard first)."""
        self._read(DRAIN_LIMIT)

    def live_state(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "listening": self._sock is not None,
            "received": self.received,
            "delivered": self.delivered,
            "dropped": self.dropped,
        }

    def _readable(self) -> None:
        self._read(PER_TURN)

    def _read(self, limit: int) -> None:
        sock = self._sock
        for _ in range(limit):
            if sock is None or sock.fileno() < 0:
                return
            try:
                data, ancdata, flags, _ = sock.recvmsg(MAX_DATAGRAM, _ANCILLARY, socket.MSG_CMSG_CLOEXEC)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.log.debug(f"notify socket: receive failed: {exc}")
                return
            self.received += 1
            self.faults.run("an sd_notify datagram", self._datagram, data, ancdata, flags)
            sock = self._sock  # a handler may have closed the server

    def _datagram(self, data: bytes, ancdata: list[tuple[int, int, bytes]], flags: int) -> None:
        sender = sender_of(ancdata)
        if sender is None:
            return self._drop("a datagram without sender credentials")
        if flags & socket.MSG_TRUNC:
            return self._drop(f"a datagram over {MAX_DATAGRAM} bytes from pid {sender}")
        fields = parse_message(data)
        if fields is None:
            return self._drop(f"a datagram with a NUL byte from pid {sender}")
        owner = self.owner(sender)
        if owner is None:
            return self._drop(f"a datagram from pid {sender}, which belongs to no program")
        self.delivered += 1
        self.faults.run(f"the sd_notify message of {owner.name}", owner.notified, sender, fields)

    def owner(self, pid: int) -> Optional[Notified]:
        """The program ``pid`` is the main process of, or descends from."""
        for _ in range(ANCESTRY_LIMIT):
            if pid <= 1:
                return None
            proc = self._owner_of(pid)
            if proc is not None:
                return proc
            pid = parent_of(pid)
        return None

    def _drop(self, what: str) -> None:
        self.dropped += 1
        self.log.debug(f"notify socket: ignored {what}")
