"""In Chromium: watching a network learn and seeing inside it. The ten templates change while one
training runs; the Draw page's diagram changes with a stroke and shows a unit's panel when it is
pointed at or tapped; a lesson link opens the Train page with its settings fixed, and trains them;
the "not a digit" answer says why the ten outputs still name a digit."""

from __future__ import annotations

import re

import pytest

from mnist_core import words
from tests.e2e.pages import ONE, draw, prediction, settled

pytestmark = pytest.mark.browser

TEMPLATES = "[data-testid=stHtml] .mw-weights img"
DIAGRAM = "[data-testid=stHtml] .nd"
STAR = [(140, 30), (175, 250), (40, 110), (240, 110), (105, 250), (140, 30)]


def frame(page) -> tuple[int, list[str]]:
    """The live view's epoch and its ten templates' pictures, read together."""
    epoch = page.get_by_text(re.compile(r"^The ten digit templates, after epoch \d+$"))
    epoch.wait_for(timeout=120_000)
    page.locator(TEMPLATES).nth(9).wait_for(state="attached")  # the pictures may come a moment after the title
    return (int(re.search(r"\d+$", epoch.inner_text())[0]),
            page.locator(TEMPLATES).evaluate_all("images => images.map(i => i.src)"))


@pytest.mark.mnist
@pytest.mark.timeout(300)
def test_the_templates_change_while_it_trains(page, app_url):
    page.goto(f"{app_url}/train?lesson=train&preset=seed&epochs=3000&title=Watch+the+templates")
    page.get_by_role("button", name="Start training").click()
    try:
        first, before = frame(page)
        page.wait_for_function(  # a later frame, redrawn by the page's 2 s refresh
            "n => [...document.querySelectorAll('strong, p')].some(e => {"
            " const m = e.innerText.match(/^The ten digit templates, after epoch (\\d+)$/); return m && +m[1] > n })",
            arg=first, timeout=60_000)
        later, after = frame(page)
        assert later > first and len(before) == len(after) == 10
        assert sum(a != b for a, b in zip(before, after, strict=True)) >= 5  # the pictures themselves changed
        page.get_by_text("Its mistakes now").wait_for()
    finally:  # never leave 3,000 epochs training in front of the next test's job
        page.get_by_role("button", name="Stop").click()
    page.get_by_text(re.compile(r"Stopped after \d+ epochs")).wait_for(timeout=60_000)
    page.get_by_text("What it learned, epoch by epoch").wait_for()  # the slider through the epochs kept


def test_the_diagram_changes_when_a_stroke_is_added_and_shows_a_unit(page, app_url):
    page.goto(app_url)
    draw(page, ONE)
    assert prediction(page) == "1"
    diagram = page.locator(DIAGRAM)
    diagram.wait_for()
    settled(page)
    before = diagram.inner_html()
    draw(page, [(60, 60), (220, 60)])  # a bar across the top: now a 7
    page.wait_for_function("old => document.querySelector('.nd') && document.querySelector('.nd').innerHTML !== old",
                           arg=before, timeout=30_000)
    unit = diagram.locator(".u").nth(2)  # a first-layer unit
    unit.hover()
    panel = diagram.locator(".p:visible")
    panel.wait_for()
    assert panel.count() == 1 and panel.inner_text().startswith("Hidden layer 1, unit")
    assert diagram.locator("img.hl:visible").count() == 1  # its pushes traced


def test_a_unit_is_tapped_on_a_phone(browser, app_url):
    context = browser.new_context(has_touch=True, is_mobile=True, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(app_url)
        draw(page, ONE)
        output = page.locator(f"{DIAGRAM} .u").last  # the output 9
        output.scroll_into_view_if_needed()
        output.tap()
        page.locator(f"{DIAGRAM} .p", has_text="Output 9:").wait_for(state="visible")
        box = page.locator(DIAGRAM).bounding_box()
        assert box["width"] <= 390  # the diagram fits the phone's width
    finally:
        context.close()


@pytest.mark.mnist
@pytest.mark.timeout(300)
def test_a_lesson_link_opens_with_its_settings_fixed(page, app_url):
    page.goto(f"{app_url}/train?lesson=train&preset=seed&epochs=4&learning_rate=0.05&open=learning_rate"
              "&show=epochs&title=Four+epochs")
    page.get_by_text("A lesson: Four epochs.").wait_for()
    sidebar = page.locator("[data-testid=stSidebar]")
    sidebar.get_by_text("Epochs: 4").wait_for()  # shown, fixed
    assert sidebar.get_by_role("spinbutton", name="Epochs").count() == 0
    assert sidebar.get_by_role("spinbutton", name="Batch size").count() == 0  # not shown at all
    assert sidebar.locator("[data-testid=stSelectbox]").count() == 0  # nor the network's choice
    assert sidebar.get_by_role("spinbutton", name="Learning rate").input_value() == "0.0500"  # open to change
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Finished after 4 epochs").wait_for(timeout=180_000)


def test_not_a_digit_says_why_it_still_names_one(page, app_url):
    page.goto(app_url)
    draw(page, STAR)
    settled(page)
    assert prediction(page) == "Not"
    page.get_by_text(words.NONE_OF_THESE).wait_for()
