"""Coverage-guided fuzzing of the config loader with atheris (libFuzzer).

Not collected by pytest (no ``test_`` prefix): atheris is not a dependency
of the project.  Run by hand where it is installed::

    pip install atheris            # binary wheels for CPython 3.8-3.11 on x86_64
    python tests/reliability/atheris_config.py -max_total_time=300 [corpus_dir]

Each input is written as a supervisord.conf and loaded; anything raised but
a ConfigError (or a ConfigError without the file named) is a crash, and
libFuzzer saves the input as crash-<sha1>.  The seed corpus is the configs
the hypothesis tests start from.
"""

from __future__ import annotations

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from supervisor_ng.config.loader import load
    from supervisor_ng.config.model import ConfigError

WORKDIR = tempfile.mkdtemp(prefix="sng-atheris-")
PATH = os.path.join(WORKDIR, "supervisord.conf")
with open(os.path.join(WORKDIR, "a.inc"), "w") as f:
    f.write("[program:inc]\ncommand=sleep 1\n")
ENV = {"HOME": "/root", "PATH": "/usr/bin:/bin"}


def one_input(data: bytes) -> None:
    with open(PATH, "wb") as f:
        f.write(data)
    try:
        load(PATH, env=ENV)
    except ConfigError as exc:
        message = str(exc)
        if WORKDIR not in message and "file" not in message:
            raise AssertionError(f"a ConfigError that names no file: {message!r}") from None


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
