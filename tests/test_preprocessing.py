"""Preprocessing: any drawing -> MNIST's 28x28 layout (size, centre of mass, stroke width)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from mnist_core.preprocessing import NotADigit, digit_stroke_width, preprocess, preprocess_and_span, strokes_across
from mnist_core.reading.novelty import is_blob


def drawn(size=280, box=(100, 60, 180, 220), width=20, ink="white", paper="black", mode="RGB") -> Image.Image:
    """A '0'-like ellipse drawn in a box on a canvas."""
    img = Image.new(mode, (size, size), paper)
    ImageDraw.Draw(img).ellipse(box, outline=ink, width=width)
    return img


def centre_of_mass(x: np.ndarray) -> tuple[float, float]:
    r = np.arange(28)
    return float(x.sum(1) @ r / x.sum()), float(x.sum(0) @ r / x.sum())


def test_output_is_mnist_shaped_and_centred():
    x = preprocess(drawn())
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() == pytest.approx(1.0)
    cy, cx = centre_of_mass(x)
    assert abs(cy - 14) <= 0.75 and abs(cx - 14) <= 0.75
    rows, cols = np.nonzero(x > 0.05)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 in (19, 20, 21)  # the longer side fills the 20 px box


def test_position_and_size_do_not_matter():
    big = preprocess(drawn(box=(40, 20, 240, 260), width=24))
    small_corner = preprocess(drawn(box=(10, 10, 50, 58), width=5))  # same shape, 1/5 the size
    assert _distance(big, small_corner) < 0.03


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference, allowing a shift of one pixel (centring rounds to whole pixels)."""
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return min(float(np.abs(np.roll(a, s, axis=(0, 1)) - b).mean()) for s in shifts)


@pytest.mark.parametrize("ink,paper", [("white", "black"), ("black", "white"), ("#2030c0", "#f4f0e0")])
def test_dark_on_light_and_colours_read_like_light_on_dark(ink, paper):
    reference = preprocess(drawn())
    assert _distance(preprocess(drawn(ink=ink, paper=paper)), reference) < 0.03


def test_transparent_background_uses_alpha():
    img = drawn(ink=(0, 0, 0, 255), paper=(0, 0, 0, 0), mode="RGBA")  # black ink, transparent
    assert _distance(preprocess(img), preprocess(drawn())) < 0.03
    assert _distance(preprocess(np.asarray(img)), preprocess(drawn())) < 0.03  # the same, as an RGBA array


@pytest.mark.parametrize("pen", [3, 12, 30, 60])
def test_stroke_width_lands_in_mnists_range(pen):
    # MNIST's strokes, measured the same way, are 7.8-14.9 px (10th-90th percentile)
    x = preprocess(drawn(box=(40, 20, 240, 260), width=pen))
    assert 7.8 <= digit_stroke_width(x) <= 14.9


def test_blank_inputs_give_none():
    assert preprocess(np.zeros((280, 280, 4), np.uint8)) is None
    assert preprocess(np.full((50, 50), 255, np.uint8)) is None
    assert preprocess(Image.new("L", (10, 10), 128)) is None


@pytest.mark.parametrize("pen", [1, 4, 20, 60])
def test_a_single_dot_is_not_a_digit(pen):
    img = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(img).ellipse((100, 100, 100 + pen, 100 + pen), fill=255)
    with pytest.raises(NotADigit, match="single dot"):
        preprocess(img)
    ImageDraw.Draw(img).line([(100, 100), (100, 100 + 3 * pen)], fill=255, width=pen)  # a short stroke: read
    assert preprocess(img).shape == (28, 28)


def test_a_filled_blob_spans_few_strokes_and_a_drawn_ring_many():
    blob = Image.new("RGB", (280, 280), "black")
    ImageDraw.Draw(blob).ellipse((60, 40, 200, 230), fill="white")
    assert is_blob(strokes_across(blob)) and preprocess(blob) is not None  # preprocess alone makes a bar of it
    assert not is_blob(strokes_across(drawn(width=20))) and strokes_across(drawn(width=20)) > 5
    assert strokes_across(Image.new("RGB", (50, 50), "black")) is None


def test_one_pixel_and_tiny_and_huge_images():
    dot = np.zeros((280, 280), np.uint8)
    dot[100, 200] = 255
    with pytest.raises(NotADigit):
        preprocess(dot)
    assert preprocess(np.ones((1, 1), np.uint8)) is None  # one pixel and no background: no contrast
    huge = drawn(size=3000, box=(1000, 500, 1900, 2500), width=200)
    assert centre_of_mass(preprocess(huge))[0] == pytest.approx(14, abs=0.75)


def test_array_types_and_shapes():
    reference = preprocess(drawn())
    grey = np.asarray(drawn().convert("L"))
    for variant in (grey, grey[..., None], grey.astype(np.float32) / 255, grey.astype(np.float64) * 1.0,
                    grey.astype(np.uint16) * 257, grey > 128):
        assert _distance(preprocess(variant), reference) < 0.03, variant.dtype
    with pytest.raises(ValueError):
        preprocess(np.zeros((5, 5, 7)))


