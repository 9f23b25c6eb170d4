"""Many users at once, then a long session: errors, prediction latency, server memory.

    python benchmarks/load_test.py                       # 20 sessions x 5 drawings, 10-minute soak
    python benchmarks/load_test.py --sessions 4 --drawings 2 --soak-seconds 20   # the short mode

Everything runs on localhost: one app server, one headless Chromium with a page per session.
1. Load: a training job is started from the Train page, then every session draws digits on the
   real canvas at the same time (clear, stroke, wait for the prediction). Latency is from the
   mouse-up to the Prediction metric on screen, as a person would see it.
2. Soak: one session draws and clears in a loop; the server's resident memory is sampled at
   the start and the end.
Errors are any exception shown by the app, any page error, any wait that times out.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
import random
import sys
import tempfile
import time
from pathlib import Path

from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_server import CANVAS, CANVAS_READY, CHROMIUM_FLAGS, app_server, chromium, rss_mb  # noqa: E402

PREDICTION = "[data-testid=stMetric]:has-text('Prediction')"
INKED_CANVAS = "[data-testid=stBidiComponentIsolated] canvas.dc-canvas.lower-canvas"  # where strokes are drawn
INK_PIXELS = """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 128) n++; return n; }"""
redraws: list[int] = []  # drags the test browser did not register, drawn again
STROKES = {  # canvas pixels: a "1" and a "7"
    "1": [(140, 40), (142, 140), (144, 240)],
    "7": [(50, 60), (220, 60), (160, 150), (110, 250)],
}


async def draw(page, points) -> None:
    await page.locator(CANVAS_READY).wait_for(state="attached", timeout=120_000)
    box = await page.locator(CANVAS).bounding_box()
    await page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    await page.mouse.down()
    for x, y in points[1:]:
        await page.mouse.move(box["x"] + x, box["y"] + y, steps=5)
    await page.mouse.up()


async def one_drawing(page, latencies: list[float], errors: list[str], timeout_ms: int) -> None:
    """Clear, draw a random digit, wait for its prediction; record the latency or the error.

    An error is a stroke on the canvas that gets no prediction, an exception on the page, or a
    page error; a drag that never reached the canvas (the test browser's 20 pages share the
    server's 2 cores) is drawn again, as a person would, and counted apart as a redraw."""
    step = "clearing"
    try:
        if await page.locator(PREDICTION).count():  # clear the last digit: a new canvas replaces the old
            old = await page.locator(CANVAS).element_handle()
            await page.get_by_role("button", name="Clear").click()
            await page.wait_for_function("canvas => !canvas.isConnected", arg=old, timeout=timeout_ms)
            await page.locator(CANVAS).wait_for(timeout=timeout_ms)
        step = "drawing"
        for _ in range(3):  # a drag the busy test browser did not register is drawn again
            await draw(page, STROKES[random.choice("17")])
            if await page.locator(INKED_CANVAS).first.evaluate(INK_PIXELS) > 0:
                break
            redraws.append(1)
        else:
            raise RuntimeError("the browser registered none of 3 strokes")
        start = time.perf_counter()
        step = "waiting for the prediction of a stroke on the canvas"
        await page.locator(PREDICTION).wait_for(timeout=timeout_ms)
        latencies.append(time.perf_counter() - start)
        if await page.locator("[data-testid=stException]").count():
            errors.append("the page shows an exception")
    except Exception as e:  # a timeout or a closed page: counted, the others go on
        errors.append(f"{step}: {e.__class__.__name__}: {str(e).splitlines()[0][:100]}")
        await page.screenshot(path=f"/tmp/load-error-{len(errors)}.png")


async def session(browser, url: str, drawings: int, latencies, errors, timeout_ms: int) -> None:
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    try:
        await page.goto(url, timeout=timeout_ms)
        await page.locator(CANVAS).wait_for(timeout=timeout_ms)
        for _ in range(drawings):
            await one_drawing(page, latencies, errors, timeout_ms)
    except Exception as e:
        errors.append(f"{e.__class__.__name__}: {str(e).splitlines()[0][:120]}")
    finally:
        await context.close()


async def start_training(browser, url: str, epochs: int) -> None:
    page = await browser.new_page()
    await page.goto(f"{url}/train")
    await page.get_by_label("Epochs").fill(str(epochs))
    await page.get_by_label("Epochs").press("Tab")
    await page.get_by_role("button", name="Start training").click()
    await page.get_by_text("Epoch ").first.wait_for(timeout=120_000)
    await page.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


async def run(args: argparse.Namespace) -> int:
    random.seed(0)
    with tempfile.TemporaryDirectory() as tmp, app_server(Path(tmp) / "runs") as (url, server, _):
        async with async_playwright() as p:
            # every session is a page of one browser: without these, Chromium throttles the timers
            # and rendering of pages in the background, which real users' own browsers do not
            foreground = ["--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                          "--disable-backgrounding-occluded-windows"]
            browser = await p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS + foreground)
            warm = await browser.new_page()  # load TensorFlow and the model once, as the first visitor does
            await warm.goto(url)
            await warm.locator(CANVAS).wait_for(timeout=60_000)
            await draw(warm, STROKES["1"])
            await warm.locator(PREDICTION).wait_for(timeout=60_000)
            await warm.close()
            await start_training(browser, url, args.train_epochs)

            latencies: list[float] = []
            errors: list[str] = []
            start = time.perf_counter()
            await asyncio.gather(*(session(browser, url, args.drawings, latencies, errors, args.timeout * 1000)
                                   for _ in range(args.sessions)))
            took = time.perf_counter() - start
            print(f"load: {args.sessions} sessions x {args.drawings} drawings during a training run, {took:.0f} s: "
                  f"{len(latencies)} predictions, {len(errors)} errors, {len(redraws)} strokes redrawn; latency median "
                  f"{percentile(latencies, 0.5):.2f} s, p95 {percentile(latencies, 0.95):.2f} s")
            for kind, count in Counter(e.split(":")[0] for e in errors).most_common():
                print(f"  {count} x {kind}")

            soak_errors: list[str] = []
            if args.soak_seconds:
                context = await browser.new_context()
                page = await context.new_page()
                page.on("pageerror", lambda e: soak_errors.append(f"page error: {e}"))
                await page.goto(url)
                await page.locator(CANVAS).wait_for(timeout=60_000)
                soak_latencies: list[float] = []
                for _ in range(3):  # settle caches before the first reading
                    await one_drawing(page, soak_latencies, soak_errors, args.timeout * 1000)
                first = rss_mb(server.pid)
                end = time.perf_counter() + args.soak_seconds
                while time.perf_counter() < end:
                    await one_drawing(page, soak_latencies, soak_errors, args.timeout * 1000)
                last = rss_mb(server.pid)
                print(f"soak: {len(soak_latencies)} predictions in {args.soak_seconds:.0f} s, {len(soak_errors)} errors; "
                      f"server memory {first:.0f} MB at the start, {last:.0f} MB at the end ({last - first:+.0f} MB); "
                      f"latency median {percentile(soak_latencies, 0.5):.2f} s")
                await context.close()
            await browser.close()
    return 1 if errors or soak_errors else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--drawings", type=int, default=5, help="drawings per session")
    parser.add_argument("--train-epochs", type=int, default=100, help="the training run going on meanwhile")
    parser.add_argument("--soak-seconds", type=float, default=600)
    parser.add_argument("--timeout", type=float, default=120, help="seconds before a wait counts as an error")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
