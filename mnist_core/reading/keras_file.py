"""A Keras model file (.keras or .h5) read as data, without Keras: its layers as numpy_layers.

    steps, input_shape = read_network(Path("models/default.keras"))   # ModelError: one line

`model_check.check_model_file` sizes the file first, from metadata. Then the config (a
`.keras` zip's `config.json`, an `.h5`'s `model_config`) says which layers there are, in order,
and each layer's weights are read with the shapes its config and its input imply; only the
layers model_check accepts are read. The weights are where Keras put them:
- in a `.keras` zip's `model.weights.h5`, a layer's variables are `layers/<key>/vars/0, 1...`
  where the key is its class in snake case, numbered per class in the model's layer order
  (`dense`, `dense_1`, `batch_normalization`), not its name; a nested model's layers lie under
  its own key (`layers/sequential_1/layers/dense`). Recent Keras 3 releases (3.15 here) also
  keep the layer's name as the `name` attribute of `vars`, which is used when present;
- in a legacy `.h5` (Keras 2, or Keras 3's `model.save("x.h5")`), `model_weights/<layer name>/`
  lists its datasets in order in the attribute `weight_names` (`kernel:0` in Keras 2); a nested
  model's group holds all its layers' weights, each found by the end of its name
  (`member_1/hidden_1/kernel`).
A dataset that is missing, of another shape or not stored as plain floats in the file, a
layer or activation this app does not compute, is a ModelError line naming the file (never
its path), not a traceback.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from mnist_core.reading.model_check import H5_ERRORS, MAX_NESTING, ModelError, check_model_file
from mnist_core.reading.numpy_layers import (
    ACTIVATIONS,
    ALIASES,
    Activation,
    Affine,
    Average,
    Dense,
    Dropout,
    LayerNorm,
    ReLU,
    Reshape,
    Step,
)

INPUT_SHAPES = ((784,), (28, 28), (28, 28, 1))  # what a digit reader may take, as classifier.py
SUFFIXES = (".keras", ".h5", ".hdf5")
MODEL_KINDS = ("Sequential", "Functional", "Model")  # "Model": a Functional model in older Keras 2 files
FLOAT_POLICIES = {"float32", "float16", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16"}
Plan = list[Any]  # layer configs in order; a tuple of plans is a committee's branches, averaged


def read_network(path: Path) -> tuple[tuple[Step, ...], tuple[int, ...]]:
    """The steps of the model saved at `path`, and its input's shape (without the batch)."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ModelError(f"{path.name}: expected a .keras or .h5 model file")
    if not path.is_file():
        raise ModelError(f"{path.name}: no such model file")
    check_model_file(path)
    try:
        if path.suffix.lower() == ".keras":
            with zipfile.ZipFile(path) as archive:
                if "model.weights.h5" not in archive.namelist():
                    raise ModelError(f"{path.name}: holds no model.weights.h5")
                config = json.loads(archive.read("config.json"))
                # Read whole (its size checked above): h5py seeks back and forth, and a zip member
                # seeks back by reading again from its start (3x slower for the shipped model).
                stored = io.BytesIO(archive.read("model.weights.h5"))
            with h5py.File(stored, "r") as f:
                steps, shape = _Reader(path.name).network(config, _KerasWeights(f, path.name))
        else:
            with h5py.File(path, "r") as f:
                raw = f.attrs.get("model_config")
                if raw is None or "model_weights" not in f:
                    raise ModelError(f"{path.name}: holds weights only, not a whole model")
                weights = _LegacyWeights(_child(f, "model_weights", path.name), path.name)
                steps, shape = _Reader(path.name).network(json.loads(raw), weights)
    except (*H5_ERRORS, AttributeError, IndexError, RecursionError, zipfile.BadZipFile) as e:
        raise ModelError(f"{path.name}: cannot be read as a dense Keras model ({e.__class__.__name__})") from None
    return steps, shape


