"""Things that are not digits, drawn as people draw them, against the drawing benchmark's digits.

    python -m benchmarks.non_digits [--per-kind 300] [--models models/default.keras ...] [--save-stats] [--json]

The first thing people try on the Draw page is something else: a letter, a face, a house, a
scribble. Nothing here was ever trained on (mnist_core imports nothing from benchmarks/):
- **letters, typed** and **letters, hand-drawn**: the 52 capital and small letters typed in
  the held-out third of the font designs (fonts.is_held_out: the same designs the drawing
  benchmark types its digits in, never seen by training), or thinned and drawn again with a
  round pen and a trembling hand (styles.as_strokes), put on the canvas as those digits are;
- **scribbles, circles, squares, triangles, crosses, stars, faces, houses, filled blobs**:
  drawn stroke by stroke with a white round pen of a random width on a black 280x280 canvas,
  at a random size, place, slant and tilt, by a hand that wobbles (as stroke_styles.py draws
  its digits).
Every canvas goes through `preprocess`, as the Draw page's does. Letters that a person would
read as a digit (O o I l S s Z z B g q b), and circles (a 0 to anyone), are scored apart
("digit-like"), never counted as non-digits. The digits are the drawing benchmark's own (benchmarks/drawing.py,
seed 0). Every threshold is chosen on other digits (novelty_fit.calibration_digits: MNIST's
validation digits and the training fonts' digits, drawn again as a canvas gives them), never
on these. Printed for each model: AUROC (overall, per kind, digit-like letters apart), digits
refused and non-digits caught for each score (the network's own: max softmax, energy, max
logit, Mahalanobis; and mnist_core/reading/novelty.py's), the chosen one per source and per kind, and
expected calibration error before and after temperature scaling (MNIST's test set and the
drawing benchmark, read as the Draw page reads: 7 views averaged). The statistics are read
from models/<name>.novelty.npz, or fitted (about a minute; --save-stats writes them there).
Three to four minutes for both shipped models on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import string
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from benchmarks.drawing import canvas_drawing, make_drawings, ours_or_blank
from benchmarks.stroke_styles import arc
from mnist_core.config import split_validation
from mnist_core.data import load_mnist
from mnist_core.preprocessing import strokes_across
from mnist_core.reading.classifier import DEFAULT_MODEL, SEED_MODEL
from mnist_core.reading.forward import DenseNet
from mnist_core.reading.novelty import (
    PIXEL_WEIGHT,
    REFUSED,
    Layers,
    NoveltyStats,
    auroc,
    calibrated,
    expected_calibration_error,
    fit_temperature,
    forward,
    is_blob,
    view_probabilities,
)
from mnist_core.reading.numpy_layers import Dense
from mnist_core.training.digit_variants import catmull_rom
from mnist_core.training.fonts import draws_glyph, font_designs, split_designs, typed_glyph
from mnist_core.training.non_digit_examples import DIGIT_LIKE
from mnist_core.training.novelty_fit import (
    VALIDATION_SPLIT,
    calibration_digits,
    fit_novelty,
    view_features,
    view_logits,
)
from mnist_core.training.styles import as_strokes

LETTERS = string.ascii_uppercase + string.ascii_lowercase  # all 52; the DIGIT_LIKE ones reported apart
SHAPES = ("scribbles", "circles", "squares", "triangles", "crosses", "stars", "faces", "houses", "filled blobs")
KINDS = ("letters, typed", "letters, hand-drawn", *SHAPES)

Strokes = list[list[tuple[float, float]]]  # pen paths in a unit box, x right, y down


def _scribble(rng: np.random.Generator) -> tuple[Strokes, bool]:
    """One to three strokes wandering through 4-12 random points."""
    return [[tuple(p) for p in rng.uniform(0, 1, (int(rng.integers(4, 13)), 2))]
            for _ in range(int(rng.integers(1, 4)))], True


def _circle(rng: np.random.Generator) -> tuple[Strokes, bool]:
    """A round loop, started anywhere, sometimes overshooting its start."""
    a0 = rng.uniform(0, 360)
    return [arc(0.5, 0.5, 0.5, 0.5, a0, a0 + rng.uniform(345, 400), 20)], True


def _polygon(corners: np.ndarray, rng: np.random.Generator) -> Strokes:
    """A closed outline through the corners, in one stroke or one stroke a side."""
    points = [tuple(p) for p in corners] + [tuple(corners[0])]
    if rng.random() < 0.5:
        return [points]
    return [[points[i], points[i + 1]] for i in range(len(corners))]


def _square(rng: np.random.Generator) -> tuple[Strokes, bool]:
    return _polygon(np.array([(0, 0), (1, 0), (1, 1), (0, 1)], float), rng), False


def _triangle(rng: np.random.Generator) -> tuple[Strokes, bool]:
    top = rng.uniform(0.2, 0.8)
    return _polygon(np.array([(top, 0), (1, 1), (0, 1)], float), rng), False


def _cross(rng: np.random.Generator) -> tuple[Strokes, bool]:
    """A plus sign or an x."""
    if rng.random() < 0.5:
        return [[(0.5, 0), (0.5, 1)], [(0, 0.5), (1, 0.5)]], False
    return [[(0, 0), (1, 1)], [(1, 0), (0, 1)]], False


def _star(rng: np.random.Generator) -> tuple[Strokes, bool]:
    """A five-pointed star: the pentagram in one stroke, or its outline."""
    turn = rng.uniform(-15, 15)
    outer = [(0.5 + 0.5 * np.cos(np.radians(a)), 0.5 + 0.5 * np.sin(np.radians(a)))
             for a in np.arange(5) * 72 - 90 + turn]
    if rng.random() < 0.5:
        order = [0, 2, 4, 1, 3, 0]
        return [[outer[i] for i in order]], False
    inner = [(0.5 + 0.2 * np.cos(np.radians(a)), 0.5 + 0.2 * np.sin(np.radians(a)))
             for a in np.arange(5) * 72 - 54 + turn]
    return _polygon(np.array([p for pair in zip(outer, inner, strict=True) for p in pair]), rng), False


def _face(rng: np.random.Generator) -> tuple[Strokes, bool]:
    """A smiley: the head, two eyes (dots or short strokes), a smile or a frown, sometimes a nose."""
    head = arc(0.5, 0.5, 0.5, 0.5, 0, 360, 16)
    eye = rng.uniform(0.02, 0.07)
    eyes = [[(x, 0.35 - eye), (x, 0.35 + eye)] for x in (0.33, 0.67)]
    mouth = arc(0.5, 0.5, 0.28, 0.25, 20, 160, 10) if rng.random() < 0.8 else arc(0.5, 0.95, 0.25, 0.2, 200, 340, 10)
    nose = [[(0.5, 0.45), (0.5, 0.58)]] if rng.random() < 0.4 else []
    return [head, *eyes, mouth, *nose], True


def _house(rng: np.random.Generator) -> tuple[Strokes, bool]:
    """Walls, a roof, and sometimes a door."""
    eaves = rng.uniform(0.3, 0.5)
    walls = [(0.1, eaves), (0.1, 1), (0.9, 1), (0.9, eaves), (0.1, eaves)]
    roof = [(0.0, eaves + 0.05), (0.5, 0.0), (1.0, eaves + 0.05)]
    door = [[(0.42, 1), (0.42, 0.75), (0.58, 0.75), (0.58, 1)]] if rng.random() < 0.6 else []
    return [walls, roof, *door], False


DRAWN = {"scribbles": _scribble, "circles": _circle, "squares": _square, "triangles": _triangle,
         "crosses": _cross, "stars": _star, "faces": _face, "houses": _house}


def draw_shape(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One person's `kind`, drawn on a black 280x280 RGBA canvas with a white round pen."""
    img = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    draw = ImageDraw.Draw(img)
    size = rng.uniform(60, 240)  # px, the shape's height
    aspect = rng.uniform(0.7, 1.3)  # its width for its height
    slant, tilt = rng.uniform(-0.2, 0.2), np.radians(rng.uniform(-20, 20))
    width = min(size * aspect, 260)
    left, top = rng.uniform(10, max(11, 270 - width)), rng.uniform(10, max(11, 270 - size))
    cx, cy = left + width / 2, top + size / 2

    def place(x: float, y: float) -> tuple[float, float]:
        dx, dy = (x - 0.5 + slant * (0.5 - y)) * width, (y - 0.5) * size
        return cx + dx * np.cos(tilt) - dy * np.sin(tilt), cy + dx * np.sin(tilt) + dy * np.cos(tilt)

    if kind == "filled blobs":  # a smooth closed shape, filled in
        k = int(rng.integers(5, 10))
        a = (np.arange(k) + rng.uniform(-0.3, 0.3, k)) * 2 * np.pi / k
        r = rng.uniform(0.25, 0.5, k)
        ring = [(0.5 + ri * np.cos(ai), 0.5 + ri * np.sin(ai)) for ai, ri in zip(a, r, strict=True)]
        draw.polygon([place(x, y) for x, y in catmull_rom([*ring, ring[0], ring[1]])[1:]], fill="white")
        return np.asarray(img)
    strokes, curved = DRAWN[kind](rng)
    pen = int(min(rng.integers(6, 36), 0.2 * size))  # the drawing benchmark's pen rule for its digits
    for stroke in strokes:
        hand = [(x + rng.normal(0, 0.025), y + rng.normal(0, 0.025)) for x, y in stroke]
        xy = [place(x, y) for x, y in (catmull_rom(hand) if curved else hand)]
        draw.line(xy, fill="white", width=pen, joint="curve")
        for x, y in (xy[0], xy[-1]):  # a round pen's ends
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill="white")
    return np.asarray(img)


