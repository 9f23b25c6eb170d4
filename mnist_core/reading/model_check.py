"""A model file's size, read from what it declares, before Keras allocates anything.

    check_model_file(path)          # ModelError("... declares 636 million parameters; ...") or None
    parameter_limit()               # what this process accepts now

Keras safe mode stops code, not size: a 39 KB `.keras` whose config declares a layer of
800,000 units, with HDF5 datasets declared but never written, loads as 636 million zeros; a
DEFLATE entry expands 1000:1. So, from metadata alone:
- the zip (`.keras`): each entry's declared size and compression ratio;
- the config (`config.json`, or the `.h5`'s `model_config`): only the layers a dense network
  is made of, and the parameters they declare, with the input's shape followed layer by layer;
- the weights (HDF5): every dataset's declared shape and type, whatever is really stored.
The limit is the smaller of MAX_PARAMETERS ($MNIST_MAX_PARAMETERS) and what the memory left
to this process (its cgroup's, else the machine's) can hold several copies of.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path
from typing import IO, Any

from mnist_core.budget import available_memory
from mnist_core.errors import UserError


class ModelError(UserError):
    """A model file cannot be used; the message is one line for the user."""


MAX_PARAMETERS = 20_000_000  # a 2048-2048 dense network has 5.8 million; the shipped best, 1.9
MAX_RATIO = 50  # a .keras entry's size over its compressed size: float weights compress ~1.1:1
MAX_CONFIG_BYTES = 1_000_000
COPIES = 6  # bytes per parameter, x4 for float32: weights, a traced graph, an optimizer's moments...
# The layers a dense network on 28x28 digits is made of; their parameters per input width.
PASS_THROUGH = {"InputLayer", "Dropout", "Activation", "ReLU", "Softmax", "GaussianNoise", "Rescaling", "Average"}
MODELS = {"Sequential", "Functional"}  # a committee's members, inside the model that averages them
MAX_NESTING = 2
RESHAPING = {"Flatten", "Reshape"}
NORMALIZING = {"BatchNormalization": 4, "LayerNormalization": 2}  # parameters per feature
# What h5py raises on a damaged file (found by flipping bytes of real model files).
H5_ERRORS = (OSError, ValueError, TypeError, KeyError, RuntimeError, OverflowError)


def parameter_limit() -> int:
    """The most parameters a model may declare here and now."""
    configured = int(os.environ.get("MNIST_MAX_PARAMETERS") or MAX_PARAMETERS)
    return min(configured, available_memory() // (4 * COPIES))


def check_model_file(path: Path) -> None:
    """Raise ModelError (one line) if the file declares more than this app accepts."""
    limit = parameter_limit()
    if path.suffix.lower() == ".keras":
        config, weights = _read_keras_zip(path, limit)
    else:
        config, weights = _read_h5(path)
    declared = max(_config_parameters(config, path.name), weights)
    if declared > limit:
        raise ModelError(f"{path.name} declares {_millions(declared)} parameters; this app accepts up to "
                         f"{_millions(limit)}")


def _read_keras_zip(path: Path, limit: int) -> tuple[dict, int]:
    """The config and the weights' declared parameters of a .keras zip, entry sizes checked first."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = {info.filename: info for info in archive.infolist()}
            for info in entries.values():
                if info.file_size > 4 * 3 * limit:  # float32 weights and an optimizer's two moments
                    raise ModelError(f"{path.name}: {info.filename} declares {info.file_size / 1e6:,.0f} MB")
                if info.file_size > 1_000_000 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                    raise ModelError(f"{path.name}: {info.filename} is compressed "
                                     f"{info.file_size // max(info.compress_size, 1):,}:1, like a zip bomb")
            config_info = entries.get("config.json")
            if config_info is None or config_info.file_size > MAX_CONFIG_BYTES:
                raise ModelError(f"{path.name}: no readable config.json")
            config = json.loads(archive.read(config_info))
            weights = 0
            if "model.weights.h5" in entries:
                with archive.open("model.weights.h5") as member:  # read where h5py seeks: metadata only
                    weights = _h5_parameters(member)
    except (zipfile.BadZipFile, ValueError, KeyError, OSError) as e:
        raise ModelError(f"{path.name}: cannot be opened as a Keras model ({e.__class__.__name__})") from None
    return config, weights


def _read_h5(path: Path) -> tuple[dict, int]:
    """A legacy .h5 model: its `model_config` and its weights' declared parameters."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
            config = json.loads(raw) if raw is not None else {}
    except H5_ERRORS:
        return {}, 0  # not HDF5 at all: Keras refuses it with its own message
    with open(path, "rb") as file:
        return config, _h5_parameters(file)


def _h5_parameters(file: IO[bytes]) -> int:
    """Elements of every dataset the HDF5 file declares (written or not, compressed or not)."""
    import h5py

    total = 0

    def count(_name: str, item: Any) -> None:
        nonlocal total
        if isinstance(item, h5py.Dataset) and item.shape:
            total += math.prod(item.shape) * max(1, item.dtype.itemsize // 4)

    try:
        with h5py.File(file, "r") as f:
            f.visititems(count)
    except H5_ERRORS:
        return 0
    return total


def _config_parameters(config: dict, name: str) -> int:
    """Parameters the layers in a Sequential or Functional config declare, following the
    input's shape layer by layer; ModelError for a layer a dense network has no use for."""
    try:
        return _declared(config, name, depth=0)[0]
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ModelError(f"{name}: an unreadable layer config ({e.__class__.__name__})") from None


def _declared(config: dict, name: str, depth: int) -> tuple[int, list[int] | None]:
    """(parameters, output shape) of a model config; nested models (a committee's members,
    averaged by an Average layer) are counted the same way, at most MAX_NESTING deep."""
    layers = (config.get("config") or {}).get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list):
        return 0, None  # nothing Keras could build from: it refuses the file itself
    shape: list[int] | None = None
    total = 0
    for layer in layers:
        kind, settings = layer["class_name"], layer.get("config") or {}
        declared = settings.get("batch_shape") or settings.get("batch_input_shape")
        if declared:
            shape = [int(d) for d in declared[1:]]
        if kind in MODELS:
            if depth >= MAX_NESTING:
                raise ModelError(f"{name}: models nested over {MAX_NESTING} deep")
            params, shape = _declared(layer, name, depth + 1)
            total += params
        elif kind == "Dense":
            if shape is None:
                raise ModelError(f"{name}: a Dense layer before any input shape")
            units = int(settings["units"])
            total += shape[-1] * units + (units if settings.get("use_bias", True) else 0)
            shape = [*shape[:-1], units]
        elif kind == "Flatten" and shape is not None:
            shape = [math.prod(shape)]
        elif kind == "Reshape":
            shape = [int(d) for d in settings["target_shape"]]
        elif kind in NORMALIZING and shape is not None:
            total += NORMALIZING[kind] * shape[-1]
        elif kind not in PASS_THROUGH | RESHAPING | NORMALIZING.keys():
            raise ModelError(f"{name}: has a {kind[:40]} layer; this app loads dense networks only")
    return total, shape


def _millions(n: int) -> str:
    return f"{n / 1e6:,.0f} million" if n >= 10**6 else f"{n:,}"
