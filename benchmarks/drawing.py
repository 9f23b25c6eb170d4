"""Accuracy on canvas-like drawings: the seed app's naive resize against mnist_core.preprocessing.

    python benchmarks/drawing.py [--n 2000] [--models models/default.keras ...]

Drawings are made deterministically (seed 0) from two sources:
- MNIST **test** digits, re-drawn on a 280x280 canvas: random height (30-250 px), position,
  tilt (up to 20 degrees), pen width (strokes eroded or dilated), and colours;
- digits typed in the machine's TrueType fonts (DejaVu, Liberation), same randomisation.
Half are light ink on dark, half dark on light; a quarter have a transparent background, as
the canvas gives with `background_color=""`. The naive pipeline is the seed app's:
`convert("L").resize((28, 28)) / 255`.
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from mnist_core.classifier import DEFAULT_MODEL, SEED_MODEL, load_classifier
from mnist_core.data import load_mnist
from mnist_core.preprocessing import NotADigit, preprocess

FONTS = sorted(glob.glob("/usr/share/fonts/truetype/*/*.ttf"))


def _glyph_from_mnist(image: np.ndarray, rng: np.random.Generator) -> Image.Image:
    return Image.fromarray(image).resize((112, 112), Image.BICUBIC)  # white on black, 4x


def _glyph_from_font(digit: int, rng: np.random.Generator) -> Image.Image:
    font = ImageFont.truetype(FONTS[rng.integers(len(FONTS))], 90)
    img = Image.new("L", (140, 140), 0)
    ImageDraw.Draw(img).text((70, 70), str(digit), fill=255, font=font, anchor="mm",
                             stroke_width=int(rng.integers(0, 5)), stroke_fill=255)
    return img


def canvas_drawing(glyph: Image.Image, rng: np.random.Generator) -> np.ndarray:
    """Put a white-on-black glyph on a 280x280 canvas the way people draw: any size, place, pen."""
    glyph = glyph.rotate(float(rng.uniform(-20, 20)), resample=Image.BILINEAR, expand=True)
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
    light_on_dark = rng.random() < 0.5
    paper = rng.uniform(0, 60, 3) if light_on_dark else rng.uniform(190, 255, 3)
    pen_colour = rng.uniform(190, 255, 3) if light_on_dark else rng.uniform(0, 80, 3)
    if rng.random() < 0.25:  # transparent background: colour everywhere, ink in alpha
        rgb = np.broadcast_to(pen_colour, (280, 280, 3))
        return np.dstack([rgb, ink * 255]).astype(np.uint8)
    rgb = paper * (1 - ink[..., None]) + pen_colour * ink[..., None]
    return np.dstack([rgb, np.full((280, 280), 255.0)]).astype(np.uint8)


def make_drawings(n: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """`n` RGBA canvases (four fifths from MNIST's test set, one fifth typed) and their labels."""
    rng = np.random.default_rng(seed)
    data = load_mnist()
    drawings, labels = [], []
    picks = rng.choice(len(data.x_test), n, replace=False)
    for i, index in enumerate(picks):
        if FONTS and i % 5 == 4:
            digit = int(rng.integers(10))
            glyph = _glyph_from_font(digit, rng)
        else:
            digit = int(data.y_test[index])
            glyph = _glyph_from_mnist(data.x_test[index], rng)
        drawings.append(canvas_drawing(glyph, rng))
        labels.append(digit)
    return drawings, np.array(labels)


def ours_or_blank(drawing: np.ndarray) -> np.ndarray:
    """`preprocess`, with a blank 28x28 (scored as wrong) where it finds no digit."""
    try:
        x = preprocess(drawing)
    except NotADigit:
        x = None
    return x if x is not None else np.zeros((28, 28), np.float32)


def naive(drawing: np.ndarray) -> np.ndarray:
    """The seed app's preprocessing: grey, squash to 28x28, scale to [0, 1]."""
    return np.asarray(Image.fromarray(drawing).convert("L").resize((28, 28)), np.float32) / 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--models", nargs="*", type=Path, default=[DEFAULT_MODEL, SEED_MODEL])
    parser.add_argument("--save-examples", type=Path, help="write the first 24 drawings as one PNG")
    args = parser.parse_args()
    drawings, labels = make_drawings(args.n)
    if args.save_examples:
        shown = [(d[..., :3] * (d[..., 3:] / 255.0)).astype(np.uint8) for d in drawings[:24]]  # over black
        sheet = np.vstack([np.hstack(shown[r * 8 : r * 8 + 8]) for r in range(3)])
        Image.fromarray(sheet).resize((sheet.shape[1] // 2, sheet.shape[0] // 2)).save(args.save_examples)
    ours = np.stack([ours_or_blank(d) for d in drawings])
    squashed = np.stack([naive(d) for d in drawings])
    typed = np.arange(args.n) % 5 == 4
    print(f"{args.n} drawings ({(~typed).sum()} from MNIST's test set, {typed.sum()} typed in fonts)")
    print(f"{'model':22}{'naive resize':>14}{'mnist_core':>12}{'MNIST-drawn':>13}{'typed':>8}")
    for path in args.models:
        clf = load_classifier(path)
        ok_naive = clf.predict_proba(squashed).argmax(axis=1) == labels
        ok_ours = clf.predict_proba(ours).argmax(axis=1) == labels
        name = path.name if path.name != "model.keras" else f"{path.parent.name}/{path.name}"[-22:]
        print(f"{name:22}{ok_naive.mean():14.2%}{ok_ours.mean():12.2%}"
              f"{ok_ours[~typed].mean():13.2%}{ok_ours[typed].mean():8.2%}")


if __name__ == "__main__":
    main()
