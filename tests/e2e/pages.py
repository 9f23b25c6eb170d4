"""What the browser tests do on Streamlit's widgets and the canvas, done the same way everywhere.

    draw(page, ONE)                                    # one stroke (a "1") on the Draw page's canvas
    prediction(page)                                   # "1": the digit the page read
    settled(page)                                      # the script's run has ended: the page is whole
    with two_visitors(browser) as (ann, bob): ...      # two strangers, each in their own browser session
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from playwright.sync_api import Browser, Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from benchmarks.app_server import CANVAS, CANVAS_READY
from tests.helpers import ONE_STROKE

ONE = ONE_STROKE  # a plain "1", in canvas pixels


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


def draw(page: Page, points: list[tuple[float, float]]) -> None:
    """Drag the mouse through `points` (canvas pixels) as one stroke, once the canvas takes strokes."""
    page.locator(CANVAS_READY).wait_for(state="attached")
    canvas = page.locator(CANVAS)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x0, y0 = points[0]
    page.mouse.move(box["x"] + x0, box["y"] + y0)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
    page.mouse.up()


def prediction(page: Page) -> str:
    """The digit read: the Prediction metric's first word ("4", or "4" of "4 or 9?" when unsure)."""
    metric = page.locator("[data-testid=stMetric]", has_text="Prediction")
    metric.wait_for()
    return metric.locator("[data-testid=stMetricValue]").inner_text().split()[0]


def settled(page: Page, timeout: float = 60_000) -> None:
    """Wait until the page's script run has ended (Streamlit marks its root element), so that
    what the page draws is all there: count what must be absent only after this."""
    page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(timeout=timeout)


@contextlib.contextmanager
def two_visitors(browser: Browser, timeout: float = 60_000) -> Iterator[tuple[Page, Page]]:
    """Ann and Bob: two browser sessions with nothing shared (each gets their own private link)."""
    contexts = [browser.new_context(), browser.new_context()]
    try:
        pages = [context.new_page() for context in contexts]
        for page in pages:
            page.set_default_timeout(timeout)
        yield pages[0], pages[1]
    finally:
        for context in contexts:
            context.close()
