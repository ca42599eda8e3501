"""HTTP Basic authentication, as ``[unix_http_server]``/``[inet_http_server]``
configure it: one username, a password in clear or as ``{SHA}`` followed by
the hex SHA-1 of the password (hex, not the base64 Apache uses), or, ours
only, ``{SCRYPT}n$r$p$salt$hash`` (base64 salt and hash): salted and slow, so
a leaked config does not give the password away.  ``supervisor-ng-passwd``
(:mod:`.passwd`) prints one."""

from __future__ import annotations

import binascii
import os
from typing import TYPE_CHECKING, Optional

from ..lazy_import import LazyModule
from . import openssl

if TYPE_CHECKING:
    import base64
    import hashlib
    import hmac
else:
    # At the first login checked: hashlib maps a module per hash family.
    base64 = LazyModule("base64")
    hashlib = LazyModule("hashlib")
    hmac = LazyModule("hmac")

REALM = "default"

UNAUTHORIZED_BODY = (
    b"<html><head><title>401 Unauthorized</title></head>"
    b"<body><h1>401 Unauthorized</h1><p>Error code 401.</p></body></html>\n"
)


def _same(a: str, b: str) -> bool:
    # Constant time, so response timing tells nothing about the secret.
    return hmac.compare_digest(a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape"))


SCRYPT_PREFIX = "{SCRYPT}"
# hashlib.scrypt's cost: ~50 ms and 16 MiB per check on a current machine.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def _scrypt(given: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return openssl.scrypt()(
        given.encode("utf-8", "surrogateescape"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=length
    )


def scrypt_hash(password: str, salt: Optional[bytes] = None) -> str:
    """The ``{SCRYPT}`` form of ``password`` for a ``password =`` line."""
    salt = os.urandom(16) if salt is None else salt
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, 32)
    b64 = base64.b64encode
    return f"{SCRYPT_PREFIX}{SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def _scrypt_matches(given: str, configured: str) -> bool:
    try:
        n_text, r_text, p_text, salt_text, hash_text = configured[len(SCRYPT_PREFIX) :].strip().split("$")
        salt, expected = base64.b64decode(salt_text), base64.b64decode(hash_text)
        digest = _scrypt(given, salt, int(n_text), int(r_text), int(p_text), len(expected))
    except (ValueError, binascii.Error):
        return False  # a malformed hash matches nothing
    return hmac.compare_digest(digest, expected)


def is_slow(configured: Optional[str]) -> bool:
    """Whether checking against ``configured`` is worth a worker thread."""
    return bool(configured) and str(configured).startswith(SCRYPT_PREFIX)


def password_matches(given: str, configured: str) -> bool:
    if configured.startswith(SCRYPT_PREFIX):
        return _scrypt_matches(given, configured)
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
