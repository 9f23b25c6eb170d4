"""What a fine-tune's own "not a digit" check adds to it: time and peak memory, the first time on a
machine (its examples not cached yet) and after.

    python -m benchmarks.own_head [--drawings 400] [--epochs 8]

Each fine-tune is a fresh process, as a job's is: the `finetune` preset through train_and_save
on `--drawings` labelled drawings (MNIST's test digits drawn on a canvas as people draw,
benchmarks/drawing.py, and read through `preprocess`), in a fresh SQLite database. Three of them,
one after another: without the check (finetune.own_head skipped: what a fine-tune was before);
with it, the examples cache empty (a copy of MNIST alone in a fresh cache folder); with it
again, the examples cached. Printed for each: the whole fine-tune's seconds, the check's (from its
first CHECK event to SAVING), and the process's peak resident memory (VmHWM), with the ratios
to the first.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mnist_core.config import PRESETS
from mnist_core.data import cache_path


def child(mode: str, url: str, epochs: int) -> None:
    """In the fine-tune's own process: train_and_save, then one JSON line of figures."""
    from mnist_core.training import pipeline

    if mode == "without":
        pipeline.own_head = lambda *args: None
    steps = []
    started = time.perf_counter()
    pipeline.train_and_save(PRESETS["finetune"].replace(epochs=epochs), "finetune", url,
                            on_event=lambda kind, payload: steps.append((str(kind), time.perf_counter())))
    check = [at for kind, at in steps if kind == "check"]
    saving = next(at for kind, at in steps if kind == "saving")
    peak = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmHWM:"))
    print(json.dumps({"mode": mode, "seconds": round(time.perf_counter() - started, 1),
                      "check seconds": round(saving - check[0], 1) if check else 0.0, "peak MB": round(peak / 1024)}))


def label_drawings(url: str, n: int) -> None:
    from benchmarks.drawing import canvas_drawing, ours_or_blank
    from mnist_core.data import load_mnist
    from mnist_core.store.database import Database
    from mnist_core.store.drawings import DrawingStore

    data, rng = load_mnist(), np.random.default_rng(0)
    store = DrawingStore(Database.open(url))
    for i in range(n):
        store.add(ours_or_blank(canvas_drawing(data.x_test[i], rng)), int(data.y_test[i]), "link:benchmark-person")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drawings", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=PRESETS["finetune"].epochs)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.epochs)
        return
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "cache"
        fresh.mkdir()
        shutil.copy(cache_path(), fresh / cache_path().name)  # MNIST alone: no examples made yet
        lines = []
        for mode, cache in (("without", cache_path().parent), ("with, first time", fresh), ("with, cached", fresh)):
            url = f"sqlite:///{tmp}/{len(lines)}.db"
            label_drawings(url, args.drawings)
            out = subprocess.run([sys.executable, "-m", "benchmarks.own_head", "--epochs", str(args.epochs),
                                  "--child", mode, url], capture_output=True, text=True, check=True,
                                 env={**os.environ, "MNIST_CACHE_DIR": str(cache), "TF_CPP_MIN_LOG_LEVEL": "3"})
            lines.append(json.loads(out.stdout.strip().splitlines()[-1]))
            base = lines[0]
            print(json.dumps({**lines[-1], "seconds / without": round(lines[-1]["seconds"] / base["seconds"], 2),
                              "peak / without": round(lines[-1]["peak MB"] / base["peak MB"], 2)}), flush=True)


if __name__ == "__main__":
    main()
