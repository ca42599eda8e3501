"""Binding listening sockets, for the control sockets and fcgi-programs alike.

A unix socket is bound under a temporary name next to its final one, given
its mode and owner there, and only then linked (or renamed over a stale
socket) to the configured path: the path never names nothing, nor a socket
with the wrong permissions.  A path some server still answers on is never
taken over: unlinking it would cut that daemon off from its clients.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from typing import Callable, Optional

MAX_UNIX_PATH = 107  # sun_path is 108 bytes including the NUL

FileIdentity = tuple[str, int, int]  # path, st_dev, st_ino


class BindRefused(Exception):
    """The path is taken by something we must not replace; str() says what."""


class SocketInUse(BindRefused):
    """A server answers on the path."""


class NotASocket(BindRefused):
    """The path exists and is not a socket."""


def is_live(path: str) -> bool:
    """Whether a server accepts connections on the unix socket ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError as exc:
        # A full backlog (EAGAIN) means someone is there but busy.
        return exc.errno in (errno.EAGAIN, errno.ETIMEDOUT) or isinstance(exc, socket.timeout)
    else:
        return True
    finally:
        probe.close()


def _temp_name(path: str) -> str:
    candidate = f"{path}.{os.getpid()}"
    if len(os.fsencode(candidate)) <= MAX_UNIX_PATH:
        return candidate
    return os.path.join(os.path.dirname(path), f".s{os.getpid()}")


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _publish(tmp: str, path: str, report_stale: Callable[[str], None]) -> None:
    """Give the socket bound at ``tmp`` the name ``path``."""
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        pass
    except OSError:
        # No hard links here (some filesystems); a rename is as atomic.
        if not os.path.lexists(path):
            os.rename(tmp, path)
            return
    if is_live(path):
        raise SocketInUse(f"a server answers on {path}")
    if not stat.S_ISSOCK(os.lstat(path).st_mode):
        raise NotASocket(f"{path} exists and is not a socket")
    report_stale(path)
    os.rename(tmp, path)  # replaces the stale socket in one step


def bind_unix(
    path: str,
    backlog: int,
    *,
    prepare: Optional[Callable[[str], None]] = None,
    report_stale: Callable[[str], None] = lambda path: None,
) -> tuple[socket.socket, FileIdentity]:
    """A listening unix socket at ``path`` and the identity of its file.

    ``prepare`` gets the temporary path to set the mode and owner on before
    the socket appears under its name.  Raises OSError, :class:`BindRefused`,
    or whatever ``prepare`` raises; nothing is left behind then.
    """
    tmp = _temp_name(path)
    _unlink_quietly(tmp)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(tmp)
        if prepare is not None:
            prepare(tmp)
        _publish(tmp, path, report_stale)
        sock.listen(backlog)
        st = os.stat(path)
        return sock, (path, st.st_dev, st.st_ino)
    except BaseException:
        sock.close()
        raise
    finally:
        _unlink_quietly(tmp)


def inet_address(host: str, port: int) -> tuple:
    """(family, address) to listen on; ``host`` "" is every IPv4 address,
    as stock's "*:port"; "[::1]" is an IPv6 literal.  Raises socket.gaierror."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    infos = socket.getaddrinfo(
        host or None,
        port,
        socket.AF_UNSPEC if host else socket.AF_INET,
        socket.SOCK_STREAM,
        0,
        socket.AI_PASSIVE,
    )
    family, _kind, _proto, _name, address = infos[0]
    return family, address


def bind_inet(family: int, address: tuple, backlog: int) -> socket.socket:
    """A listening TCP socket; raises OSError (EADDRINUSE...)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def remove_if_ours(identity: FileIdentity) -> None:
    """Remove the socket file we made, unless someone has replaced it since
    (a newer daemon's socket at the same path is not ours to remove)."""
    path, dev, ino = identity
    try:
        st = os.lstat(path)
    except OSError:
        return
    if (st.st_dev, st.st_ino) == (dev, ino):
        _unlink_quietly(path)
