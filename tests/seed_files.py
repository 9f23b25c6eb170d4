"""The seed project's three files, for the tests that prove this project reads what it read.

    files = seed_files(tmp_folder)   # ../shared/seed/ when it is there, else equivalents made here
    files.thick_three                # 1.png: a thick black "3", 800x775 RGBA (ink in the alpha channel)
    files.mnist_three                # 2.png: an MNIST-style white "3" on black, 451x452, blown up from 28x28
    files.keras2_model               # mnist_dense_model.h5: a legacy HDF5 model, one Dense(10, softmax)
    files.model_accuracy             # what that model scores on the real MNIST test set

The real files live beside the project (shared/DATA.md) and may not be committed; a clone without
them gets equivalents, made the same way the originals were: the same sizes, modes and layout,
and a Keras 2 HDF5 file (attributes, model_config and weight names as Keras 2.x wrote them) whose
weights are the shipped seed model's (models/seed.keras), so it reads digits as the seed's did.
Set MNIST_TEST_SEED_DIR to another folder (an empty one, say) to try the made ones.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
SHARED_SEED = ROOT.parent / "shared" / "seed"
NAMES = ("1.png", "2.png", "mnist_dense_model.h5")
REAL_ACCURACY = 0.9220  # the seed's own model on MNIST's test set (shared/DATA.md)
MADE_ACCURACY = 0.9217  # models/seed.keras's weights (classifier.SHIPPED_TEST_ACCURACY["seed"])


@dataclass(frozen=True)
class SeedFiles:
    folder: Path
    real: bool  # the seed project's own files, not equivalents made here

    @property
    def thick_three(self) -> Path:
        return self.folder / "1.png"

    @property
    def mnist_three(self) -> Path:
        return self.folder / "2.png"

    @property
    def keras2_model(self) -> Path:
        return self.folder / "mnist_dense_model.h5"

    @property
    def model_accuracy(self) -> float:
        return REAL_ACCURACY if self.real else MADE_ACCURACY


def seed_files(folder: Path) -> SeedFiles:
    """The seed's own files when they are here; else equivalents, written into `folder`."""
    shared = Path(os.environ.get("MNIST_TEST_SEED_DIR") or SHARED_SEED)
    if all((shared / name).is_file() for name in NAMES):
        return SeedFiles(shared, real=True)
    return make_seed_files(folder)


def make_seed_files(folder: Path) -> SeedFiles:
    folder.mkdir(parents=True, exist_ok=True)
    thick_three().save(folder / "1.png")
    mnist_three().save(folder / "2.png")
    kernel, bias = seed_weights()
    keras2_h5(folder / "mnist_dense_model.h5", kernel, bias)
    return SeedFiles(folder, real=False)


# The pictures: one "3", as a centre line of cubic Bezier segments in a 100x100 box.

THREE = [
    ((22, 20), (35, 8), (60, 6), (70, 14)),  # the top arc, left to right
    ((70, 14), (80, 24), (66, 38), (46, 44)),  # down to the waist
    ((46, 44), (72, 44), (80, 58), (74, 72)),  # the lower bowl
    ((74, 72), (66, 88), (40, 92), (24, 82)),  # back to the left
]


def _centre_line(box: tuple[float, float, float, float], steps: int = 40) -> list[tuple[float, float]]:
    """The "3"'s centre line as points, scaled into box (left, top, width, height)."""
    left, top, width, height = box
    points = []
    for p0, p1, p2, p3 in THREE:
        for t in np.linspace(0, 1, steps):
            x, y = ((1 - t) ** 3 * np.array(p0) + 3 * (1 - t) ** 2 * t * np.array(p1)
                    + 3 * (1 - t) * t**2 * np.array(p2) + t**3 * np.array(p3))
            points.append((left + x / 100 * width, top + y / 100 * height))
    return points


