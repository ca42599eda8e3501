"""The listening socket of an ``[fcgi-program:x]``, bound by the daemon."""

from __future__ import annotations

import os
import socket
from typing import Optional

from ..config.model import FcgiSocketConfig


class FcgiSocket:
    """Bound lazily at the first spawn, kept while the group exists."""

    def __init__(self, config: FcgiSocketConfig) -> None:
        self.config = config
        self._sock: Optional[socket.socket] = None

    def fileno(self) -> int:
        if self._sock is None:
            self._sock = self._bind()
        return self._sock.fileno()

    def _bind(self) -> socket.socket:
        cfg = self.config
        backlog = cfg.backlog or socket.SOMAXCONN
        if cfg.family == "unix":
            assert cfg.path is not None
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                os.unlink(cfg.path)
            except FileNotFoundError:
                pass
            sock.bind(cfg.path)
            if cfg.mode is not None:
                os.chmod(cfg.path, cfg.mode)
            if cfg.owner is not None:
                os.chown(cfg.path, *cfg.owner)
        else:
            infos = socket.getaddrinfo(cfg.host or None, cfg.port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
            family, _, _, _, addr = infos[0]
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(addr)
        sock.listen(backlog)
        return sock

    def close(self) -> None:
        if self._sock is None:
            return
        self._sock.close()
        self._sock = None
        if self.config.family == "unix" and self.config.path:
            try:
                os.unlink(self.config.path)
            except OSError:
                pass
