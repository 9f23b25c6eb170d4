"""What a trained model got right and wrong, and what it learned, as plain arrays.

    report = evaluate(load_classifier(path), load_mnist())   # the test-set report
    report = scored(probabilities, data)           # the same from (n, 10) readings of data.x_test
    Evaluation.from_bytes(report.to_bytes())       # kept with a run (REPORT_FILE): pages never score again
    cm = confusion_matrix(y_true, y_pred)          # (10, 10) counts, rows = true digit
    worst = confident_mistakes(probabilities, y, 12)  # indices, most confidently wrong first
    pictures = first_layer_pictures(clf.net.first_layer_weights())   # (units, 28, 28) in [-1, 1]
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mnist_core import declared
from mnist_core.data import Mnist
from mnist_core.reading.novelty import ECE_BINS, confidence_bins, expected_calibration_error

if TYPE_CHECKING:  # Keras (TensorFlow) loads with the first model, not on import

    from mnist_core.reading.classifier import Classifier


@dataclass(frozen=True)
class Mistake:
    image: np.ndarray  # (28, 28) uint8, as in MNIST
    true: int
    predicted: int
    confidence: float  # the probability given to `predicted`


REPORT_FILE = "test_report.npz"  # a run's file: its Evaluation, scored by the training process
MOST_MISTAKES = 64  # a report read back keeps at most this many
REPORT_ARRAYS = {"confusion": "iu", "images": "u", "true": "iu", "predicted": "iu", "confidence": "f"}  # its kinds


@dataclass(frozen=True)
class Evaluation:
    """A model scored on MNIST's test set (single views, as the book's figures are)."""

    accuracy: float
    confusion: np.ndarray  # (10, 10) counts, rows = the true digit
    mistakes: list[Mistake]  # the most confidently wrong, most confident first

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, confusion=self.confusion.astype(np.int64),
                            images=np.array([m.image for m in self.mistakes], np.uint8).reshape(-1, 28, 28),
                            true=np.array([m.true for m in self.mistakes], np.int64),
                            predicted=np.array([m.predicted for m in self.mistakes], np.int64),
                            confidence=np.array([m.confidence for m in self.mistakes], np.float64))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Evaluation:
        """A report `to_bytes` wrote; ValueError for anything else (a damaged file, other shapes).
        Each array's header is checked before its data is read (declared.read_npy)."""
        try:
            found = declared.read_arrays(data, REPORT_ARRAYS, MOST_MISTAKES * 28 * 28, "a report's size")
        except ValueError as e:
            raise ValueError(f"not a test report: {e}") from e
        confusion, images, true, predicted, confidence = (found[key] for key in REPORT_ARRAYS)
        k = len(true) if true.ndim == 1 else -1
        if k < 0 or confusion.shape != (10, 10) or images.shape != (k, 28, 28) or images.dtype != np.uint8 \
                or predicted.shape != (k,) or confidence.shape != (k,) or k > MOST_MISTAKES:
            raise ValueError("not a test report: its arrays have other shapes")
        labels = np.concatenate([true, predicted])
        if (confusion < 0).any() or confusion.max() > 10**9 or ((labels < 0) | (labels > 9)).any() \
                or not ((confidence >= 0) & (confidence <= 1)).all():
            raise ValueError("not a test report: its numbers are out of range")
        total = int(confusion.sum())
        return cls(float(np.trace(confusion) / total) if total else 0.0, confusion.astype(np.int64),
                   [Mistake(images[i], int(true[i]), int(predicted[i]), float(confidence[i])) for i in range(k)])


def scored(probabilities: np.ndarray, data: Mnist, mistakes: int = 12) -> Evaluation:
    """The report for (n, 10) readings of `data.x_test`: accuracy, confusion matrix, the
    `mistakes` most confidently wrong."""
    predicted = probabilities.argmax(axis=1)
    worst = confident_mistakes(probabilities, data.y_test, mistakes)
    return Evaluation(
        accuracy=float((predicted == data.y_test).mean()),
        confusion=confusion_matrix(data.y_test, predicted),
        mistakes=[Mistake(data.x_test[i], int(data.y_test[i]), int(predicted[i]), float(probabilities[i].max()))
                  for i in worst],
    )


def evaluate(classifier: Classifier, data: Mnist, mistakes: int = 12) -> Evaluation:
    """Score `classifier` on the test set, one view a digit (a run's training did it already:
    REPORT_FILE)."""
    return scored(classifier.predict_proba(data.x_test.astype(np.float32) / 255.0), data, mistakes)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """(10, 10) int counts: row = the true digit, column = the predicted one."""
    cm = np.zeros((10, 10), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return cm


def confident_mistakes(probabilities: np.ndarray, y_true: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` wrong predictions with the highest confidence, most confident first."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.nonzero(predicted != y_true)[0]
    confidence = probabilities[wrong, predicted[wrong]]
    return wrong[np.argsort(-confidence)][:k]


def first_layer_pictures(kernel: np.ndarray, limit: int = 64) -> np.ndarray:
    """The first Dense layer's weights (784, units), one 28x28 picture per unit, each scaled into
    [-1, 1].

    For the seed model these are the ten digit templates: positive where ink votes for that
    digit, negative where it votes against.
    """
    pictures = kernel[:, :limit].T.reshape(-1, 28, 28)
    scale = np.abs(pictures).max(axis=(1, 2), keepdims=True)
    return pictures / np.where(scale > 0, scale, 1)


@dataclass(frozen=True)
class Reliability:
    """How often readings of each confidence are right: a reliability diagram's points."""

    confidence: np.ndarray  # (bins,) mean confidence of the readings in each bin (NaN: none)
    accuracy: np.ndarray  # (bins,) share of them that are right
    count: np.ndarray  # (bins,) how many
    ece: float  # expected calibration error: the gap, weighted by the bins' shares


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> Reliability:
    """Readings (n, 10) against the true digits, in `bins` equal bins of confidence."""
    which, confidence, right = confidence_bins(probabilities, labels, bins)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore"):
        mean_confidence = np.bincount(which, confidence, bins) / count
        accuracy = np.bincount(which, right, bins) / count
    return Reliability(mean_confidence, accuracy, count, expected_calibration_error(probabilities, labels, bins))


def downsample(values: list[float], points: int) -> np.ndarray:
    """At most `points` values: means of equal consecutive groups, for long per-batch curves."""
    a = np.asarray(values, dtype=np.float32)
    group = max(1, -(-len(a) // points))
    usable = len(a) // group * group
    head = a[:usable].reshape(-1, group).mean(axis=1)
    return np.concatenate([head, a[usable:].mean(keepdims=True)]) if usable < len(a) else head
