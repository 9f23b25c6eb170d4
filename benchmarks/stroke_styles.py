"""Hand-drawn digits in styles MNIST lacks, drawn stroke by stroke: for the benchmark only.

    canvas = draw_styled(7, rng)     # (280, 280, 4) uint8 RGBA, as the canvas gives it
    STYLES[7]                        # {"crossbar": [...strokes...], ...}

Each digit has a few allographs written here once, as pen paths in a unit box (x to the right,
y down): a 1 with a flag, with a flag and a foot; a 7 with a crossbar, with a serif; an open 4,
a 4 in one stroke; a 9 with a straight stem; a 2 with a loop; a flat-topped 3; an 8 as two
circles... Every drawing is one writer's version: the allograph's points jittered, slanted,
squeezed, drawn with a round pen of a random width, at a random size and place on a 280x280
canvas, the way the Draw page's canvas gives it (RGBA). Nothing in mnist_core imports this
file: no model is ever trained on these styles, so they measure what the model learned about
digits rather than about these drawings.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from mnist_core.training.digit_variants import catmull_rom

Path = list[tuple[float, float]]


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 14) -> Path:
    """Points along an ellipse from angle a0 to a1 (degrees; 0 = right, 90 = down)."""
    t = np.radians(np.linspace(a0, a1, n))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in t]


STYLES: dict[int, dict[str, list[Path]]] = {
    0: {
        "oval": [arc(0.5, 0.5, 0.32, 0.5, -90, 285)],
        "open at the top": [arc(0.5, 0.5, 0.3, 0.5, -55, 225)],
        "leaning": [[(x + 0.25 * (0.5 - y), y) for x, y in arc(0.5, 0.5, 0.28, 0.5, -100, 270)]],
    },
    1: {
        "flag": [[(0.25, 0.3), (0.6, 0.0), (0.6, 1.0)]],
        "flag and foot": [[(0.3, 0.25), (0.55, 0.0), (0.55, 1.0)], [(0.25, 1.0), (0.85, 1.0)]],
        "long flag": [[(0.05, 0.5), (0.6, 0.0), (0.58, 1.0)]],
    },
    2: {
        "loop": [[(0.12, 0.25), *arc(0.5, 0.28, 0.36, 0.28, 190, 370, 10), (0.25, 0.8),
                  *arc(0.25, 0.88, 0.14, 0.11, 270, 520, 10), (0.9, 0.95)]],
        "angular": [[(0.1, 0.15), (0.45, 0.0), (0.85, 0.2), (0.1, 1.0), (0.9, 1.0)]],
        "swan": [[*arc(0.5, 0.3, 0.38, 0.3, 180, 380, 12), (0.1, 1.0), (0.5, 0.93), (0.92, 1.0)]],
    },
    3: {
        "flat top": [[(0.1, 0.0), (0.85, 0.0), (0.4, 0.42), *arc(0.45, 0.68, 0.4, 0.32, -80, 150, 12)]],
        "two bowls": [[*arc(0.45, 0.25, 0.35, 0.25, 200, 450, 12), *arc(0.45, 0.73, 0.4, 0.27, -90, 150, 12)]],
        "pointed": [[(0.15, 0.1), (0.85, 0.05), (0.45, 0.45), (0.9, 0.7), (0.5, 1.0), (0.1, 0.85)]],
    },
    4: {
        "open": [[(0.2, 0.0), (0.1, 0.62), (0.95, 0.62)], [(0.72, 0.1), (0.72, 1.0)]],
        "one stroke": [[(0.72, 1.0), (0.72, 0.0), (0.05, 0.68), (0.95, 0.68)]],
        "crossed": [[(0.55, 0.0), (0.08, 0.65), (0.95, 0.65)], [(0.7, 0.3), (0.7, 1.0)]],
    },
    5: {
        "one stroke": [[(0.9, 0.0), (0.25, 0.02), (0.2, 0.45), *arc(0.48, 0.68, 0.4, 0.32, -100, 150, 12)]],
        "flag last": [[(0.25, 0.0), (0.18, 0.45), *arc(0.45, 0.68, 0.42, 0.32, -110, 150, 12)],
                      [(0.25, 0.0), (0.9, 0.0)]],
        "angular": [[(0.85, 0.0), (0.2, 0.0), (0.15, 0.4), (0.75, 0.45), (0.85, 0.85), (0.5, 1.0), (0.1, 0.9)]],
    },
    6: {
        "straight stem": [[(0.75, 0.0), (0.2, 0.65), *arc(0.5, 0.75, 0.32, 0.25, 180, 530, 16)]],
        "curled": [[*arc(0.85, 0.55, 0.65, 0.55, 250, 180, 8), *arc(0.5, 0.75, 0.32, 0.25, 180, 520, 14)]],
        "small loop": [[(0.7, 0.0), (0.35, 0.4), (0.25, 0.8), *arc(0.45, 0.85, 0.2, 0.15, 180, 530, 12)]],
    },
    7: {
        "crossbar": [[(0.1, 0.05), (0.9, 0.0), (0.4, 1.0)], [(0.3, 0.52), (0.85, 0.48)]],
        "serif": [[(0.1, 0.25), (0.1, 0.02), (0.9, 0.0), (0.45, 1.0)]],
        "curved stem": [[(0.1, 0.05), (0.9, 0.0), (0.55, 0.45), (0.45, 1.0)]],
    },
    8: {
        "two circles": [arc(0.5, 0.22, 0.24, 0.22, 0, 360, 14), arc(0.5, 0.72, 0.32, 0.28, 0, 360, 14)],
        "one stroke": [[*arc(0.5, 0.25, 0.28, 0.25, 30, -210, 10), *arc(0.5, 0.73, 0.32, 0.27, -90, 270, 16),
                        (0.78, 0.35)]],
        "snowman": [arc(0.5, 0.2, 0.2, 0.2, -90, 270, 12), arc(0.5, 0.7, 0.36, 0.3, -90, 270, 14)],
    },
    9: {
        "straight stem": [[*arc(0.48, 0.27, 0.3, 0.27, 0, 360, 14), (0.78, 0.27), (0.76, 1.0)]],
        "curved tail": [[*arc(0.5, 0.27, 0.3, 0.27, 0, 360, 14), (0.8, 0.27), (0.75, 0.8), (0.5, 1.0), (0.2, 0.9)]],
        "slanted": [[*arc(0.55, 0.25, 0.3, 0.25, 10, 370, 14), (0.85, 0.3), (0.45, 1.0)]],
    },
}


def draw_styled(digit: int, rng: np.random.Generator) -> np.ndarray:
    """One writer's `digit` in a random one of its styles, on a 280x280 RGBA canvas."""
    names = sorted(STYLES[digit])
    strokes = STYLES[digit][names[rng.integers(len(names))]]
    slant, squeeze = rng.uniform(-0.25, 0.25), rng.uniform(0.6, 1.05)
    height = rng.uniform(60, 240)
    width = height * 0.7 * squeeze
    left = rng.uniform(10, max(11, 270 - width - 0.3 * height))
    top = rng.uniform(10, max(11, 270 - height))
    pen = int(min(rng.integers(6, 36), 0.2 * height))  # a pen that leaves the digit legible
    img = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    draw = ImageDraw.Draw(img)
    for stroke in strokes:
        jittered = [(x + rng.normal(0, 0.025), y + rng.normal(0, 0.025)) for x, y in stroke]  # the writer's hand
        xy = [(left + (x + slant * (1 - y)) * width, top + y * height) for x, y in catmull_rom(jittered)]
        draw.line(xy, fill="white", width=pen, joint="curve")
        for x, y in (xy[0], xy[-1]):  # a round pen's ends
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill="white")
    return np.asarray(img)
