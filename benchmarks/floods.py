"""What one visitor's script on the app's websocket costs an honest visitor drawing beside it.

    python benchmarks/floods.py [--frames 3000] [--seconds 30] [--sessions 300] [--code DIR]

One app server (`streamlit run streamlit_app.py`, as `app_server` starts it). An honest
websocket session (benchmarks/ws_session.py) draws a digit every 0.5 s, from its own address,
while each attack runs; then its median and worst stroke-to-prediction time, and the growth of
the server's process tree's PSS (its peak during the attack, and 10 s after the attack ended):

- a rerun flood: one session sends `--frames` canvas frames without waiting for the page (for
  `--seconds` at most: a server that reads slowly makes the client wait), small ones (a drawn
  digit, 2 KB) and then large ones (a 280x280 PNG of noise, 420 KB); how many runs of the page
  the server started for them;
- many sessions: `--sessions` sessions from one address (X-Forwarded-For, which the server
  trusts from localhost), opened 20 at a time, each drawing once and staying open; how many
  the server let in.

`--code DIR` serves another checkout of this project (an older commit: the figures before).
Other work on the machine shares its cores: compare runs made one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.app_server import app_server  # noqa: E402
from benchmarks.memory import pss_mb  # noqa: E402
from benchmarks.ws_session import AppError, DrawSession, digit_png  # noqa: E402

HONEST, ATTACKER = "10.1.0.1", "10.2.0.2"


def noise_png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (280, 280, 4), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


async def beside(honest: DrawSession, attack: asyncio.Task, pid: int) -> tuple[list[float], float]:
    """The honest session's strokes while `attack` runs (three at least), and the peak PSS."""
    latencies, peak, rng = [], pss_mb(pid), random.Random(7)
    while not attack.done() or len(latencies) < 3:
        try:
            latencies.append(await honest.draw(digit_png(rng), timeout=120))
        except AppError:
            latencies.append(float("inf"))
        peak = max(peak, pss_mb(pid))
        await asyncio.sleep(0.5)
    return latencies, peak


def report(what: str, latencies: list[float], before: float, peak: float, after: float, detail: str) -> None:
    print(f"  {what:34s} strokes p50 {statistics.median(latencies):6.2f} s, max {max(latencies):6.2f} s "
          f"(n={len(latencies)}); PSS +{peak - before:4.0f} MB at peak, +{after - before:4.0f} MB 10 s after; "
          f"{detail}", flush=True)


async def rerun_flood(url: str, pid: int, honest: DrawSession, frames: list[str], n: int, seconds: float,
                      what: str) -> None:
    flooder = await DrawSession.open(url, address=ATTACKER)
    counting = asyncio.create_task(flooder.runs_until_quiet(quiet=3600, timeout=3600))
    sent, problem = [0], [""]

    async def flood() -> None:
        end = time.perf_counter() + seconds
        try:
            while sent[0] < n and time.perf_counter() < end:
                await flooder.flood([frames[sent[0] % len(frames)]])
                sent[0] += 1
        except Exception as e:  # the connection ended
            problem[0] = f" (the flooder's connection: {str(e)[:50]})"

    before = pss_mb(pid)
    start = time.perf_counter()
    latencies, peak = await beside(honest, asyncio.create_task(flood()), pid)
    took = time.perf_counter() - start
    counting.cancel()
    await flooder.close()
    await asyncio.sleep(10)
    report(what, latencies, before, peak, pss_mb(pid),
           f"{sent[0]} frames sent in {took:.0f} s, {flooder.runs_started} runs started for them{problem[0]}")


async def many_sessions(url: str, pid: int, honest: DrawSession, n: int) -> None:
    opened: list[DrawSession] = []
    refused = [0]

    async def one(i: int) -> None:
        try:
            session = await DrawSession.open(url, address=ATTACKER, timeout=120)
            opened.append(session)
            await session.draw(digit_png(random.Random(i)), timeout=120)
        except Exception:  # a handshake refused (HTTP 403), or no answer
            refused[0] += 1

    async def attack() -> None:
        for start in range(0, n, 20):
            await asyncio.gather(*(one(i) for i in range(start, min(n, start + 20))))

    before = pss_mb(pid)
    latencies, peak = await beside(honest, asyncio.create_task(attack()), pid)
    for session in opened:
        with contextlib.suppress(Exception):
            await session.close()
    await asyncio.sleep(10)
    report(f"{n} sessions from one address", latencies, before, peak, pss_mb(pid),
           f"{len(opened)} let in, {refused[0]} refused")


async def attacks(url: str, pid: int, frames: int, seconds: float, sessions: int) -> None:
    honest = await DrawSession.open(url, address=HONEST)
    await honest.draw(digit_png(random.Random(0)))
    rng = random.Random(1)
    small = ["data:image/png;base64," + base64.b64encode(digit_png(rng)).decode() for _ in range(20)]
    large = ["data:image/png;base64," + base64.b64encode(noise_png(i)).decode() for i in range(20)]
    await rerun_flood(url, pid, honest, small, frames, seconds, "rerun flood, small frames")
    await rerun_flood(url, pid, honest, large, frames, seconds, "rerun flood, large frames")
    await many_sessions(url, pid, honest, sessions)
    await honest.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to serve")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data, app_server(Path(data), root=args.code.resolve()) as (url, proc, _):
        print(f"the app's server ({args.code.resolve()}):")
        asyncio.run(attacks(url, proc.pid, args.frames, args.seconds, args.sessions))


if __name__ == "__main__":
    main()
