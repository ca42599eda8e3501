"""Numbers supervisorctl reasons with: its exit statuses and the server's faults."""

from __future__ import annotations

from ..rpc.faults import Faults

# Exit statuses follow the LSB init-script conventions (as stock 4.x does).
SUCCESS = 0
GENERIC = 1
INVALID_ARGS = 2
UNIMPLEMENTED_FEATURE = 3
INSUFFICIENT_PRIVILEGES = 4
NOT_INSTALLED = 5
NOT_RUNNING = 7

# `status` uses the LSB status-action numbers instead.
STATUS_NOT_RUNNING = 3
STATUS_UNKNOWN = 4

# A fault meaning "the program is not running" maps to exit status 7.
DEAD_PROGRAM_FAULTS = frozenset({Faults.SPAWN_ERROR, Faults.ABNORMAL_TERMINATION, Faults.NOT_RUNNING})

# Process states (as numbers, to avoid importing the daemon's enums).
RUNNING_STATE = 20
STOPPED_STATES = frozenset({0, 100, 200, 1000})  # STOPPED EXITED FATAL UNKNOWN

API_VERSION = "3.0"
