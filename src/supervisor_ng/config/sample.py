"""``echo_supervisord_conf``: print a commented sample configuration.

The text lives in ``sample.conf`` next to this module rather than in a string
constant so that it can be read, diffed and tested as the config file it is.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib import resources
from typing import Optional

USAGE = (
    "Usage: echo_supervisord_conf > supervisord.conf\n"
    "Prints a sample supervisord.conf, with every option explained.\n"
)


def sample_text() -> str:
    """The sample configuration, exactly as ``echo_supervisord_conf`` prints it."""
    return resources.files(__package__).joinpath("sample.conf").read_text(encoding="utf-8")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point.  Other arguments are ignored, as stock does."""
    args = sys.argv[1:] if argv is None else list(argv)
    text = USAGE if any(a in ("-h", "--help") for a in args) else sample_text()
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # `echo_supervisord_conf | head` should end quietly.  Point stdout at
        # /dev/null so the flush at interpreter exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 0


if __name__ == "__main__":
    sys.exit(main())
