"""What the Draw page tells a person: the digit or "4 or 9?", and how the ink differs from MNIST's."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_core.preprocessing import preprocess
from mnist_core.reading.interpretation import TYPICAL, differences, interpret, measure, overlay, profile


def drawn(*lines: tuple, width: int = 16) -> np.ndarray:
    img = Image.new("RGBA", (280, 280), "black")
    draw = ImageDraw.Draw(img)
    for line in lines:
        draw.line(line, fill="white", width=width)
    return preprocess(np.asarray(img))


def test_sure_and_unsure_readings():
    p = np.full(10, 0.01)
    p[4], p[9] = 0.50, 0.41
    unsure = interpret(p)
    assert (unsure.digit, unsure.runner_up, unsure.unsure, unsure.headline) == (4, 9, True, "4 or 9?")
    p[4], p[9] = 0.88, 0.03
    assert interpret(p).headline == "4" and not interpret(p).unsure


def test_a_leaning_one_is_told_how_it_leans_and_drawn_over():
    x = drawn([(70, 30), (210, 250)])  # leans 30 degrees to the left
    m = measure(x)
    assert m.slant < TYPICAL[1]["slant"][0]
    (note,) = differences(x, 1)
    assert note.startswith("Leans") and "left" in note and "MNIST's 1s lean from" in note
    picture = overlay(x, 1)
    assert picture.shape == (196, 196, 3) and (picture[..., 1] > picture[..., 0] + 60).any()  # the green axis


def test_a_flat_zero_is_wider_than_mnists_and_an_upright_one_is_not_flagged():
    flat = drawn([(20, 120), (260, 120), (260, 160), (20, 160), (20, 120)])
    assert any(n.startswith("Wider than 9 in 10 of MNIST's 0s") for n in differences(flat, 0))
    seven = drawn([(60, 50), (220, 50), (130, 250)])
    assert differences(seven, 7) == []
    assert np.array_equal(overlay(seven, 7)[..., 0], overlay(seven, 7)[..., 1])  # grey: nothing drawn over it


@pytest.mark.mnist
def test_the_typical_ranges_are_mnists(real_mnist):
    measured = profile(real_mnist.x_train[:10_000], real_mnist.y_train[:10_000])
    for digit, ranges in measured.items():
        for name, (low, high) in ranges.items():
            assert TYPICAL[digit][name] == pytest.approx((low, high), abs=0.01)
