"""What a visitor's uploaded model costs the server: upload it on the Draw page, draw strokes.

    python benchmarks/model_upload.py [--strokes 10] [--units 2048] [--layers 8]

For each file, a fresh app server (started as `streamlit run` is) and one websocket session
(benchmarks/ws_session.py) that uploads it from the sidebar, then draws `--strokes` digits one
after the other. The files: the seed's model (an honest 45 KB `.keras`), and the Reshape(-1) file
whose kernels are one hard-linked dataset (tests/bombs.keras_reshape_shared: `--layers` Dense
layers of `--units`, a few KB that a reader reads as hundreds of MB). Printed for each: the
loader processes the server started (an upload is opened in a process of its own), the PSS of
the server's whole process tree before the upload, at its peak (sampled every 20 ms) and after
the strokes, and the median stroke (to the Prediction, or to the page's one-line refusal).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.app_server import app_server  # noqa: E402
from benchmarks.memory import TreeWatch, pss_mb  # noqa: E402
from benchmarks.ws_session import AppError, DrawSession, digit_png  # noqa: E402
from mnist_core.reading.classifier import SEED_MODEL  # noqa: E402
from tests.bombs import keras_reshape_shared  # noqa: E402


async def upload_and_draw(url: str, pid: int, name: str, data: bytes, strokes: int) -> dict:
    session = await DrawSession.open(url)
    await session.draw(digit_png(random.Random(0)))  # the default model loaded: the server as a visitor finds it
    await asyncio.sleep(2)
    before = pss_mb(pid)
    times, refusal = [], ""
    with TreeWatch(pid, b"spawn_main") as watch:  # an upload is opened in a spawned process
        try:
            await session.upload_model(name, data)
        except AppError as e:
            refusal = str(e)
        for i in range(strokes):
            start = time.perf_counter()
            try:
                await session.draw(digit_png(random.Random(i)))
            except AppError as e:
                refusal = str(e)
            times.append(time.perf_counter() - start)
        await asyncio.sleep(1)
    after = pss_mb(pid)
    await session.close()
    return {"loaders": len(watch.seen), "before": before, "peak": watch.peak, "after": after,
            "median": statistics.median(times), "refusal": refusal}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=10)
    parser.add_argument("--units", type=int, default=2048)
    parser.add_argument("--layers", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bomb = keras_reshape_shared(Path(tmp) / "shared.keras", args.units, args.layers)
        files = {"seed.keras": SEED_MODEL.read_bytes(), "shared.keras": bomb.read_bytes()}
        for name, data in files.items():
            (Path(tmp) / name.split(".")[0]).mkdir()
            with app_server(Path(tmp) / name.split(".")[0]) as (url, process, _):
                r = asyncio.run(upload_and_draw(url, process.pid, name, data, args.strokes))
            page = f"; the page: {r['refusal']}" if r["refusal"] else ""
            print(f"{name} ({len(data) / 1e3:.1f} KB), {args.strokes} strokes: {r['loaders']} loader processes; "
                  f"PSS {r['before']:.0f} MB before, {r['peak']:.0f} MB at the peak, {r['after']:.0f} MB after; "
                  f"median stroke {r['median'] * 1000:.0f} ms{page}", flush=True)


if __name__ == "__main__":
    main()
