"""Examples of what is not a digit, to teach the model's "that doesn't look like a digit" head.

    x, kind = non_digit_examples(12_000, seed=7)    # (n, 28, 28) uint8, white on black; (n,) kind names
    LOOKS_LIKE[kind[0]]                             # what the page says it looks like: "a letter or a sign"

A network trained on ten digits answers everything with a digit: a letter, a face, a scribble
all land near some digit's cluster, often with high confidence (benchmarks/non_digits.py
measures it). What it needs is examples of "none of them". These are made from simple parts,
each drawn with a round pen of a random width and put through `preprocess`, as the Draw page
puts its canvas:
- "letters": the capital and small letters typed in the *training* fonts, or drawn again with a
  trembling pen (styles.as_strokes); never the letters a person reads as digits (DIGIT_LIKE),
  never a held-out design (the benchmark's letters are typed in those);
- "signs": keyboard signs, Greek letters, currency, card suits, check marks (SIGNS), typed or
  drawn as the letters are;
- "strokes": two or three open curves (cubic Bezier, random control points);
- "polygons": outlines through 3-7 random corners, straight sides;
- "filled": a filled random polygon or ellipse;
- "clutter": three to six small parts scattered (dots, hooks, rings, bars);
- "parts": two to four larger parts (loops, outlines, curves, bars, dots) drawn over each other.
What a person reads as a digit is never an example: a lone loop or ring is a 0, a lone bar, hook
or arc a 1, a 7 or a 2 (version 2 taught loops and single strokes as non-digits, and refused
round 0s and 1s with a flag: docs/figures.md), and drawn examples as thin as a 1 (`roundness`)
are drawn again. The benchmark's kinds (faces, houses, stars, crosses, its scribbles) are drawn
by other code that nothing here imports. Making 16,000 takes one to two minutes; they are cached
(`~/.cache/mnist-dense/non-digits-*.npz`), as style digits are.
"""

from __future__ import annotations

import string

import numpy as np
from PIL import Image, ImageDraw

from mnist_core.reading.novelty import BLOB, LETTER, SCRIBBLE, SHAPE
from mnist_core.training.fonts import Designs, draws_glyph, font_designs, split_designs, typed_glyph
from mnist_core.training.styles import as_strokes, cached_arrays, digit_28

VERSION = 3  # of the recipe below (3: no lone loops or strokes; signs): a change makes new cache files
# Letters a person reads as digits when they stand alone: O o (0), I l (1), S s (5), Z z (2),
# B (8), g q (9), b (6). Never taught as non-digits, and reported apart by the benchmark.
DIGIT_LIKE = frozenset("OoIlSsZzBgqb")
LETTERS = "".join(c for c in string.ascii_letters if c not in DIGIT_LIKE)
# Signs no one reads as a digit (not $ or § for a 5, θ or φ for a 0, β for an 8, ? for a 2).
SIGNS = "#%&*+<=>@^{}~£¥©®¶ΓΔΛΞΠΣΨΩεηκλμξπχψω€♠♣♥♦♪✓✗"
SHARES = {"letters": 0.3, "signs": 0.15, "strokes": 0.1, "polygons": 0.1, "filled": 0.1, "clutter": 0.1,
          "parts": 0.15}
# What each kind looks like, as the page says it: the head tells these apart (novelty.KINDS).
LOOKS_LIKE = {"letters": LETTER, "signs": LETTER, "polygons": SHAPE, "strokes": SCRIBBLE, "clutter": SCRIBBLE,
              "parts": SCRIBBLE, "filled": BLOB}
SIDE = 192  # px of the square the parts are drawn in
MIN_ROUNDNESS = 0.35  # drawn examples thinner than this (see roundness) are drawn again
Points = list[tuple[float, float]]


