"""Accuracy on drawings no model here was trained on, per source and per digit class.

    python benchmarks/drawing.py [--per-source 800] [--models models/default.keras ...] [--tta] [--json]

Every drawing is made deterministically (seed 0) and put on a 280x280 canvas the way people
draw (random height 30-250 px, place, tilt up to 20 degrees, pen width, colours, light on dark
or dark on light, a quarter on a transparent background), then read through `preprocess`, as
the Draw page reads the canvas. The sources, and why none of them can be in any training set:
- **MNIST test**: MNIST's test digits, redrawn (training only ever uses the training split);
- **fonts, typed**: digits typed in the held-out third of the machine's font designs
  (mnist_core.training.fonts.is_held_out: fixed by a hash of the design's name; training uses the other
  two thirds, and tests/test_styles.py checks that no design is on both sides);
- **fonts, hand-drawn**: those held-out fonts' digits thinned and drawn again with a round pen
  and a trembling hand (styles.as_strokes, applied to held-out designs only);
- **styles MNIST lacks**: digits drawn stroke by stroke in allographs written for this benchmark
  alone (benchmarks/stroke_styles.py: a 1 with a flag and a foot, a crossed 7, an open 4, a
  straight-stemmed 9...; nothing in mnist_core imports it);
- **USPS**: 1,000 digits from US mail, written by the public (benchmarks/other_writers.py).
"held-out styles" is the three middle sources together; "all" is every source.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from benchmarks.other_writers import as_glyph, usps
from benchmarks.stroke_styles import draw_styled
from mnist_core.data import load_mnist
from mnist_core.preprocessing import NotADigit, preprocess
from mnist_core.reading.classifier import DEFAULT_MODEL, SEED_MODEL, load_classifier
from mnist_core.training.fonts import font_designs, split_designs, typed_digit
from mnist_core.training.styles import as_strokes

HELD_OUT = ("fonts, typed", "fonts, hand-drawn", "styles MNIST lacks")
SOURCES = ("MNIST test", *HELD_OUT, "USPS")


def canvas_drawing(glyph: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Put a white-on-black glyph on a 280x280 canvas the way people draw: any size, place, pen."""
    glyph = Image.fromarray(glyph).rotate(float(rng.uniform(-20, 20)), resample=Image.BILINEAR, expand=True)
    box = glyph.getbbox() or (0, 0, glyph.width, glyph.height)
    glyph = glyph.crop(box)
    height = int(rng.uniform(30, 250))
    width = max(4, min(270, int(glyph.width * height / glyph.height)))
    glyph = glyph.resize((width, height), Image.BILINEAR)
    pen = int(rng.integers(-2, 4))  # thinner or thicker strokes than the source
    if pen > 0:
        glyph = glyph.filter(ImageFilter.MaxFilter(2 * pen + 1))
    elif pen < 0 and height > 80:
        glyph = glyph.filter(ImageFilter.MinFilter(3))
    ink = np.zeros((280, 280), np.float32)
    top = int(rng.integers(0, 280 - glyph.height + 1))
    left = int(rng.integers(0, 280 - glyph.width + 1))
    ink[top : top + glyph.height, left : left + glyph.width] = np.asarray(glyph, np.float32) / 255
    return colour(ink, rng)


