"""Reliability and security tests (issue #9): fixtures, the ``slow`` mark and
the knobs that size the long runs.

CI runs every test here in a bounded form; the environment variables below
make the same tests run as long as wanted (the figures quoted in the issue's
closing note come from such runs):

- ``SUPERVISOR_NG_SOAK_SECONDS``: how long the kill storm runs (default 20);
- ``CONFIG_FUZZ_EXAMPLES``: hypothesis examples for the config fuzzer
  (default 1500), ``CONFIG_MUTATIONS``: mutated configs (default 20000);
- ``RPC_FUZZ_EXAMPLES``: generated XML-RPC calls sent to a live daemon
  (default 300).

Every test prints its figures (inputs tried, kills, fds and RSS before and
after, latencies) on a line starting with ``FIGURES``: run with ``-s`` (or
look at the captured output of a failure) to quote them.
"""

from __future__ import annotations

import os

from tests.daemon_harness import daemon_factory  # noqa: F401  (a fixture)


def pytest_configure(config) -> None:  # noqa: ANN001 - pytest's hook signature
    config.addinivalue_line(
        "markers", "slow: long-running reliability test (bounded in CI by environment variables)"
    )


def env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def figures(test: str, **values: object) -> None:
    """One greppable line of numbers for the report."""
    text = ", ".join(f"{k}={v}" for k, v in values.items())
    print(f"\nFIGURES {test}: {text}", flush=True)
