"""The hand-over envelope's transport: a memfd of JSON that survives the exec,
and the options that name it on the new binary's command line.

Kept apart from :mod:`.handover` so that the new binary's dry run
(``--handover-check``) reads the envelope without importing asyncio and the
runtime: its start-up is on the critical path of every hand-over.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..lazy_import import LazyModule

if TYPE_CHECKING:
    import json
else:
    json = LazyModule("json")  # only a hand-over reads or writes one

HANDOVER_FD_OPTION = "--handover-fd"
HANDOVER_CHECK_OPTION = "--handover-check"


def write_envelope(envelope: dict[str, Any]) -> int:
    """A memfd holding ``envelope``; inheritable, since the exec must keep it."""
    fd = os.memfd_create("supervisor-ng-handover", 0)
    data = json.dumps(envelope, separators=(",", ":")).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    return fd


def read_envelope(fd: int) -> dict[str, Any]:
    """The envelope in ``fd``; read by offset, as the dry run shared the fd's position."""
    size = os.fstat(fd).st_size
    chunks: list[bytes] = []
    offset = 0
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    envelope = json.loads(b"".join(chunks))
    if not isinstance(envelope, dict):
        raise ValueError("the hand-over envelope is not a JSON object")
    return envelope
