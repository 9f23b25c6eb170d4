"""A model exported as a TensorFlow SavedModel, the format TensorFlow Serving loads.

    export_saved_model(load_keras(DEFAULT_MODEL), Path("export/mnist/1"))   # TF Serving: <name>/<version>/

The folder holds one endpoint, `serve`, also registered as `serving_default` (the signature TF
Serving calls): it takes `images`, (n, 28, 28) float32 in [0, 1], white on black as MNIST (the
output of `preprocess`), and returns `probabilities`, (n, 10) float32. Whatever the model's own
input, 784 values or a 28x28 image, the signature takes 28x28 images, as `Classifier.predict_proba`
does. Read it back with `tf.saved_model.load(folder).signatures["serving_default"](images=x)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Keras (TensorFlow) loads when a model is exported, not on import
    import keras

ENDPOINT = "serve"


def export_saved_model(model: keras.Model, folder: Path) -> None:
    """Write `model` to `folder` as a SavedModel with a `serving_default` signature."""
    import keras
    import tensorflow as tf

    model_input = tuple(model.inputs[0].shape[1:])  # (784,), (28, 28) or (28, 28, 1)

    def serve(images: tf.Tensor) -> dict[str, tf.Tensor]:
        # (n, 28, 28) -> the model's own input shape -> (n, 10)
        return {"probabilities": model(tf.reshape(images, (-1, *model_input)), training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(ENDPOINT, serve, input_signature=[tf.TensorSpec((None, 28, 28), tf.float32, name="images")])
    archive.write_out(str(folder), verbose=False)
