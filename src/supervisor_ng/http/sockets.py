"""Creating the listening sockets of ``[unix_http_server]`` and ``[inet_http_server]``.

They are created before the daemon forks into the background and before
any program starts, so a socket that cannot be had stops start-up with a
clear message and nothing left behind.  Clients that connect before the
event loop serves them wait in the listen backlog.

A unix socket is bound under a temporary name next to its final one, given
its mode and owner there, and only then linked (or renamed over a stale
socket) to the configured path: the path never names nothing, nor a socket
with the wrong permissions.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import sys
from typing import Callable, Optional

from ..config.model import HttpServerConfig

BACKLOG = 1024
_MAX_UNIX_PATH = 107  # sun_path is 108 bytes including the NUL

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
        self._file: Optional[tuple[str, int, int]] = None  # path, st_dev, st_ino
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
        if self._file is None:
            return
        path, dev, ino = self._file
        self._file = None
        try:
            st = os.lstat(path)
        except OSError:
            return
        if (st.st_dev, st.st_ino) == (dev, ino):
            try:
                os.unlink(path)
            except OSError:
                pass


def address_key(config: HttpServerConfig) -> tuple:
    if config.family == "unix":
        return ("unix", config.path)
    return ("inet", config.host, config.port)


def describe(config: HttpServerConfig) -> str:
    if config.family == "unix":
        return f"unix://{config.path}"
    return f"http://{config.host or '*'}:{config.port}"


def _is_live(path: str) -> bool:
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
    if len(os.fsencode(candidate)) <= _MAX_UNIX_PATH:
        return candidate
    return os.path.join(os.path.dirname(path), f".s{os.getpid()}")


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
    if _is_live(path):
        raise ControlSocketError(f"{IN_USE_HINT} (a server answers on {path})")
    if not stat.S_ISSOCK(os.lstat(path).st_mode):
        raise ControlSocketError(f"{path} exists and is not a socket; remove it or choose another 'file'")
    report_stale(path)
    os.rename(tmp, path)  # replaces the stale socket in one step


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _stale_to_stderr(path: str) -> None:
    sys.stderr.write(f"Unlinking stale socket {path}\n")


def bind_unix(config: HttpServerConfig, report_stale: Callable[[str], None] = _stale_to_stderr) -> BoundSocket:
    path = config.path
    assert path is not None
    if len(os.fsencode(path)) > _MAX_UNIX_PATH:
        raise ControlSocketError(f"[{config.section}] file: {path} is too long for a unix socket path")
    tmp = _temp_name(path)
    _unlink_quietly(tmp)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(tmp)
        apply_mode(tmp, config)
        _publish(tmp, path, report_stale)
        sock.listen(BACKLOG)
        return BoundSocket(config, sock)
    except OSError as exc:
        sock.close()
        raise ControlSocketError(
            f"[{config.section}] cannot create the socket {path}: {exc.strerror or exc}"
        ) from None
    except BaseException:
        sock.close()
        raise
    finally:
        _unlink_quietly(tmp)


def bind_inet(config: HttpServerConfig) -> BoundSocket:
    host = config.host
    if host.startswith("[") and host.endswith("]"):  # [::1]:9001
        host = host[1:-1]
    try:
        infos = socket.getaddrinfo(
            host or None,
            config.port,
            socket.AF_UNSPEC if host else socket.AF_INET,
            socket.SOCK_STREAM,
            0,
            socket.AI_PASSIVE,
        )
    except socket.gaierror as exc:
        raise ControlSocketError(f"[{config.section}] port: cannot resolve {host!r}: {exc}") from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        where = f"{host or '*'}:{config.port}"
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
