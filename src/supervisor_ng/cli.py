"""What both command lines share: stock-style usage errors.

Stock prints ``Error: <what>`` and ``For help, use <prog> -h`` on stderr and
exits 2; scripts and operators know that shape, so click's own is replaced.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    import click

def usage_error(prog: str, message: str) -> NoReturn:
    sys.stderr.write(f"Error: {message}\nFor help, use {prog} -h\n")
    sys.exit(2)


def run_click(command: click.Command, prog: str, args: list[str] | None = None) -> None:
    """Run ``command`` with click's parsing but stock-shaped usage errors."""
    import click  # supervisorctl's; the daemon, which imports this module too, has no use for it

    try:
        command.main(args=args, prog_name=prog, standalone_mode=False)
    except click.UsageError as exc:
        usage_error(prog, exc.format_message())
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(1)
