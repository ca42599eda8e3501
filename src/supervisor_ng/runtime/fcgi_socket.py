"""The listening socket of an ``[fcgi-program:x]``: bound by the daemon, or
passed by systemd (a ``.socket`` unit with ``FileDescriptorName=fcgi-program-x``
or the same address; systemd/activation.py)."""

from __future__ import annotations

import os
import socket
from typing import Optional

from ..config.model import FcgiSocketConfig
from ..systemd.activation import inherited_pool
from .spawn import SpawnError


class FcgiSocket:
    """Bound lazily at the first spawn, kept while the group exists."""

    def __init__(self, config: FcgiSocketConfig, section: str) -> None:
        self.config = config
        self._sock: Optional[socket.socket] = None
        # systemd's socket is used as it is: no bind, chmod or unlink, ever.
        # It stays claimed for the daemon's life, as the name still maps to it.
        self._inherited = inherited_pool().claim(section, config)

    def fileno(self) -> int:
        """The listening fd; SpawnError (a spawn error of the program) if it cannot be bound."""
        if self._sock is None and self._inherited is not None:
            self._sock = self._inherited.duplicate()
        if self._sock is None:
            try:
                self._sock = self._bind()
            except OSError as exc:
                raise SpawnError(f"couldn't bind socket {self.config.url}: {exc.strerror or exc}") from None
        return self._sock.fileno()

    def _bind(self) -> socket.socket:
        cfg = self.config
        if cfg.family == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            infos = socket.getaddrinfo(
                cfg.host or None, cfg.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
            family, _, _, _, addr = infos[0]
            sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if cfg.family == "unix":
                self._bind_unix(sock)
            else:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(addr)
            sock.listen(cfg.backlog or socket.SOMAXCONN)
        except OSError:
            sock.close()
            raise
        return sock

    def _bind_unix(self, sock: socket.socket) -> None:
        cfg = self.config
        assert cfg.path is not None
        try:
            os.unlink(cfg.path)
        except FileNotFoundError:
            pass
        sock.bind(cfg.path)
        if cfg.mode is not None:
            os.chmod(cfg.path, cfg.mode)
        if cfg.owner is not None:
            os.chown(cfg.path, *cfg.owner)

    def close(self) -> None:
        if self._sock is None:
            return
        self._sock.close()
        self._sock = None
        if self.config.family == "unix" and self.config.path and self._inherited is None:
            try:
                os.unlink(self.config.path)
            except OSError:
                pass
