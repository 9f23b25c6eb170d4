"""Does learning from labelled drawings work, on a style MNIST lacks? Before, after, MNIST test.

    python benchmarks/finetune.py [--per-person 100] [--people 4] [--epochs 8] [--seeds 1671 1 2]

Drawings nobody here drew: digits in the held-out fonts of the drawing benchmark (no model of
this project trains on them), typed or drawn as pen strokes (half of each), put on a canvas as
people draw (benchmarks/drawing.py). Each "person" writes in fonts of their own; each drawing is
read by the model and labelled through the core exactly as the Draw page does it
(DrawingStore.add, with the prediction), then the `finetune` preset runs through the same
pipeline as the Train page (train_and_save), in a fresh SQLite database. Its held-out part is
whole people, so the figure is on fonts the fine-tune never saw; each seed holds out another
person (and shuffles differently), one line each, then the means. Goal (issue #15): the
held-out drawings gain at least 5 points, MNIST test at or above 99.2%.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np

from benchmarks.drawing import canvas_drawing, ours_or_blank
from mnist_core.config import PRESETS
from mnist_core.reading.classifier import DEFAULT_MODEL, load_classifier
from mnist_core.store.database import Database
from mnist_core.store.drawings import DrawingStore
from mnist_core.store.runs import RunStore
from mnist_core.training.fonts import font_designs, split_designs, typed_digit
from mnist_core.training.pipeline import train_and_save
from mnist_core.training.styles import as_strokes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=4)
    parser.add_argument("--per-person", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=PRESETS["finetune"].epochs)
    parser.add_argument("--seeds", type=int, nargs="*", default=[PRESETS["finetune"].seed])
    parser.add_argument("--set", type=json.loads, default={}, metavar="JSON",
                        help='other settings of the preset, e.g. \'{"learning_rate": 0.0003}\'')
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    designs = sorted(split_designs(font_designs())[1].items())  # the benchmark's held-out fonts
    clf = load_classifier(DEFAULT_MODEL)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/finetune.db"
        store = DrawingStore(Database.open(url))
        for p in range(args.people):  # person p types in every people-th design
            fonts = [f for _, files in designs[p::args.people] for f in files]
            for i in range(args.per_person):
                digit = i % 10
                glyph = typed_digit(digit, fonts[rng.integers(len(fonts))], rng)
                x28 = ours_or_blank(canvas_drawing(as_strokes(glyph, rng) if i % 20 >= 10 else glyph, rng))
                probabilities = clf.predict_proba(x28)
                store.add(x28, label=digit, owner=f"link:benchmark-person-{p}", predicted=int(probabilities.argmax()),
                          confidence=float(probabilities.max()), model="default")
        lines = []
        for seed in args.seeds:
            started = time.perf_counter()
            config = PRESETS["finetune"].replace(**{"epochs": args.epochs, **args.set, "seed": seed})
            outcome = train_and_save(config, "finetune", url)
            ft = RunStore(Database.open(url)).finetune(outcome.run.id)
            lines.append({
                "seed": seed, "drawings": args.people * args.per_person, "people": args.people,
                "seconds": round(time.perf_counter() - started, 1), "trained_on": len(ft.trained_on),
                "held_out": len(ft.held_out), "people_held_out": ft.people_held_out,
                "held_out_before": ft.before.held_out, "held_out_after": ft.after.held_out,
                "gain_points": round(100 * (ft.after.held_out - ft.before.held_out), 2),
                "mnist_test_before": ft.before.mnist_test, "mnist_test_after": ft.after.mnist_test,
            })
            print(json.dumps(lines[-1]), flush=True)
    if len(lines) > 1:
        mean = {k: round(float(np.mean([line[k] for line in lines])), 4)
                for k in ("held_out_before", "held_out_after", "gain_points", "mnist_test_before", "mnist_test_after")}
        print(json.dumps({"mean of seeds": args.seeds, **mean}))


if __name__ == "__main__":
    main()
