"""MNIST's digits as other hands and other scanners give them: what the "not a digit" head must
still call digits.

    x = variant_digits(x_train, 24_000, seed=1671)   # (n, 28, 28) uint8: n of them, each one of KINDS; cached
    x = variants(images, rng)        # (n, 28, 28) uint8 digits -> as many, each made one of KINDS
    rescanned(image, rng)            # (28, 28) float32: scanned at 10-18 px tall, 2-7 grey levels
    bent(image, rng)                 # tilted, sheared, squeezed and bent by a smooth field
    traced(image, rng)               # its skeleton's path, simplified to a few points, drawn anew

People write digits MNIST never saw: a hurried hand's few straight or curved segments, a pen
trace with no lift between strokes (a 4 or a 5 in one line), a map or a form scanned at 16 px
tall, a digit slanted or squeezed. A head taught only MNIST-like digits calls such digits
"not a digit" (38% of a set of real pen traces, docs/figures.md). These are made from MNIST's
training split alone, each through `preprocess` as a canvas drawing is; no real writer's digit
is ever used (benchmarks/real_handwriting.py measures on those). Making 24,000 takes two to
three minutes; they are cached (`~/.cache/mnist-dense/variants-*.npz`), as style digits are.
"""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image, ImageDraw

from mnist_core.training.pen import thin
from mnist_core.training.styles import _warp, cached_arrays, digit_28

VERSION = 1  # of the recipes below: a change makes new cache files
KINDS = ("rescanned", "bent", "traced")


