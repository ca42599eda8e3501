"""Defences against requests a browser makes on behalf of another site.

Three attacks reach a control listener through the operator's own browser
(which holds cached Basic credentials, or needs none on a local listener):
an ``<img>``/link to an action URL, a cross-site ``text/plain`` form posted
to ``/RPC2``, and DNS rebinding (a hostile name resolving to 127.0.0.1, so
the page's origin *is* the listener as far as the browser knows).

Every rule here keys on headers only browsers send (``Sec-Fetch-Site``,
``Origin``, ``Referer``) or on the ``Host`` name: scripts, supervisorctl,
XML-RPC libraries and bookmarks opened from the address bar send none of
the former and a real address as the latter, so they are served as before.
Each function returns the one-line reason for a refusal, or None.
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Optional

from ..lazy_import import LazyModule

if TYPE_CHECKING:
    import ipaddress
    from urllib import parse as url_parse
else:
    # Read per request (and at start for an inet listener without a
    # password): urllib.parse and ipaddress are ~0.45 MiB a daemon serving
    # only its unix socket never needs.
    ipaddress = LazyModule("ipaddress")
    url_parse = LazyModule("urllib.parse")

# What the browser says of a request's initiator; "none" is the address bar
# or a bookmark, which is the operator's own doing.
_TRUSTED_FETCH_SITES = ("same-origin", "none")

# Bodies an HTML form can send cross-site without a CORS preflight.
_FORM_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")


def _origin_of(url: str) -> Optional[tuple[str, str]]:
    """(scheme, host[:port]) of an Origin/Referer value, lower-cased."""
    try:
        parts = url_parse.urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    netloc = parts.netloc.rpartition("@")[2].lower()
    default = {"http": ":80", "https": ":443"}.get(parts.scheme.lower())
    if default and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return parts.scheme.lower(), netloc


def _own_origin(scheme: str, host: str) -> tuple[str, str]:
    return _origin_of(f"{scheme}://{host}") or (scheme, host.lower())


def foreign_origin(headers: Mapping[str, str], scheme: str, host: str) -> Optional[str]:
    """Why a request is not from our own page: a ``Sec-Fetch-Site`` other
    than same-origin/none, or an ``Origin``/``Referer`` naming another
    origin.  None when nothing says so (including no such headers at all)."""
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site.strip().lower() not in _TRUSTED_FETCH_SITES:
        return f"refused: a {site.strip().lower()} request may not act on this server"
    # Host and port only: behind a TLS-terminating proxy the page is https
    # while we see http, and the same host and port is the same server.
    own = _own_origin(scheme, host)[1]
    origin = headers.get("Origin")
    if origin is not None:
        # "null" is what sandboxed frames and file: pages send: never ours.
        if (_origin_of(origin.strip()) or ("", None))[1] != own:
            return f"refused: requests from origin {origin.strip()!r} may not act on this server"
    referer = headers.get("Referer")
    if referer is not None and referer.strip():
        if (_origin_of(referer.strip()) or ("", None))[1] != own:
            return "refused: requests from another site's page may not act on this server"
    return None


def form_body(content_type: str) -> Optional[str]:
    """Why an ``/RPC2`` body is not an XML-RPC call: one a cross-site HTML
    form can produce.  Other types (text/xml, none at all) are let through,
    as every XML-RPC client sends one of those."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in _FORM_TYPES:
        return f"refused: XML-RPC calls need Content-Type text/xml, not {media}"
    return None


def _host_name(host_header: str) -> str:
    """The name of a Host header, without port and IPv6 brackets."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _local_names() -> frozenset[str]:
    # gethostname only: getfqdn may ask DNS, which would block the loop.
    try:
        return frozenset({"localhost", socket.gethostname().lower()})
    except OSError:
        return frozenset({"localhost"})


def unknown_host(host_header: Optional[str], allowed: Iterable[str]) -> Optional[str]:
    """Why a listener without credentials does not answer this ``Host``.

    An IP address literal cannot be a rebound name, so any is accepted (the
    client reached us at it); names must be ``localhost``, this machine's
    own name, or listed in ``allowed_hosts``."""
    if not host_header:
        return None  # HTTP/1.0 clients send none; browsers always do
    name = _host_name(host_header)
    if not name or _is_address(name):
        return None
    allowed_names = {a.strip().lower().rstrip(".") for a in allowed if a.strip()}
    if "*" in allowed_names or name in allowed_names or name.endswith(".localhost"):
        return None
    if name in _local_names():
        return None
    return (
        f"refused: this server does not answer to the name {name!r} (a defence against DNS "
        f"rebinding); add it to allowed_hosts in [inet_http_server], or set a username and password"
    )


def is_loopback(host: str) -> bool:
    """Whether an ``[inet_http_server]`` host listens on loopback only."""
    if host in ("localhost",):
        return True
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        return bool(infos) and all(
            ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos
        )
