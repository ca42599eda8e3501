"""Fixtures for the integration tests: real daemons, see tests/daemon_harness.py."""

from __future__ import annotations

from tests.daemon_harness import daemon_factory  # noqa: F401  (a fixture)
