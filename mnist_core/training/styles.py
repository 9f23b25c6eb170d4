"""Digits in styles MNIST lacks, for training: typed in the training fonts, or those fonts'
shapes drawn again as pen strokes with a trembling hand, each made as the Draw page makes them.

    x, y = style_digits(24_000, seed=1671)      # (n, 28, 28) uint8, white on black; (n,) labels
    glyph = as_strokes(typed_digit(4, path, rng), rng)    # a font's 4, hand-drawn

MNIST's 500 writers wrote American digits on paper; people on the canvas write a 1 with a flag
and a foot, a 7 with a crossbar, an open 4, with a mouse's even strokes. Fonts (print and
handwriting ones) carry many of those shapes. Only the training designs are used here
(fonts.split_designs): the held-out third is for the drawing benchmark alone.

Every digit goes through `preprocess`, as a canvas drawing does, so the model learns exactly
the 28x28 images it will be shown. Making a run's (mix.STYLE_DIGITS) takes a few minutes; they are cached
(`~/.cache/mnist-dense/styles-*.npz`, keyed by the fonts, the count, the seed and VERSION).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable

import numpy as np
from PIL import Image

from mnist_core import atomic
from mnist_core.data import cache_path
from mnist_core.errors import UserError
from mnist_core.preprocessing import NotADigit, preprocess
from mnist_core.training.fonts import Designs, font_designs, split_designs, typed_digit
from mnist_core.training.pen import draw_with_pen, thin

VERSION = 2  # of the recipe below (2: preprocessing keeps thick strokes whole): a change makes new cache files
STROKE_SHARE = 0.5  # of the digits drawn as pen strokes rather than typed
PEN = (0.025, 0.07)  # pen radius, as a fraction of the glyph's longer side
TREMOR = (0.0, 0.025)  # the hand's wobble, in the same unit
MARGIN = 0.15  # blank border added around a glyph, as a fraction of its longer side


class NoFonts(UserError, ValueError):
    """No usable font on this machine; the message is one line for the user."""


def training_designs() -> Designs:
    """The font designs training may use; NoFonts (one line) when this machine has none."""
    designs = split_designs(font_designs())[0]
    if not designs:
        raise NoFonts("font styles need fonts with the ten digits, and this machine has none: run `make fonts` "
                      "(Debian's font packages)")
    return designs


def style_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` digits (as many of each) in the training fonts, typed or drawn; cached on disk."""
    designs = training_designs()
    made = cached_arrays("styles", [VERSION, n, seed, designs],
                         lambda: dict(zip(("x", "y"), _make(n, seed, designs), strict=True)))
    return made["x"], made["y"]


def cached_arrays(name: str, recipe: list, make: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays `make()` returns, kept beside the MNIST cache as `<name>-<key>.npz`, the key a
    hash of `recipe` (JSON; font designs by their files' paths): made once for each recipe."""
    plain = [{k: list(map(str, v)) for k, v in part.items()} if isinstance(part, dict) else part for part in recipe]
    key = hashlib.sha256(json.dumps(plain).encode()).hexdigest()[:16]
    cached = cache_path().parent / f"{name}-{key}.npz"
    if cached.is_file():
        with np.load(cached) as f:
            return {k: f[k] for k in f.files}
    arrays = make()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic.write_bytes(cached, buffer.getvalue())
    return arrays


def _make(n: int, seed: int, designs: Designs) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    names = sorted(designs)
    x, y = np.zeros((n, 28, 28), np.uint8), np.arange(n, dtype=np.uint8) % 10
    for i in range(n):
        files = designs[names[rng.integers(len(names))]]  # each design as likely, whatever its size
        glyph = typed_digit(int(y[i]), files[rng.integers(len(files))], rng)
        if rng.random() < STROKE_SHARE:
            glyph = as_strokes(glyph, rng)
        x[i] = np.round(digit_28(glyph) * 255)
    return x, y


def digit_28(glyph: np.ndarray) -> np.ndarray:
    """A white-on-black glyph (H, W) uint8 -> the Draw page's (28, 28) float32 (blank if no digit)."""
    pad = int(MARGIN * max(glyph.shape)) + 2
    try:
        x = preprocess(np.pad(glyph, pad))
    except NotADigit:
        x = None
    return x if x is not None else np.zeros((28, 28), np.float32)


def as_strokes(glyph: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A glyph's skeleton drawn again with a round pen of a random width and a trembling hand."""
    pad = int(MARGIN * max(glyph.shape)) + 2
    g = np.pad(glyph, pad).astype(np.float32) / 255
    size = max(glyph.shape)
    wobble = rng.uniform(*TREMOR) * size
    g = _warp(g, wobble, coarse=4, rng=rng)  # slow drift of the hand
    g = _warp(g, wobble / 3, coarse=12, rng=rng)  # and its tremor
    skeleton = thin(g > 0.5)
    ink = draw_with_pen(skeleton, max(1.0, rng.uniform(*PEN) * size))
    return np.round(ink * 255).astype(np.uint8)


def _warp(image: np.ndarray, pixels: float, coarse: int, rng: np.random.Generator) -> np.ndarray:
    """Displace every pixel along a smooth random field of `pixels` standard deviation."""
    h, w = image.shape
    if pixels <= 0:
        return image
    field = [np.asarray(Image.fromarray(rng.normal(0, pixels, (coarse, coarse)).astype(np.float32), "F")
                        .resize((w, h), Image.BICUBIC)) for _ in range(2)]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return _bilinear(image, xx + field[0], yy + field[1])


def _bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sample `image` at float coordinates; outside is black."""
    h, w = image.shape
    padded = np.pad(image, 1)
    x = np.clip(x + 1, 0, w + 0.999)
    y = np.clip(y + 1, 0, h + 0.999)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w + 1), np.minimum(y0 + 1, h + 1)
    fx, fy = x - x0, y - y0
    top = padded[y0, x0] * (1 - fx) + padded[y0, x1] * fx
    bottom = padded[y1, x0] * (1 - fx) + padded[y1, x1] * fx
    return top * (1 - fy) + bottom * fy
