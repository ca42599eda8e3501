"""Programs for the resource-figure tests: ``hog MIB``, ``busy SECONDS``, ``spin``.

Each works, then sleeps, so its figures are stable when the test reads them.
"""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    mode = sys.argv[1]
    os.nice(19)  # only idle CPU: parallel tests keep their share
    if mode == "hog":
        held = b"x" * (int(sys.argv[2]) * 1024 * 1024)  # noqa: F841 - resident while we sleep
    elif mode == "busy":
        start = time.process_time()
        while time.process_time() - start < float(sys.argv[2]):
            pass
    elif mode == "spin":
        while True:
            pass
    time.sleep(1000)


if __name__ == "__main__":
    main()
