"""Many users at once, then a long session: errors, prediction latency, server memory.

    python benchmarks/load_test.py               # 20 sessions + 2 browsers x 10 drawings, 10-minute soak
    python benchmarks/load_test.py --sessions 20 --browsers 1 --drawings 2 --soak-seconds 10  # short mode

Everything runs on localhost against one app server started as `streamlit run` is.
1. Load: a training job is started from the Train page; then, at the same time, `--sessions`
   Draw-page sessions speak Streamlit's websocket protocol as the browser does
   (benchmarks/ws_session.py: a stroke is a canvas value holding a PNG of a drawn digit) and
   `--browsers` real Chromium pages draw with the mouse on the real canvas. Each draws
   `--drawings` digits, a second apart. Latency: from the stroke sent (the mouse-up, for the
   browsers) to the Prediction metric arriving (on screen, for the browsers).
2. Soak: one protocol session draws for `--soak-seconds`; the server's resident memory is
   read at the start and the end.
Errors: an exception or error shown by the app, a page error, a wait that times out, a dropped
connection. Twenty rendering browsers would measure the test machine, not the app: on this
machine's 2 cores they lost a third of their drags before the server saw them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_server import CANVAS, CANVAS_READY, CHROMIUM_FLAGS, app_server, chromium, rss_mb  # noqa: E402
from ws_session import STROKES, AppError, DrawSession, digit_png  # noqa: E402

PREDICTION = "[data-testid=stMetric]:has-text('Prediction')"
INKED_CANVAS = "[data-testid=stBidiComponentIsolated] canvas.dc-canvas.lower-canvas"  # where strokes are drawn
INKED = """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 0; i < d.length; i += 4) if (d[i] > 128) return true; return false; }"""


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    redraws: int = 0  # drags the test browser did not register, drawn again

    def summary(self, what: str) -> str:
        kinds = "; ".join(f"{n} x {k}" for k, n in Counter(e.split(":")[0] for e in self.errors).most_common())
        kinds = f" ({kinds})" if kinds else ""
        return (f"{what}: {len(self.latencies)} predictions, {len(self.errors)} errors{kinds}; "
                f"latency median {percentile(self.latencies, 0.5):.2f} s, p95 {percentile(self.latencies, 0.95):.2f} s")


async def protocol_session(url: str, drawings: int, pause: float, tally: Tally, rng: random.Random,
                           timeout: float) -> None:
    """A Draw-page session over the websocket: `drawings` digits, `pause` seconds apart."""
    try:
        session = await DrawSession.open(url, timeout)
    except (AppError, OSError) as e:
        tally.errors.append(f"opening the page: {e}")
        return
    try:
        for _ in range(drawings):
            await asyncio.sleep(pause * rng.uniform(0.5, 1.5))
            try:
                tally.latencies.append(await session.draw(digit_png(rng), timeout))
            except AppError as e:
                tally.errors.append(f"drawing: {e}")
    finally:
        await session.close()


async def draw(page, points) -> None:
    await page.locator(CANVAS_READY).wait_for(state="attached", timeout=120_000)
    box = await page.locator(CANVAS).bounding_box()
    await page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    await page.mouse.down()
    for x, y in points[1:]:
        await page.mouse.move(box["x"] + x, box["y"] + y, steps=5)
    await page.mouse.up()


async def one_drawing(page, tally: Tally, timeout_ms: int) -> None:
    """Clear, draw a random digit with the mouse, wait for its prediction; record the latency or
    the error. A drag that never reached the canvas is drawn again, as a person would."""
    step = "clearing"
    try:
        if await page.locator(PREDICTION).count():  # clear the last digit: a new canvas replaces the old
            old = await page.locator(CANVAS).element_handle()
            await page.get_by_role("button", name="Clear").click()
            await page.wait_for_function("canvas => !canvas.isConnected", arg=old, timeout=timeout_ms)
            await page.locator(CANVAS).wait_for(timeout=timeout_ms)
        step = "drawing"
        for _ in range(3):
            await draw(page, STROKES[random.choice("17")])
            if await inked(page):
                break
            tally.redraws += 1
        else:
            raise RuntimeError("the browser registered none of 3 strokes")
        start = time.perf_counter()
        step = "waiting for the prediction of a stroke on the canvas"
        await page.locator(PREDICTION).wait_for(timeout=timeout_ms)
        tally.latencies.append(time.perf_counter() - start)
        if await page.locator("[data-testid=stException]").count():
            tally.errors.append("the page shows an exception")
    except Exception as e:  # noqa: BLE001 -- a timeout or a closed page: counted, the others go on
        tally.errors.append(f"{step}: {e.__class__.__name__}: {str(e).splitlines()[0][:100]}")


async def inked(page, timeout_ms: int = 3000) -> bool:
    """Whether the stroke shows on the canvas within `timeout_ms` (the canvas paints its strokes
    on the next animation frame, which a busy browser delays)."""
    canvas = await page.locator(INKED_CANVAS).first.element_handle()
    try:
        await page.wait_for_function(INKED, arg=canvas, timeout=timeout_ms)
    except PlaywrightTimeout:
        return False
    return True


async def browser_session(browser, url: str, drawings: int, pause: float, tally: Tally, timeout: float) -> None:
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda e: tally.errors.append(f"page error: {e}"))
    try:
        await page.goto(url, timeout=timeout * 1000)
        await page.locator(CANVAS).wait_for(timeout=timeout * 1000)
        for _ in range(drawings):
            await asyncio.sleep(pause)
            await one_drawing(page, tally, int(timeout * 1000))
    except Exception as e:  # noqa: BLE001 -- counted; the other sessions go on
        tally.errors.append(f"{e.__class__.__name__}: {str(e).splitlines()[0][:120]}")
    finally:
        await context.close()


async def start_training(browser, url: str, epochs: int) -> None:
    page = await browser.new_page()
    await page.goto(f"{url}/train")
    await page.get_by_role("spinbutton", name="Epochs").fill(str(epochs))
    await page.get_by_role("spinbutton", name="Epochs").press("Tab")
    await page.get_by_role("button", name="Start training").click()
    await page.get_by_text(re.compile(r"^Epoch \d+ of \d+")).first.wait_for(timeout=120_000)  # training now
    await page.close()


def training_process_alive(server_pid: int) -> bool:
    """Whether the app's training job (a process spawned by the server) is running."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            ppid = next(line for line in status.read_text().splitlines() if line.startswith("PPid:"))
            cmdline = (status.parent / "cmdline").read_bytes()
        except (OSError, StopIteration):
            continue
        if int(ppid.split()[1]) == server_pid and b"spawn_main" in cmdline:
            return True
    return False