class _Reader:
    """Turns a model's config into steps, reading each layer's weights as it comes."""

    def __init__(self, file: str) -> None:
        self.file = file  # the file's name, for messages

    def network(self, config: dict, weights: _KerasWeights | _LegacyWeights) -> tuple[tuple[Step, ...], tuple]:
        shape = _declared_input(config)
        if shape not in INPUT_SHAPES:
            raise ModelError(f"{self.file}: its input is {shape}, not 784 values or a 28x28 image")
        steps, out = self._model(config, weights, shape, depth=0)
        if out != (10,):
            raise ModelError(f"{self.file}: its output is {out}, not 10 class probabilities")
        return steps, shape

    def _model(self, config: dict, weights: Any, shape: tuple, depth: int) -> tuple[tuple[Step, ...], tuple]:
        kind, body = config["class_name"], config["config"]
        declared = _declared_input(config)
        if declared is not None and (len(declared) != len(shape) or any(d not in (None, s) for d, s in
                                                                          zip(declared, shape, strict=True))):
            raise ModelError(f"{self.file}: a model inside takes {declared}, and is given {shape}")
        layers = body["layers"]
        if kind == "Sequential":
            plan: Plan = [layer for layer in layers if layer["class_name"] != "InputLayer"]
        elif kind in MODEL_KINDS:
            plan = self._functional_plan(body)
        else:
            raise ModelError(f"{self.file}: a {str(kind)[:40]} model; expected Sequential or Functional")
        return self._steps(plan, weights, _group_keys(layers), shape, depth)

    def _functional_plan(self, body: dict) -> Plan:
        """The layers from the input to the output, in order: a chain, but for Average layers,
        whose inputs become branches after the layers they share."""
        by_name = {_name(layer): layer for layer in body["layers"]}
        inputs, outputs = _refs(body["input_layers"]), _refs(body["output_layers"])
        if len(inputs) != 1 or len(outputs) != 1 or len(by_name) != len(body["layers"]):
            raise ModelError(f"{self.file}: expected one input, one output and layers of distinct names")
        return self._path(outputs[0], inputs[0], by_name, set())

    def _path(self, name: str, start: str, by_name: dict[str, dict], seen: set[str]) -> Plan:
        backwards: Plan = []
        seen = set(seen)
        while name != start:
            if name in seen or name not in by_name:
                raise ModelError(f"{self.file}: its layers do not lead from its input to its output")
            seen.add(name)
            layer = by_name[name]
            sources = _sources(layer, self.file)
            if layer["class_name"] == "Average" and sources:
                branches = [self._path(source, start, by_name, seen) for source in sources]
                shared = 0
                while all(len(b) > shared and b[shared] == branches[0][shared] for b in branches):
                    shared += 1
                backwards += [tuple(b[shared:] for b in branches), *branches[0][:shared][::-1]]
                break
            if len(sources) != 1:
                raise ModelError(f"{self.file}: layer {name[:40]!r} takes {len(sources)} inputs")
            backwards.append(layer)
            name = sources[0]
        return backwards[::-1]

    def _steps(self, plan: Plan, weights: Any, keys: dict[str, str], shape: tuple,
               depth: int) -> tuple[tuple[Step, ...], tuple]:
        steps: list[Step] = []
        for item in plan:
            if isinstance(item, tuple):
                branches = [self._steps(branch, weights, keys, shape, depth) for branch in item]
                if len({out for _, out in branches}) != 1:
                    raise ModelError(f"{self.file}: averages outputs of different shapes")
                steps.append(Average(tuple(b for b, _ in branches)))
                shape = branches[0][1]
            else:
                new, shape = self._layer(item, weights, keys[_name(item)], shape, depth)
                steps += new
        return tuple(steps), shape

    def _layer(self, layer: dict, weights: Any, key: str, shape: tuple, depth: int) -> tuple[list[Step], tuple]:
        kind, cfg, name = layer["class_name"], layer.get("config") or {}, _name(layer)
        label = f"layer {name[:40]!r}"
        if kind in MODEL_KINDS:
            if depth >= MAX_NESTING:
                raise ModelError(f"{self.file}: models nested over {MAX_NESTING} deep")
            inner = weights.nested(name, key)
            steps, shape = self._model(layer, inner, shape, depth + 1)
            inner.finish(name)
            return list(steps), shape
        policy = cfg.get("dtype")
        policy = (policy.get("config") or {}).get("name") if isinstance(policy, dict) else policy
        if policy is not None and policy not in FLOAT_POLICIES:
            raise ModelError(f"{self.file}: {label} computes in {str(policy)[:40]}; this app reads float models only")
        if kind == "Dense":
            if cfg.get("lora_rank") or cfg.get("quantization_config"):
                raise ModelError(f"{self.file}: {label} is quantized or has LoRA weights; this app reads plain ones")
            units, bias = int(cfg["units"]), cfg.get("use_bias", True)
            wanted = [("kernel", (shape[-1], units))] + [("bias", (units,))] * bool(bias)
            arrays = weights.read(name, key, wanted)
            step = Dense(arrays[0], arrays[1] if bias else None, self._activation(cfg.get("activation"), label),
                         sum(a.size for a in arrays))
            return [step], (*shape[:-1], units)
        if kind in ("BatchNormalization", "LayerNormalization"):
            if not _last_axis(cfg.get("axis", -1), shape) or cfg.get("renorm"):
                raise ModelError(f"{self.file}: {label} normalizes over another axis than the last")
            rms = kind == "LayerNormalization" and bool(cfg.get("rms_scaling"))  # then gamma only, as Keras builds it
            scale, center, features = cfg.get("scale", True) or rms, cfg.get("center", True) and not rms, (shape[-1],)
            wanted = [("gamma", features)] * bool(scale) + [("beta", features)] * bool(center)
            if kind == "BatchNormalization":
                wanted += [("moving_mean", features), ("moving_variance", features)]
            arrays = dict(zip([w for w, _ in wanted], weights.read(name, key, wanted), strict=True))
            count, epsilon = len(wanted) * shape[-1], float(cfg.get("epsilon", 1e-3))
            if kind == "LayerNormalization":
                return [LayerNorm(arrays.get("gamma"), arrays.get("beta"), epsilon, rms, count)], shape
            inv = 1 / np.sqrt(arrays["moving_variance"] + np.float32(epsilon))  # as tf.nn.batch_normalization
            if scale:
                inv = inv * arrays["gamma"]
            offset = arrays["beta"] - arrays["moving_mean"] * inv if center else -arrays["moving_mean"] * inv
            return [Affine(inv, offset, count)], shape
        if kind == "Rescaling":
            scale = np.asarray(cfg["scale"], np.float32)
            offset = np.asarray(cfg.get("offset", 0.0), np.float32)
            if np.broadcast_shapes(scale.shape, offset.shape, shape) != shape:
                raise ModelError(f"{self.file}: {label} rescales with {scale.shape} values, its input is {shape}")
            return [Affine(scale, offset, 0)], shape
        if kind == "Flatten":
            return [Reshape((math.prod(shape),), cfg.get("data_format") == "channels_first" and len(shape) > 1)], \
                (math.prod(shape),)
        if kind == "Reshape":
            target = [int(d) for d in cfg["target_shape"]]
            if target.count(-1) == 1:
                target[target.index(-1)] = math.prod(shape) // max(1, -math.prod(target))
            if math.prod(target) != math.prod(shape) or min(target) < 1:
                raise ModelError(f"{self.file}: {label} cannot reshape {shape} to {tuple(target)}")
            return [Reshape(tuple(target))], tuple(target)
        if kind == "Dropout":
            return [Dropout(float(cfg.get("rate", 0.0)))], shape
        if kind in ("GaussianNoise", "InputLayer"):
            return [], shape
        if kind == "Activation":
            return [Activation(self._activation(cfg.get("activation"), label))], shape
        if kind == "Softmax":
            if not _last_axis(cfg.get("axis", -1), shape):
                raise ModelError(f"{self.file}: {label} takes a softmax over another axis than the last")
            return [Activation("softmax")], shape
        if kind == "ReLU":
            top = cfg.get("max_value")
            return [ReLU(None if top is None else float(top), float(cfg.get("negative_slope") or 0.0),
                         float(cfg.get("threshold") or 0.0))], shape
        raise ModelError(f"{self.file}: has a {str(kind)[:40]} layer; this app loads dense networks only")

    def _activation(self, value: Any, label: str) -> str:
        """A Keras activation's name ('relu'; a dict naming a built-in function in some files)."""
        if isinstance(value, dict) and isinstance(value.get("config"), str):
            value = value["config"]
        name = ALIASES.get(value, value) if isinstance(value, str) else ("linear" if value is None else "")
        if name not in ACTIVATIONS:
            raise ModelError(f"{self.file}: {label} has the activation {str(value)[:40]!r}, not one this app computes")
        return name


