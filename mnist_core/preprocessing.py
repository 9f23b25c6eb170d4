"""Any picture of one digit -> a 28x28 image made the way MNIST's digits were made.

    from mnist_core import preprocess
    x = preprocess(canvas_rgba)   # (28, 28) float32 in [0, 1], white on black; None if blank
                                  # (NotADigit, a ValueError, for a single dot)

MNIST's recipe (LeCun et al.): the digit is size-normalised to fit a 20x20 box keeping its
aspect ratio, anti-aliased, then placed in a 28x28 frame so that its centre of mass sits at
the centre. A naive `resize((28, 28))` of a whole canvas skips all of that, and reads small,
off-centre or thick digits badly. The steps here:

1. ink: how much each pixel differs from the background, in [0, 1] (the alpha channel when
   the background is transparent; otherwise the distance from the background's grey level,
   estimated locally so that uneven lighting in photos drops out);
2. crop to the ink's bounding box;
3. scale so the longer side is 80 px and bring the stroke width into MNIST's range (MNIST's
   strokes measure 7.8-14.9 px at that scale, median 10.8; see STROKE_* below);
4. shrink to fit 20x20 with anti-aliasing; 5. place by centre of mass in 28x28.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter, ImageOps

WORK_SIZE = 80  # px of the longer side while the stroke width is measured and adjusted
STROKE_MIN, STROKE_TARGET, STROKE_MAX = 7.8, 10.8, 14.9  # MNIST's p10, median, p90 at WORK_SIZE
INK_THRESHOLD = 0.2  # ink below this fraction of the strongest ink is background noise
MIN_CONTRAST = 0.08  # strongest ink below this (on a 0-1 scale): the image is blank
# Ink whose longer side is under this many stroke widths is a dot, not a digit: a tap on the
# canvas measures 1.4-1.8 at any pen width, the drawing benchmark's 2,000 digits 1.97 and up.
DOT_RATIO = 1.9
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601 luma, as PIL's "L"


class NotADigit(ValueError):
    """There is ink, but it cannot be a digit; the message is one line for the user."""


def preprocess(image: Image.Image | np.ndarray) -> np.ndarray | None:
    """Return the MNIST-style (28, 28) float32 image of a digit, or None if there is no ink;
    raise NotADigit when the ink is a single dot."""
    return preprocess_and_span(image)[0]


def preprocess_and_span(image: Image.Image | np.ndarray) -> tuple[np.ndarray | None, float | None]:
    """(preprocess(image), strokes_across(image)) from one pass over the picture, as every way
    in reads a picture (the Draw page, HTTP, the command line); (None, None) if there is no ink."""
    ink = ink_map(image)
    if ink is None:
        return None, None
    ink = _crop(ink)
    span = _span_in_strokes(ink)
    if span < DOT_RATIO:
        raise NotADigit("a single dot, not a digit: draw the whole digit")
    ink = _normalise_stroke(_resize_longer_side(ink, WORK_SIZE))
    digit = _resize_longer_side(_crop(ink), 20)  # fits 20x20, anti-aliased
    return _place_by_centre_of_mass(digit), span


def strokes_across(image: Image.Image | np.ndarray) -> float | None:
    """How many stroke widths the ink's longer side spans (None if there is no ink): under
    DOT_RATIO a dot; a filled blob spans 1.9-2.6, the drawing benchmark's digits 2.0 and up
    (99% of them 2.7 and up). Preprocessing normalises the stroke width away, so a blob comes
    out as a bar: novelty.is_blob judges it on this number."""
    ink = ink_map(image)
    return None if ink is None else _span_in_strokes(_crop(ink))


def _span_in_strokes(ink: np.ndarray) -> float:
    width = stroke_width(ink)
    return max(ink.shape) / width if width > 0 else float("inf")


def ink_map(image: Image.Image | np.ndarray) -> np.ndarray | None:
    """(H, W) float32 in [0, 1]: 1 where the ink is strongest, 0 on the background."""
    grey, alpha = _grey_and_alpha(image)
    if alpha is not None and alpha.min() < 0.98:  # a transparent background: alpha is the ink
        ink = alpha
    else:
        ink = _ink_against_background(grey)
    peak = float(ink.max()) if ink.size else 0.0
    if peak < MIN_CONTRAST:
        return None
    ink = np.clip((ink - INK_THRESHOLD * peak) / ((1 - INK_THRESHOLD) * peak), 0, 1)
    return ink.astype(np.float32)


def _grey_and_alpha(image: Image.Image | np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Grey levels and alpha, each (H, W) float32 in [0, 1]; alpha None when there is none."""
    if isinstance(image, Image.Image):
        image = _pil_to_array(image)
    a = np.asarray(image)
    if a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] in (3, 4):  # a canvas, most pictures: one BLAS pass
        weights = np.zeros(a.shape[2], np.float32)
        weights[:3] = LUMA / np.float32(255)
        grey = np.clip(a.reshape(-1, a.shape[2]).astype(np.float32) @ weights, 0, 1).reshape(a.shape[:2])
        return grey, (a[..., 3] * np.float32(1 / 255) if a.shape[2] == 4 else None)
    if a.dtype == np.bool_:
        a = a.astype(np.float32)
    elif a.dtype.kind in "ui":
        a = a.astype(np.float32) / (65535.0 if a.dtype.itemsize > 1 and a.max() > 255 else 255.0)
    elif a.dtype.kind == "f":
        a = np.nan_to_num(a.astype(np.float32))
        a = a / 255.0 if a.max() > 1.0 else a
    else:
        raise ValueError(f"unsupported pixel type {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        return np.clip(a, 0, 1), None
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"expected a grey, RGB or RGBA image, got shape {a.shape}")
    grey = a[..., :3] @ LUMA
    return np.clip(grey, 0, 1), (np.clip(a[..., 3], 0, 1) if a.shape[2] == 4 else None)


