"""The store with many runs and drawings: listing, the Draw page's per-stroke check, the
Drawings page, on SQLite and Postgres.

    python benchmarks/store_speed.py [--runs 1000] [--drawings 10000]

Fills a fresh database of each kind with N runs (each with the seed model's real files, 90 KB),
then times what the pages do: the per-stroke check of the Draw page (one `revision()` query;
the model list is rebuilt only when it changes), reading a run's record (`get`), listing every
run (`list`, as the Runs page and a rebuilt model list do), and a whole Draw-page rerun through
Streamlit's AppTest with N runs against an empty database. The same database then gets M
labelled drawings (each with a 12 KB canvas PNG and strokes, as the Draw page keeps them), and
what the Drawings page asks is timed: a page of 48, the counts, the owners, every drawing's
28x28 (exports, scoring, fine-tuning), and a whole Drawings-page rerun. Postgres is a throwaway
local server (tests/postgres.py), so its figures have no network latency in them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from mnist_core.config import PRESETS  # noqa: E402
from mnist_core.reading.classifier import SEED_MODEL  # noqa: E402
from mnist_core.store.database import Database  # noqa: E402
from mnist_core.store.runs import H5_FILE, MODEL_FILE, Run, RunStore, _insert_rows  # noqa: E402


def median_ms(f: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def fill(store: RunStore, n: int) -> None:
    files = {MODEL_FILE: SEED_MODEL.read_bytes(), H5_FILE: SEED_MODEL.read_bytes()}
    history = {k: [0.9] * 200 for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
    for i in range(n):
        run = Run(id=f"20261125-{i:06d}-seed", name=f"run {i}", preset="seed", config=PRESETS["seed"],
                  created=f"2026-11-25T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}+00:00", epochs_done=200,
                  stopped=False, val_accuracy=0.923, test_accuracy=0.922, test_loss=0.3, fit_seconds=5.0)
        with store.db.write() as conn:
            _insert_rows(conn, run, history, files)


def fill_drawings(db: Database, n: int) -> None:
    import numpy as np

    from mnist_core.store.database import drawings

    rng = np.random.default_rng(0)
    png, strokes = bytes(12_000), '{"objects": [' + ", ".join(['{"type": "path"}'] * 200) + "]}"
    rows = [{"id": f"20261201-{i:08d}", "created": f"2026-12-01T10:00:00.{i:06d}+00:00", "owner": f"link:p{i % 30}",
             "label": int(i % 10), "predicted": int(i % 10 if i % 7 else (i + 1) % 10), "confidence": 0.9,
             "model": "default", "source": "canvas", "pixels": rng.integers(0, 256, 784, np.uint8).tobytes(),
             "image": png, "strokes": strokes} for i in range(n)]
    with db.write() as conn:
        for i in range(0, n, 1000):
            conn.execute(drawings.insert(), rows[i:i + 1000])


def page_rerun_ms(url: str, page: str, repeat: int) -> float:
    """A whole rerun of a page (AppTest), its store at `url`."""
    from streamlit.testing.v1 import AppTest

    os.environ["MNIST_DATABASE_URL"] = url
    import streamlit as st

    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "navigation.py"), default_timeout=120).run()
    at.switch_page(page).run()
    at.run()  # warm: the scoreboard and the models cached
    return median_ms(at.run, repeat)


def draw_rerun_ms(url: str, repeat: int) -> float:
    """A Draw-page rerun with a stroke on the canvas, the model list read from `url`."""
    import base64
    import io

    from PIL import Image, ImageDraw
    from streamlit.testing.v1 import AppTest

    img = Image.new("RGBA", (280, 280), "black")
    ImageDraw.Draw(img).line([(140, 50), (140, 230)], fill="white", width=20)
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    value = {"drawing": {"raw": {"objects": [], "background": "#000000"},
                         "data": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()},
             "backgroundFit": None}
    os.environ["MNIST_DATABASE_URL"] = url
    import streamlit as st

    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "navigation.py"), default_timeout=120).run()
    at.session_state["draw_canvas_0"] = value
    at.run()
    at.run()  # warm: the model is loaded, the list cached
    return median_ms(at.run, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--drawings", type=int, default=10_000)
    args = parser.parse_args()
    from mnist_core.store.drawings import DrawingStore, Filter
    from tests.postgres import create_database, postgres_server

    rows = []
    with tempfile.TemporaryDirectory() as tmp, postgres_server() as admin:
        os.environ["MNIST_DATA_DIR"] = tmp
        for kind, empty_url, full_url in (
            ("SQLite", f"sqlite:///{tmp}/empty.db", f"sqlite:///{tmp}/full.db"),
            ("Postgres", create_database(admin, "empty"), create_database(admin, "full")),
        ):
            Database.open(empty_url)
            store = RunStore(Database.open(full_url))
            t0 = time.perf_counter()
            fill(store, args.runs)
            fill_s = time.perf_counter() - t0
            middle = f"20261125-{args.runs // 2:06d}-seed"
            figures = {
                "fill (s)": fill_s,
                "revision() ms": median_ms(store.db.revision, 200),
                "get() ms": median_ms(lambda s=store, m=middle: s.get(m), 200),
                "list() ms": median_ms(store.list, 10),
                "Draw rerun, empty (ms)": draw_rerun_ms(empty_url, 20),
                "Draw rerun, full (ms)": draw_rerun_ms(full_url, 20),
            }
            t0 = time.perf_counter()
            fill_drawings(store.db, args.drawings)
            drawn = DrawingStore(store.db)
            figures.update({
                "drawings fill (s)": time.perf_counter() - t0,
                "page(48) ms": median_ms(lambda d=drawn: d.page(limit=48), 50),
                "page(48, digit 7, wrong) ms": median_ms(lambda d=drawn: d.page(Filter(label=7, wrong=True)), 50),
                "counts() ms": median_ms(drawn.counts, 50),
                "owners() ms": median_ms(drawn.owners, 50),
                "collection() ms": median_ms(drawn.collection, 5),
                "Drawings rerun, empty (ms)": page_rerun_ms(empty_url, "app_pages/drawings.py", 10),
                "Drawings rerun, full (ms)": page_rerun_ms(full_url, "app_pages/drawings.py", 10),
            })
            rows.append((kind, figures))
    print(f"\n{args.runs} runs, {args.drawings} drawings")
    for kind, figures in rows:
        ratio = figures["Draw rerun, full (ms)"] / figures["Draw rerun, empty (ms)"]
        print(f"{kind:9}" + "  ".join(f"{k} {v:.2f}" for k, v in figures.items()) + f"  full/empty {ratio:.2f}x")
    print(json.dumps({kind: {k: round(v, 3) for k, v in f.items()} for kind, f in rows}))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
