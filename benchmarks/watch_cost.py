"""What watching a network learn costs its training: the seed's fit with and without frames.

    python benchmarks/watch_cost.py [--pairs 3] [--epochs 200] [--preset seed]

Each fit is a process of its own (TensorFlow's thread pool is sized once a process), the two
kinds alternated, pairs of them side by side; each prints its fit's seconds (the epochs only, as
`TrainResult.fit_seconds`) and the CPU seconds its process spent in train() (what watching adds
to the work, whatever else the machine runs), and the watched ones the time spent making frames, how many, the
size of a frame as JSON (what a job's progress carries), of the film saved with the run, and
the time and HTML the Train page takes to draw one.
Then the ratio of the medians. A last line: one frame of the shipped 1024-1024 network.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}

CHILD = """
import json, sys, time
from mnist_core.config import PRESETS
from mnist_core.data import load_mnist
from mnist_core.training.loop import train
from mnist_core.training.watching.watcher import Watcher

preset, epochs, watching = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
config, data = PRESETS[preset].replace(epochs=epochs), load_mnist()
spent = []
watcher = Watcher.for_training(config, data) if watching else None

def watch(epoch, model, history):
    t0 = time.perf_counter()
    extras = watcher(epoch, model, history)
    spent.append(time.perf_counter() - t0)
    return extras

cpu = time.process_time()
result = train(config, data, watch=watch if watching else None)
report = {"fit_seconds": result.fit_seconds, "cpu_seconds": time.process_time() - cpu}
if watching:
    film = watcher.film(result.model, result.epochs_done)
    report |= {"watch_seconds": sum(spent), "frames_kept": len(film.frames), "film_bytes": len(film.to_bytes())}
    from app_pages.learning import confusion_html, mistakes_html, weights_html  # the page's drawing of a frame
    from mnist_core.training.watching.frame import Frame

    record, times = watcher(result.epochs_done - 1, result.model, result.history)["frame"], []
    for _ in range(20):
        t0 = time.perf_counter()
        frame = Frame.from_json(record)
        page = weights_html(frame) + mistakes_html(frame) + confusion_html(frame.confusion)
        times.append(time.perf_counter() - t0)
    report |= {"page_ms": 1000 * sorted(times)[10], "page_bytes": len(page),
               "frame_json_bytes": len(json.dumps({"frame": record}))}
print(json.dumps(report))
"""

WIDE = """
import time, numpy as np
from mnist_core.config import PRESETS
from mnist_core.data import load_mnist
from mnist_core.training.watching.watcher import Watcher
from mnist_core.reading.classifier import load_keras, DEFAULT_MODEL

model = load_keras(DEFAULT_MODEL, flat_input=True)
config = PRESETS["best"].replace(hidden=(1024, 1024), pen=0.0, styles=0.0)
watcher = Watcher(config, *(a[-1000:] for a in (load_mnist().x_train, load_mnist().y_train)),
                  initial=np.zeros((784, 1024), np.float32))
watcher(0, model, {})
times = []
for _ in range(10):
    t0 = time.perf_counter(); watcher._frame(2, model); times.append(time.perf_counter() - t0)
print(f"one frame of the shipped 1024-1024 network: {1000 * min(times):.0f}-{1000 * max(times):.0f} ms")
"""


def fit(preset: str, epochs: int, watching: bool) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, preset, str(epochs), "1" if watching else "0"], cwd=ROOT,
                         capture_output=True, text=True, check=True, env=ENV)
    return json.loads(out.stdout.strip().splitlines()[-1])


def seconds(runs: list[dict], key: str = "fit_seconds") -> str:
    return ", ".join(f"{r[key]:.2f}" for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--preset", default="seed")
    args = parser.parse_args()
    plain, watched = [], []
    for i in range(args.pairs):
        for watching, into in ((False, plain), (True, watched)) if i % 2 == 0 else ((True, watched), (False, plain)):
            t0 = time.perf_counter()
            into.append(fit(args.preset, args.epochs, watching))
            print(f"pair {i + 1}, {'watched' if watching else 'plain  '}: fit {into[-1]['fit_seconds']:.2f} s "
                  f"(process {time.perf_counter() - t0:.1f} s)", flush=True)
    p, w = (statistics.median(r["fit_seconds"] for r in runs) for runs in (plain, watched))
    pc, wc = (statistics.median(r["cpu_seconds"] for r in runs) for runs in (plain, watched))
    last = watched[-1]
    print(f"{args.preset}, {args.epochs} epochs: plain {seconds(plain)} s; watched {seconds(watched)} s; "
          f"medians' ratio {w / p:.3f}")
    print(f"CPU seconds of the training (both threads, less affected by what else runs): plain "
          f"{seconds(plain, 'cpu_seconds')}; watched {seconds(watched, 'cpu_seconds')}; medians' ratio {wc / pc:.3f}")
    print(f"frames: {last['watch_seconds'] * 1000:.0f} ms in all; {last['frames_kept']} kept, film "
          f"{last['film_bytes']:,} bytes; a frame as JSON {last['frame_json_bytes']:,} bytes; the page draws one in "
          f"{last['page_ms']:.1f} ms ({last['page_bytes'] / 1000:.0f} KB of HTML)")
    out = subprocess.run([sys.executable, "-c", WIDE], cwd=ROOT, capture_output=True, text=True, check=True, env=ENV)
    print(out.stdout.strip())


if __name__ == "__main__":
    main()
