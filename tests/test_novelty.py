"""The numpy scores: calibration (temperature, ECE), AUROC, the "not a digit" head and its file."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mnist_core.reading import novelty
from mnist_core.training.non_digit_examples import roundness


def test_the_module_reads_no_tensorflow():
    code = ("import sys, mnist_core.reading.novelty; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_forward_is_the_dense_network():
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(784, 16)), rng.normal(size=16), rng.normal(size=(16, 10)), rng.normal(size=10)]
    layers = novelty.dense_layers(weights)
    x = rng.uniform(size=(5, 784)).astype(np.float32)
    acts = novelty.forward(layers, x)
    assert [a.shape for a in acts] == [(5, 784), (5, 16), (5, 10)]
    hidden = np.maximum(x @ weights[0] + weights[1], 0)
    np.testing.assert_allclose(acts[-1], hidden @ weights[2] + weights[3], rtol=1e-4, atol=1e-3)
    assert novelty.features(acts).shape == (5, 784 + 16)
    p = novelty.view_probabilities(acts[-1])
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(novelty.calibrated(p, 0.5).sum(axis=1), 1, atol=1e-6)


def test_temperature_undoes_a_known_overconfidence_and_never_changes_the_reading():
    # Readings drawn from softmax(z): calibrated at T = 1. Logits 3x too large need T = 3.
    rng = np.random.default_rng(1)
    z = rng.normal(0, 2, (20_000, 10))
    y = np.array([rng.choice(10, p=row) for row in novelty.softmax(z)])
    sharp = novelty.softmax(3 * z)
    t = novelty.fit_temperature(sharp, y)
    assert abs(t - 3) < 0.15
    np.testing.assert_allclose(novelty.calibrated(sharp, 3.0), novelty.softmax(z), atol=1e-9)
    assert novelty.expected_calibration_error(sharp, y) > 0.1
    assert novelty.expected_calibration_error(novelty.calibrated(sharp, t), y) < 0.02
    views = novelty.view_probabilities(3 * z[:, None] + rng.normal(0, 1, (20_000, 7, 10)))
    assert (novelty.calibrated(views, 2.5).argmax(axis=1) == views.argmax(axis=1)).all()


def test_expected_calibration_error_by_hand():
    # two readings at 0.9 (one right), two at 0.6 (both right): bins of half the readings each
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    y = np.array([0, 1, 0, 0])
    assert novelty.expected_calibration_error(p, y) == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)
    assert novelty.expected_calibration_error(np.eye(2)[[0, 1]], np.array([0, 1])) == 0.0


def test_auroc_counts_pairs_and_ties_half():
    assert novelty.auroc(np.array([0, 1]), np.array([2, 3])) == 1.0
    assert novelty.auroc(np.array([2, 3]), np.array([0, 1])) == 0.0
    assert novelty.auroc(np.array([1, 1]), np.array([1, 1])) == 0.5
    assert novelty.auroc(np.array([0, 2]), np.array([1, 3])) == 0.75  # 3 of 4 pairs in order


def test_the_pixel_subspace_explains_its_own_digits():
    rng = np.random.default_rng(2)
    basis = np.linalg.qr(rng.normal(size=(784, 5)))[0].T  # digits live in a 5-dimensional plane
    digits = rng.normal(size=(300, 5)) @ basis + 0.3
    space = novelty.fit_pixel_subspace(digits, k=5)
    assert space.residual(digits).max() < 1e-3
    assert space.residual(rng.normal(size=(10, 784))).min() > 10


def _features(n, centre, rng, views=None):
    """Stand-ins for (pixels, hidden): 784 nearly blank pixels, then 30 activations around `centre`."""
    shape = (n,) if views is None else (n, views)
    return np.concatenate([rng.uniform(0, 1e-3, (*shape, 784)), rng.normal(centre, 1, (*shape, 30))],
                          axis=-1).astype(np.float32)


KINDS = (novelty.DIGIT, novelty.LETTER)


def _head(x: np.ndarray, digits: int, **settings) -> novelty.Head:
    """A head told the first `digits` rows are digits and the rest letters."""
    return novelty.fit_head(x, (np.arange(len(x)) >= digits).astype(int), KINDS, seed=0, **settings)


def test_the_head_learns_to_tell_the_two_apart_and_the_threshold_refuses_what_it_is_told():
    rng = np.random.default_rng(3)
    digits, others = _features(2000, 0.0, rng), _features(500, 2.0, rng)
    x = np.concatenate([digits, others]).astype(np.float16)
    head = _head(x, len(digits), hidden=8, epochs=5)
    test_digits, test_others = _features(1000, 0.0, rng), _features(1000, 2.0, rng)
    assert novelty.auroc(head.log_odds(test_digits), head.log_odds(test_others)) > 0.99
    space = novelty.fit_pixel_subspace(rng.uniform(0, 1e-3, (100, 784)), k=3)
    calibration = _features(4000, 0.0, rng, views=3)
    stats = novelty.calibrate(1.5, head, space, novelty.parts(head, space, calibration), refused=0.02)
    assert np.mean(stats.score(calibration) > stats.threshold) == pytest.approx(0.02, abs=0.002)
    assert np.mean(stats.score(_features(500, 2.0, rng, views=3)) > stats.threshold) > 0.9


def test_statistics_survive_a_file(tmp_path):
    rng = np.random.default_rng(4)
    x = np.concatenate([_features(200, 0, rng), _features(50, 2, rng)])
    head = _head(x, 200, hidden=4, epochs=1)
    space = novelty.fit_pixel_subspace(rng.normal(size=(50, 784)), k=3)
    views = _features(40, 0, rng, views=7)
    stats = novelty.calibrate(0.5, head, space, novelty.parts(head, space, views))
    path = tmp_path / "m.novelty.npz"
    stats.save(path)
    again = novelty.NoveltyStats.load(path)
    assert again.temperature == 0.5 and again.threshold == stats.threshold and again.head.kinds == KINDS
    np.testing.assert_array_equal(again.score(views), stats.score(views))
    assert again.looks_like(views) == [novelty.LETTER] * 40  # the one kind of non-digit it knows


def test_a_drawing_is_no_digit_only_when_none_of_its_views_looks_like_one():
    """The head's part of the score is its log-odds at the most digit-like view: one view that
    looks like a digit is enough (a real digit drawn oddly is often one small turn from MNIST's)."""
    rng = np.random.default_rng(6)
    head = _head(np.concatenate([_features(400, 0, rng), _features(400, 3, rng)]), 400, hidden=8, epochs=40)
    space = novelty.fit_pixel_subspace(rng.uniform(0, 1e-3, (100, 784)), k=3)
    letters = _features(50, 3, rng, views=7)
    one_view_a_digit = letters.copy()
    one_view_a_digit[:, 4] = _features(50, 0, rng)
    odds = novelty.parts(head, space, letters)[:, 0], novelty.parts(head, space, one_view_a_digit)[:, 0]
    assert (odds[0] > 0).all() and (odds[1] < 0).all()


def test_the_head_reads_features_in_blocks_as_it_reads_them_whole():
    """Head.logits folds the standardisation into its weights, so the Draw page and /predict pass
    the pixels and each hidden layer as they come, never joined into one copy."""
    rng = np.random.default_rng(5)
    x = np.concatenate([_features(200, 0, rng), _features(50, 2, rng)])
    head = _head(x, 200, hidden=4, epochs=1)
    views = _features(40, 1, rng, views=7)
    whole = np.maximum(((views - head.mean) / head.scale) @ head.w1 + head.b1, 0) @ head.w2 + head.b2
    np.testing.assert_allclose(head.logits(views), whole, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(head.logits([views[..., :784], views[..., 784:800], views[..., 800:]]), whole,
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(head.log_odds(views), whole[..., 1] - whole[..., 0], rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="824 features; the head takes 814"):
        head.logits([views, views[..., :10]])


def test_a_blob_is_ink_a_few_strokes_across():
    assert novelty.is_blob(2.0) and not novelty.is_blob(6.0) and not novelty.is_blob(None)


def test_roundness_tells_a_bar_from_a_ring():
    bar = np.zeros((28, 28))
    bar[4:24, 13:15] = 1
    ring = np.zeros((28, 28))
    yy, xx = np.mgrid[0:28, 0:28]
    ring[np.abs(np.hypot(yy - 14, xx - 14) - 8) < 1.5] = 1
    assert roundness(bar) < 0.2 < 0.9 < roundness(ring)


@pytest.mark.slow
def test_fitting_a_model_s_statistics_end_to_end_on_tiny_data(monkeypatch, tmp_path, tiny_mnist):
    from mnist_core.training import non_digit_examples, novelty_fit, styles

    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path))
    for module in (styles, non_digit_examples):  # a machine without fonts: no letters, no font digits
        monkeypatch.setattr(module, "font_designs", lambda: {})
    monkeypatch.setattr(novelty_fit, "DIGITS_EACH", 200)
    monkeypatch.setattr(novelty_fit, "VARIANT_DIGITS", 200)
    monkeypatch.setattr(novelty_fit, "NON_DIGITS", 100)
    monkeypatch.setattr(novelty_fit, "CALIBRATION_EACH", 100)
    rng = np.random.default_rng(5)
    layers = novelty.dense_layers([rng.normal(0, 0.05, (784, 32)), np.zeros(32), rng.normal(0, 0.3, (32, 10)),
                                   np.zeros(10)])
    stats = novelty_fit.fit_novelty(layers, tiny_mnist, seed=3)
    assert stats.head.w1.shape == (784 + 32, novelty.HEAD_HIDDEN * novelty.HEAD_MEMBERS)
    assert np.isfinite(stats.temperature)
    assert stats.head.kinds == novelty.KINDS  # without fonts no letters are taught, but every kind is known
    calibration = novelty_fit.calibration_digits(tiny_mnist.x_train[800:], seed=3)
    score = stats.score(novelty_fit.view_features(layers, calibration))
    assert np.mean(score > stats.threshold) <= 0.02  # REFUSED of them, on the same digits
