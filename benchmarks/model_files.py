"""How long a model file takes to be read, or refused: the shipped ones, and every bad one the tests make.

    python benchmarks/model_files.py

The shipped models read in this process (`DenseNet.load`, the median of 15 after one), then each
of tests/bombs.BAD_MODELS as a visitor's upload is opened (`load_classifier(path,
untrusted=True)`: a process of its own, ended after 20 s, its start included in the time).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from mnist_core.reading.classifier import DEFAULT_MODEL, SEED_MODEL, ModelError, load_classifier
    from mnist_core.reading.forward import DenseNet
    from tests.bombs import BAD_MODELS

    for path in (DEFAULT_MODEL, SEED_MODEL):
        DenseNet.load(path)
        times = []
        for _ in range(15):
            start = time.perf_counter()
            DenseNet.load(path)
            times.append(time.perf_counter() - start)
        print(f"{path.name}: read in {statistics.median(times) * 1000:.1f} ms (median of 15)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in BAD_MODELS.items():
            path = make(Path(tmp) / name)
            start = time.perf_counter()
            try:
                load_classifier(path, untrusted=True)
                outcome = "read"
            except ModelError as e:
                outcome = str(e)
            print(f"{name} ({path.stat().st_size / 1e3:,.1f} KB): {time.perf_counter() - start:.1f} s, {outcome}",
                  flush=True)


if __name__ == "__main__":  # spawned loaders import this file again: only the parent runs it
    main()
