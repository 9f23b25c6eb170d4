"""A real app server and a real browser (Debian's chromium, driven by Playwright); the same
helpers as the benchmarks use (benchmarks/app_server.py)."""

from __future__ import annotations

import shutil

import pytest

from benchmarks.app_server import CHROMIUM_FLAGS, app_server
from tests.oidc import oidc_provider


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """`streamlit run` as Streamlit's own e2e suite starts it, on a free localhost port."""
    with app_server(tmp_path_factory.mktemp("data")) as (url, _, _):
        yield url


@pytest.fixture(scope="session")
def oidc_issuer():
    """A real OpenID provider on a free localhost port for this test session (tests/oidc.py):
    its issuer URL, for `app_server(..., secrets=auth_secrets(oidc_issuer))`."""
    with oidc_provider() as issuer:
        yield issuer


@pytest.fixture(scope="session")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: `apt-get install chromium` (the Makefile's test target does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()
