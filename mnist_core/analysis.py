"""What a trained model got right and wrong, and what it learned, as plain arrays.

    cm = confusion_matrix(y_true, y_pred)          # (10, 10) counts, rows = true digit
    worst = confident_mistakes(probabilities, y, 12)  # indices, most confidently wrong first
    pictures = first_layer_pictures(model)         # (units, 28, 28) in [-1, 1]
"""

from __future__ import annotations

import keras
import numpy as np


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


def first_layer_pictures(model: keras.Model, limit: int = 64) -> np.ndarray:
    """The first Dense layer's weights, one 28x28 picture per unit, each scaled into [-1, 1].

    For the seed model these are the ten digit templates: positive where ink votes for that
    digit, negative where it votes against.
    """
    dense = next(layer for layer in model.layers if isinstance(layer, keras.layers.Dense))
    kernel = np.asarray(dense.kernel)[:, :limit]  # (784, units)
    pictures = kernel.T.reshape(-1, 28, 28)
    scale = np.abs(pictures).max(axis=(1, 2), keepdims=True)
    return pictures / np.where(scale > 0, scale, 1)


def downsample(values: list[float], points: int) -> np.ndarray:
    """At most `points` values: means of equal consecutive groups, for long per-batch curves."""
    a = np.asarray(values, dtype=np.float32)
    group = max(1, -(-len(a) // points))
    usable = len(a) // group * group
    head = a[:usable].reshape(-1, group).mean(axis=1)
    return np.concatenate([head, a[usable:].mean(keepdims=True)]) if usable < len(a) else head
