"""What every test process needs, whichever folder its tests are in."""

from __future__ import annotations

import pytest

from tests.signals import restore_default_signals


def pytest_configure(config: pytest.Config) -> None:
    # Runs in the controller and in each xdist worker: the processes that
    # start daemons and clients.
    restore_default_signals()
