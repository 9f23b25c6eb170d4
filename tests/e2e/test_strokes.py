"""Every stroke lands, wherever it starts on the canvas: a grid of start points over the whole
canvas (corners and edges 5 px in) and the top band where a 5's flag or a 7's bar starts, with the
mouse and with a finger, on a desktop and on a phone. Each stroke must leave ink where it started
and bring a reading (the Prediction metric); the page's Clear button wipes it before the next.
The component's toolbar used to take every press in the canvas's top-right band
(app_pages/canvas.py says why): it must still work, from above the canvas.

The four (device, pointer) pairs are four visitors drawing side by side, one stroke each per
round: the app reads their strokes concurrently (a third less time than one pair after another)."""

from __future__ import annotations

import math

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from benchmarks.app_server import CANVAS, CANVAS_READY

pytestmark = pytest.mark.browser

DEVICES = {
    "desktop": {"viewport": {"width": 1280, "height": 1000}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "device_scale_factor": 3},
}
POINTERS = ["mouse", "touch"]
SIZE = 280  # px: the Draw page's canvas is SIZE x SIZE
EDGE = 5  # px in from the canvas's border
BAND = 28  # px from the top: where the issue saw strokes lost (10% of 280)
STROKE = 70  # px, from the start point towards the centre: long enough not to be read as a dot

# The page's state in one look (each Playwright call is a round trip): how many drawing canvases
# there are (the old one lingers a moment after Clear); whether the canvas is ready for strokes;
# its ink (red channel, 0-255) at canvas pixel (x, y), or the brightest anywhere when x is null;
# whether the page shows a reading. Ready: the component builds its toolbar first and sets its
# pen only once it has loaded the initial drawing, which also paints the opaque black background
# (a stroke before that is a selection drag: no ink), so both must be there.
STATE = """([x, y]) => {
  const canvases = [...document.querySelectorAll('[data-testid=stBidiComponentIsolated]')]
    .map(host => host.shadowRoot && host.shadowRoot.querySelector('canvas.dc-canvas.lower-canvas'))
    .filter(Boolean);
  const c = canvases[0];
  let ink = 0, ready = false;
  if (c) {
    const scale = c.width / c.getBoundingClientRect().width, g = c.getContext('2d');
    const d = x === null ? g.getImageData(0, 0, c.width, c.height).data
                         : g.getImageData(Math.round(x * scale), Math.round(y * scale), 1, 1).data;
    for (let i = 0; i < d.length; i += 4) ink = Math.max(ink, d[i]);
    ready = !!c.getRootNode().querySelector('.dc-toolbar') && g.getImageData(0, 0, 1, 1).data[3] === 255;
  }
  const box = c && c.getBoundingClientRect();
  const reading = [...document.querySelectorAll('[data-testid=stMetric]')]
    .some(m => m.innerText.includes('Prediction'));
  return {canvases: canvases.length, ready, ink, reading, box: box && {x: box.x, y: box.y}};
}"""
# one blank canvas, ready, and no reading: its place on screen; else false
BLANK_AND_READY = f"""() => {{ const s = ({STATE})([null, null]);
  return s.canvases === 1 && s.ready && !s.ink && !s.reading && s.box; }}"""
INKED_AT = f"p => ({STATE})(p).ink > 128"
INKED_AND_READ = f"p => {{ const s = ({STATE})(p); return s.ink > 128 && s.reading; }}"


def start_points() -> list[tuple[float, float]]:
    """A 5 x 5 grid from EDGE px in to EDGE px in (corners, edges, quarters, the centre), then
    the two points of the top band where the issue saw strokes lost."""
    steps = [EDGE + (SIZE - 2 * EDGE) * i / 4 for i in range(5)]  # 5, 72.5, 140, 207.5, 275
    return [(x, y) for y in steps for x in steps] + [(SIZE / 2, BAND), (0.8 * SIZE, BAND)]