def variant_digits(x: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`n` of the digits `x` (uint8, MNIST's), chosen at random, each drawn again as a random one
    of KINDS; cached on disk, by the digits' own fingerprint."""
    def make() -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        return {"x": variants(x[rng.choice(len(x), min(n, len(x)), replace=False)], rng)}

    fingerprint = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()[:16]
    return cached_arrays("variants", [VERSION, n, seed, fingerprint], make)["x"]


def variants(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, 28, 28) uint8 digits -> (n, 28, 28) uint8, each drawn again as a random one of KINDS."""
    makers = {"rescanned": rescanned, "bent": bent, "traced": traced}
    kinds = rng.choice(KINDS, len(images))
    return np.stack([np.round(makers[k](image, rng) * 255).astype(np.uint8) for k, image in zip(kinds, images,
                                                                                                 strict=True)])


def rescanned(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The digit scanned small (10-18 px tall, a random width for it), its pixels rounded to 2-7
    grey levels, then blown up smoothly: a scan of a map, a form or an envelope."""
    rows, cols = np.nonzero(image > 30)
    if len(rows) == 0:
        return np.zeros((28, 28), np.float32)
    glyph = image[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    height = int(rng.integers(10, 19))
    width = max(3, round(glyph.shape[1] * height / glyph.shape[0] * rng.uniform(0.8, 1.2)))
    small = np.asarray(Image.fromarray(glyph).resize((width, height), Image.BOX), np.float32) / 255
    levels = int(rng.integers(2, 8)) - 1
    small = np.round(small * levels) / levels
    big = Image.fromarray(np.round(small * 255).astype(np.uint8)).resize((width * 7, height * 7), Image.BICUBIC)
    return digit_28(np.pad(np.asarray(big), 8))


def bent(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The digit tilted up to 25 degrees, sheared, squeezed or widened by up to 1.5x, and bent
    along a smooth random field: the shapes of other hands."""
    big = Image.fromarray(image).resize((112, 112), Image.BICUBIC)
    stretch, shear = np.exp(rng.uniform(-0.4, 0.4)), rng.uniform(-0.4, 0.4)
    # x' = x / stretch + shear * y ... about the centre (56, 56): PIL maps output to input pixels
    big = big.transform((112, 112), Image.AFFINE, (1 / stretch, shear, 56 - 56 / stretch - 56 * shear,
                                                   0, stretch, 56 - 56 * stretch), Image.BILINEAR)
    ink = np.asarray(big.rotate(float(rng.uniform(-25, 25)), Image.BILINEAR), np.float32) / 255
    ink = _warp(ink, float(rng.uniform(3, 9)), coarse=int(rng.integers(3, 6)), rng=rng)
    return digit_28(np.round(np.clip(ink, 0, 1) * 255).astype(np.uint8))


def traced(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The digit's skeleton followed as a pen would follow it, each path simplified to a few
    points (6-16 along a 28-px digit's height), drawn again straight or smooth with a round pen;
    half of them in one line, the pen never lifted between strokes."""
    big = np.asarray(Image.fromarray(image).resize((56, 56), Image.BILINEAR), np.float32) / 255
    paths = _in_writing_order(skeleton_paths(thin(big > 0.45)))
    if not paths:
        return digit_28(image)
    if rng.random() < 0.5:
        paths = [np.concatenate(paths)]
    smooth = rng.random() < 0.6
    height = rng.uniform(60, 240)
    scale, stretch = height / 56, np.exp(rng.uniform(-0.3, 0.3))
    pen = int(min(rng.integers(6, 30), 0.2 * height))
    canvas = Image.new("L", (320, 320), 0)
    draw = ImageDraw.Draw(canvas)
    for path in paths:
        length = np.hypot(*np.diff(path, axis=0).T).sum()
        points = _resample(path, max(2, round(length / 56 * rng.uniform(6, 16)))) + rng.normal(0, 0.6, (1, 2))
        xy = [(20 + x * scale * stretch, 20 + y * scale) for y, x in points]
        if smooth and len(xy) >= 3:
            xy = catmull_rom(xy)
        draw.line(xy, fill=255, width=pen, joint="curve")
        for x, y in (xy[0], xy[-1]):  # a round pen's ends
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    return digit_28(np.asarray(canvas))


NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def skeleton_paths(skeleton: np.ndarray) -> list[np.ndarray]:
    """A one-pixel-wide skeleton -> paths of (row, col) points that cover it: each starts at a
    free end where there is one, and goes on as straight as it can until no unvisited pixel is
    next to it (paths under 3 pixels are dropped)."""
    pixels = set(zip(*np.nonzero(skeleton), strict=True))

    def around(p: tuple[int, int]) -> list[tuple[int, int]]:
        return [(p[0] + dy, p[1] + dx) for dy, dx in NEIGHBOURS if (p[0] + dy, p[1] + dx) in pixels]

    degree = {p: len(around(p)) for p in pixels}
    seen: set[tuple[int, int]] = set()
    paths = []
    while len(seen) < len(pixels):
        rest = [p for p in pixels if p not in seen]
        path = [min([p for p in rest if degree[p] == 1] or rest)]
        seen.add(path[0])
        heading = None
        while True:
            here = path[-1]
            ahead = [q for q in around(here) if q not in seen]
            if not ahead:
                break
            if heading is not None:  # the straightest way on
                ahead.sort(key=lambda q: -((q[0] - here[0]) * heading[0] + (q[1] - here[1]) * heading[1]))
            heading = (ahead[0][0] - here[0], ahead[0][1] - here[1])
            path.append(ahead[0])
            seen.add(ahead[0])
        if len(path) >= 3:
            paths.append(np.array(path, np.float32))
    return paths


def _in_writing_order(paths: list[np.ndarray]) -> list[np.ndarray]:
    """The longest path first, then each next the one whose end is nearest, turned to start there."""
    rest = sorted(paths, key=len, reverse=True)
    ordered = rest[:1]
    rest = rest[1:]
    while rest:
        end = ordered[-1][-1]
        i = min(range(len(rest)), key=lambda j: min(np.hypot(*(rest[j][0] - end)), np.hypot(*(rest[j][-1] - end))))
        path = rest.pop(i)
        ordered.append(path[::-1] if np.hypot(*(path[-1] - end)) < np.hypot(*(path[0] - end)) else path)
    return ordered


def _resample(path: np.ndarray, n: int) -> np.ndarray:
    """n points spaced evenly along a path's length."""
    along = np.r_[0, np.cumsum(np.hypot(*np.diff(path, axis=0).T))]
    if along[-1] == 0:
        return path[:1]
    at = np.linspace(0, along[-1], n)
    return np.stack([np.interp(at, along, path[:, 0]), np.interp(at, along, path[:, 1])], axis=1)


def catmull_rom(points: list[tuple[float, float]], per_segment: int = 6) -> list[tuple[float, float]]:
    """A Catmull-Rom curve through the points (the ends held), as a hand moves between them."""
    p = np.asarray(points, np.float64)
    if len(p) < 3:
        return [tuple(q) for q in p]
    p = np.vstack([p[0], p, p[-1]])
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        for t in np.linspace(0, 1, per_segment, endpoint=False):
            out.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t * t
                              + (3 * p1 - p0 - 3 * p2 + p3) * t * t * t))
    out.append(p[-2])
    return [tuple(q) for q in out]
