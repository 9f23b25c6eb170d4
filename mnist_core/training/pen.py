"""Digits redrawn with a pen: thinned to their skeleton, then drawn again with a round pen.

    skeleton = thin(ink > 0.5)                         # (n, H, W) bool, one pixel wide
    strokes = draw_with_pen(skeleton, radius=3.0)      # (n, H, W) float32 in [0, 1]
    pool = redraw_mnist(x_train, rng)                  # (n, 28, 28) uint8, canvas-like strokes

A pen on a canvas draws strokes of one width with round ends; MNIST's digits were written with
pens on paper and scanned, so their strokes swell and thin. Redrawing a training digit's
skeleton with a round pen of a random width keeps its shape and gives it the canvas's kind of
stroke, so the model learns both (Zhang and Suen's thinning, 1984; the pen is a disk stamped
along the skeleton, anti-aliased at its edge).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

CHUNK = 2048  # images thinned at a time: the neighbour arrays of 48,000 at once would take GBs
# Pen radii at 56x56 (twice MNIST's size) that, halved, span MNIST's own stroke widths after
# the Draw page's normalisation (2.1-3.2 px across a 20 px digit): radius 1.6-3.2 px at 56.
PEN_RADII = (1.6, 2.0, 2.4, 2.8, 3.2)


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of (n, H, W) or (H, W) bool masks: one-pixel-wide skeletons."""
    single = mask.ndim == 2
    m = np.pad(np.asarray(mask, bool)[None] if single else np.asarray(mask, bool), ((0, 0), (1, 1), (1, 1)))
    out = np.concatenate([_thin_chunk(m[i:i + CHUNK]) for i in range(0, len(m), CHUNK)])[:, 1:-1, 1:-1]
    return out[0] if single else out


def _thin_chunk(m: np.ndarray) -> np.ndarray:
    m = m.copy()
    while True:
        changed = False
        for step in (0, 1):
            c = m[:, 1:-1, 1:-1]
            # the 8 neighbours, clockwise from north: P2..P9 in Zhang and Suen's paper
            p = [m[:, :-2, 1:-1], m[:, :-2, 2:], m[:, 1:-1, 2:], m[:, 2:, 2:],
                 m[:, 2:, 1:-1], m[:, 2:, :-2], m[:, 1:-1, :-2], m[:, :-2, :-2]]
            count = sum(q.astype(np.uint8) for q in p)
            transitions = sum((~p[i] & p[(i + 1) % 8]).astype(np.uint8) for i in range(8))
            if step == 0:
                side = ~(p[0] & p[2] & p[4]) & ~(p[2] & p[4] & p[6])
            else:
                side = ~(p[0] & p[2] & p[6]) & ~(p[0] & p[4] & p[6])
            remove = c & (count >= 2) & (count <= 6) & (transitions == 1) & side
            if remove.any():
                c &= ~remove
                changed = True
        if not changed:
            return m


def draw_with_pen(skeleton: np.ndarray, radius: float) -> np.ndarray:
    """Stamp a round, anti-aliased pen of `radius` px along (n, H, W) skeletons -> float32 ink."""
    s = np.asarray(skeleton, bool)
    single = s.ndim == 2
    s = s[None] if single else s
    r = int(np.ceil(radius + 0.5))
    padded = np.pad(s, ((0, 0), (r, r), (r, r)))
    h, w = s.shape[1:]
    ink = np.zeros(s.shape, np.float32)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            weight = np.clip(radius + 0.5 - np.hypot(dx, dy), 0.0, 1.0)  # 1 inside, a soft edge
            if weight > 0:
                shifted = padded[:, r + dy:r + dy + h, r + dx:r + dx + w]
                np.maximum(ink, shifted * np.float32(weight), out=ink)
    return ink[0] if single else ink


def redraw_mnist(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, 28, 28) uint8 MNIST digits, each redrawn with a round pen of a random width, at
    twice the size and back (so the strokes' edges stay smooth): (n, 28, 28) uint8."""
    n = len(images)
    radii = rng.choice(PEN_RADII, n)
    out = np.empty((n, 28, 28), np.uint8)
    for i in range(0, n, CHUNK):
        big = _upsample(images[i:i + CHUNK])  # (k, 56, 56) float32 in [0, 1]
        skeleton = thin(big > 0.45)
        for radius in PEN_RADII:
            chosen = np.nonzero(radii[i:i + CHUNK] == radius)[0]
            if len(chosen):
                ink = draw_with_pen(skeleton[chosen], radius)
                out[i + chosen] = np.round(ink.reshape(-1, 28, 2, 28, 2).mean(axis=(2, 4)) * 255).astype(np.uint8)
    return out


def _upsample(images: np.ndarray) -> np.ndarray:
    """(k, 28, 28) uint8 -> (k, 56, 56) float32 in [0, 1], bilinear."""
    return np.stack([np.asarray(Image.fromarray(x).resize((56, 56), Image.BILINEAR), np.float32) / 255
                     for x in images])
