"""In Chromium: a letter and a star drawn on the canvas are 'Not a digit', and say why; a round 0
and a 1 with a flag and a foot, as people write them, are read; a 3 is read as a 3, and 'Why
this reading?' shows which pixels made it one."""

from __future__ import annotations

import math

import pytest

from tests.e2e.pages import draw, prediction, settled

pytestmark = pytest.mark.browser

LETTER_A = [[(70, 250), (140, 40), (210, 250)], [(100, 170), (180, 170)]]
STAR = [[(140, 30), (175, 250), (40, 110), (240, 110), (105, 250), (140, 30)]]
THREE = [[(80, 60), (160, 40), (200, 90), (150, 140), (205, 190), (160, 245), (80, 230)]]
ROUND_ZERO = [[(140 + 90 * math.sin(a), 140 - 105 * math.cos(a)) for a in (i * math.pi / 16 for i in range(34))]]
FLAGGED_ONE = [[(95, 95), (150, 40), (150, 245)], [(100, 245), (200, 245)]]


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
    page.get_by_text("than a digit. If it is a digit, it is most like").wait_for()


@pytest.mark.parametrize(("strokes", "digit"), [(ROUND_ZERO, "0"), (FLAGGED_ONE, "1")],
                         ids=["round 0", "1 with a flag and a foot"])
def test_what_people_write_is_read(page, app_url, strokes, digit):
    page.goto(app_url)
    for stroke in strokes:
        draw(page, stroke)
        settled(page)
    assert prediction(page) == digit


def test_a_three_is_read_and_why_is_shown(page, app_url):
    page.goto(app_url)
    draw(page, THREE[0])
    assert prediction(page) == "3"
    page.get_by_text("Why this reading?").click()
    page.get_by_text("Red: ink that made it read 3").wait_for()
    page.get_by_text("The hidden units it switched on most").wait_for()
    assert page.locator("[data-testid=stImage]").count() >= 10  # the 28x28, the pixels, eight units
