"""HTTP Basic authentication, as ``[unix_http_server]``/``[inet_http_server]``
configure it: one username, a password in clear or as ``{SHA}`` followed by
the hex SHA-1 of the password (hex, not the base64 Apache uses)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Optional

REALM = "default"

UNAUTHORIZED_BODY = (
    b"<html><head><title>401 Unauthorized</title></head>"
    b"<body><h1>401 Unauthorized</h1><p>Error code 401.</p></body></html>\n"
)


def _same(a: str, b: str) -> bool:
    # Constant time, so response timing tells nothing about the secret.
    return hmac.compare_digest(a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape"))


def password_matches(given: str, configured: str) -> bool:
    if configured.startswith("{SHA}"):
        digest = hashlib.sha1(given.encode("utf-8", "surrogateescape")).hexdigest()
        return _same(digest, configured[5:].strip().lower())
    return _same(given, configured)


def check_basic(header: Optional[str], username: str, password: str) -> bool:
    """Whether an ``Authorization`` header carries these credentials."""
    if not header:
        return False
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8", "surrogateescape")
    except (binascii.Error, ValueError):
        return False
    user, sep, given = decoded.partition(":")
    if not sep:
        return False
    # Both comparisons always run: no early exit on a wrong username.
    user_ok = _same(user, username)
    password_ok = password_matches(given, password)
    return user_ok and password_ok
