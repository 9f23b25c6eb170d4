"""What the Draw page's network diagram adds to a stroke: the core's diagram, its HTML, and the
whole rerun with the diagram shown and hidden, side by side.

    python benchmarks/diagram_speed.py [--strokes 40]

First, in this process, on 200 of MNIST's test digits (28x28, as preprocessing gives them): the
reading the page makes (classifier.judge: seven views, calibrated, "not a digit"), the diagram's
numbers (reading.diagram), and its HTML (app_pages.diagram, with its pictures), medians, for the
shipped 1024-1024 model and the book's; the HTML's size. Then a real app server and a browser's
websocket session (benchmarks/ws_session.py): strokes alternately with "Inside the network" on
and off, each timed to the end of its rerun; medians side by side and their ratio.
"""

import argparse
import asyncio
import base64
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app_pages.diagram import diagram_html  # noqa: E402
from benchmarks.app_server import app_server  # noqa: E402
from benchmarks.ws_session import DrawSession, digit_png  # noqa: E402
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.reading.classifier import SEED_MODEL, load_classifier  # noqa: E402
from mnist_core.reading.diagram import diagram  # noqa: E402


def median_ms(work, items) -> float:
    times = []
    for item in items:
        t0 = time.perf_counter()
        work(item)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def in_process() -> None:
    digits = load_mnist().x_test[:200].astype(np.float32) / 255.0
    for name, clf in (("shipped 1024-1024", load_classifier()), ("the book's 784-10", load_classifier(SEED_MODEL))):
        drawings = [(x, clf.judge(x).probabilities[0]) for x in digits]
        reading = median_ms(clf.judge, digits)
        core = median_ms(lambda xp, net=clf.net: diagram(net, *xp), drawings)
        page = median_ms(lambda xp, net=clf.net: diagram_html(diagram(net, *xp)), drawings)
        size = statistics.median(len(diagram_html(diagram(clf.net, *xp))) for xp in drawings)
        print(f"{name}: the reading {reading:.2f} ms; the diagram {core:.2f} ms, with its HTML {page:.2f} ms "
              f"({size / 1000:.0f} KB)")


async def strokes(url: str, n: int) -> tuple[list[float], list[float]]:
    """`n` strokes, the diagram shown for every other one: each one's seconds to the end of its rerun."""
    session = await DrawSession.open(url)
    rng = random.Random(0)
    await session.draw(digit_png(rng))  # the first reading: its toggles appear
    shown, hidden = [], []
    for i in range(n):
        session.set_toggle("draw_inside", i % 2 == 0)
        seconds = await session.send_canvas("data:image/png;base64," + base64.b64encode(digit_png(rng)).decode(),
                                            want="")
        (shown if i % 2 == 0 else hidden).append(seconds)
    await session.close()
    return shown, hidden


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=40)
    args = parser.parse_args()
    in_process()
    with tempfile.TemporaryDirectory() as tmp, app_server(Path(tmp) / "data") as (url, _, _):
        shown, hidden = asyncio.run(strokes(url, args.strokes))
    on, off = statistics.median(shown), statistics.median(hidden)
    print(f"a stroke's rerun, server side (median of {len(shown)} each): with the diagram {1000 * on:.0f} ms, "
          f"without {1000 * off:.0f} ms; ratio {on / off:.2f}")


if __name__ == "__main__":
    main()
