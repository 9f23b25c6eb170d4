"""What the model read, told the way a person needs it: the digit, or "4 or 9?" when unsure,
and where the ink differs from MNIST's own digits of that kind.

    r = interpret(probabilities)       # Reading(digit=4, confidence=0.52, runner_up=9, ...)
    r.headline                         # "4", or "4 or 9?" when the top two are within UNSURE_MARGIN
    r = interpret(p, not_a_digit=True, looks_like="a letter or a sign")
    r.headline, r.warning              # "Not a digit", "It looks more like a letter or a sign than a digit."
    r.closest                          # "If it is a digit, it is most like a 4 (99%)": the reading, kept
    notes = differences(x28, r.digit)  # ["Strokes thinner than 9 in 10 of MNIST's 4s", ...]
    picture = overlay(x28, r.digit)    # (196, 196, 3) uint8: the 28x28 with the differences drawn
    answer(rounded(p), "a letter or a sign")   # the JSON a program reads (POST /predict, predict --json)

A dense network has learned MNIST's digits as they are: about 20 px tall, strokes of their
width, leaning as American writers lean. A drawing far outside those ranges is where it is
most often wrong, so the page shows which range it is outside, measured the same way on the
drawing as on MNIST's training digits (`profile`; the TYPICAL table is its output, and
tests/test_reading.py recomputes it from the real data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.preprocessing import digit_stroke_width

UNSURE_MARGIN = 0.3  # top two probabilities closer than this: the page says "4 or 9?"


@dataclass(frozen=True)
class Reading:
    digit: int  # the likeliest digit: the reading, or the closest digit to a drawing that is none
    confidence: float
    runner_up: int
    runner_up_confidence: float
    not_a_digit: bool = False
    looks_like: str | None = None  # what a drawing that is no digit looks like instead ("a letter or a sign")

    @property
    def unsure(self) -> bool:
        return not self.not_a_digit and self.confidence - self.runner_up_confidence < UNSURE_MARGIN

    @property
    def headline(self) -> str:
        if self.not_a_digit:
            return "Not a digit"
        return f"{self.digit} or {self.runner_up}?" if self.unsure else str(self.digit)

    @property
    def warning(self) -> str:
        """Why it is called no digit, in plain words ("" for a digit)."""
        if not self.not_a_digit:
            return ""
        return f"It looks more like {self.looks_like or 'something else'} than a digit."

    @property
    def closest(self) -> str:
        """The reading of a drawing that is no digit, kept: what it would be if it were one."""
        return f"If it is a digit, it is most like {a_digit(self.digit)} ({self.confidence:.0%})"


def rounded(probabilities: np.ndarray) -> list:
    """Probabilities of any shape as JSON's numbers: Python floats to 6 decimals."""
    return np.round(np.asarray(probabilities, np.float64), 6).tolist()


def answer(probabilities: list[float], looks_like: str | None = None) -> dict:
    """A reading as JSON, the one shape of the HTTP API and `predict --json`: {"digit": 3,
    "confidence": 0.97, "probabilities": [...ten...], "not_a_digit": false}, and for a drawing
    that is no digit, "not_a_digit": true, "looks_like": "a letter or a sign" (the digit is then
    the closest one). `probabilities`: ten, rounded."""
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    item = {"digit": best, "confidence": probabilities[best], "probabilities": probabilities,
            "not_a_digit": looks_like is not None}
    return item if looks_like is None else {**item, "looks_like": looks_like}


def a_digit(digit: int) -> str:
    """ "a 7", "an 8": as the digit is said."""
    return f"{'an' if digit == 8 else 'a'} {digit}"


def interpret(probabilities: np.ndarray, not_a_digit: bool = False, looks_like: str | None = None) -> Reading:
    """The top two of ten probabilities, as a person is told them."""
    order = np.argsort(-np.asarray(probabilities))
    first, second = int(order[0]), int(order[1])
    return Reading(first, float(probabilities[first]), second, float(probabilities[second]), bool(not_a_digit),
                   looks_like if not_a_digit else None)


@dataclass(frozen=True)
class Measures:
    width: float  # stroke width, px at 80 px tall (as preprocessing measures it)
    aspect: float  # the ink's width over its height
    slant: float  # degrees the ink leans right of upright (its axis from the second moments)


def measure(x28: np.ndarray) -> Measures:
    """Stroke width, aspect ratio and slant of a 28x28 digit (ink high)."""
    ink = np.where(x28 > 0.1, x28, 0).astype(np.float64)
    rows, cols = np.nonzero(ink)
    if len(rows) == 0:
        return Measures(0.0, 0.0, 0.0)
    height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    total = ink.sum()
    ys, xs = np.mgrid[0:28, 0:28]
    cy, cx = (ink * ys).sum() / total, (ink * xs).sum() / total
    var_y = (ink * (ys - cy) ** 2).sum() / total
    cov = (ink * (xs - cx) * (ys - cy)).sum() / total
    slant = float(np.degrees(np.arctan2(-cov, var_y)))  # x grows right, y grows down: -cov leans right
    return Measures(float(digit_stroke_width(x28.astype(np.float32))), float(width / height), slant)


