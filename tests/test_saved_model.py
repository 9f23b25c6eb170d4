"""The SavedModel export: TensorFlow loads it back and reads digits exactly as the classifier does."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.reading.classifier import DEFAULT_MODEL, SEED_MODEL, load_classifier, load_keras
from mnist_core.training.saved_model import export_saved_model
from tests.helpers import synthetic_digits


def _image_model(path):
    """A small model that takes 28x28 images (not 784 values), saved as the app saves models."""
    import keras

    layers = [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    model = keras.Sequential(layers)
    model.save(path)
    return path


@pytest.mark.parametrize("which", ["default", "seed", "image_input"])
def test_saved_model_round_trip(which, tmp_path):
    import tensorflow as tf

    path = {"default": DEFAULT_MODEL, "seed": SEED_MODEL}.get(which) or _image_model(tmp_path / "image.keras")
    clf = load_classifier(path)
    x = synthetic_digits(100)[0].astype(np.float32) / 255  # (100, 28, 28) in [0, 1]

    export_saved_model(load_keras(path), tmp_path / "export")
    serving = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
    probabilities = serving(images=tf.constant(x))["probabilities"].numpy()

    assert probabilities.shape == (100, 10)
    np.testing.assert_allclose(probabilities, clf.predict_proba(x), atol=1e-5)
