"""What the browser tests do on Streamlit's widgets, done the same way everywhere."""

from __future__ import annotations

from playwright.sync_api import Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout


def open_selectbox(page: Page, label: str) -> Locator:
    """Open the selectbox labelled `label`; return its options. A click during a rerun can
    focus the box without opening it: click again until the list shows."""
    box = page.locator("[data-testid=stSelectbox]", has_text=label).first
    options = page.locator("[role=option]")
    for _ in range(5):
        box.click()
        try:
            options.first.wait_for(timeout=3_000)
            return options
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    raise AssertionError(f"the {label!r} selectbox did not open")
