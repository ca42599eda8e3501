"""``supervisor-ng-passwd``: print a ``{SCRYPT}`` hash for a ``password =`` line.

The password is read from the terminal without echo (asked twice), or as
one line from standard input when that is not a terminal, so that it never
shows in the process list or the shell's history.
"""

from __future__ import annotations

import getpass
import sys
from typing import Optional

from .auth import scrypt_hash

USAGE = "usage: supervisor-ng-passwd  (reads the password from the terminal, prints its {SCRYPT} hash)\n"


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args:
        sys.stderr.write(USAGE)
        return 0 if args[0] in ("-h", "--help") else 2
    if sys.stdin.isatty():
        try:
            password = getpass.getpass("Password: ")
            if getpass.getpass("Again: ") != password:
                sys.stderr.write("The passwords differ; nothing printed.\n")
                return 1
        except (EOFError, KeyboardInterrupt):
            sys.stderr.write("\n")
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        sys.stderr.write("An empty password; nothing printed.\n")
        return 1
    sys.stdout.write(scrypt_hash(password) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
