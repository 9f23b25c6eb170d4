"""A Keras model file (.keras or .h5) read as data, without Keras: its weights, by its plan, as numpy_layers.

    steps, input_shape = read_network(Path("models/default.keras"))   # ModelError: one line

`model_check.open_model` sizes the file and plans its config first (model_plan.py: which layers,
in order, the shape each takes and the weights each needs, counted). Then each planned layer's
weights are read where Keras put them:
- in a `.keras` zip's `model.weights.h5`, a layer's variables are `layers/<key>/vars/0, 1...`
  where the key is its class in snake case, numbered per class in the model's layer order
  (`dense`, `dense_1`, `batch_normalization`), not its name; a nested model's layers lie under
  its own key (`layers/sequential_1/layers/dense`). Recent Keras 3 releases (3.15 here) also
  keep the layer's name as the `name` attribute of `vars`, which is used when present;
- in a legacy `.h5` (Keras 2, or Keras 3's `model.save("x.h5")`), `model_weights/<layer name>/`
  lists its datasets in order in the attribute `weight_names` (`kernel:0` in Keras 2); a nested
  model's group holds all its layers' weights, each found by the end of its name
  (`member_1/hidden_1/kernel`).
A dataset that is missing, of another shape than planned or not stored as plain floats in the
file is a ModelError line naming the file (never its path), and so is anything else that goes
wrong while reading (open_model's boundary).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from mnist_core.reading.model_check import ModelError, open_model
from mnist_core.reading.model_plan import Committee, Item, Layer, Nested
from mnist_core.reading.numpy_layers import Activation, Affine, Average, Dense, Dropout, LayerNorm, ReLU, Reshape, Step


def read_network(path: Path) -> tuple[tuple[Step, ...], tuple[int, ...]]:
    """The steps of the model saved at `path`, and its input's shape (without the batch)."""
    with open_model(Path(path)) as model:
        kind = _LegacyWeights if model.legacy else _KerasWeights
        return _steps(model.plan.items, kind(model.weights, model.name)), model.plan.input_shape


def _steps(items: tuple[Item, ...], weights: _KerasWeights | _LegacyWeights) -> tuple[Step, ...]:
    steps: list[Step] = []
    for item in items:
        if isinstance(item, Committee):
            steps.append(Average(tuple(_steps(branch, weights) for branch in item.branches)))
        elif isinstance(item, Nested):
            inner = weights.nested(item.name, item.key)
            steps += _steps(item.items, inner)
            inner.finish(item.name)
        else:
            steps.append(_step(item, weights.read(item.name, item.key, item.weights) if item.weights else []))
    return tuple(steps)


def _step(layer: Layer, arrays: list[np.ndarray]) -> Step:
    """A planned layer's step, from its weights as read (in the plan's order)."""
    s, count = layer.settings, sum(a.size for a in arrays)
    named = dict(zip((what for what, _ in layer.weights), arrays, strict=True))
    if layer.kind == "Dense":
        return Dense(named["kernel"], named.get("bias"), s["activation"], count)
    if layer.kind == "LayerNormalization":
        return LayerNorm(named.get("gamma"), named.get("beta"), s["epsilon"], s["rms"], count)
    if layer.kind == "BatchNormalization":  # folded into x * scale + offset, as tf.nn.batch_normalization
        inv = 1 / np.sqrt(named["moving_variance"] + np.float32(s["epsilon"]))
        if "gamma" in named:
            inv = inv * named["gamma"]
        offset = named.get("beta", np.float32(0)) - named["moving_mean"] * inv
        return Affine(inv, offset, count)
    if layer.kind == "Rescaling":
        return Affine(s["scale"], s["offset"], 0)
    if layer.kind == "Reshape":
        return Reshape(layer.out, s["channels_last"])
    if layer.kind == "Dropout":
        return Dropout(s["rate"])
    if layer.kind == "Activation":
        return Activation(s["activation"])
    return ReLU(s["max_value"], s["slope"], s["threshold"])


