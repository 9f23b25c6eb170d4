"""In Chromium: a letter and a star drawn on the canvas are 'Not a digit'; a 3 is read as a 3,
and 'Why this reading?' shows which pixels made it one."""

from __future__ import annotations

import pytest

from tests.e2e.pages import draw, prediction, settled

pytestmark = pytest.mark.browser

LETTER_A = [[(70, 250), (140, 40), (210, 250)], [(100, 170), (180, 170)]]
STAR = [[(140, 30), (175, 250), (40, 110), (240, 110), (105, 250), (140, 30)]]
THREE = [[(80, 60), (160, 40), (200, 90), (150, 140), (205, 190), (160, 245), (80, 230)]]


def clear(page) -> None:
    page.get_by_role("button", name="Clear").click()
    settled(page)


@pytest.mark.parametrize("strokes", [LETTER_A, STAR], ids=["letter A", "star"])
def test_a_letter_or_a_star_is_not_a_digit(page, app_url, strokes):
    page.goto(app_url)
    for stroke in strokes:
        draw(page, stroke)
        settled(page)
    assert prediction(page) == "Not"  # "Not a digit": the metric's first word
    page.get_by_text("That doesn't look like a digit. The closest is a").wait_for()


def test_a_three_is_read_and_why_is_shown(page, app_url):
    page.goto(app_url)
    draw(page, THREE[0])
    assert prediction(page) == "3"
    page.get_by_text("Why this reading?").click()
    page.get_by_text("Red: ink that made it read 3").wait_for()
    page.get_by_text("The hidden units it switched on most").wait_for()
    assert page.locator("[data-testid=stImage]").count() >= 10  # the 28x28, the pixels, eight units
