"""Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

Each test gets a screenshot of its last screen in test-artifacts/screenshots/<test>.png;
`shot(name)` saves more along the way.
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# beside it (setting up rows, checking decisions) are safe: they are not in that loop.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

import pytest
from playwright.sync_api import Page, expect

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

# Generous: expect() polls until the page shows it, so a passing test waits only as long as
# it must, and a loaded machine (Chromium, the live server and a worker on two cores) is slow.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def shot(page: Page) -> Callable[..., Path]:
    def take(name: str, target: Page | None = None) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        (target or page).screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(autouse=True)
def _last_screen(request: pytest.FixtureRequest, page: Page) -> Iterator[None]:
    yield
    if not page.is_closed() and page.url != "about:blank":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
