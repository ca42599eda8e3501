"""Signal dispositions for the processes the tests start.

A shell starts a background job (``pytest ... &``) with SIGINT and SIGQUIT
ignored, and an ignored disposition survives fork and exec: every daemon,
program and supervisorctl a test starts would then shrug off the Ctrl-C the
test sends it.  Handled signals are reset to the default by exec, so giving
the test process itself handlers is enough for all of its children.
"""

from __future__ import annotations

import signal


def restore_default_signals() -> None:
    """SIGINT back to Python's KeyboardInterrupt, SIGQUIT to the default."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
