"""A trained model, opened safely, that turns 28x28 digits into ten probabilities.

    from mnist_core import load_classifier
    clf = load_classifier()                 # the project's shipped default model
    clf.predict_proba(x28)                  # (28, 28) -> (10,);  (n, 28, 28) -> (n, 10)
    cache = ClassifierCache(max_bytes=200 * 2**20); cache.get(path)   # shared, bounded by bytes

Before Keras reads a byte of weights, the file's declared size is checked (model_check.py);
models open in Keras safe mode (no Lambda layers, no custom code); a model whose input is not
784 values or a 28x28 image, or whose output is not 10 classes, is refused with ModelError.
Predictions call the model directly (`model(x)`, well under a millisecond), not
`model.predict`, which costs about 40 ms a call.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mnist_core import atomic
from mnist_core.model_check import ModelError, check_model_file

if TYPE_CHECKING:  # Keras (TensorFlow) loads on the first model load, not on import
    import keras

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL = MODELS_DIR / "default.keras"  # the best dense model, trained with augmentation
SEED_MODEL = MODELS_DIR / "seed.keras"  # the seed notebook's fit, reproduced by this project
SHIPPED_MODELS = {"default": DEFAULT_MODEL, "seed": SEED_MODEL}  # what users call them
# Their MNIST test accuracy, measured when they were trained (tests/test_runs_and_models.py checks it).
SHIPPED_TEST_ACCURACY = {"default": 0.9933, "seed": 0.9217}
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


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

    def shape(self) -> dict:
        """The TrainConfig fields that describe this network: hidden widths, dropout, committee size."""
        from mnist_core.model import shape_of

        return shape_of(self.model)

    def predict_proba_tta(self, images: np.ndarray) -> np.ndarray:
        """As predict_proba, averaged over a few small shifts and turns of each image (test-time
        augmentation): one model call for all the views."""
        x = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28)
        p = self.predict_proba(tta_views(x).reshape(-1, 28, 28)).reshape(len(x), -1, 10).mean(axis=1)
        return p[0] if np.ndim(images) in (1, 2) else p


TTA_SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))  # (rows, columns), pixels
TTA_ANGLES = (-8.0, 8.0)  # degrees


def tta_views(x: np.ndarray) -> np.ndarray:
    """(n, 28, 28) -> (n, 7, 28, 28): each image, shifted one pixel four ways, and turned both ways."""
    from PIL import Image

    shifted = [np.roll(x, shift, axis=(1, 2)) for shift in TTA_SHIFTS]
    turned = [np.stack([np.asarray(Image.fromarray(im, "F").rotate(a, Image.BILINEAR)) for im in x])
              for a in TTA_ANGLES]
    return np.stack([x, *shifted, *turned], axis=1)


def load_classifier(path: str | Path | None = None) -> Classifier:
    """Open a `.keras` or `.h5` model in safe mode; the default model when `path` is None."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    model = _load(path, compile=False)
    return Classifier(model, path, flat_input=_check_shapes(model, path.name))


def load_trainable(path: Path) -> keras.Model:
    """A model to go on training (a fine-tune's base), with the optimizer saved with it, its
    state included, when the file has one (a run's model.keras; the shipped models have none).
    Checked as load_classifier checks; its input must be 784 values, as training feeds it."""
    model = _load(path, compile=True)
    if not _check_shapes(model, path.name):
        raise ModelError(f"{path.name}: takes 28x28 images; only models on 784 values can be fine-tuned here")
    return model


def _load(path: Path, compile: bool) -> keras.Model:
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelError(f"{path.name}: expected a .keras or .h5 model file")
    if not path.is_file():
        raise ModelError(f"{path.name}: no such model file")
    check_model_file(path)  # before Keras allocates what the file declares
    import keras

    try:
        return keras.models.load_model(path, compile=compile, safe_mode=True)
    except Exception as e:  # Keras raises many types for bad files; all mean "cannot open"
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else e.__class__.__name__
        raise ModelError(f"{path.name}: cannot be opened as a Keras model ({reason})") from e


MODEL_CACHE_BYTES = 200 * 2**20  # weights kept loaded per process: 27 of the shipped best model
UPLOADS_KEPT, UPLOAD_BYTES_KEPT = 16, 100 * 2**20  # uploaded model files kept, the oldest removed first


def store_upload(data: bytes, filename: str, folder: Path) -> Path:
    """Keep an uploaded model file under a name made from its content (never the user's), in a
    folder bounded in count and bytes: the files used longest ago are removed first."""
    suffix = Path(filename).suffix.lower()
    path = folder / f"{hashlib.sha256(data).hexdigest()[:32]}{suffix if suffix in MODEL_SUFFIXES else '.keras'}"
    if not path.exists():
        atomic.write_bytes(path, data)
    path.touch()  # used now
    kept = sorted(folder.glob("*.*"), key=lambda p: p.stat().st_mtime, reverse=True)
    total = 0
    for i, old in enumerate(kept):
        total += old.stat().st_size
        if old != path and (i >= UPLOADS_KEPT or total > UPLOAD_BYTES_KEPT):
            old.unlink(missing_ok=True)
    return path


class ClassifierCache:
    """Loaded models shared by every session and request, bounded by the bytes of their weights
    (not by a count: a few wide models weigh more than many small ones); the least recently used
    go first. Thread-safe; a model is loaded once even when many ask for it at the same time, and
    its loading holds no lock that others need: a stroke on another model never waits for it."""

    def __init__(self, max_bytes: int = MODEL_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._models: OrderedDict[tuple[Path, int], Classifier] = OrderedDict()
        self._loading: dict[tuple[Path, int], Future[Classifier]] = {}
        self._lock = threading.Lock()  # held for lookups and bookkeeping only

    def get(self, path: Path) -> Classifier:
        """The model at `path`, loaded once (again if the file changes); ModelError if unusable."""
        try:
            key = (path, path.stat().st_mtime_ns)
        except OSError:
            raise ModelError(f"{path.name}: no such model file") from None
        with self._lock:
            if key in self._models:  # every stroke comes here
                self._models.move_to_end(key)
                return self._models[key]
            loading = self._loading.get(key)
            first = loading is None
            if first:
                loading = self._loading[key] = Future()
        if not first:
            return loading.result()  # another thread is loading it: wait for that one load
        try:
            model = load_classifier(path)
        except BaseException as e:
            loading.set_exception(e)
            raise
        finally:
            with self._lock:
                self._loading.pop(key, None)
        with self._lock:
            self._models[key] = model
            while self.bytes() > self.max_bytes and len(self._models) > 1:
                self._models.popitem(last=False)
        loading.set_result(model)
        return model

    def bytes(self) -> int:
        """float32 bytes of the weights of every model held."""
        return sum(4 * c.model.count_params() for c in self._models.values())


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