def jobs_now(data_dir: Path) -> str:
    """The line's jobs as the server's database has them: status and message (SQLite's file)."""
    with contextlib.closing(sqlite3.connect(data_dir / "mnist.db")) as db:
        return "; ".join(f"{status} {message!r}" for status, message in db.execute("SELECT status, message FROM jobs"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


@dataclass
class Results:
    protocol: Tally
    browsers: Tally
    soak: Tally
    seconds: float
    training_throughout: bool  # the training process was still running when the load ended
    jobs: str = ""  # the line's jobs then, as the database has them
    memory_mb: tuple[float, float] = (0.0, 0.0)  # the server's, at the soak's start and end

    @property
    def errors(self) -> int:
        return len(self.protocol.errors) + len(self.browsers.errors) + len(self.soak.errors)


async def run(args: argparse.Namespace) -> Results:
    random.seed(0)
    rng = random.Random(0)
    timeout = args.timeout
    with tempfile.TemporaryDirectory() as tmp, app_server(Path(tmp) / "data") as (url, server, _):
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
            first = await DrawSession.open(url, 60)  # the first visitor loads TensorFlow and the model
            await first.draw(digit_png(rng), 60)
            await first.close()
            await start_training(browser, url, args.train_epochs)

            protocol, browsers = Tally(), Tally()
            start = time.perf_counter()
            await asyncio.gather(
                *(protocol_session(url, args.drawings, args.pause, protocol, random.Random(i), timeout)
                  for i in range(args.sessions)),
                *(browser_session(browser, url, args.drawings, args.pause, browsers, timeout)
                  for _ in range(args.browsers)),
            )
            results = Results(protocol, browsers, Tally(), time.perf_counter() - start,
                              training_throughout=training_process_alive(server.pid), jobs=jobs_now(Path(tmp) / "data"))
            await browser.close()

        if args.soak_seconds:
            session = await DrawSession.open(url, timeout)
            for _ in range(20):  # settle caches before the first reading
                await session.draw(digit_png(rng), timeout)
            before = rss_mb(server.pid)
            end = time.perf_counter() + args.soak_seconds
            while time.perf_counter() < end:
                try:
                    results.soak.latencies.append(await session.draw(digit_png(rng), timeout))
                except AppError as e:
                    results.soak.errors.append(f"drawing: {e}")
            results.memory_mb = before, rss_mb(server.pid)
            await session.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20, help="Draw-page sessions over the websocket")
    parser.add_argument("--browsers", type=int, default=2, help="Chromium pages drawing with the mouse meanwhile")
    parser.add_argument("--drawings", type=int, default=10, help="drawings per session")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between a session's drawings")
    parser.add_argument("--train-epochs", type=int, default=2000,
                        help="the seed fit going on meanwhile (about 40 epochs a second)")
    parser.add_argument("--soak-seconds", type=float, default=600)
    parser.add_argument("--timeout", type=float, default=120, help="seconds before a wait counts as an error")
    args = parser.parse_args()
    r = asyncio.run(run(args))
    still = "still running at the end" if r.training_throughout else "which ended before the load did"
    print(f"load, {r.seconds:.0f} s, during a {args.train_epochs}-epoch training run ({still}):")
    if not r.training_throughout:
        print(f"  the line's jobs then: {r.jobs}")
    print("  " + r.protocol.summary(f"{args.sessions} websocket sessions x {args.drawings} drawings"))
    print("  " + r.browsers.summary(f"{args.browsers} browsers x {args.drawings} drawings") +
          f"; {r.browsers.redraws} drags redrawn")
    if args.soak_seconds:
        first, last = r.memory_mb
        print(r.soak.summary(f"soak, {args.soak_seconds:.0f} s, one session") +
              f"; server memory {first:.0f} MB at the start, {last:.0f} MB at the end ({last - first:+.0f} MB)")
    for error in (r.protocol.errors + r.browsers.errors + r.soak.errors)[:10]:
        print("  error:", error)
    sys.exit(1 if r.errors or not r.training_throughout else 0)


if __name__ == "__main__":
    main()