def profile(x: np.ndarray, y: np.ndarray) -> dict[int, dict[str, tuple[float, float]]]:
    """MNIST's typical range (10th to 90th percentile) of each measure, per digit."""
    out = {}
    for d in range(10):
        m = [measure(img.astype(np.float32) / 255.0) for img in x[y == d]]
        out[d] = {k: tuple(round(float(v), 2) for v in np.percentile([getattr(mm, k) for mm in m], [10, 90]))
                  for k in ("width", "aspect", "slant")}
    return out


# profile(MNIST's first 10,000 training digits); tests/test_reading.py checks it.
TYPICAL: dict[int, dict[str, tuple[float, float]]] = {
    0: {"width": (8.68, 17.22), "aspect": (0.7, 1.11), "slant": (-2.24, 26.33)},
    1: {"width": (7.69, 14.76), "aspect": (0.2, 0.75), "slant": (-4.65, 30.58)},
    2: {"width": (8.02, 15.61), "aspect": (0.7, 1.18), "slant": (-12.31, 26.55)},
    3: {"width": (7.98, 14.42), "aspect": (0.6, 1.0), "slant": (-13.7, 22.74)},
    4: {"width": (7.63, 13.91), "aspect": (0.6, 1.0), "slant": (-18.88, 25.93)},
    5: {"width": (7.26, 12.81), "aspect": (0.7, 1.25), "slant": (-7.6, 33.76)},
    6: {"width": (7.7, 16.25), "aspect": (0.55, 0.95), "slant": (-13.06, 15.86)},
    7: {"width": (7.72, 14.38), "aspect": (0.6, 1.0), "slant": (-16.78, 19.36)},
    8: {"width": (7.76, 14.89), "aspect": (0.6, 1.0), "slant": (-6.13, 26.76)},
    9: {"width": (7.65, 14.69), "aspect": (0.55, 0.9), "slant": (-18.85, 17.64)},
}


def differences(x28: np.ndarray, digit: int) -> list[str]:
    """One line for each measure outside what 8 in 10 of MNIST's digits of this kind show."""
    m, typical = measure(x28), TYPICAL[digit]
    notes = []
    low, high = typical["width"]
    if m.width < low or m.width > high:
        notes.append(f"Strokes {'thinner' if m.width < low else 'thicker'} than 9 in 10 of MNIST's {digit}s "
                     f"(red: ink beyond their usual width; blue: where their strokes would be)")
    low, high = typical["aspect"]
    if m.aspect < low or m.aspect > high:
        notes.append(f"{'Narrower' if m.aspect < low else 'Wider'} than 9 in 10 of MNIST's {digit}s "
                     f"(yellow: their usual box)")
    low, high = typical["slant"]
    if m.slant < low or m.slant > high:
        notes.append(f"Leans {_lean(m.slant)}; MNIST's {digit}s lean from {_lean(low)} to {_lean(high)} "
                     f"(green: this drawing's axis; grey: theirs)")
    return notes


def _lean(degrees: float) -> str:
    return f"{abs(degrees):.0f}° {'right' if degrees >= 0 else 'left'}"


def overlay(x28: np.ndarray, digit: int, size: int = 196) -> np.ndarray:
    """(size, size, 3) uint8: the 28x28 in grey, with where it differs from MNIST's `digit`s."""
    from PIL import Image, ImageDraw, ImageFilter

    m, typical = measure(x28), TYPICAL[digit]
    ink = np.clip(x28, 0, 1).astype(np.float32)
    rgb = np.repeat(ink[..., None] * 0.8, 3, axis=2)
    img = Image.fromarray((ink * 255).astype(np.uint8))
    if m.width > typical["width"][1]:  # the rim an erosion to their width would take away: red
        rim = ink - np.asarray(img.filter(ImageFilter.MinFilter(3)), np.float32) / 255
        rgb[..., 0] = np.maximum(rgb[..., 0], rim)
        rgb[..., 1:] *= (1 - rim[..., None])
    elif m.width < typical["width"][0]:  # where a stroke of their width would reach: blue
        halo = np.asarray(img.filter(ImageFilter.MaxFilter(3)), np.float32) / 255 - ink
        rgb[..., 2] = np.maximum(rgb[..., 2], halo)
    scale = size / 28
    big = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)).resize((size, size), Image.NEAREST)
    draw = ImageDraw.Draw(big)
    total = float(ink.sum()) or 1.0
    ys, xs = np.mgrid[0:28, 0:28]
    cy, cx = float((ink * ys).sum() / total + 0.5) * scale, float((ink * xs).sum() / total + 0.5) * scale
    low, high = typical["aspect"]
    if not low <= m.aspect <= high:  # their box: 20 px tall, as wide as their middle aspect ratio
        half_h, half_w = 10 * scale, 10 * scale * (low + high) / 2
        draw.rectangle((cx - half_w, cy - half_h, cx + half_w, cy + half_h), outline=(230, 200, 40), width=2)
    low, high = typical["slant"]
    if not low <= m.slant <= high:
        for angle, colour in (((low + high) / 2, (140, 140, 140)), (m.slant, (60, 220, 90))):
            dx, dy = np.sin(np.radians(angle)) * 11 * scale, np.cos(np.radians(angle)) * 11 * scale
            draw.line((cx - dx, cy + dy, cx + dx, cy - dy), fill=colour, width=3)
    return np.asarray(big)
