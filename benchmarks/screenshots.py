"""The README's screenshots, taken in headless Chromium from a freshly started app.

    python benchmarks/screenshots.py              # docs/draw.png, train.png, train_live.png, runs.png, drawings.png,
                                                  # phone.png, phone_train.png (the live view on a phone),
                                                  # then the learning ones (below)
    python benchmarks/screenshots.py --learning   # only docs/learn-*.png: each at 1280x800 and on a phone (390 px)

The learning ones: a teacher making a lesson link, the step it opens, the Train page while a
network learns (its templates and mistakes now), the slider through a finished run's epochs,
the Draw page's diagram with a unit pointed at (tapped, on the phone), and a "not a digit"
answer with its sentence.
"""

import argparse
import re
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_server import (  # noqa: E402
    CANVAS_READY,  # noqa: E402
    CHROMIUM_FLAGS,
    ROOT,
    app_server,
    chromium,
    draw_stroke,
)

DOCS = ROOT / "docs"
FOUR = [(90, 50), (60, 160), (200, 160), (170, 40), (165, 250)]  # a "4" in one stroke


STAR = [(140, 30), (175, 250), (40, 110), (240, 110), (105, 250), (140, 30)]
DESKTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}
LESSON = "lesson=train&title=Watch+the+ten+templates+form&preset=seed&epochs=3000&open=learning_rate&show=epochs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learning", action="store_true", help="only the learning screenshots (docs/learn-*.png)")
    args = parser.parse_args()
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        with app_server(Path(tmp) / "data") as (url, _, _):
            if not args.learning:
                readme(browser, url)
            learning(browser, url)
        browser.close()
    print("wrote", ", ".join(str(p.relative_to(ROOT)) for p in sorted(DOCS.glob("*.png"))))


