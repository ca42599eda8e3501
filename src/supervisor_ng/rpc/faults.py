"""XML-RPC fault codes and the exception RPC methods raise.

The numbers and names are part of the wire protocol: supervisorctl turns
codes into its messages and treats a code it does not know as a crash, so
they must stay exactly as Supervisor 4.3 defines them.
"""

from __future__ import annotations

import enum
from typing import Optional


class Faults(enum.IntEnum):
    UNKNOWN_METHOD = 1
    INCORRECT_PARAMETERS = 2
    BAD_ARGUMENTS = 3
    SIGNATURE_UNSUPPORTED = 4
    SHUTDOWN_STATE = 6
    BAD_NAME = 10
    BAD_SIGNAL = 11
    NO_FILE = 20
    NOT_EXECUTABLE = 21
    FAILED = 30
    ABNORMAL_TERMINATION = 40
    SPAWN_ERROR = 50
    ALREADY_STARTED = 60
    NOT_RUNNING = 70
    SUCCESS = 80
    ALREADY_ADDED = 90
    STILL_RUNNING = 91
    CANT_REREAD = 92


def fault_text(code: int, extra: object = None) -> str:
    """``NAME`` or ``NAME: extra``, the faultString clients display."""
    try:
        name = Faults(code).name
    except ValueError:
        name = "UNKNOWN"
    return name if extra is None else f"{name}: {extra}"


class RPCError(Exception):
    """Raised by an RPC method; becomes a <fault> (or a failed entry in a
    group result list)."""

    def __init__(self, code: int, extra: Optional[object] = None) -> None:
        super().__init__(code, extra)
        self.code = int(code)
        self.text = fault_text(code, extra)

    def __str__(self) -> str:
        return self.text