def stroke_from(x: float, y: float) -> list[tuple[float, float]]:
    """A straight stroke of STROKE px from (x, y) towards the centre (downwards from the centre)."""
    dx, dy = SIZE / 2 - x, SIZE / 2 - y
    length = math.hypot(dx, dy)
    dx, dy = (dx / length, dy / length) if length > 1 else (0.0, 1.0)
    return [(x + dx * STROKE * i / 2, y + dy * STROKE * i / 2) for i in range(3)]


class Visitor:
    """One browser context on the Draw page, drawing with the mouse or a finger."""

    def __init__(self, browser, app_url: str, device: str, pointer: str):
        self.name = f"{device}, {pointer}"
        self.context = browser.new_context(**DEVICES[device], has_touch=pointer == "touch")
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.cdp = self.context.new_cdp_session(self.page) if pointer == "touch" else None
        self.lost: list[tuple[int, int, str]] = []
        self.page.goto(app_url)
        self.page.locator(CANVAS_READY).wait_for(state="attached")
        self.page.locator(CANVAS).scroll_into_view_if_needed()  # it stays there: the reading above has a fixed height

    def draw_from(self, x: float, y: float) -> None:
        """Wait for a blank canvas and no reading, then draw one stroke from canvas pixel (x, y)."""
        box = self.page.wait_for_function(BLANK_AND_READY).json_value()  # where it is now, on screen
        at = [(box["x"] + px, box["y"] + py) for px, py in stroke_from(x, y)]
        if self.cdp is None:
            self.page.mouse.move(*at[0])
            self.page.mouse.down()
            for px, py in at[1:]:
                self.page.mouse.move(px, py)
            self.page.mouse.up()
            return
        for kind, (px, py) in [("touchStart", at[0])] + [("touchMove", p) for p in at[1:]]:
            self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": px, "y": py}]})
        self.cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    def check_and_clear(self, x: float, y: float) -> None:
        """Ink where the stroke started, then a reading, else note which is missing; then Clear."""
        try:
            self.page.wait_for_function(INKED_AT, arg=[x, y], timeout=5_000)
        except PlaywrightTimeout:
            self.lost.append((round(x), round(y), "no ink"))
            state = self.page.evaluate(STATE, [None, None])
            if not (state["ink"] or state["reading"]):
                return  # nothing drawn, nothing to clear
        else:
            try:
                self.page.wait_for_function(INKED_AND_READ, arg=[x, y])
            except PlaywrightTimeout:
                self.lost.append((round(x), round(y), "no reading"))
        self.page.get_by_role("button", name="Clear").click()


def test_a_stroke_lands_wherever_it_starts(browser, app_url):
    visitors = []
    try:
        for device in DEVICES:
            for pointer in POINTERS:
                visitors.append(Visitor(browser, app_url, device, pointer))
        for x, y in start_points():
            for visitor in visitors:
                visitor.draw_from(x, y)
            for visitor in visitors:
                visitor.check_and_clear(x, y)
        lost = {v.name: v.lost for v in visitors if v.lost}
        assert not lost, f"strokes lost, at canvas px from its top left: {lost}"
    finally:
        for visitor in visitors:
            visitor.context.close()


def test_the_toolbar_still_works_from_above_the_canvas(browser, app_url):
    """Shown above the canvas once the mouse is over it, the toolbar's Undo takes a stroke back."""
    visitor = Visitor(browser, app_url, "desktop", "mouse")
    try:
        visitor.draw_from(SIZE / 2, SIZE / 4)
        visitor.page.wait_for_function(INKED_AND_READ, arg=[SIZE / 2, SIZE / 4])
        canvas = visitor.page.locator(CANVAS).bounding_box()
        visitor.page.mouse.move(canvas["x"] + SIZE / 2, canvas["y"] + SIZE / 2)
        undo = visitor.page.locator("[data-testid=stBidiComponentIsolated] button[title=Undo]")
        button = undo.bounding_box()
        assert button["y"] + button["height"] <= canvas["y"], (button, canvas)
        undo.click()
        visitor.page.wait_for_function(BLANK_AND_READY)  # the ink gone, and the app told: no reading
    finally:
        visitor.context.close()
