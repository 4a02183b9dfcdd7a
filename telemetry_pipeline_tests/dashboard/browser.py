"""The browser harness of the page tests: Debian's chromium, headless, driven by playwright.

The browser is /usr/bin/chromium (scripts/ensure-chromium installs it; playwright never downloads
one). The fixtures reach every test module of this folder through conftest.py; a test waits on
the page's own signal, body[data-state=ready] for the view in its URL (wait_for_view).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
TIMEOUT_MS = 20000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium (make test does)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def context(browser: Browser) -> Iterator[BrowserContext]:
    """One browser profile for the module: its HTTP cache keeps the 4.8 MB Plotly bundle between tests."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    page.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def wait_for_view(page: Page, query: str, state: str = "ready") -> None:
    """Wait until the page has drawn the view of `query` (its URL's query string, as the page encodes it)."""
    page.wait_for_function(
        "([q, s]) => document.body.dataset.view === new URLSearchParams(q).toString()"
        " && document.body.dataset.state === s",
        arg=[query, state],
        timeout=TIMEOUT_MS,
    )


def open_view(page: Page, base: str, query: str) -> None:
    page.goto(f"{base}/?{query}")
    wait_for_view(page, query)