def make_non_digits(per_kind: int, seed: int = 0) -> Iterator[tuple[str, list[np.ndarray], list[str]]]:
    """Kind by kind (a kind's canvases are 0.1-0.2 GB): (kind, RGBA canvases, what each shows:
    the letter, or the kind); `per_kind` of each shape, `2 * per_kind` letters each way (their
    digit-like ones among them)."""
    rng = np.random.default_rng(seed)
    fonts = [p for paths in split_designs(font_designs())[1].values() for p in paths]
    for kind, drawn in (("letters, typed", False), ("letters, hand-drawn", True)):
        canvases, shown = [], []
        while fonts and len(canvases) < 2 * per_kind:
            letter, font = LETTERS[len(canvases) % len(LETTERS)], fonts[rng.integers(len(fonts))]
            if not draws_glyph(font, letter):
                continue
            glyph = typed_glyph(letter, font, rng)
            canvases.append(canvas_drawing(as_strokes(glyph, rng) if drawn else glyph, rng))
            shown.append(letter)
        yield kind, canvases, shown
    for kind in SHAPES:
        yield kind, [draw_shape(kind, rng) for _ in range(per_kind)], [kind] * per_kind


def as_28(canvases: list[np.ndarray]) -> np.ndarray:
    """Canvases through `preprocess` as the Draw page does: (n, 28, 28) float32 (blank if none)."""
    return np.stack([ours_or_blank(c) for c in canvases])


