"""Numbers supervisorctl reasons with: its exit statuses and the server's faults."""

from __future__ import annotations

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

# XML-RPC fault codes of the supervisor API.
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
FAULT_NOT_RUNNING = 70
OK = 80
ALREADY_ADDED = 90
STILL_RUNNING = 91
CANT_REREAD = 92

# A fault meaning "the program is not running" maps to exit status 7.
DEAD_PROGRAM_FAULTS = frozenset({SPAWN_ERROR, ABNORMAL_TERMINATION, FAULT_NOT_RUNNING})

# Process states (as numbers, to avoid importing the daemon's enums).
RUNNING_STATE = 20
STOPPED_STATES = frozenset({0, 100, 200, 1000})  # STOPPED EXITED FATAL UNKNOWN

API_VERSION = "3.0"