def colour(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(280, 280) ink in [0, 1] -> RGBA: light on dark or dark on light, a quarter transparent."""
    light_on_dark = rng.random() < 0.5
    paper = rng.uniform(0, 60, 3) if light_on_dark else rng.uniform(190, 255, 3)
    pen_colour = rng.uniform(190, 255, 3) if light_on_dark else rng.uniform(0, 80, 3)
    if rng.random() < 0.25:  # transparent background: colour everywhere, ink in alpha
        rgb = np.broadcast_to(pen_colour, (280, 280, 3))
        return np.dstack([rgb, ink * 255]).astype(np.uint8)
    rgb = paper * (1 - ink[..., None]) + pen_colour * ink[..., None]
    return np.dstack([rgb, np.full((280, 280), 255.0)]).astype(np.uint8)


def make_drawings(per_source: int, seed: int = 0) -> dict[str, tuple[list[np.ndarray], np.ndarray]]:
    """Source -> (RGBA canvases, labels); `per_source` of each (twice that from MNIST's test set)."""
    rng = np.random.default_rng(seed)
    data = load_mnist()
    fonts = [p for paths in split_designs(font_designs())[1].values() for p in paths]
    out: dict[str, tuple[list[np.ndarray], np.ndarray]] = {}
    picks = rng.choice(len(data.x_test), 2 * per_source, replace=False)
    glyphs = [np.asarray(Image.fromarray(data.x_test[i]).resize((112, 112), Image.BICUBIC)) for i in picks]
    out["MNIST test"] = ([canvas_drawing(g, rng) for g in glyphs], data.y_test[picks])
    labels = np.arange(per_source) % 10
    if fonts:
        typed = [typed_digit(int(d), fonts[rng.integers(len(fonts))], rng) for d in labels]
        out["fonts, typed"] = ([canvas_drawing(g, rng) for g in typed], labels)
        drawn = [as_strokes(typed_digit(int(d), fonts[rng.integers(len(fonts))], rng), rng) for d in labels]
        out["fonts, hand-drawn"] = ([canvas_drawing(g, rng) for g in drawn], labels)
    out["styles MNIST lacks"] = ([draw_styled(int(d), rng) for d in labels], labels)
    x, y = usps()
    chosen = np.concatenate([rng.choice(np.nonzero(y == d)[0], per_source // 10 * 5 // 4, replace=False)
                             for d in range(10)])
    out["USPS"] = ([canvas_drawing(as_glyph(x[i]), rng) for i in chosen], y[chosen])
    return out


def ours_or_blank(drawing: np.ndarray) -> np.ndarray:
    """`preprocess`, with a blank 28x28 (scored as wrong) where it finds no digit."""
    try:
        x = preprocess(drawing)
    except NotADigit:
        x = None
    return x if x is not None else np.zeros((28, 28), np.float32)


def scores(clf, images: dict[str, np.ndarray], labels: dict[str, np.ndarray], tta: bool) -> dict:
    """Per source and per class: accuracies, and the same over the held-out styles and all."""
    right = {}
    for source, x in images.items():
        p = clf.predict_proba_tta(x) if tta else clf.predict_proba(x)
        right[source] = p.argmax(axis=1) == labels[source]
    groups = {**{s: [s] for s in right}, "held-out styles": [s for s in HELD_OUT if s in right], "all": list(right)}
    result = {}
    for name, members in groups.items():
        ok = np.concatenate([right[s] for s in members])
        y = np.concatenate([labels[s] for s in members])
        result[name] = {"accuracy": float(ok.mean()), "n": int(len(ok)),
                        "per_class": [float(ok[y == d].mean()) for d in range(10)]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-source", type=int, default=800)
    parser.add_argument("--models", nargs="*", type=Path, default=[DEFAULT_MODEL, SEED_MODEL])
    parser.add_argument("--tta", action="store_true", help="also score with test-time augmentation")
    parser.add_argument("--json", action="store_true", help="one JSON object per model and line")
    parser.add_argument("--save-examples", type=Path, help="write 8 drawings of each source as one PNG")
    args = parser.parse_args()
    drawings = make_drawings(args.per_source)
    if args.save_examples:
        rows = [np.hstack([(d[..., :3] * (d[..., 3:] / 255.0)).astype(np.uint8) for d in canvases[:8]])
                for canvases, _ in drawings.values()]
        sheet = np.vstack(rows)
        Image.fromarray(sheet).resize((sheet.shape[1] // 2, sheet.shape[0] // 2)).save(args.save_examples)
    images = {s: np.stack([ours_or_blank(d) for d in canvases]) for s, (canvases, _) in drawings.items()}
    labels = {s: y for s, (_, y) in drawings.items()}
    if not args.json:
        print(", ".join(f"{s}: {len(y)}" for s, y in labels.items()))
        print(f"{'model':26}" + "".join(f"{s[:18]:>20}" for s in [*labels, "held-out styles", "all"]))
    for path in args.models:
        clf = load_classifier(path)
        for tta in (False, True) if args.tta else (False,):
            result = scores(clf, images, labels, tta)
            name = (path.name if path.name != "model.keras" else path.parent.name) + (" +TTA" if tta else "")
            if args.json:
                print(json.dumps({"model": str(path), "tta": tta, **result}))
                continue
            print(f"{name[:26]:26}" + "".join(f"{r['accuracy']:20.2%}" for r in result.values()))
            for group in ("held-out styles", "all"):
                per = " ".join(f"{d}:{a:.1%}" for d, a in enumerate(result[group]["per_class"]))
                print(f"{'':4}{group} per class: {per}")


if __name__ == "__main__":
    main()
