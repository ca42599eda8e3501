"""The listening socket of an ``[fcgi-program:x]``: bound by the daemon, or
passed by systemd (a ``.socket`` unit with ``FileDescriptorName=fcgi-program-x``
or the same address; systemd/activation.py)."""

from __future__ import annotations

import os
import socket
from typing import Callable, Optional

from .. import binding
from ..config.model import FcgiSocketConfig
from ..systemd.activation import inherited_pool
from .spawn import SpawnError


class FcgiSocket:
    """Bound lazily at the first spawn, kept while the group exists."""

    def __init__(
        self,
        config: FcgiSocketConfig,
        section: str,
        report_stale: Callable[[str], None] = lambda path: None,
    ) -> None:
        self.config = config
        self._sock: Optional[socket.socket] = None
        self._file: Optional[binding.FileIdentity] = None  # the unix socket file we made
        self._report_stale = report_stale
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
            except binding.BindRefused as exc:
                raise SpawnError(f"couldn't bind socket {self.config.url}: {exc}") from None
        return self._sock.fileno()

    def hand_over(self) -> Optional[dict]:
        """Hand-over by exec (issue 16): the bound socket's fd, given up and
        left open, for :meth:`take_over` in the new daemon."""
        if self._sock is None:
            return None
        fd = self._sock.detach()
        os.set_inheritable(fd, True)
        self._sock = None
        file, self._file = self._file, None
        return {"fd": fd, "file": list(file) if file is not None else None}

    def take_over(self, saved: dict) -> None:
        fd = saved["fd"]
        os.set_inheritable(fd, False)
        self._sock = socket.socket(fileno=fd)
        self._file = tuple(saved["file"]) if saved["file"] is not None else None  # type: ignore[assignment]

    def _bind(self) -> socket.socket:
        cfg = self.config
        backlog = cfg.backlog or socket.SOMAXCONN
        if cfg.family == "unix":
            assert cfg.path is not None
            sock, self._file = binding.bind_unix(
                cfg.path, backlog, prepare=self._prepare, report_stale=self._report_stale
            )
            return sock
        family, address = binding.inet_address(cfg.host or "", cfg.port or 0)
        return binding.bind_inet(family, address, backlog)

    def _prepare(self, path: str) -> None:
        if self.config.mode is not None:
            os.chmod(path, self.config.mode)
        if self.config.owner is not None:
            os.chown(path, *self.config.owner)

    def close(self) -> None:
        if self._sock is None:
            return
        self._sock.close()
        self._sock = None
        if self._file is not None:
            binding.remove_if_ours(self._file)
            self._file = None
