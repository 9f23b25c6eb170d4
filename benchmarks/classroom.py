"""A class on one server: many visitors draw while some of them queue the book's fit.

    python benchmarks/classroom.py [--visitors 30] [--trainers 10] [--drawings 10] [--epochs 200]
    python benchmarks/classroom.py --trainers 30 --drawings 0 --spread 10     # thirty press Start within 10 s
    python benchmarks/classroom.py --trainers 10 --drawings 0 --spread 10 --preset hidden

One app server, started as `streamlit run` is (localhost only). Every visitor is a websocket
session that speaks Streamlit's protocol as the browser does (benchmarks/ws_session.py), each
with a private link of its own. The first `--trainers` of them go to the Train page and press
Start (the form's defaults: the seed's fit) at the same time; then everyone draws `--drawings`
digits about a second apart. The script waits for the line to empty (bounded), then checks:
zero errors, every job done (none stopped by someone else), one run per trainer, owned by them.
It reports stroke-to-prediction latency (goal: p95 at most 1 s), the peak proportional
memory (PSS) of the server's whole process tree, training children included, sampled every
0.2 s, and the trainers' jobs on the database's clock: the last run saved after the first press
(goal: 3 minutes for thirty seed fits pressed within 10 s), each job's wait, and the time from
each job's start to its first epoch (goal: 2 s). `--root` serves another checkout's app (a
baseline, side by side). Exit status 1 when any check fails.

With --attack, one more session plays the student who tries to take the server down while the
class draws: canvas frames of 9 and 81 megapixels over the websocket, ten fresh identities each
pressing Start (the line's limits hold), and HTTP floods (60 concurrent 5,000-image .npy batches,
a multipart of 64 PNGs of 40 megapixels); what it was told is counted, not as the class's errors.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.app_server import app_server  # noqa: E402
from benchmarks.memory import pss_mb  # noqa: E402
from benchmarks.ws_session import AppError, DrawSession, digit_png  # noqa: E402
from mnist_core.jobs.line import JobQueue, Status  # noqa: E402
from mnist_core.owners import Keys  # noqa: E402
from mnist_core.store.database import Database  # noqa: E402
from mnist_core.store.runs import RunStore  # noqa: E402


async def visitor(url: str, i: int, trains: bool, drawings: int, pause: float, latencies: list[float],
                  errors: list[str], trainer_links: list[str], spread: float = 0.0, preset: str = "seed",
                  database: str = "", distinct: bool = False) -> None:
    rng = random.Random(i)
    try:
        session = await DrawSession.open(url)  # the server gives each a private link of its own
        if trains:
            trainer_links.append(session.link)
            await asyncio.sleep(rng.uniform(0, spread))
            if preset == "seed" and not distinct:  # the form's defaults: Start on the page
                await session.start_training()
            else:  # the same job through the line the page uses, then the Train page (which wakes the runner)
                await asyncio.to_thread(submit, database, session.link, preset, i if distinct else None)
                await session.visit("train")
                await session.visit("")
        for _ in range(drawings):
            await asyncio.sleep(pause * rng.uniform(0.5, 1.5))
            latencies.append(await session.draw(digit_png(rng)))
        await session.close()
    except AppError as e:
        errors.append(f"visitor {i}: {e}")


async def attacker(url: str, told: dict[str, int]) -> None:
    """The student who tries: what each attempt was answered, counted in `told`."""
    import io

    import numpy as np
    import requests
    from PIL import Image

    def count(what: str) -> None:
        told[what] = told.get(what, 0) + 1

    def png(image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        return buffer.getvalue()

    session = await DrawSession.open(url)
    for side in (3000, 9000):  # 9 and 81 megapixels, as the canvas's widget value
        try:
            await session.send_canvas("data:image/png;base64," + base64.b64encode(png(Image.new("1", (side, side))))
                                      .decode())
            count("a huge canvas frame read")
        except AppError as e:
            count("a huge canvas frame refused" if "the canvas sent" in str(e) else f"canvas: {e}")
    await session.close()
    for _ in range(10):  # ten private windows, each a new identity, each pressing Start
        window = await DrawSession.open(url)
        try:
            await window.start_training()
            count("a window's job queued")
        except AppError as e:
            count("a window's job refused" if "limit" in str(e) or "line is full" in str(e) else f"start: {e}")
        await window.close()
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((5000, 28, 28), np.uint8))

    def flood() -> None:
        from concurrent.futures import ThreadPoolExecutor

        def post(_: int) -> int:
            return requests.post(f"{url}/predict", data=buffer.getvalue(), timeout=120,
                                 headers={"content-type": "application/x-npy"}).status_code

        with ThreadPoolExecutor(60) as pool:
            for status in pool.map(post, range(60)):
                count(f"HTTP batch {status}")
        huge = png(Image.new("1", (6400, 6250)))
        answer = requests.post(f"{url}/predict", files=[("file", huge)] * 64, timeout=120)
        count(f"HTTP 64 huge PNGs {answer.status_code}")

    await asyncio.to_thread(flood)


def submit(database: str, link: str, preset: str, seed: int | None) -> None:
    """`preset`'s job (with its own random `seed` when given) put in the line for the visitor
    whose private link is `link`."""
    from mnist_core.config import PRESETS
    from mnist_core.owners import Actor
    from mnist_core.training.budget import Budget

    db = Database.open(database)
    config = PRESETS[preset] if seed is None else PRESETS[preset].replace(seed=seed)
    JobQueue(db).submit(config, preset, Actor(Keys.of(db).owner_of(link)), Budget())


def timings(jobs: list) -> str:
    """The class's jobs, on the database's clock: the last run saved after the first press, each
    job's wait, and each one's first epoch after its start (as its heartbeat said)."""
    if not jobs or any(j.finished is None or j.started is None for j in jobs):
        return "timings: some jobs never ended"
    first = [j.progress.get("first") for j in jobs if j.progress.get("first") is not None]
    waits = [j.started - j.created for j in jobs]
    trainings = len({(j.server, j.started) for j in jobs})
    line = (f"last run saved {max(j.finished for j in jobs) - min(j.created for j in jobs):.1f} s after the first "
            f"press; {trainings} trainings for {len(jobs)} jobs; wait median {percentile(waits, 0.5):.1f} s, "
            f"max {max(waits):.1f} s")
    if first:
        line += f"; first epoch after its start: median {percentile(first, 0.5):.2f} s, max {max(first):.2f} s"
    return line


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=30)
    parser.add_argument("--trainers", type=int, default=10)
    parser.add_argument("--drawings", type=int, default=10)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between a visitor's drawings")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the line to empty")
    parser.add_argument("--attack", action="store_true", help="one more session tries to take the server down")
    parser.add_argument("--spread", type=float, default=0.0,
                        help="the trainers press Start at random moments within this many seconds")
    parser.add_argument("--preset", default="seed", help="what the trainers train (seed: the page's Start button; "
                                                         "another preset goes in through the line)")
    parser.add_argument("--distinct", action="store_true", help="each trainer with a random seed of their own "
                                                                 "(nothing trains together)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose app is served (a baseline)")
    parser.add_argument("--slots", type=int, help="trainings at once on the server (`[training] slots`; default: "
                                                   "the app's)")
    args = parser.parse_args()
    attacks: dict[str, int] = {}
    latencies: list[float] = []
    errors: list[str] = []
    trainer_links: list[str] = []
    shared = {"budget": {"shared": True}} if args.attack else {}  # the line's limits of a shared server
    if args.slots:
        shared["training"] = {"slots": args.slots}
    with tempfile.TemporaryDirectory() as tmp, \
            app_server(Path(tmp), secrets=shared or None, root=args.root) as (url, server, _):
        peak, done = [pss_mb(server.pid)], threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                peak[0] = max(peak[0], pss_mb(server.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()

        async def everyone() -> None:
            await asyncio.gather(*(visitor(url, i, i < args.trainers, args.drawings, args.pause, latencies, errors,
                                           trainer_links, args.spread, args.preset, f"sqlite:///{tmp}/mnist.db",
                                           args.distinct)
                                   for i in range(args.visitors)),
                                 *([attacker(url, attacks)] if args.attack else []))

        asyncio.run(everyone())
        drawn_s = time.perf_counter() - start
        db = Database.open(f"sqlite:///{tmp}/mnist.db")
        queue = JobQueue(db)
        deadline = time.perf_counter() + args.timeout
        while queue.line() and time.perf_counter() < deadline:
            time.sleep(1)
        all_s = time.perf_counter() - start
        done.set()
        sampler.join()
        trainers = {Keys.of(db).owner_of(link) for link in trainer_links}
        jobs = [j for owner in sorted(trainers) for j in queue.of(owner, limit=10)]
        runs = RunStore(db).list()
    print(f"{args.visitors} visitors x {args.drawings} drawings, {args.trainers} of them queue the {args.preset} fit"
          + (" (each with its own random seed)" if args.distinct else "")
          + (f" within {args.spread:.0f} s" if args.spread else "") + f"; the app of {args.root}")
    print(timings(jobs))
    print(f"predictions: {len(latencies)}, errors: {len(errors)}; latency median {percentile(latencies, 0.5):.2f} s, "
          f"p95 {percentile(latencies, 0.95):.2f} s, max {max(latencies, default=float('nan')):.2f} s "
          f"(drawing phase {drawn_s:.0f} s)")
    statuses = sorted(str(j.status) for j in jobs)
    print(f"jobs: {len(jobs)} ({', '.join(statuses)}); line empty after {all_s:.0f} s; runs saved: {len(runs)}, "
          f"owned by their starters: {sum(r.owner in trainers for r in runs)}")
    print(f"peak PSS of the server's process tree: {peak[0]:.0f} MB")
    if args.attack:
        print("the attacker was answered: " + ", ".join(f"{k}: {v}" for k, v in sorted(attacks.items())))
    for e in errors[:10]:
        print("  error:", e)
    theirs = [r for r in runs if r.owner in trainers]  # the attacker's windows may have a job or two of their own
    ok = (not errors and len(latencies) == args.visitors * args.drawings and len(jobs) == args.trainers
          and all(j.status == Status.DONE for j in jobs) and len(theirs) == args.trainers
          and len(runs) - len(theirs) == attacks.get("a window's job queued", 0))
    print("all checks passed" if ok else "CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
