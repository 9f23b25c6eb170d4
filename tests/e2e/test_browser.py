"""The app in headless Chromium: draw on the real canvas with the mouse; train from the browser."""

from __future__ import annotations

import re

import pytest

from benchmarks.app_server import CANVAS, CANVAS_READY
from tests.e2e.pages import ONE, draw, open_selectbox, prediction, two_visitors

pytestmark = pytest.mark.browser


def test_draw_a_one_then_a_seven_off_centre(page, app_url):
    page.goto(app_url)
    page.locator(CANVAS).wait_for()
    page.get_by_text("Draw a digit on the black square").wait_for()
    draw(page, [(200, 40), (205, 120), (210, 200)])  # a small "1", far right of centre
    assert prediction(page) == "1"
    page.get_by_role("button", name="Clear").click()
    page.get_by_text("Draw a digit on the black square").wait_for()
    draw(page, [(40, 60), (200, 60), (150, 150), (100, 250)])  # a "7"
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stMetricValue]')]"
                           ".some(e => e.innerText.split(' ')[0] === '7')", timeout=30_000)
    assert prediction(page) == "7"
    page.screenshot(path="/tmp/mnist-dense-draw.png")


@pytest.mark.timeout(480)  # 150 epochs of the seed's fit, watched
def test_train_a_run_and_watch_the_curves_grow(page, app_url):
    page.goto(f"{app_url}/train")
    epochs = page.get_by_role("spinbutton", name="Epochs")
    epochs.fill("150")
    epochs.press("Tab")
    page.get_by_role("button", name="Start training").click()
    progress = page.get_by_text(re.compile(r"Epoch \d+ of 150"))
    progress.wait_for(timeout=120_000)
    first = int(re.search(r"Epoch (\d+)", progress.inner_text()).group(1))
    page.wait_for_function(
        "n => [...document.querySelectorAll('p, div')].some(e => /^Epoch (\\d+) of 150/.test(e.innerText)"
        " && +e.innerText.match(/^Epoch (\\d+)/)[1] > n) || document.body.innerText.includes('Finished after')",
        arg=first, timeout=60_000,
    )
    page.get_by_text("Finished after 150 epochs").wait_for(timeout=120_000)
    page.locator("[data-testid=stMetric]", has_text="Test accuracy").wait_for()
    page.get_by_text("Confusion matrix").wait_for()
    page.get_by_text("What it learned").wait_for()
    # the live charts are replaced in place: once the rerun ends, the three curves and the confusion matrix
    page.wait_for_function("() => document.querySelectorAll('[data-testid=stVegaLiteChart]').length === 4",
                           timeout=15_000)
    assert page.get_by_role("spinbutton", name="Epochs").input_value() == "150"  # the settings survive the run
    page.screenshot(path="/tmp/mnist-dense-train.png", full_page=True)


def test_a_finger_can_draw_on_a_phone_and_sees_the_reading_without_scrolling(browser, app_url):
    """Touch events (as a phone sends them, through the DevTools protocol) draw on the canvas;
    the digit read and its confidence are on screen right after, above the canvas."""
    context = browser.new_context(has_touch=True, is_mobile=True, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(app_url)
        page.locator(CANVAS_READY).wait_for(state="attached")
        canvas = page.locator(CANVAS)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        cdp = context.new_cdp_session(page)
        stroke = [(140, 40 + 10 * i) for i in range(21)]  # a "1", top to bottom
        for kind, (x, y) in [("touchStart", stroke[0])] + [("touchMove", p) for p in stroke[1:]]:
            point = {"x": box["x"] + x, "y": box["y"] + y}
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [point]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        assert prediction(page) == "1"
        for label in ("Prediction", "Confidence"):  # in view, where the finger left them
            box = page.locator("[data-testid=stMetric]", has_text=label).bounding_box()
            assert 0 <= box["y"] and box["y"] + box["height"] <= 844, (label, box)
        page.screenshot(path="/tmp/mnist-dense-phone.png")
    finally:
        context.close()


def test_a_model_bomb_upload_is_refused_and_others_keep_drawing(browser, app_url, tmp_path):
    """A stranger uploads a 40 KB model that declares 636 million parameters: one line, and
    another visitor's drawing is still read."""
    from tests.bombs import keras_unwritten

    bomb = keras_unwritten(tmp_path / "bomb.keras")
    assert bomb.stat().st_size < 50_000
    with two_visitors(browser) as (stranger, visitor):
        stranger.goto(app_url)
        open_selectbox(stranger, "Model").filter(has_text="Upload a model…").click()
        stranger.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(bomb))
        stranger.get_by_text("declares 636 million parameters; this app accepts up to").wait_for()
        visitor.goto(app_url)
        draw(visitor, ONE)
        assert prediction(visitor) == "1"
