"""What each idea gives, alone and together: MNIST test and the drawing benchmark, per config.

    python benchmarks/ladder.py [--epochs 30] [--only NAME ...] [--out ladder.jsonl]

Every rung is the `best` preset's network and optimizer (1024-1024, dropout 0.2, Adam with cosine
decay, label smoothing 0.1, affine distortions) on MNIST alone for `--epochs` epochs, changed in
one way or a few; each is trained here, scored
on MNIST's test set and on benchmarks/drawing.py's drawings (none of which any rung trains on),
and printed as one JSON line (also appended to `--out`). Validation, not the test figures,
is what a choice between rungs should rest on; the figures are reported for the README.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.drawing import make_drawings, ours_or_blank, scores
from mnist_core.config import PRESETS
from mnist_core.data import load_mnist
from mnist_core.reading.classifier import load_classifier
from mnist_core.training.loop import train

BASE = PRESETS["best"].replace(pen=0.0, styles=0.0)  # the 1024-1024 recipe on MNIST alone
RUNGS = {
    "affine": {},
    "elastic": {"augment": "elastic"},
    "pen": {"pen": 0.15},
    "styles": {"styles": 0.3},
    "pen+styles": {"pen": 0.15, "styles": 0.3},
    "elastic+pen+styles": {"augment": "elastic", "pen": 0.15, "styles": 0.3},
    "committee 3x512+pen+styles": {"hidden": (512, 512), "committee": 3, "pen": 0.15, "styles": 0.3},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--only", nargs="*", choices=list(RUNGS), default=list(RUNGS))
    parser.add_argument("--per-source", type=int, default=800)
    parser.add_argument("--out", type=Path, default=Path("ladder.jsonl"))
    args = parser.parse_args()
    data = load_mnist()
    drawings = make_drawings(args.per_source)
    images = {s: np.stack([ours_or_blank(d) for d in canvases]) for s, (canvases, _) in drawings.items()}
    labels = {s: y for s, (_, y) in drawings.items()}
    for name in args.only:
        config = BASE.replace(epochs=args.epochs, **RUNGS[name])
        started = time.perf_counter()
        result = train(config, data)
        seconds = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.keras"
            result.model.save(path)
            clf = load_classifier(path)
            drawn = scores(clf, images, labels, tta=False)
            tta = scores(clf, images, labels, tta=True)
        line = {"rung": name, "epochs": args.epochs, "config": config.describe(), "seconds": round(seconds, 1),
                "val_accuracy": result.history["val_accuracy"][-1], "test_accuracy": result.test_accuracy,
                "drawings": drawn, "drawings_tta": tta}
        print(json.dumps(line), flush=True)
        with args.out.open("a") as f:
            f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
