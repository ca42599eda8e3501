"""Sockets handed over by systemd (``supervisord.socket``).

systemd passes listening sockets as fds 3, 4, ... with ``LISTEN_FDS``,
``LISTEN_PID`` and ``LISTEN_FDNAMES`` (sd_listen_fds(3)).  The protocol is
a few environment variables, so it is read here without systemd-python.

An inherited socket belongs to the socket unit: the daemon uses it as it
is (no bind, no chmod/chown, no unlink, ever), keeps the fd open for its
whole life and serves a duplicate, so a section that a reload drops and a
later one brings back finds it again.  Clients that connect while the
daemon restarts wait in the socket's backlog instead of failing.

They are the control sockets (``[unix_http_server]``,
``[inet_http_server]``) or the listening sockets of ``[fcgi-program:x]``
groups.  Matching a config section: first by name (``FileDescriptorName=``
equal to the section name, with a dash for the colon, which systemd uses to
separate names: ``unix_http_server``, ``unix_http_server-foo``,
``fcgi-program-web``), then by address (the unix path, or host and port).
Sockets are taken from the environment once for the daemon's life
(:func:`inherited_pool`).
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Union

from ..config.model import HttpServerConfig

if TYPE_CHECKING:
    from ..config.model import FcgiSocketConfig

SD_LISTEN_FDS_START = 3
ENV_NAMES = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")
# Names given to sections' sockets: one with another section's name is not
# matched by address.
SECTION_PREFIXES = ("unix_http_server", "inet_http_server", "fcgi-program")

# What a socket is matched against: the section's family, path, host, port.
Address = Union[HttpServerConfig, "FcgiSocketConfig"]


@dataclass
class InheritedSocket:
    fd: int
    name: str  # FileDescriptorName=, "" when systemd gave none
    family: int
    address: object  # getsockname()

    def describe(self) -> str:
        where = self.address if self.family == socket.AF_UNIX else _inet_text(self.address)
        label = f" named {self.name!r}" if self.name else ""
        return f"fd {self.fd}{label} ({where})"

    def duplicate(self) -> socket.socket:
        """A socket object of our own to serve (and close) on this socket."""
        return socket.socket(fileno=os.dup(self.fd))


def _inet_text(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host = address[0]
        return f"[{host}]:{address[1]}" if ":" in str(host) else f"{host}:{address[1]}"
    return str(address)


def take_inherited(environ: Optional[MutableMapping[str, str]] = None) -> list[InheritedSocket]:
    """The sockets systemd passed to this process, and the variables that
    passed them removed from the environment (they were meant for us only).

    Fds that are not listening stream sockets are skipped: they cannot be
    control sockets.
    """
    env = os.environ if environ is None else environ
    count = env.get("LISTEN_FDS", "")
    pid = env.get("LISTEN_PID", "")
    names_text = env.get("LISTEN_FDNAMES", "")
    for name in ENV_NAMES:
        env.pop(name, None)
    if not count.isdigit() or int(count) <= 0:
        return []
    if pid and pid != str(os.getpid()):
        return []  # passed to a parent that exec'd us after a fork: not ours
    names = names_text.split(":") if names_text else []
    found = []
    for i in range(int(count)):
        fd = SD_LISTEN_FDS_START + i
        name = names[i] if i < len(names) else ""
        sock = _inspect(fd)
        if sock is None:
            continue
        family, address = sock
        found.append(InheritedSocket(fd, name, family, address))
    return found


def _inspect(fd: int) -> Optional[tuple[int, object]]:
    try:
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            return None
        probe = socket.socket(fileno=os.dup(fd))
    except OSError:
        return None
    try:
        if probe.type != socket.SOCK_STREAM:
            return None
        if not probe.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            return None
        return probe.family, probe.getsockname()
    except OSError:
        return None
    finally:
        probe.close()


def fd_name(section: str) -> str:
    """The ``FileDescriptorName=`` that names a section."""
    return section.replace(":", "-")


def _family(config: Address) -> tuple[int, ...]:
    if config.family == "unix":
        return (socket.AF_UNIX,)
    return (socket.AF_INET, socket.AF_INET6)


def _same_unix_path(sock_path: object, config_path: Optional[str]) -> bool:
    if not isinstance(sock_path, str) or not sock_path or not config_path:
        return False
    if sock_path == config_path:
        return True
    try:
        a, b = os.stat(sock_path), os.stat(config_path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _same_inet_address(address: object, config: Address) -> bool:
    if not isinstance(address, tuple) or len(address) < 2 or address[1] != config.port:
        return False
    host = (config.host or "").strip("[]")
    if host in ("", "*"):
        return True
    try:
        infos = socket.getaddrinfo(host, config.port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    wanted = {info[4][0] for info in infos}
    return address[0] in wanted or address[0] in ("0.0.0.0", "::")


class InheritedPool:
    """The inherited sockets, for the control plane to claim section by section."""

    def __init__(self, sockets: list[InheritedSocket]) -> None:
        self.sockets = sockets
        self._claimed: dict[int, str] = {}  # fd -> section

    def __bool__(self) -> bool:
        return bool(self.sockets)

    def claim(self, section: str, config: Address) -> Optional[InheritedSocket]:
        """The inherited socket for ``section`` (by name, then by the address
        in ``config``), or None: then the section binds its own socket."""
        families = _family(config)
        wanted = fd_name(section)
        for inherited in self.sockets:
            if inherited.name == wanted and inherited.family in families:
                return self._take(inherited, section)
        for inherited in self.sockets:
            if inherited.fd in self._claimed or inherited.family not in families:
                continue
            if inherited.name.startswith(SECTION_PREFIXES):
                continue  # named for another section
            if config.family == "unix":
                if _same_unix_path(inherited.address, config.path):
                    return self._take(inherited, section)
            elif _same_inet_address(inherited.address, config):
                return self._take(inherited, section)
        return None

    def _take(self, inherited: InheritedSocket, section: str) -> InheritedSocket:
        self._claimed[inherited.fd] = section
        return inherited

    def release(self, section: str) -> None:
        """The section is gone (a reload dropped it): the socket may be
        claimed again later."""
        self._claimed = {fd: s for fd, s in self._claimed.items() if s != section}

    def unclaimed(self) -> list[InheritedSocket]:
        return [s for s in self.sockets if s.fd not in self._claimed]


_pool: Optional[InheritedPool] = None


def inherited_pool() -> InheritedPool:
    """The sockets systemd passed to this daemon, shared by the control plane
    and the fcgi groups (taken from the environment at the first call)."""
    global _pool
    if _pool is None:
        _pool = InheritedPool(take_inherited())
    return _pool
