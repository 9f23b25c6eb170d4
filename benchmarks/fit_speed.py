"""The seed's 200-epoch fit: the notebook's `model.fit` against `python -m mnist_core train`.

    python benchmarks/fit_speed.py [--epochs 200]

Each runs as its own process, timed whole (interpreter start, imports, data, fit, test score),
one after the other so they do not share the 2 cores. Prints both times, the ratio and both
accuracies.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str]) -> tuple[float, dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    args = parser.parse_args()
    epochs = str(args.epochs)
    print(f"seed-style model.fit, {epochs} epochs (benchmarks/seed_fit.py)...", flush=True)
    seed_s, seed = timed([sys.executable, "benchmarks/seed_fit.py", "--epochs", epochs])
    print(f"mnist_core train, {epochs} epochs...", flush=True)
    with tempfile.TemporaryDirectory() as out:  # the run is saved in a throwaway SQLite database
        ours_s, ours = timed([sys.executable, "-m", "mnist_core", "train", "--epochs", epochs,
                              "--database", f"sqlite:///{out}/runs.db", "--json"])
    print()
    print(f"{'':28}{'process s':>10}{'fit s':>8}{'val acc':>9}{'test acc':>10}")
    for name, seconds, r in (("seed-style model.fit", seed_s, seed), ("mnist_core train", ours_s, ours)):
        print(f"{name:28}{seconds:10.1f}{r['fit_seconds']:8.1f}{r['val_accuracy']:9.4f}{r['test_accuracy']:10.4f}")
    print(f"speed-up: {seed_s / ours_s:.1f}x whole process, {seed['fit_seconds'] / ours['fit_seconds']:.1f}x fit alone")


if __name__ == "__main__":
    main()