def non_digit_examples(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` non-digits in the SHARES (letters only where the machine has training fonts);
    (n, 28, 28) uint8 and their kinds; cached on disk."""
    designs = split_designs(font_designs())[0]
    made = cached_arrays("non-digits", [VERSION, n, seed, designs],
                         lambda: dict(zip(("x", "kind"), _make(n, seed, designs), strict=True)))
    return made["x"], made["kind"]


def _make(n: int, seed: int, designs: Designs) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    kinds = [k for k in SHARES if designs or k not in ("letters", "signs")]
    share = np.array([SHARES[k] for k in kinds])
    kind = rng.choice(kinds, n, p=share / share.sum())
    files = [p for paths in designs.values() for p in paths]
    x = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        while True:
            typed = {"letters": LETTERS, "signs": SIGNS}.get(str(kind[i]))
            glyph = _typed(files, typed, rng) if typed else _drawn(str(kind[i]), rng)
            x28 = digit_28(glyph)
            if typed or roundness(x28) >= MIN_ROUNDNESS:  # a thin bar is a 1 to a person
                break
        x[i] = np.round(x28 * 255)
    return x, kind


def roundness(x28: np.ndarray) -> float:
    """The ink's narrowest spread over its widest (square root of the second moments' eigenvalues'
    ratio): 0 for a line, 1 for a disc or a ring. MNIST's 1s: 0.11-0.29 (5th-95th percentile),
    every other digit 0.33 or more at its 5th."""
    ink = np.asarray(x28, np.float64)
    total = ink.sum()
    if total <= 0:
        return 0.0
    ys, xs = np.mgrid[0 : ink.shape[0], 0 : ink.shape[1]]
    cy, cx = (ink * ys).sum() / total, (ink * xs).sum() / total
    cov = np.cov(np.stack([xs.ravel() - cx, ys.ravel() - cy]), aweights=ink.ravel(), bias=True)
    low, high = np.linalg.eigvalsh(cov)
    return float(np.sqrt(max(low, 0.0) / high)) if high > 0 else 0.0


def _typed(files: list, characters: str, rng: np.random.Generator) -> np.ndarray:
    """One of `characters` in a random training font that has it, typed or drawn as strokes."""
    while True:
        path, letter = files[rng.integers(len(files))], characters[rng.integers(len(characters))]
        if draws_glyph(path, letter):
            glyph = typed_glyph(letter, path, rng)
            return as_strokes(glyph, rng) if rng.random() < 0.5 else glyph


def _drawn(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One non-digit of `kind`, white on black, (SIDE, SIDE) uint8."""
    img = Image.new("L", (SIDE, SIDE), 0)
    draw = ImageDraw.Draw(img)
    pen = rng.uniform(0.02, 0.09) * SIDE
    if kind == "clutter":
        for _ in range(int(rng.integers(3, 7))):
            part = rng.choice(["dot", "hook", "ring", "bar"])
            centre, size = rng.uniform(0.15, 0.85, 2), rng.uniform(0.06, 0.2)
            if part == "dot":
                _stroke(draw, [tuple(centre)], pen * rng.uniform(1, 2.5))
            elif part == "ring":
                _stroke(draw, _loop(rng, centre, size), pen)
            else:
                path = _bezier(rng, centre, size) if part == "hook" else _bar(rng, centre, size)
                _stroke(draw, path, pen)
        return np.asarray(img)
    if kind == "parts":
        for _ in range(int(rng.integers(2, 5))):
            centre, size = rng.uniform(0.25, 0.75, 2), rng.uniform(0.12, 0.4)
            part = rng.choice(["loop", "corners", "curve", "bar", "dot"])
            if part == "dot":
                _stroke(draw, [tuple(centre)], pen * rng.uniform(1, 2.5))
            elif part == "corners":
                _stroke(draw, [(centre[0] + (x - 0.5) * 2 * size, centre[1] + (y - 0.5) * 2 * size)
                               for x, y in _corners(rng)], pen)
            else:
                path = {"loop": _loop, "curve": _bezier, "bar": _bar}[part](rng, centre, size)
                _stroke(draw, path, pen)
        return np.asarray(img)
    if kind == "filled":
        outline = _corners(rng) if rng.random() < 0.5 else _loop(rng, (0.5, 0.5), 0.4)
        draw.polygon([(x * SIDE, y * SIDE) for x, y in outline], fill=255)
        return np.asarray(img)
    paths = {"strokes": lambda: [_bezier(rng, (0.5, 0.5), 0.45) for _ in range(int(rng.integers(2, 4)))],
             "polygons": lambda: [_corners(rng)]}[kind]()
    for path in paths:
        _stroke(draw, path, pen)
    return np.asarray(img)


def _stroke(draw: ImageDraw.ImageDraw, path: Points, pen: float) -> None:
    """A round pen along the path (unit coordinates)."""
    xy = [(x * SIDE, y * SIDE) for x, y in path]
    if len(xy) > 1:
        draw.line(xy, fill=255, width=max(1, int(pen)), joint="curve")
    for x, y in (xy[0], xy[-1]):
        draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)


def _bezier(rng: np.random.Generator, centre, size: float) -> Points:
    """A cubic Bezier curve through four random control points around `centre`."""
    p = np.asarray(centre) + rng.uniform(-size, size, (4, 2))
    t = np.linspace(0, 1, 24)[:, None]
    curve = (1 - t) ** 3 * p[0] + 3 * (1 - t) ** 2 * t * p[1] + 3 * (1 - t) * t**2 * p[2] + t**3 * p[3]
    return [tuple(q) for q in curve]


def _bar(rng: np.random.Generator, centre, size: float) -> Points:
    angle = rng.uniform(0, np.pi)
    d = size * np.array([np.cos(angle), np.sin(angle)])
    return [tuple(np.asarray(centre) - d), tuple(np.asarray(centre) + d)]


def _loop(rng: np.random.Generator, centre, size: float) -> Points:
    """A closed curve whose radius waves (2-5 lobes), stretched to any width for its height."""
    theta = np.linspace(0, 2 * np.pi, 48)
    radius = 1 + sum(rng.uniform(0, 0.15) * np.cos(k * theta + rng.uniform(0, 2 * np.pi)) for k in range(2, 6))
    stretch = np.exp(rng.uniform(-0.1, 0.8))  # as wide as tall or wider: a tall, narrow loop is a 0
    x, y = radius * np.cos(theta) * stretch, radius * np.sin(theta) / stretch
    scale = size / max(np.abs(x).max(), np.abs(y).max())
    return [(centre[0] + a * scale, centre[1] + b * scale) for a, b in zip(x, y, strict=True)]


def _corners(rng: np.random.Generator) -> Points:
    """A closed outline through 3-7 corners at random angles and distances from the centre."""
    k = int(rng.integers(3, 8))
    angle = np.sort(rng.uniform(0, 2 * np.pi, k))
    radius = rng.uniform(0.15, 0.45, k)
    corners = [(0.5 + r * np.cos(a), 0.5 + r * np.sin(a)) for a, r in zip(angle, radius, strict=True)]
    return [*corners, corners[0]]