def test_sixteen_bit_and_palette_pil_images():
    reference = preprocess(drawn())
    assert _distance(preprocess(drawn().convert("L").convert("I;16")), reference) < 0.03
    assert _distance(preprocess(drawn().convert("P")), reference) < 0.03


def test_nan_pixels_are_no_ink():
    """Float arrays from elsewhere (a division by zero, a masked photo) may hold NaN: no ink there."""
    assert preprocess(np.full((28, 28), np.nan)) is None
    assert preprocess(np.full((50, 50, 4), np.nan, np.float32)) is None
    ink = np.asarray(drawn().convert("L"), np.float32) / 255
    with_nan = np.where(ink > 0, ink, np.nan)  # the background unknown
    assert _distance(preprocess(with_nan), preprocess(ink)) < 0.001
    assert np.isfinite(preprocess(with_nan)).all()


def three(width: int) -> Image.Image:
    """A thick black "3" on white, with a wide margin."""
    img = Image.new("L", (500, 560), "white")
    points = [(150, 150), (250, 110), (350, 170), (240, 250), (360, 330), (250, 420), (140, 390)]
    ImageDraw.Draw(img).line(points, fill="black", width=width, joint="curve")
    return img


@pytest.mark.parametrize("width", [40, 70, 100])
def test_thick_strokes_that_touch_the_border_stay_whole(width):
    """Cropped to its ink, the digit's thick strokes fill a good part of the picture's border: the
    paper must still be taken as even, or the strokes are taken for background and come out hollow
    (a 3 whose strokes are 70 px wide then differed from its uncropped self by 0.14)."""
    free = three(width)
    touching = free.crop(ImageOps.invert(free).getbbox())  # the ink reaches all four sides
    assert touching.size < free.size
    assert _distance(preprocess(touching), preprocess(free)) < 0.01


def test_an_erosion_that_would_erase_the_digit_keeps_it():
    """Ink whose outline is short for its area (so it measures as a thick stroke) but that has a
    hole every 9 px (so a thinning erosion leaves nothing): the ink is kept as it was."""
    alpha = np.full((80, 80), 255, np.uint8)
    alpha[::9, ::9] = 0
    mesh = np.zeros((80, 80, 4), np.uint8)
    mesh[..., 3] = alpha
    x = preprocess(mesh)
    assert x.shape == (28, 28) and np.isfinite(x).all() and x.max() == pytest.approx(1.0)
    rows, cols = np.nonzero(x > 0.05)
    assert np.ptp(rows) + 1 in (19, 20, 21) and np.ptp(cols) + 1 in (19, 20, 21)  # the whole mesh, 20 px
    assert (x > 0.5).mean() > 0.3


def test_a_big_photo_reads_like_its_small_copy():
    photo = drawn(size=6000, box=(2000, 1000, 4000, 5000), width=400)  # 36 megapixels, shrunk first
    assert _distance(preprocess(photo), preprocess(drawn(box=(93, 47, 187, 233), width=19))) < 0.05


def test_one_pass_gives_the_digit_and_its_span_as_the_two_calls_do():
    """Every way in reads a picture once (preprocess_and_span): the same 28x28 and span as
    preprocess and strokes_across, each of which reads the whole picture, for a canvas, ink in
    the alpha channel, dark on light, and a dot (refused alike)."""
    alpha = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    ImageDraw.Draw(alpha).line([(60, 40), (240, 40), (150, 180)], fill=(0, 0, 0, 255), width=14)
    for picture in (drawn(mode="RGBA"), alpha, drawn(ink="navy", paper="ivory")):
        x, span = preprocess_and_span(picture)
        np.testing.assert_array_equal(x, preprocess(picture))
        assert span == strokes_across(picture)
    assert preprocess_and_span(drawn(box=(0, 0, 0, 0), width=0)) == (None, None)
    dot = Image.new("RGB", (280, 280), "black")
    ImageDraw.Draw(dot).ellipse((130, 130, 150, 150), fill="white")
    with pytest.raises(NotADigit):
        preprocess_and_span(dot)


def test_a_photo_with_uneven_light_reads_the_same_as_bytes_or_as_floats():
    """The background of an unevenly lit photo is estimated on 8-bit levels: rounded, so that
    how the grey levels were computed (from bytes, or from floats in [0, 1]) changes nothing
    (truncated, a level could drop by one, and the digit came out 0.9 apart at 0.6 below)."""
    paper = np.asarray(drawn(ink="black", paper="white"), np.float32)
    for darkest in (0.5, 0.55, 0.6, 0.7):
        light = np.linspace(darkest, 1.0, 280, dtype=np.float32)[None, :, None]  # brighter to the right
        photo = (paper * light).astype(np.uint8)
        x_bytes, x_floats = preprocess(photo), preprocess(photo.astype(np.float32) / 255)
        assert _distance(x_bytes, preprocess(drawn())) < 0.1
        np.testing.assert_allclose(x_bytes, x_floats, atol=0.02)
