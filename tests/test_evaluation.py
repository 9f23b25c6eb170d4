"""What a model got right and wrong (evaluation) and the training distortions (augment), on small
synthetic data: invariants, not just "it runs"."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from mnist_core.evaluation import (
    Evaluation,
    confident_mistakes,
    confusion_matrix,
    downsample,
    evaluate,
    first_layer_pictures,
)
from mnist_core.reading.classifier import SEED_MODEL, load_classifier
from mnist_core.training.augment import distort


def test_confusion_matrix_counts_every_prediction_once():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    cm = confusion_matrix(y_true, y_pred)
    assert cm.shape == (10, 10) and cm.sum() == 500
    assert np.array_equal(cm.sum(axis=1), np.bincount(y_true, minlength=10))
    assert np.trace(cm) == (y_true == y_pred).sum()


def test_mistakes_are_wrong_and_sorted_by_confidence():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(10), 300)
    y = rng.integers(0, 10, 300)
    worst = confident_mistakes(p, y, 20)
    confidence = p[worst].max(axis=1)
    assert len(worst) == 20 and all(p[i].argmax() != y[i] for i in worst)
    assert np.all(np.diff(confidence) <= 0)
    wrong = p.argmax(axis=1) != y
    assert confidence[0] == p[wrong].max(axis=1).max()  # the most confident mistake comes first


def test_evaluate_reports_the_test_set_and_a_run_keeps_the_report(tiny_mnist):
    report = evaluate(load_classifier(SEED_MODEL), tiny_mnist, mistakes=5)
    assert report.confusion.sum() == len(tiny_mnist.y_test)
    assert report.accuracy == pytest.approx(np.trace(report.confusion) / len(tiny_mnist.y_test))
    assert len(report.mistakes) == 5 and all(m.true != m.predicted for m in report.mistakes)
    kept = Evaluation.from_bytes(report.to_bytes())
    assert kept.accuracy == pytest.approx(report.accuracy) and np.array_equal(kept.confusion, report.confusion)
    assert [(m.true, m.predicted, m.confidence) for m in kept.mistakes] == \
        [(m.true, m.predicted, m.confidence) for m in report.mistakes]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(kept.mistakes, report.mistakes, strict=True))


def damaged_member(report: bytes) -> bytes:
    """The report with its pictures' compressed bytes changed past their header: zlib's error."""
    info = zipfile.ZipFile(io.BytesIO(report)).getinfo("images.npy")
    middle = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    data = bytearray(report)
    data[middle:middle + 16] = bytes(16)
    return bytes(data)


@pytest.mark.parametrize("damage", [lambda r: b"", lambda r: b"PK\x03\x04 not a zip", lambda r: b"\x93NUMPY",
                                    damaged_member], ids=["empty", "a broken zip", "npy", "a damaged member"])
def test_a_damaged_report_is_refused(tiny_mnist, damage):
    report = evaluate(load_classifier(SEED_MODEL), tiny_mnist, mistakes=5).to_bytes()
    with pytest.raises(ValueError, match="not a test report"):
        Evaluation.from_bytes(damage(report))


@pytest.mark.parametrize("change, message", [
    ({"confusion": np.zeros((3, 3), np.int64)}, "other shapes"),
    ({"true": np.int64(0)}, "other shapes"),
    ({"images": np.zeros((1, 28, 28), np.float32)}, "not a test report: expected a C-order array of numbers"),
    ({"images": np.zeros((65, 28, 28), np.uint8)}, "over a report's size"),
    ({"confidence": None}, "missing"),
    ({"true": np.array([12])}, "out of range"),
    ({"confidence": np.array([np.nan])}, "out of range"),
    ({"confusion": np.full((10, 10), -1, np.int64)}, "out of range"),
], ids=["confusion 3x3", "a number for the labels", "float pictures", "65 mistakes", "no confidence", "a label 12",
        "a confidence NaN", "negative counts"])
def test_a_report_with_other_arrays_is_refused(change, message):
    arrays = {"confusion": np.zeros((10, 10), np.int64), "images": np.zeros((1, 28, 28), np.uint8),
              "true": np.zeros(1, np.int64), "predicted": np.zeros(1, np.int64), "confidence": np.zeros(1), **change}
    buffer = io.BytesIO()
    np.savez(buffer, **{k: v for k, v in arrays.items() if v is not None})
    with pytest.raises(ValueError, match=message):
        Evaluation.from_bytes(buffer.getvalue())


def test_first_layer_pictures_are_scaled_per_unit():
    pictures = first_layer_pictures(load_classifier(SEED_MODEL).net.first_layer_weights())
    assert pictures.shape == (10, 28, 28)
    assert np.allclose(np.abs(pictures).max(axis=(1, 2)), 1.0)


def test_downsample_keeps_the_mean_and_the_length_bound():
    values = list(np.arange(1001, dtype=float))
    points = downsample(values, 100)
    assert len(points) <= 100 and points[0] == pytest.approx(np.mean(values[:11]))
    assert list(downsample([1.0, 2.0], 10)) == [1.0, 2.0]


def digits(n: int) -> tf.Tensor:
    from tests.helpers import synthetic_digits

    return tf.constant(synthetic_digits(n, seed=7)[0])


def test_distort_shapes_and_range():
    out = distort(digits(16), tf.random.Generator.from_seed(1), elastic=True).numpy()
    assert out.shape == (16, 784) and out.dtype == np.uint8 and out.max() > 200  # grey levels, as MNIST


def test_zero_distortion_is_the_identity():
    from mnist_core.training.augment import _apply

    x = digits(8)
    zero, one = tf.zeros([8]), tf.ones([8])
    for elastic, field in ((False, tf.zeros([8, 1, 1, 2])), (True, tf.zeros([8, 28, 28, 2]))):
        out = _apply(x, zero, zero, one, one, zero, zero, field, elastic).numpy()
        np.testing.assert_array_equal(out, x.numpy().reshape(8, 784))


def test_chunks_are_the_whole_batch_drawn_once(monkeypatch):
    """The affine draws are made for the whole batch at once (Simard's fields, 300 MB for an
    epoch, are drawn chunk by chunk, so those depend on CHUNK)."""
    import mnist_core.training.augment as augment

    x = digits(100)
    whole = distort(x, tf.random.Generator.from_seed(4)).numpy()
    monkeypatch.setattr(augment, "CHUNK", 7)  # 15 chunks: the same random draws, image by image
    chunked = distort(x, tf.random.Generator.from_seed(4)).numpy()
    assert np.abs(chunked.astype(int) - whole).max() <= 1  # a grey level at most, from rounding


def test_distortions_move_ink_but_keep_most_of_it():
    x = digits(64)
    out = distort(x, tf.random.Generator.from_seed(3)).numpy()
    out, original = out / 255.0, x.numpy().reshape(64, 784) / 255.0
    assert not np.allclose(out, original, atol=0.05)
    ink_ratio = out.sum(axis=1) / original.sum(axis=1)
    assert 0.7 < np.median(ink_ratio) < 1.3
