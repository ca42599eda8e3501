"""Creating the listening sockets of ``[unix_http_server]`` and ``[inet_http_server]``.

They are created before the daemon forks into the background and before
any program starts, so a socket that cannot be had stops start-up with a
clear message and nothing left behind.  Clients that connect before the
event loop serves them wait in the listen backlog.

How a socket is bound (a unix one without a moment where its path names
nothing or a socket with the wrong mode) is :mod:`..binding`'s, shared with
fcgi-programs; this module adds what the control sockets need on top: the
operator's messages, and the file kept to be removed at exit.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from typing import Callable, Optional

from .. import binding
from ..config.model import HttpServerConfig

BACKLOG = 1024

IN_USE_HINT = (
    "Another program is already listening on a port that one of our HTTP servers is "
    "configured to use.  Shut this program down first before starting supervisord."
)


class ControlSocketError(Exception):
    """A control socket cannot be created; str() says why, for the operator."""


class BoundSocket:
    """A listening socket and, for unix sockets, the file we made for it."""

    def __init__(self, config: HttpServerConfig, sock: socket.socket, inherited: bool = False) -> None:
        self.config = config
        self.sock = sock
        # Passed by systemd: its file (and mode) belong to the socket unit.
        self.inherited = inherited
        self._file: Optional[binding.FileIdentity] = None
        if config.family == "unix" and config.path and not inherited:
            st = os.stat(config.path)
            self._file = (config.path, st.st_dev, st.st_ino)

    @property
    def key(self) -> tuple:
        """What identifies the address: same key, same socket across reloads."""
        return address_key(self.config)

    def describe(self) -> str:
        return describe(self.config)

    def close(self) -> None:
        """Close the socket and remove its file."""
        self.sock.close()
        self.remove_file()

    def remove_file(self) -> None:
        """Remove the socket file if it is still ours (a newer daemon may
        have replaced it meanwhile).  New clients then fail to connect as
        they would to a daemon that is gone."""
        if self._file is not None:
            binding.remove_if_ours(self._file)
            self._file = None


def address_key(config: HttpServerConfig) -> tuple:
    if config.family == "unix":
        return ("unix", config.path)
    return ("inet", config.host, config.port)


def describe(config: HttpServerConfig) -> str:
    if config.family == "unix":
        return f"unix://{config.path}"
    return f"http://{config.host or '*'}:{config.port}"


def apply_mode(path: str, config: HttpServerConfig) -> None:
    os.chmod(path, config.chmod)
    uid, gid = config.chown
    if uid == -1 and gid == -1:
        return
    try:
        os.chown(path, uid, gid)
    except PermissionError:
        raise ControlSocketError(
            f"[{config.section}] chown: not permitted to change the owner of {config.path} "
            f"to uid/gid {uid}/{gid} as uid {os.geteuid()}; fix 'chown' in the config file"
        ) from None


def _stale_to_stderr(path: str) -> None:
    sys.stderr.write(f"Unlinking stale socket {path}\n")


def bind_unix(config: HttpServerConfig, report_stale: Callable[[str], None] = _stale_to_stderr) -> BoundSocket:
    path = config.path
    assert path is not None
    if len(os.fsencode(path)) > binding.MAX_UNIX_PATH:
        raise ControlSocketError(f"[{config.section}] file: {path} is too long for a unix socket path")
    try:
        sock, _identity = binding.bind_unix(
            path, BACKLOG, prepare=lambda tmp: apply_mode(tmp, config), report_stale=report_stale
        )
    except binding.SocketInUse as exc:
        raise ControlSocketError(f"{IN_USE_HINT} ({exc})") from None
    except binding.NotASocket as exc:
        raise ControlSocketError(f"{exc}; remove it or choose another 'file'") from None
    except OSError as exc:
        raise ControlSocketError(
            f"[{config.section}] cannot create the socket {path}: {exc.strerror or exc}"
        ) from None
    return BoundSocket(config, sock)


def bind_inet(config: HttpServerConfig) -> BoundSocket:
    host = config.host
    try:
        family, address = binding.inet_address(host, config.port)
    except socket.gaierror as exc:
        raise ControlSocketError(f"[{config.section}] port: cannot resolve {host!r}: {exc}") from None
    try:
        sock = binding.bind_inet(family, address, BACKLOG)
    except OSError as exc:
        where = f"{host.strip('[]') or '*'}:{config.port}"
        if exc.errno == errno.EADDRINUSE:
            raise ControlSocketError(f"{IN_USE_HINT} (port {where} is in use)") from None
        raise ControlSocketError(
            f"[{config.section}] cannot listen on {where}: {exc.strerror or exc}"
        ) from None
    return BoundSocket(config, sock)


def bind(config: HttpServerConfig, report_stale: Callable[[str], None] = _stale_to_stderr) -> BoundSocket:
    if config.family == "unix":
        return bind_unix(config, report_stale)
    return bind_inet(config)


def adopt(config: HttpServerConfig, sock: socket.socket) -> BoundSocket:
    """A socket systemd passed for ``config``, used as it is."""
    return BoundSocket(config, sock, inherited=True)


def adopt_handed(config: HttpServerConfig, fd: int, inherited: bool) -> BoundSocket:
    """A control socket our previous image kept open across its exec: never
    re-bound or unlinked now (its backlog holds the clients that connected
    meanwhile); its file is still ours to remove at exit, unless systemd
    passed it to the first image (``inherited``)."""
    sock = socket.socket(fileno=fd)
    sock.set_inheritable(False)
    return BoundSocket(config, sock, inherited=inherited)
