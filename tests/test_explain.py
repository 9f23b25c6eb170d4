"""Why a reading: the pixels that pushed toward it and toward the runner-up (integrated
gradients, without TensorFlow), the units that fired most, and their pictures."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.preprocessing import preprocess
from mnist_core.reading.classifier import DEFAULT_MODEL, SEED_MODEL, load_classifier
from mnist_core.reading.explain import explain, heatmap
from tests.helpers import drawn_one


@pytest.fixture(scope="module")
def one() -> np.ndarray:
    return preprocess(drawn_one())


@pytest.mark.parametrize("path", [DEFAULT_MODEL, SEED_MODEL])
def test_the_pixels_account_for_the_reading_over_the_runner_up(path, one):
    clf = load_classifier(path)
    p, blank = clf.predict_proba(one), clf.predict_proba(np.zeros((28, 28), np.float32))
    a, b = (int(d) for d in np.argsort(-p)[:2])
    why = explain(clf, one, a, b)
    total = (np.log(p[a]) - np.log(p[b])) - (np.log(blank[a]) - np.log(blank[b]))
    assert a == 1 and why.total == pytest.approx(total, rel=0.25)  # integrated gradients' completeness
    assert np.all(why.pixels[one == 0] == 0) and why.pixels[one > 0.5].sum() > 0  # on the ink, toward the 1
    assert why.pixels.shape == (28, 28) and why.pixels.dtype == np.float32


def test_the_units_are_the_most_active_hidden_ones_or_the_two_digits(one):
    why = explain(load_classifier(DEFAULT_MODEL), one, 1, 7)
    activations = [u.activation for u in why.units]
    assert why.hidden and len(why.units) == 8 and activations == sorted(activations, reverse=True)
    assert all(u.picture.shape == (28, 28) and np.abs(u.picture).max() == pytest.approx(1) for u in why.units)
    book = explain(load_classifier(SEED_MODEL), one, 1, 7)  # no hidden layer: the digits' own templates
    assert not book.hidden and [u.index for u in book.units] == [1, 7]


def test_the_heatmap_is_red_toward_and_blue_against():
    signed = np.zeros((28, 28), np.float32)
    signed[0, 0], signed[27, 27] = 2.0, -1.0
    rgb = heatmap(signed, size=56)
    assert rgb.shape == (56, 56, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == (255, 0, 0) and tuple(rgb[55, 55]) == (0, 0, 127) and tuple(rgb[20, 20]) == (0, 0, 0)
