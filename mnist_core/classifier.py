"""A trained model, opened safely, that turns 28x28 digits into ten probabilities.

    from mnist_core import load_classifier
    clf = load_classifier()                 # the project's shipped default model
    clf.predict_proba(x28)                  # (28, 28) -> (10,);  (n, 28, 28) -> (n, 10)

Models open in Keras safe mode (no Lambda layers, no custom code); a model whose input is not
784 values or a 28x28 image, or whose output is not 10 classes, is refused with ModelError.
Predictions call the model directly (`model(x)`, well under a millisecond), not
`model.predict`, which costs about 40 ms a call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # Keras (TensorFlow) loads on the first model load, not on import
    import keras

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL = MODELS_DIR / "default.keras"  # the best dense model, trained with augmentation
SEED_MODEL = MODELS_DIR / "seed.keras"  # the seed notebook's fit, reproduced by this project
SHIPPED_MODELS = {"default": DEFAULT_MODEL, "seed": SEED_MODEL}  # what users call them
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


class ModelError(Exception):
    """A model file cannot be used; the message is one line for the user."""


@dataclass
class Classifier:
    model: keras.Model
    path: Path
    flat_input: bool  # True: the model takes (n, 784); False: (n, 28, 28[, 1])
    _forward: Callable[[np.ndarray], Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # One traced graph for any batch size: one drawing through the shipped 1024-1024 model
        # takes about 1 ms this way against 3.5 ms eagerly (`model(x)`; benchmarks/predict_speed.py).
        import tensorflow as tf

        shape = (None, *self.model.inputs[0].shape[1:])
        self._forward = tf.function(lambda x: self.model(x, training=False),
                                    input_signature=[tf.TensorSpec(shape, tf.float32)], reduce_retracing=True)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """(28, 28) -> (10,); (n, 28, 28) or (n, 784) -> (n, 10). Pixels in [0, 1]."""
        x = np.asarray(images, dtype=np.float32)
        single = x.shape == (28, 28) or x.shape == (784,)
        x = x.reshape(-1, 784) if self.flat_input else x.reshape((-1, *self.model.inputs[0].shape[1:]))
        p = self._forward(x).numpy()
        return p[0] if single else p


def load_classifier(path: str | Path | None = None) -> Classifier:
    """Open a `.keras` or `.h5` model in safe mode; the default model when `path` is None."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelError(f"{path.name}: expected a .keras or .h5 model file")
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    import keras

    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # Keras raises many types for bad files; all mean "cannot open"
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else e.__class__.__name__
        raise ModelError(f"{path.name}: cannot be opened as a Keras model ({reason})") from e
    return Classifier(model, path, flat_input=_check_shapes(model, path.name))


def _check_shapes(model: keras.Model, name: str) -> bool:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(f"{name}: expected one input and one output")
    inp = tuple(model.inputs[0].shape[1:])
    out = tuple(model.outputs[0].shape[1:])
    if out != (10,):
        raise ModelError(f"{name}: its output is {out}, not 10 class probabilities")
    if inp == (784,):
        return True
    if inp in ((28, 28), (28, 28, 1)):
        return False
    raise ModelError(f"{name}: its input is {inp}, not 784 values or a 28x28 image")