def strokes(canvases: list[np.ndarray]) -> np.ndarray:
    """Each canvas's preprocessing.strokes_across (inf where there is no ink)."""
    return np.array([s if (s := strokes_across(c)) is not None else np.inf for c in canvases])


def baselines(layers: Layers, x_train: np.ndarray, y_train: np.ndarray) -> dict:
    """Scores on the network alone, for comparison (higher = less like a digit), each from
    (n, 7, d) view features and (n, 7, 10) view logits."""
    acts = forward(layers, x_train.reshape(len(x_train), -1) / np.float32(255))
    last = acts[-2].astype(np.float64)  # the last hidden layer (the pixels for a one-layer model)
    means = np.stack([last[y_train == c].mean(axis=0) for c in range(10)])
    centred = last - means[y_train]
    cov = centred.T @ centred / len(last)
    precision = np.linalg.inv(cov + 1e-3 * np.trace(cov) / len(cov) * np.eye(len(cov)))
    width = last.shape[1]

    def mahalanobis(f: np.ndarray, lg: np.ndarray) -> np.ndarray:
        h = f[:, :, -width:].astype(np.float64)
        hp = h @ precision
        d = (np.einsum("nvd,nvd->nv", hp, h)[..., None] - 2 * hp @ means.T
             + np.einsum("cd,de,ce->c", means, precision, means))
        return d.min(axis=-1).mean(axis=1)

    def logsumexp(lg: np.ndarray) -> np.ndarray:
        top = lg.max(axis=-1, keepdims=True)
        return (top + np.log(np.exp(lg - top).sum(axis=-1, keepdims=True)))[..., 0]

    return {"max softmax": lambda f, lg: -view_probabilities(lg).max(axis=1),
            "energy": lambda f, lg: -logsumexp(lg).mean(axis=1),
            "max logit": lambda f, lg: -lg.max(axis=-1).mean(axis=1),
            "Mahalanobis, last hidden": mahalanobis}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=300)
    parser.add_argument("--models", nargs="*", type=Path, default=[DEFAULT_MODEL, SEED_MODEL])
    parser.add_argument("--save-stats", action="store_true", help="write each fitted model's statistics "
                        "beside it (models/<name>.novelty.npz); otherwise they are read from there if present")
    parser.add_argument("--json", action="store_true", help="one JSON object per model and line")
    args = parser.parse_args()
    started = time.perf_counter()
    drawings = make_drawings(args.per_kind * 8 // 3)  # the drawing benchmark's digits (800 a source at 300)
    digits = {s: (as_28(c), y, strokes(c)) for s, (c, y) in drawings.items()}
    del drawings  # 1.6 GB of canvases
    others = {k: (as_28(c), np.array(shown), strokes(c)) for k, c, shown in make_non_digits(args.per_kind)}
    data = load_mnist()
    cut = split_validation(len(data.x_train), VALIDATION_SPLIT)
    calibration = calibration_digits(data.x_train[cut:], seed=1671)
    made = time.perf_counter() - started
    for path in args.models:
        result = evaluate(path, digits, others, calibration, data, args.save_stats)
        result["seconds"]["drawings"] = round(made, 1)
        print(json.dumps(result) if args.json else format_result(result))


def evaluate(path: Path, digits: dict, others: dict, calibration: np.ndarray, data, save: bool) -> dict:
    """Every score's AUROC (overall, per kind), refusals at its calibration threshold, and the
    chosen method's figures; ECE before and after temperature scaling."""
    net = DenseNet.load(path)  # the weights alone: the statistics beside it are read or fitted below
    layers = [(step.kernel, step.bias) for step in net.members()[0] if isinstance(step, Dense)]
    stats_path = path.with_suffix(".novelty.npz")
    t = time.perf_counter()
    if stats_path.is_file() and not save:
        stats, fitted = NoveltyStats.load(stats_path), False
    else:
        stats, fitted = fit_novelty(layers, data, progress=lambda m: print(f"  {path.name}: {m}", flush=True)), True
        if save:
            stats.save(stats_path)
    fit_seconds = time.perf_counter() - t
    t = time.perf_counter()
    view, logits = {}, {}
    for name, (x, _, _) in {**digits, **others}.items():
        view[name], logits[name] = _read(layers, x)
    cal_view, cal_logits = _read(layers, calibration)
    cut = split_validation(len(data.x_train), VALIDATION_SPLIT)
    scores = {**baselines(layers, data.x_train[:12_000], data.y_train[:12_000]),
              "pixel residual": lambda f, lg: stats.parts(f)[:, 1],
              "head": lambda f, lg: stats.parts(f)[:, 0],
              f"chosen: head + {PIXEL_WEIGHT} pixel residual": lambda f, lg: stats.score(f)}
    counted = {k: np.array([s not in DIGIT_LIKE and s != "circles" for s in shown])
               for k, (_, shown, _) in others.items()}
    table = {}
    for name, fn in scores.items():
        s = {k: fn(view[k], logits[k]) for k in view}
        threshold = np.quantile(fn(cal_view, cal_logits), 1 - REFUSED)
        d = np.concatenate([s[k] for k in digits])
        o = np.concatenate([s[k][counted[k]] for k in others])
        like = np.concatenate([s[k][~counted[k]] for k in others])
        table[name] = {"auroc": auroc(d, o), "digit-like auroc": auroc(d, like),
                       "per kind": {k: auroc(d, s[k][counted[k]]) if counted[k].any() else float("nan")
                                    for k in others},
                       "digits refused": float((d > threshold).mean()),
                       "non-digits caught": float((o > threshold).mean())}
    chosen = _chosen(stats, view, logits, digits, others, counted)
    test_logits = view_logits(layers, data.x_test)
    drawing_logits = np.concatenate([logits[k] for k in digits])
    y_drawing = np.concatenate([y for _, y, _ in digits.values()])
    calibration_table = {}
    t_one = fit_temperature(view_probabilities(view_logits(layers, data.x_train[cut:])[:, 0]), data.y_train[cut:])
    for name, lg, y in (("MNIST test", test_logits, data.y_test), ("drawing benchmark", drawing_logits, y_drawing)):
        before, one = view_probabilities(lg), view_probabilities(lg[:, 0])
        calibration_table[name] = {
            "ece before": expected_calibration_error(before, y),
            "ece after": expected_calibration_error(calibrated(before, stats.temperature), y),
            "accuracy": float((before.argmax(axis=1) == y).mean()),
            "one view: ece before": expected_calibration_error(one, y),
            "one view, T fitted on 7: ece after": expected_calibration_error(calibrated(one, stats.temperature), y),
            f"one view, T fitted on one ({t_one:.3f}): ece after":
                expected_calibration_error(calibrated(one, t_one), y)}
    return {"model": str(path), "temperature": stats.temperature, "threshold": stats.threshold,
            "stats bytes": _stats_bytes(stats), "scores": table, "chosen": chosen, "calibration": calibration_table,
            "seconds": {"fit" if fitted else "load": round(fit_seconds, 1), "score": round(time.perf_counter() - t, 1)}}


def _read(layers: Layers, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 28, 28) -> the (n, 7, d) features of their views (float32, as the server computes
    them: 0.08 GB a 1,000 drawings for the default model) and their (n, 7, 10) logits."""
    f = view_features(layers, images)
    w, b = layers[-1]
    return f, f[:, :, -w.shape[0]:] @ w + b


def _chosen(stats: NoveltyStats, view: dict, logits: dict, digits: dict, others: dict, counted: dict) -> dict:
    """The chosen method at its threshold, with the blob rule, per source and per kind; and the
    drawing benchmark's accuracy before and after (a refused digit counts as not read)."""
    refused = {k: (stats.score(view[k]) > stats.threshold) | np.array([is_blob(s) for s in across])
               for k, (_, _, across) in {**digits, **others}.items()}
    right = {k: view_probabilities(logits[k]).argmax(axis=1) == y for k, (_, y, _) in digits.items()}
    d = np.concatenate([refused[k] for k in digits])
    ok = np.concatenate([right[k] for k in digits])
    like = np.concatenate([refused[k][~counted[k]] for k in others])
    return {"digits refused": float(d.mean()),
            "non-digits caught": float(np.concatenate([refused[k][counted[k]] for k in others]).mean()),
            "refused per source": {k: float(refused[k].mean()) for k in digits},
            "caught per kind": {k: float(refused[k][counted[k] if counted[k].any() else slice(None)].mean())
                                for k in others},
            "digit-like refused": float(like.mean()),
            "accuracy": float(ok.mean()), "read and right": float((ok & ~d).mean())}


def _stats_bytes(stats: NoveltyStats) -> int:
    """float32 bytes of the stored arrays."""
    arrays = [stats.centre, stats.spread, stats.pixels.mean, stats.pixels.components,
              *(getattr(stats.head, f) for f in ("mean", "scale", "w1", "b1", "w2", "b2"))]
    return int(sum(np.asarray(a).size * 4 for a in arrays))


def format_result(r: dict) -> str:
    kinds = list(next(iter(r["scores"].values()))["per kind"])
    lines = [f"== {Path(r['model']).name}: temperature {r['temperature']:.3f}, threshold {r['threshold']:.3f}, "
             f"statistics {r['stats bytes'] / 2**20:.2f} MB, seconds {r['seconds']}",
             f"{'score':34}{'AUROC':>7}{'refused':>9}{'caught':>8}{'digit-like':>11}  "
             + " ".join(f"{k[:9]:>9}" for k in kinds)]
    for name, t in r["scores"].items():
        lines.append(f"{name:34}{t['auroc']:7.3f}{t['digits refused']:9.2%}{t['non-digits caught']:8.1%}"
                     f"{t['digit-like auroc']:11.3f}  " + " ".join(f"{t['per kind'][k]:9.3f}" for k in kinds))
    c = r["chosen"]
    lines.append(f"chosen, with the blob rule: digits refused {c['digits refused']:.2%}, non-digits caught "
                 f"{c['non-digits caught']:.1%}, digit-like letters and circles refused {c['digit-like refused']:.1%}; "
                 f"accuracy {c['accuracy']:.2%} (read and right {c['read and right']:.2%})")
    lines.append("  refused per source: " + ", ".join(f"{k} {v:.1%}" for k, v in c["refused per source"].items()))
    lines.append("  caught per kind: " + ", ".join(f"{k} {v:.0%}" for k, v in c["caught per kind"].items()))
    for name, t in r["calibration"].items():
        lines.append(f"  calibration, {name}: " + ", ".join(f"{k} {v:.4f}" for k, v in t.items()))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