class _KerasWeights:
    """Layer variables in a .keras zip's model.weights.h5: `layers/<key>/vars/<i>`, the key being
    the class in snake case counted per class (`dense_1`), or found by the `name` attribute of
    `vars` when the file has it."""

    def __init__(self, root: h5py.Group, file: str) -> None:
        self.layers, self.file = _child(root, "layers"), file
        self._by_name: dict[str, str] | None = None

    def read(self, name: str, key: str, wanted: tuple[tuple[str, tuple], ...]) -> list[np.ndarray]:
        found = _child(self._group(name, key), "vars")
        count = len(found) if isinstance(found, h5py.Group) else 0
        if count != len(wanted):
            raise ModelError(f"{self.file}: layer {name[:40]!r} has {count} weights; its config, {len(wanted)}")
        return [_dataset(_child(found, str(i)), shape, f"layer {name[:40]!r} {what}", self.file)
                for i, (what, shape) in enumerate(wanted)]

    def nested(self, name: str, key: str) -> _KerasWeights:
        return _KerasWeights(self._group(name, key), self.file)

    def finish(self, name: str) -> None:
        """Nothing: each layer's variables were counted as they were read."""

    def _group(self, name: str, key: str) -> h5py.Group:
        if self._by_name is None:
            self._by_name = {}
            for child in self.layers if isinstance(self.layers, h5py.Group) else ():
                found = _child(_child(self.layers, child), "vars")
                label = found.attrs.get("name") if isinstance(found, h5py.Group) else None
                if isinstance(label, bytes | str):
                    self._by_name.setdefault(label.decode() if isinstance(label, bytes) else label, child)
        group = _child(self.layers, self._by_name.get(name, key)) if self.layers is not None else None
        if not isinstance(group, h5py.Group):
            raise ModelError(f"{self.file}: no weights for layer {name[:40]!r}")
        return group


class _LegacyWeights:
    """Layer weights in a legacy .h5: `model_weights/<layer name>/`, its datasets listed in order
    by the attribute `weight_names`. A nested model's group holds all its layers' weights, each
    found by the end of its name (`.../<layer>/<weight>[:0]`)."""

    def __init__(self, group: h5py.Group, file: str, path: tuple[str, ...] = ()) -> None:
        self.group, self.file, self.path = group, file, path  # path: the nested models' names
        self.used: set[str] = set()

    def read(self, name: str, key: str, wanted: tuple[tuple[str, tuple], ...]) -> list[np.ndarray]:
        label = f"layer {name[:40]!r}"
        if not self.path:  # a layer of the model itself: its own group, its weights in order
            group = _child(self.group, name)
            names = _attr_names(group, "weight_names") if isinstance(group, h5py.Group) else []
            if len(names) != len(wanted):
                raise ModelError(f"{self.file}: {label} has {len(names)} weights; its config, {len(wanted)}")
            return [_dataset(_child(group, n), shape, f"{label} {what}", self.file)
                    for n, (what, shape) in zip(names, wanted, strict=True)]
        names = _attr_names(self.group, "weight_names")
        found = [self._find(names, name, what) for what, _ in wanted]
        self.used.update(found)
        return [_dataset(_child(self.group, n), shape, f"{label} {what}", self.file)
                for n, (what, shape) in zip(found, wanted, strict=True)]

    def nested(self, name: str, key: str) -> _LegacyWeights:
        if self.path:
            inner = _LegacyWeights(self.group, self.file, (*self.path, name))
            inner.used = self.used
            return inner
        group = _child(self.group, name)
        if not isinstance(group, h5py.Group):
            raise ModelError(f"{self.file}: no weights for model {name[:40]!r}")
        return _LegacyWeights(group, self.file, (name,))

    def finish(self, name: str) -> None:
        """A nested model's weights must all be ones its config declares."""
        if len(self.path) == 1 and self.used != set(_attr_names(self.group, "weight_names")):
            raise ModelError(f"{self.file}: model {name[:40]!r} holds weights its config does not declare")

    def _find(self, names: list[str], layer: str, weight: str) -> str:
        full = [*self.path, layer, weight]
        for k in range(len(full), 1, -1):
            hits = [n for n in names if re.sub(r":\d+$", "", n).split("/")[-k:] == full[-k:]]
            if len(hits) == 1:
                return hits[0]
        raise ModelError(f"{self.file}: no weight {layer[:40]}/{weight} for model {self.path[0][:40]!r}")


def _child(group: Any, key: str) -> Any:
    """group[key], or None (model_check refused links to other files)."""
    return group.get(key) if isinstance(group, h5py.Group) else None


def _dataset(found: Any, shape: tuple, what: str, file: str) -> np.ndarray:
    """A dataset read as float32, after its declared shape and type are checked against the plan."""
    if not isinstance(found, h5py.Dataset):
        raise ModelError(f"{file}: {what} is missing from its weights")
    if found.shape != tuple(shape):
        raise ModelError(f"{file}: {what} is {found.shape} in its weights, {tuple(shape)} in its config")
    if found.dtype.kind != "f" or found.external or found.is_virtual:
        raise ModelError(f"{file}: {what} is not stored as floats in the file")
    return np.asarray(found[()], dtype=np.float32)


def _attr_names(group: h5py.Group, attr: str) -> list[str]:
    """A list of names stored in an attribute, or in attr0, attr1... when it was too long for one."""
    chunks = [group.attrs[attr]] if attr in group.attrs else []
    while f"{attr}{len(chunks)}" in group.attrs:
        chunks.append(group.attrs[f"{attr}{len(chunks)}"])
    return [n.decode() if isinstance(n, bytes) else str(n) for chunk in chunks for n in np.atleast_1d(chunk)]