class _KerasWeights:
    """Layer variables in a .keras zip's model.weights.h5: `layers/<key>/vars/<i>`, the key being
    the class in snake case counted per class (`dense_1`), or found by the `name` attribute of
    `vars` when the file has it."""

    def __init__(self, root: h5py.Group, file: str) -> None:
        self.layers, self.file = _child(root, "layers", file), file
        self._by_name: dict[str, str] | None = None

    def read(self, name: str, key: str, wanted: list[tuple[str, tuple]]) -> list[np.ndarray]:
        found = _child(self._group(name, key), "vars", self.file)
        count = len(found) if isinstance(found, h5py.Group) else 0
        if count != len(wanted):
            raise ModelError(f"{self.file}: layer {name[:40]!r} has {count} weights; its config, {len(wanted)}")
        return [_dataset(_child(found, str(i), self.file), shape, f"layer {name[:40]!r} {what}", self.file)
                for i, (what, shape) in enumerate(wanted)]

    def nested(self, name: str, key: str) -> _KerasWeights:
        return _KerasWeights(self._group(name, key), self.file)

    def finish(self, name: str) -> None:
        """Nothing: each layer's variables were counted as they were read."""

    def _group(self, name: str, key: str) -> h5py.Group:
        if self._by_name is None:
            self._by_name = {}
            for child in self.layers if isinstance(self.layers, h5py.Group) else ():
                found = _child(_child(self.layers, child, self.file), "vars", self.file)
                label = found.attrs.get("name") if isinstance(found, h5py.Group) else None
                if isinstance(label, bytes | str):
                    self._by_name.setdefault(label.decode() if isinstance(label, bytes) else label, child)
        group = _child(self.layers, self._by_name.get(name, key), self.file) if self.layers is not None else None
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

    def read(self, name: str, key: str, wanted: list[tuple[str, tuple]]) -> list[np.ndarray]:
        label = f"layer {name[:40]!r}"
        if not self.path:  # a layer of the model itself: its own group, its weights in order
            group = _child(self.group, name, self.file)
            names = _attr_names(group, "weight_names") if isinstance(group, h5py.Group) else []
            if len(names) != len(wanted):
                raise ModelError(f"{self.file}: {label} has {len(names)} weights; its config, {len(wanted)}")
            return [_dataset(_child(group, n, self.file), shape, f"{label} {what}", self.file)
                    for n, (what, shape) in zip(names, wanted, strict=True)]
        names = _attr_names(self.group, "weight_names")
        found = [self._find(names, name, what) for what, _ in wanted]
        self.used.update(found)
        return [_dataset(_child(self.group, n, self.file), shape, f"{label} {what}", self.file)
                for n, (what, shape) in zip(found, wanted, strict=True)]

    def nested(self, name: str, key: str) -> _LegacyWeights:
        if self.path:
            inner = _LegacyWeights(self.group, self.file, (*self.path, name))
            inner.used = self.used
            return inner
        group = _child(self.group, name, self.file)
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


