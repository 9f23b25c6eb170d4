"""The README's screenshots, taken in headless Chromium from a freshly started app.

    python benchmarks/screenshots.py        # docs/draw.png, train.png, train_live.png, runs.png, drawings.png,
                                            # phone.png, phone_train.png (the live view on a phone)
"""

import re
import sys
import tempfile
from pathlib import Path

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


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        with app_server(Path(tmp) / "data") as (url, _, _):
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
        browser.close()
    print("wrote", ", ".join(str(p.relative_to(ROOT)) for p in sorted(DOCS.glob("*.png"))))


if __name__ == "__main__":
    main()
