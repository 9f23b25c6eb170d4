"""Fit the shipped models' "not a digit" statistics and write them beside each model.

    python -m benchmarks.fit_novelty [models/default.keras models/seed.keras]   # models/<name>.novelty.npz

The fonts must be installed (`make fonts`): the head learns letters and signs in the training
fonts, and the fonts' digits. About 3 minutes a model on 2 cores once the examples are cached
(the first time, 5 more to make them). The figures they give: benchmarks/real_handwriting.py and
benchmarks/non_digits.py.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mnist_core.data import load_mnist
from mnist_core.reading.classifier import DEFAULT_MODEL, SEED_MODEL
from mnist_core.reading.forward import DenseNet
from mnist_core.reading.numpy_layers import Dense
from mnist_core.training.novelty_fit import fit_novelty
from mnist_core.training.styles import training_designs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=[DEFAULT_MODEL, SEED_MODEL])
    args = parser.parse_args()
    training_designs()  # NoFonts now, not after minutes of work
    data = load_mnist()
    for path in args.models:
        started = time.perf_counter()
        net = DenseNet.load(path)  # the weights alone: the statistics beside it are what this replaces
        layers = [(step.kernel, step.bias) for step in net.members()[0] if isinstance(step, Dense)]
        stats = fit_novelty(layers, data, progress=lambda m, name=path.name: print(f"  {name}: {m}", flush=True))
        stats.save(path.with_name(path.stem + ".novelty.npz"))
        print(f"{path.name}: T = {stats.temperature:.3f}, threshold {stats.threshold:.3f}, "
              f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