def _child(group: Any, key: str, file: str) -> Any:
    """group[key], or None; never through a link to another file."""
    if not isinstance(group, h5py.Group):
        return None
    link = group.get(key, getlink=True)
    if link is None:
        return None
    if isinstance(link, h5py.ExternalLink):
        raise ModelError(f"{file}: its weights link to another file")
    return group[key]


def _dataset(found: Any, shape: tuple, what: str, file: str) -> np.ndarray:
    """A dataset read as float32, after its declared shape and type are checked against the config."""
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


def _declared_input(config: dict) -> tuple | None:
    """The input shape a model's config declares, without the batch; None when it declares none."""
    body = config["config"]
    layers = body["layers"]
    if config["class_name"] == "Sequential":
        first = (layers[0].get("config") or {}) if layers else {}
        shape = (first.get("batch_shape") or first.get("batch_input_shape") or body.get("build_input_shape")
                 or (config.get("build_config") or {}).get("input_shape"))
    else:
        inputs = _refs(body["input_layers"])
        found = [layer.get("config") or {} for layer in layers if inputs and _name(layer) == inputs[0]]
        shape = (found[0].get("batch_shape") or found[0].get("batch_input_shape")) if found else None
    return tuple(None if d is None else int(d) for d in shape[1:]) if shape else None


def _group_keys(layers: list[dict]) -> dict[str, str]:
    """Each layer's group in a .keras weights file: its class in snake case, numbered per class."""
    keys: dict[str, str] = {}
    used: dict[str, int] = {}
    for layer in layers:
        base = _snake(str(layer["class_name"]))
        used[base] = used.get(base, -1) + 1
        keys[_name(layer)] = f"{base}_{used[base]}" if used[base] else base
    return keys


def _snake(name: str) -> str:
    """Keras' naming.to_snake_case: 'BatchNormalization' -> 'batch_normalization'."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _name(layer: dict) -> str:
    return str(layer.get("name") or layer["config"]["name"])


def _refs(value: Any) -> list[str]:
    """Layer names in a Functional config's input_layers/output_layers: [name, 0, 0] or a list of them."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        value = [value]
    return [str(ref[0]) for ref in value or []]


def _sources(layer: dict, file: str) -> list[str]:
    """The names of the layers whose outputs a Functional layer takes: Keras 3 writes them as
    `__keras_tensor__` configs with a `keras_history`, Keras 2 as [name, node, tensor, kwargs]."""
    nodes = layer.get("inbound_nodes") or []
    if len(nodes) > 1:
        raise ModelError(f"{file}: layer {_name(layer)[:40]!r} is used more than once")
    found: list[list] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                found.append(value["config"]["keras_history"])
            else:
                for v in value.values():
                    walk(v)
        elif isinstance(value, list):
            if len(value) >= 3 and isinstance(value[0], str) and isinstance(value[1], int):
                found.append(value)
            else:
                for v in value:
                    walk(v)

    walk(nodes[:1])
    if any(int(ref[1]) != 0 or int(ref[2]) != 0 for ref in found):
        raise ModelError(f"{file}: layer {_name(layer)[:40]!r} takes a shared layer's second output")
    return [str(ref[0]) for ref in found]


def _last_axis(axis: Any, shape: tuple) -> bool:
    axes = axis if isinstance(axis, list | tuple) else [axis]
    return len(axes) == 1 and int(axes[0]) in (-1, len(shape))