MAX_SIDE = 1024  # px: larger pictures (phone photos) are shrunk first; the digit ends up 20 px


def _pil_to_array(img: Image.Image) -> np.ndarray:
    """A PIL image (any mode, EXIF-rotated, at most MAX_SIDE px) as a grey, RGB or RGBA array."""
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.float32)
        img = Image.fromarray(a / (65535.0 if a.max() > 255 else 255.0), "F")
    elif img.mode in ("LA", "PA") or (img.mode != "RGBA" and "transparency" in img.info):
        img = img.convert("RGBA")
    elif img.mode not in ("L", "RGB", "RGBA", "F"):
        img = img.convert("RGB")
    if max(img.size) > MAX_SIDE:
        img = img.copy()
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.BOX)
    return np.asarray(img, dtype=np.float32) if img.mode == "F" else np.asarray(img)


def _ink_against_background(grey: np.ndarray) -> np.ndarray:
    """Distance from the background, for light-on-dark and dark-on-light alike."""
    h, w = grey.shape
    band = max(1, min(h, w) // 20)
    border = np.concatenate([grey[:band].ravel(), grey[-band:].ravel(),
                             grey[:, :band].ravel(), grey[:, -band:].ravel()])
    level = float(np.median(border))
    dark_ink = level > 0.5  # a light background, so the ink is the darker part
    # An even background (canvas, scan): one level for all. Judged by the border's median
    # deviation, not its spread: a digit that reaches the border (a quarter of it, say) must not
    # make the paper look uneven, or its thick strokes are taken for background and come out hollow.
    if float(np.median(np.abs(border - level))) < 0.02:
        background = np.float32(level)
    else:  # uneven lighting (a photo): the background seen through a filter wider than strokes
        background = _local_background(grey, dark_ink)
    return np.clip(background - grey if dark_ink else grey - background, 0, 1)


def _local_background(grey: np.ndarray, dark_ink: bool) -> np.ndarray:
    """Background estimate: a morphological closing (opening for light ink) at 1/8 of the size."""
    h, w = grey.shape
    scale = 64 / max(h, w)
    small = Image.fromarray(grey, "F").resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BOX)
    wipe, restore = (ImageFilter.MaxFilter(9), ImageFilter.MinFilter(9))
    if not dark_ink:
        wipe, restore = restore, wipe
    # Pillow's rank filters take 8-bit images: quantise the small copy (rounded: float noise in
    # the grey levels never shifts a level), filter, blur
    small8 = Image.fromarray(np.round(np.asarray(small) * 255).astype(np.uint8), "L")
    bg = small8.filter(wipe).filter(restore).filter(ImageFilter.GaussianBlur(2))
    return np.asarray(bg.resize((w, h), Image.BILINEAR), dtype=np.float32) / 255.0


