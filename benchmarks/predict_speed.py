"""One canvas frame to ten probabilities (preprocess + predict), side by side with a baseline.

    python benchmarks/predict_speed.py [--baseline OLD.keras] [--models models/default.keras ...]

Median over 300 frames of a 280x280 RGBA drawing, in-process, the same frames for every model,
interleaved (frame i through each model in turn) so that the machine's moments fall on all of
them alike; each also with test-time augmentation (7 views), and the first with Keras'
`model.predict` (what many tutorials call per drawing). The ratios are to the first model: pass
the previous default (`git show HEAD~1:models/default.keras > /tmp/old.keras`) as `--baseline`.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mnist_core.classifier import DEFAULT_MODEL, SEED_MODEL, load_classifier
from mnist_core.preprocessing import preprocess

FRAMES = 300


def frame(i: int) -> np.ndarray:
    img = Image.new("RGBA", (280, 280), "black")
    ImageDraw.Draw(img).line([(60 + i % 40, 50), (200, 60), (120, 240)], fill="white", width=12 + i % 30)
    return np.asarray(img)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="a model to compare with, listed first")
    parser.add_argument("--models", nargs="*", type=Path, default=[DEFAULT_MODEL, SEED_MODEL])
    args = parser.parse_args()
    paths = ([args.baseline] if args.baseline else []) + args.models
    frames = [frame(i) for i in range(FRAMES)]
    models = [load_classifier(p) for p in paths]
    ways = {"": lambda clf, f: clf.predict_proba(preprocess(f)),
            " +TTA": lambda clf, f: clf.predict_proba_tta(preprocess(f))}
    times: dict[str, list[float]] = {}
    for clf in models:  # warm: each call traced and compiled once
        for way in ways.values():
            way(clf, frames[0])
    for f in frames:
        t = time.perf_counter()
        preprocess(f)
        times.setdefault("preprocess alone", []).append(time.perf_counter() - t)
        for path, clf in zip(paths, models, strict=True):
            for suffix, way in ways.items():
                t = time.perf_counter()
                way(clf, f)
                times.setdefault(f"{path.name}{suffix}", []).append(time.perf_counter() - t)
    first = models[0]
    first.model.predict(np.zeros((1, 784), np.float32), verbose=0)
    for f in frames[:60]:
        t = time.perf_counter()
        first.model.predict(preprocess(f).reshape(1, 784), verbose=0)
        times.setdefault(f"{paths[0].name} with model.predict", []).append(time.perf_counter() - t)
    base = float(np.median(times[paths[0].name]))
    for name, values in times.items():
        median = float(np.median(values))
        print(f"{name:40} {1000 * median:7.2f} ms median   {median / base:5.2f}x the first")


if __name__ == "__main__":
    main()