def _stroke(size: tuple[int, int], box: tuple[float, float, float, float], width: float, scale: int = 4) -> Image.Image:
    """An "L" mask of the "3" drawn with a round pen, anti-aliased (drawn `scale` times larger, then shrunk)."""
    big = Image.new("L", (size[0] * scale, size[1] * scale), 0)
    draw = ImageDraw.Draw(big)
    points = [(x * scale, y * scale) for x, y in _centre_line(box)]
    r = width * scale / 2
    draw.line(points, fill=255, width=round(width * scale), joint="curve")
    for x, y in (points[0], points[-1]):  # round ends, as a marker leaves them
        draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return big.resize(size, Image.LANCZOS)


def thick_three() -> Image.Image:
    """1.png's like: 800x775 RGBA, black everywhere, the ink in the alpha channel (a marker's "3"
    on a transparent sheet; viewers show it on white), its strokes about 50 px thick."""
    alpha = _stroke((800, 775), (160, 90, 420, 520), width=50)
    image = Image.new("RGBA", (800, 775), (0, 0, 0, 0))
    image.putalpha(alpha)
    return image


def mnist_three() -> Image.Image:
    """2.png's like: an MNIST digit (28x28, white on black, its grey levels from anti-aliasing)
    blown up 16 times with square pixels to 451x452, opaque RGBA."""
    digit = _stroke((28, 28), (6.5, 4, 15, 20), width=2.6)
    big = digit.resize((451, 452), Image.NEAREST)
    return Image.merge("RGBA", (big, big, big, Image.new("L", big.size, 255)))


# The model: what Keras 2 wrote for the seed's Sequential([Dense(10, softmax, name="dense_layer")]).

def seed_weights() -> tuple[np.ndarray, np.ndarray]:
    """(784, 10) kernel and (10,) bias of models/seed.keras, read from its zip with h5py alone."""
    with zipfile.ZipFile(ROOT / "models" / "seed.keras") as archive:
        weights = archive.read("model.weights.h5")
    with h5py.File(io.BytesIO(weights), "r") as f:
        (layer,) = f["layers"].values()
        return np.asarray(layer["vars"]["0"]), np.asarray(layer["vars"]["1"])


KERAS2_CONFIG = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 784], "dtype": "float32", "sparse": False,
                                            "ragged": False, "name": "dense_layer_input"}},
    {"class_name": "Dense", "config": {
        "name": "dense_layer", "trainable": True, "batch_input_shape": [None, 784], "dtype": "float32", "units": 10,
        "activation": "softmax", "use_bias": True,
        "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
        "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}},
]}}
KERAS2_TRAINING = {"loss": "categorical_crossentropy", "metrics": ["accuracy"], "weighted_metrics": None,
                   "loss_weights": None, "optimizer_config": {"class_name": "SGD", "config": {
                       "name": "SGD", "learning_rate": 0.01, "decay": 0.0, "momentum": 0.0, "nesterov": False}}}


def keras2_h5(path: Path, kernel: np.ndarray, bias: np.ndarray) -> Path:
    """A legacy HDF5 model as Keras 2.x saved `model.save("mnist_dense_model.h5")`: the
    architecture as JSON attributes, the weights under model_weights/<layer>/<layer>/<name>:0."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(KERAS2_CONFIG)
        f.attrs["training_config"] = json.dumps(KERAS2_TRAINING)
        weights = f.create_group("model_weights")
        weights.attrs["keras_version"] = "2.15.0"
        weights.attrs["backend"] = "tensorflow"
        weights.attrs["layer_names"] = np.array([b"dense_layer"])  # fixed-length bytes, as Keras 2 wrote names
        layer = weights.create_group("dense_layer")
        layer.attrs["weight_names"] = np.array([b"dense_layer/kernel:0", b"dense_layer/bias:0"])
        layer.create_dataset("dense_layer/kernel:0", data=kernel.astype(np.float32))
        layer.create_dataset("dense_layer/bias:0", data=bias.astype(np.float32))
    return path
