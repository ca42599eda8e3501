"""Process-wide settings of supervisord, made before it imports the rest.

``daemon.py`` (the ``supervisord`` entry point) imports this module before
anything else; importing it does two things.

It keeps OpenSSL out.  ``[inet_http_server]`` is plain HTTP, as stock's
is, unless it names a certificate (then :mod:`..http.openssl` loads it).
Yet ``asyncio`` imports ``ssl`` when it can, and ``hashlib`` maps libcrypto
through ``_hashlib`` (~3.5 MiB each).  Marking those modules absent before
anything imports them makes ``asyncio`` and ``hashlib`` take the paths they
have for a Python without OpenSSL: no TLS and the interpreter's built-in
hashes (what {SHA} passwords need).

It turns the cyclic garbage collector off for the start-up: importing
everything and reading the config make ~90,000 objects that live as long as
the daemon, and the collector would walk them again and again as they
accumulate.  :func:`started`, called once they exist, collects once (the
start-up leaves ~16,000 objects in cycles behind), freezes the survivors so
that the collector never walks them again, and turns it back on.
"""

from __future__ import annotations

import ctypes
import gc
import sys


def _builtin_hashes() -> bool:
    """hashlib's fallbacks for md5, sha1 and sha256 exist (some builds drop them)."""
    try:
        import _md5  # noqa: F401
        import _sha1  # noqa: F401
    except ImportError:
        return False
    try:
        import _sha2  # noqa: F401  (Python 3.12+)
    except ImportError:
        try:
            import _sha256  # noqa: F401
        except ImportError:
            return False
    return True


def without_openssl() -> None:
    """Block ``ssl`` and ``_hashlib`` unless something imported them already."""
    sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]
    if _builtin_hashes():
        sys.modules.setdefault("_hashlib", None)  # type: ignore[arg-type]


_M_MMAP_THRESHOLD = -3  # glibc's mallopt() parameter
_MMAP_THRESHOLD = 128 * 1024  # glibc's own initial value


def give_back_big_buffers() -> None:
    """Make glibc keep its mmap threshold at 128 KiB.

    A getAllProcessInfo answer for 1000 programs is 1.3 MB, held in a few
    copies on its way out.  glibc serves such blocks with mmap and gives them
    back on free, but after the first free it raises the threshold to their
    size and serves the next ones from the heap, which then stays grown
    (+3.5 MiB of RSS after a few calls).  Setting the threshold turns that
    adjustment off.  Not glibc (no mallopt): nothing to do.
    """
    try:
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    except (OSError, AttributeError):
        pass


def started() -> None:
    """Everything is imported and the config read: collect from now on,
    but never walk again what exists now (a full pass over it took 10-15 ms,
    several times while hundreds of programs start or getAllProcessInfo
    answers)."""
    gc.collect()
    gc.freeze()
    gc.enable()
    give_back_big_buffers()


without_openssl()
gc.disable()
