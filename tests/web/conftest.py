"""Fixtures for the web page tests: real daemons (tests/daemon_harness.py)
and a headless Chromium driven by Playwright.

Screenshots go to ``$SNG_TEST_ARTIFACTS/web`` (default
``<repo>/test-artifacts/web``); the path is printed by the tests.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_harness import REPO, daemon_factory  # noqa: F401  (a fixture)

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("SNG_TEST_ARTIFACTS", REPO / "test-artifacts")) / "web"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Any:
    """``shoot(page, "what")`` saves a screenshot named after the test."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = re.sub(r"[^\w.-]+", "_", request.node.name)

    def take(page: Any, what: str, full_page: bool = False) -> Path:
        path = ARTIFACTS / f"{base}-{what}.png"
        page.screenshot(path=str(path), full_page=full_page)
        print(f"screenshot: {path}")
        return path

    return take