def _crop(ink: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(ink.max(axis=1))[0], np.nonzero(ink.max(axis=0))[0]
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _resize_longer_side(ink: np.ndarray, size: int) -> np.ndarray:
    """Scale so the longer side is `size` px, keeping the aspect ratio; Lanczos anti-aliasing."""
    h, w = ink.shape
    scale = size / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    out = np.asarray(Image.fromarray(ink, "F").resize(new, Image.LANCZOS), dtype=np.float32)
    return np.clip(out, 0, 1)


def digit_stroke_width(x28: np.ndarray) -> float:
    """Stroke width of a 28x28 digit, measured as MNIST's was: cropped, longer side 80 px."""
    crop = _crop(np.where(x28 > 0.05, x28, 0).astype(np.float32))
    h, w = crop.shape
    scale = WORK_SIZE / max(h, w)
    big = Image.fromarray(crop, "F").resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR)
    return stroke_width(np.asarray(big))


def stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width in px: twice the inked area over the length of its outline."""
    mask = ink > 0.5
    inner = np.zeros_like(mask)
    inner[1:-1, 1:-1] = mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    outline = int((mask & ~inner).sum())
    return 2.0 * float(mask.sum()) / max(outline, 1)


def _normalise_stroke(ink: np.ndarray) -> np.ndarray:
    """Erode or dilate until the stroke width is in MNIST's range at WORK_SIZE (3 rounds at most).

    Each round moves half the gap to the median width, then re-crops and rescales, since eroding
    shrinks the digit's box (and dilating grows it), which the rescaling partly undoes.
    """
    for _ in range(3):
        width = stroke_width(ink)
        radius = min(int(round(abs(width - STROKE_TARGET) / 2)), 12)
        if STROKE_MIN <= width <= STROKE_MAX or width == 0 or radius == 0:
            break
        img = Image.fromarray((np.pad(ink, radius + 1) * 255).astype(np.uint8), "L")
        rank = ImageFilter.MinFilter(3) if width > STROKE_MAX else ImageFilter.MaxFilter(3)
        for _ in range(radius):  # r passes of 3x3 = one (2r+1) square, at a fraction of the cost
            img = img.filter(rank)
        out = np.asarray(img, dtype=np.float32) / 255.0
        if out.max() < 0.5:  # erosion wiped the digit out: keep what we have
            break
        ink = _resize_longer_side(_crop(out), WORK_SIZE)
    return ink


def _place_by_centre_of_mass(digit: np.ndarray) -> np.ndarray:
    """Paste a digit (at most 20x20) into 28x28 with its centre of mass at (14, 14)."""
    h, w = digit.shape
    total = float(digit.sum())
    rows, cols = np.arange(h), np.arange(w)
    cy = float(digit.sum(axis=1) @ rows) / total if total else (h - 1) / 2
    cx = float(digit.sum(axis=0) @ cols) / total if total else (w - 1) / 2
    top = int(np.clip(round(14 - cy), 0, 28 - h))  # MNIST's mean centre of mass: pixel (14, 14)
    left = int(np.clip(round(14 - cx), 0, 28 - w))
    out = np.zeros((28, 28), np.float32)
    out[top : top + h, left : left + w] = digit
    peak = out.max()
    return out / peak if peak > 0 else out