def readme(browser, url: str) -> None:
    """docs/draw.png, train.png, train_live.png, runs.png, drawings.png, phone.png, phone_train.png: the README's."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(120_000)
    page.goto(url)
    page.locator(CANVAS_READY).wait_for(state="attached")
    draw_stroke(page, FOUR)
    page.locator("[data-testid=stMetric]", has_text="Prediction").wait_for()
    page.wait_for_timeout(1500)  # the chart's transition
    page.screenshot(path=DOCS / "draw.png")
    page.get_by_role("button", name="Yes, a 4").click()  # kept: the Drawings page has one
    page.get_by_text("Kept as a 4").wait_for()

    me = page.url.split("?", 1)[1]  # the visitor's private link, kept from page to page
    page.goto(f"{url}/train?{me}")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_function("() => /Epoch ([3-9]\\d|1\\d\\d) of 200/.test(document.body.innerText)")
    page.wait_for_timeout(800)  # the charts drawn
    page.screenshot(path=DOCS / "train_live.png")  # the live view, in the first screen
    phone = browser.new_page(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    phone.goto(f"{url}/train?{me}")
    phone.get_by_text(re.compile(r"Epoch \d+ of 200|Finished after")).first.wait_for()
    phone.wait_for_timeout(1500)
    phone.screenshot(path=DOCS / "phone_train.png")
    phone.close()
    page.get_by_text("Finished after 200 epochs").wait_for()
    page.get_by_text("What it learned").wait_for()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=stVegaLiteChart]').length === 4")
    page.wait_for_timeout(1500)
    page.set_viewport_size({"width": 1280, "height": 1900})
    page.screenshot(path=DOCS / "train.png")

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{url}/runs?{me}")
    page.get_by_text("Compare validation accuracy").wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=DOCS / "runs.png")

    page.set_viewport_size({"width": 1280, "height": 1500})  # the page scrolls inside: a tall window
    page.goto(f"{url}/drawings?{me}")
    page.get_by_text("Which model reads these digits best").wait_for()
    page.locator("[data-testid=stDataFrame]").last.wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=DOCS / "drawings.png", full_page=True)

    phone = browser.new_page(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    phone.set_default_timeout(120_000)
    phone.goto(f"{url}?{me}")
    phone.locator(CANVAS_READY).wait_for(state="attached")
    draw_stroke(phone, [(x * 0.9, y * 0.9) for x, y in FOUR])
    phone.locator("[data-testid=stMetric]", has_text="Prediction").wait_for()
    phone.wait_for_timeout(1500)
    phone.screenshot(path=DOCS / "phone.png")


def learning(browser, url: str) -> None:
    """docs/learn-*.png: each at 1280x800, and on a phone (-phone), as a person sees it."""
    desk = browser.new_page(viewport=DESKTOP)
    phone = browser.new_page(viewport=PHONE, has_touch=True, is_mobile=True)
    for page in (desk, phone):
        page.set_default_timeout(120_000)

    # A teacher makes a lesson link from the Train page as it is
    teacher = browser.new_page(viewport=DESKTOP)
    teacher.set_default_timeout(120_000)
    teacher.goto(f"{url}/train")
    teacher.get_by_role("button", name="Make a lesson link").click()
    teacher.get_by_label("What this step is").fill("Watch the ten templates form")
    teacher.get_by_label("What this step is").press("Enter")
    settled(teacher)
    teacher.locator("[data-testid=stMultiSelect]", has_text="Students may change").click()
    teacher.get_by_role("option", name="Learning rate").click()
    teacher.keyboard.press("Escape")
    settled(teacher)
    teacher.get_by_text("For the projector").wait_for()
    teacher.wait_for_timeout(500)
    shoot(teacher, "learn-lesson-maker.png")
    teacher.close()

    # A lesson's step, then its training watched: the templates and the mistakes as it learns
    desk.goto(f"{url}/train?{LESSON}")
    desk.get_by_text("A lesson: Watch the ten templates form").wait_for()
    desk.get_by_role("button", name="Start training").wait_for()
    settled(desk)
    shoot(desk, "learn-lesson.png")
    me = re.search(r"me=[^&]+", desk.url)[0]
    phone.goto(f"{url}/train?{LESSON}&{me}")
    phone.get_by_text("A lesson: Watch the ten templates form").wait_for()
    phone.get_by_role("button", name="Start training").wait_for()
    settled(phone)
    phone.wait_for_timeout(500)
    shoot(phone, "learn-lesson-phone.png")
    desk.get_by_role("button", name="Start training").click()
    desk.get_by_text("Inside, as it learns").wait_for()
    phone.reload()  # the same person's job, now training
    for page in (desk, phone):
        watched = page.get_by_text("Inside, as it learns")
        watched.wait_for()
        page.wait_for_function("() => /after epoch ([3-9]\\d|\\d{3,})/.test(document.body.innerText)")
        watched.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
    shoot(desk, "learn-watch.png")
    shoot(phone, "learn-watch-phone.png")

    # Stopped: the slider through the epochs it kept, moved back to epoch 2
    desk.get_by_role("button", name="Stop").click()
    film = desk.get_by_text("What it learned, epoch by epoch")
    film.wait_for()
    film.scroll_into_view_if_needed()
    thumb = desk.get_by_role("slider")
    thumb.focus()
    desk.keyboard.press("Home")
    for _ in range(2):
        desk.keyboard.press("ArrowRight")
    desk.get_by_text("The ten digit templates, after epoch 2").wait_for()
    desk.get_by_text("What it learned, epoch by epoch").scroll_into_view_if_needed()
    desk.wait_for_timeout(500)
    shoot(desk, "learn-film.png")

    # The Draw page: the diagram, a unit pointed at (tapped on the phone)
    for page, name in ((desk, "learn-diagram.png"), (phone, "learn-diagram-phone.png")):
        page.goto(f"{url}/?{me}")
        page.locator(CANVAS_READY).wait_for(state="attached")
        draw_stroke(page, FOUR if page is desk else [(x * 0.9, y * 0.9) for x, y in FOUR])
        diagram = page.locator("[data-testid=stHtml] .nd")
        diagram.wait_for()
        settled(page)
        unit = diagram.locator(".u").nth(13)  # a second-layer unit
        unit.scroll_into_view_if_needed()
        if page is desk:
            page.get_by_text("Inside the network").scroll_into_view_if_needed()
            unit.hover()
        else:
            unit.tap()
        page.wait_for_timeout(400)
        shoot(page, name)

    # "Not a digit", and why ten outputs still name one
    for page, name in ((desk, "learn-not-a-digit.png"), (phone, "learn-not-a-digit-phone.png")):
        page.goto(f"{url}/?{me}")
        page.locator(CANVAS_READY).wait_for(state="attached")
        draw_stroke(page, STAR if page is desk else [(x * 0.9, y * 0.9) for x, y in STAR])
        why = page.get_by_text("Why it still names a digit")
        why.wait_for()
        settled(page)
        if page is phone:
            why.scroll_into_view_if_needed()
        page.wait_for_timeout(1000)  # the chart's transition
        shoot(page, name)
    desk.close()
    phone.close()


def shoot(page, name: str) -> None:
    """A screenshot in docs/, in 256 colours (a third of the bytes; text and pictures stay sharp)."""
    page.screenshot(path=DOCS / name)
    Image.open(DOCS / name).convert("RGB").quantize(256, dither=Image.Dither.NONE).save(DOCS / name, optimize=True)


def settled(page) -> None:
    page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for()


if __name__ == "__main__":
    main()
