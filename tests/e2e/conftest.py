"""A real browser (Debian's chromium, driven by Playwright) on the real app server (tests/conftest.py's
`app_url`); the same browser flags as the benchmarks use (benchmarks/app_server.py)."""

from __future__ import annotations

import shutil

import pytest

from benchmarks.app_server import CHROMIUM_FLAGS
from tests.helpers import unavailable
from tests.oidc import oidc_provider


@pytest.fixture(scope="session")
def oidc_issuer():
    """A real OpenID provider on a free localhost port for this test session (tests/oidc.py):
    its issuer URL, for `app_server(..., secrets=auth_secrets(oidc_issuer))`."""
    with oidc_provider() as issuer:
        yield issuer


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium; under `make test` one that cannot start fails the browser tests."""
    chromium = shutil.which("chromium")
    if chromium is None:
        unavailable("Chromium", "chromium is not installed: `apt-get install chromium` (the Makefile's test target "
                                "does it)")
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        except PlaywrightError as e:
            unavailable("Chromium", str(e).strip().splitlines()[0])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()
