"""Digits typed in the machine's fonts: which fonts there are, and which are held out of training.

    designs = font_designs()                 # {design: [font files]}, fonts that draw all ten digits
    train, held_out = split_designs(designs)
    glyph = typed_digit(7, path, rng)          # (H, W) uint8, white on black, the digit alone
    letter = typed_glyph("k", path, rng) if draws_glyph(path, "k") else None   # letters too

Fonts are found under /usr/share/fonts and ~/.local/share/fonts, or in the folders that
$MNIST_FONTS_DIR lists instead (`make fonts` installs a set of Debian font packages: print fonts
and handwriting fonts). A design is the folder its package installs into (`truetype/liberation`,
`opentype/bwht`...): one package's weights and widths (122 for one Japanese sans) are one
design, and must fall on one side. A design is held out of training by its name alone (a third
of them, by a hash of the name), so no one chooses which styles the benchmark tests on: the
drawing benchmark types digits only in held-out designs, training only in the others
(tests/test_styles.py checks that the sides never meet).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = (Path("/usr/share/fonts"), Path.home() / ".local/share/fonts")
FONT_SUFFIXES = (".ttf", ".otf")
HELD_OUT_EVERY = 3  # one design in three is held out of training
FACES_PER_DESIGN = 6  # at most this many files of one design (spread over its families)
# Families whose digit code points draw pictures, not digits: dingbats, keyboard keys, hatching.
NOT_DIGITS = {"D050000L", "Linux Biolinum Keyboard O", "femkeklaver"}
RENDER_SIZE = 96  # px of the em while a digit is typed
Designs = dict[str, tuple[Path, ...]]  # design -> its font files


def font_dirs() -> list[Path]:
    extra = os.environ.get("MNIST_FONTS_DIR")
    return [*(Path(p) for p in extra.split(os.pathsep) if p)] if extra else list(FONT_DIRS)


@functools.cache
def font_designs(dirs: tuple[Path, ...] | None = None) -> Designs:
    """Design (the font's folder, e.g. "liberation") -> its font files, for every font that
    draws the ten digits as ten different glyphs (symbol and non-Latin fonts fall out); at most
    FACES_PER_DESIGN files of a design, spread over its families."""
    files = sorted({p.resolve() for d in (dirs or tuple(font_dirs())) if d.is_dir()
                    for p in d.rglob("*") if p.suffix.lower() in FONT_SUFFIXES})
    designs: dict[str, list[Path]] = {}
    for path in files:
        try:
            font = ImageFont.truetype(str(path), 48)
        except OSError:
            continue
        if (font.getname()[0] or "").strip() not in NOT_DIGITS and draws_digits(font):
            designs.setdefault(design_of(path), []).append(path)
    return {name: tuple(_spread(paths, FACES_PER_DESIGN)) for name, paths in sorted(designs.items())}


def design_of(path: Path) -> str:
    """A font's design: its folder's name without a version or a variant ("liberation2" and
    "liberation" are one design, so are "stix-word" and "stix")."""
    return re.sub(r"(?<=[a-z])[2-9]$|-(otf|ttf|word)$", "", path.parent.name.lower())


def _spread(paths: list[Path], k: int) -> list[Path]:
    """At most k of `paths`, evenly spaced (the regular, bold and italic faces rather than 6 bolds)."""
    return paths if len(paths) <= k else [paths[round(i * (len(paths) - 1) / (k - 1))] for i in range(k)]


def draws_digits(font: ImageFont.FreeTypeFont) -> bool:
    """True when the font has its own glyph for each of 0-9: ten different, non-empty
    bitmaps, none the same as the font's missing-glyph box."""
    bitmaps = [_bitmap(font, ch) for ch in [*"0123456789", "\uffff"]]
    if any(b.size == 0 or b.max() == 0 for b in bitmaps[:10]):
        return False
    keys = {(b.shape, b.tobytes()) for b in bitmaps}
    return len(keys) == 11


def _bitmap(font: ImageFont.FreeTypeFont, text: str) -> np.ndarray:
    mask = font.getmask(text)
    return np.asarray(mask, np.uint8).reshape(mask.size[1], mask.size[0])


def is_held_out(design: str) -> bool:
    """Whether a design is kept out of training (for the benchmark): fixed by its name."""
    return int(hashlib.sha256(design.encode()).hexdigest(), 16) % HELD_OUT_EVERY == 0


def split_designs(designs: Designs) -> tuple[Designs, Designs]:
    """(training designs, held-out designs), each design -> its files."""
    return ({k: v for k, v in designs.items() if not is_held_out(k)},
            {k: v for k, v in designs.items() if is_held_out(k)})


@functools.lru_cache(maxsize=256)
def _font(path: str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, RENDER_SIZE)


def typed_digit(digit: int, font_path: Path, rng: np.random.Generator) -> np.ndarray:
    """The digit typed in the font, white on black, cropped to its ink: (H, W) uint8.

    The font's own strokes, sometimes thickened (a stroke of 0-4 px around the outline, as a
    bolder pen would), with a margin so that later rotations do not clip it."""
    return typed_glyph(str(digit), font_path, rng)


def typed_glyph(text: str, font_path: Path, rng: np.random.Generator) -> np.ndarray:
    """Any text typed in the font as typed_digit types a digit: (H, W) uint8, white on black."""
    font = _font(str(font_path))
    side = RENDER_SIZE * 2
    img = Image.new("L", (side, side), 0)
    ImageDraw.Draw(img).text((side // 2, side // 2), text, fill=255, font=font, anchor="mm",
                             stroke_width=int(rng.integers(0, 5)), stroke_fill=255)
    box = img.getbbox() or (0, 0, side, side)
    return np.asarray(img.crop(box))


def draws_glyph(font_path: Path, char: str) -> bool:
    """True when the font has a glyph of its own for `char` (not empty, not its missing-glyph box)."""
    font = _font(str(font_path))
    bitmap = _bitmap(font, char)
    missing = _bitmap(font, "\uffff")
    return bitmap.size > 0 and bitmap.max() > 0 and not (bitmap.shape == missing.shape and
                                                         np.array_equal(bitmap, missing))
