"""Launching headless Chromium for browser tests (Playwright for Python, system Chromium).

The machine's Chromium (`/usr/bin/chromium`, from apt) is used instead of Playwright's downloaded
browsers, which cannot be fetched here. Without it the test is skipped with the reason, unless
`MEDCAB_TEST_REQUIRE_SERVICES=1` says every service must be present (CI): then it fails.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser

CHROMIUM = Path(os.environ.get("MEDCAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def services_required() -> bool:
    return os.environ.get("MEDCAB_TEST_REQUIRE_SERVICES") == "1"


def require_chromium() -> None:
    """Skip (or fail, when services are required) unless Chromium and Playwright are available."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            problem = "playwright for Python is not installed"
    if problem is not None:
        if services_required():
            pytest.fail(f"browser test needs Chromium: {problem}")
        pytest.skip(f"browser test needs Chromium: {problem}")


@asynccontextmanager
async def launch_browser() -> AsyncIterator[Browser]:
    """A headless Chromium, closed (with Playwright's driver) on exit."""
    require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch_browser() as launched:
        yield launched
