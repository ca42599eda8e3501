"""TLS for ``[inet_http_server]`` (``certfile``/``keyfile``, ours only).

The context is made when the socket is bound, so a missing or unreadable
key stops start-up with a message instead of failing every handshake later,
and reloaded in place on a config reload: new connections get the new
certificate, the listener is never re-bound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ..config.model import HttpServerConfig
from . import openssl
from .sockets import ControlSocketError

if TYPE_CHECKING:
    import ssl


def _load(context: ssl.SSLContext, config: HttpServerConfig) -> None:
    ssl = openssl.ssl_module()
    try:
        context.load_cert_chain(config.certfile or "", config.keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise ControlSocketError(
            f"[{config.section}] cannot use certfile={config.certfile} keyfile={config.keyfile}: {exc}"
        ) from None


def server_context(config: HttpServerConfig) -> Optional[ssl.SSLContext]:
    """The listener's TLS context, or None when it speaks plain HTTP."""
    if config.family != "inet" or not config.certfile:
        return None
    ssl = openssl.ssl_module()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load(context, config)
    return context


def reload(context: ssl.SSLContext, config: HttpServerConfig) -> None:
    _load(context, config)
