"""A model's config read once into a plan: its layers in order, the shape each takes and gives,
and the weights each reads. The size check counts the plan; the reader reads by it.

    plan = plan_model(config, "model.keras")   # a .keras's config.json or an .h5's model_config, parsed
    plan.parameters                            # what reading its weights reads: a layer's weights once per layer
    plan.input_shape                           # (784,), (28, 28) or (28, 28, 1)
    plan.items                                 # Layer, Nested (a model inside) and Committee (branches averaged)

Only what a dense network on 28x28 digits is made of is planned: Dense, BatchNormalization,
LayerNormalization, Rescaling, Flatten, Reshape (its -1 resolved), Dropout, GaussianNoise,
activations, and a committee: models inside the model (Sequential, Functional, or "Model" as Keras
2 wrote a Functional one), averaged by an Average layer, at most MAX_NESTING deep. At most
MAX_LAYERS layers are planned or walked: a graph whose paths multiply (an Average of two paths to
an Average of two paths...) is refused after that many steps, not followed 2**n times. A layer
this app does not compute, or a shape that does not follow, is a ModelError naming the file; a
config of the wrong kinds (a list where a dict belongs) raises what Python raises, and
model_check.open_model turns that into a ModelError line too.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from mnist_core.errors import UserError
from mnist_core.reading.numpy_layers import ACTIVATIONS, ALIASES


class ModelError(UserError):
    """A model file cannot be used; the message is one line for the user."""


INPUT_SHAPES = ((784,), (28, 28), (28, 28, 1))  # what a digit reader may take, as classifier.py
MODEL_KINDS = ("Sequential", "Functional", "Model")  # "Model": a Functional model in older Keras 2 files
MAX_NESTING = 2  # a committee's members, inside the model that averages them
MAX_LAYERS = 256  # the largest network trained here: 8 members of 8 hidden layers with dropout, 137
MAX_RANK = 4  # dimensions of a layer's output, without the batch: (28, 28, 1) has 3
FLOAT_POLICIES = {"float32", "float16", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16"}


@dataclass(frozen=True)
class Layer:
    """A layer as its step computes it; `settings` are what the step needs besides its weights."""

    kind: str  # the step: Dense, BatchNormalization, LayerNormalization, Rescaling, Reshape, Dropout, Activation, ReLU
    name: str
    key: str  # its group in a .keras's weights: its class in snake case, numbered per class
    out: tuple[int, ...]  # its output's shape, without the batch
    settings: dict[str, Any]
    weights: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (what, shape) in the file's order: ("kernel", (784, 10))


@dataclass(frozen=True)
class Nested:
    """A model inside the model (a committee's member): its own layers, read from its own weights."""

    name: str
    key: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Committee:
    """Branches that each take the same input; their outputs are averaged (an Average layer)."""

    branches: tuple[tuple[Item, ...], ...]


Item = Layer | Nested | Committee


@dataclass(frozen=True)
class Plan:
    items: tuple[Item, ...]
    input_shape: tuple[int, ...]
    parameters: int  # numbers in the weights the items read, each layer's counted, shared or not

    def shape_of(self) -> dict:
        """Hidden widths, dropout and committee size (TrainConfig's fields), from the plan alone:
        no weight is read (forward.Network.shape_of tells the same of a loaded network)."""
        members = _members(self.items)
        dense = [layer for layer in members[0] if layer.kind == "Dense"]
        dropout = [layer.settings["rate"] for layer in members[0] if layer.kind == "Dropout"]
        return {"hidden": tuple(layer.out[-1] for layer in dense[:-1]),
                "dropout": float(dropout[0]) if dropout else 0.0, "committee": len(members)}


def _members(items: tuple[Item, ...]) -> list[list[Layer]]:
    """The chains of layers a committee averages, each whole; [one chain] for one network."""
    chains: list[list[Layer]] = [[]]
    for item in items:
        if isinstance(item, Layer):
            chains = [chain + [item] for chain in chains]
        else:
            inner = _members(item.items) if isinstance(item, Nested) else \
                [m for branch in item.branches for m in _members(branch)]
            chains = [chain + m for chain in chains for m in inner]
    return chains


def plan_model(config: dict, file: str) -> Plan:
    """The plan of a model's parsed config; `file` (its name) for messages."""
    shape = _declared_input(config)
    if shape is None:
        raise ModelError(f"{file}: declares no input shape")
    if shape not in INPUT_SHAPES:
        raise ModelError(f"{file}: its input is {shape}, not 784 values or a 28x28 image")
    items, out = _Planner(file).model(config, shape, depth=0)
    if out != (10,):
        raise ModelError(f"{file}: its output is {out}, not 10 class probabilities")
    return Plan(items, shape, _parameters(items))


def _parameters(items: tuple[Item, ...]) -> int:
    total = 0
    for item in items:
        if isinstance(item, Layer):
            total += sum(math.prod(shape) for _, shape in item.weights)
        elif isinstance(item, Nested):
            total += _parameters(item.items)
        else:
            total += sum(_parameters(branch) for branch in item.branches)
    return total


Order = list[Any]  # layer configs in order; a tuple of orders is a committee's branches, averaged


class _Planner:
    """Turns a model's config into items, following the shape from its input to its output."""

    def __init__(self, file: str) -> None:
        self.file = file  # the file's name, for messages
        self.planned = 0  # layers planned, nested models' included
        self.walked = 0  # steps taken through Functional graphs

    def model(self, config: dict, shape: tuple, depth: int) -> tuple[tuple[Item, ...], tuple]:
        kind, body = config["class_name"], config["config"]
        layers = body["layers"]
        if len(layers) > MAX_LAYERS:
            raise self._too_many()
        declared = _declared_input(config)
        if declared is not None and (len(declared) != len(shape) or any(d not in (None, s) for d, s in
                                                                          zip(declared, shape, strict=True))):
            raise ModelError(f"{self.file}: a model inside takes {declared}, and is given {shape}")
        if kind == "Sequential":
            order: Order = [layer for layer in layers if layer["class_name"] != "InputLayer"]
        elif kind in MODEL_KINDS:
            order = self._functional_order(body)
        else:
            raise ModelError(f"{self.file}: a {str(kind)[:40]} model; expected Sequential or Functional")
        return self._items(order, _group_keys(layers), shape, depth)

    def _functional_order(self, body: dict) -> Order:
        """The layers from the input to the output, in order: a chain, but for Average layers,
        whose inputs become branches after the layers they share."""
        by_name = {_name(layer): layer for layer in body["layers"]}
        inputs, outputs = _refs(body["input_layers"]), _refs(body["output_layers"])
        if len(inputs) != 1 or len(outputs) != 1 or len(by_name) != len(body["layers"]):
            raise ModelError(f"{self.file}: expected one input, one output and layers of distinct names")
        return self._path(outputs[0], inputs[0], by_name, set())

    def _path(self, name: str, start: str, by_name: dict[str, dict], seen: set[str]) -> Order:
        backwards: Order = []
        seen = set(seen)
        while name != start:
            self.walked += 1
            if self.walked > MAX_LAYERS:  # paths that multiply: refused after so many steps
                raise self._too_many()
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

    def _items(self, order: Order, keys: dict[str, str], shape: tuple, depth: int) -> tuple[tuple[Item, ...], tuple]:
        items: list[Item] = []
        for entry in order:
            if isinstance(entry, tuple):
                branches = [self._items(branch, keys, shape, depth) for branch in entry]
                if len({out for _, out in branches}) != 1:
                    raise ModelError(f"{self.file}: averages outputs of different shapes")
                items.append(Committee(tuple(b for b, _ in branches)))
                shape = branches[0][1]
            else:
                item, shape = self._layer(entry, keys[_name(entry)], shape, depth)
                if item is not None:
                    items.append(item)
        return tuple(items), shape

    def _layer(self, layer: dict, key: str, shape: tuple, depth: int) -> tuple[Item | None, tuple]:
        """A layer's item (None for one that computes nothing) and its output's shape."""
        self.planned += 1
        if self.planned > MAX_LAYERS:
            raise self._too_many()
        kind, cfg, name = layer["class_name"], layer.get("config") or {}, _name(layer)
        label = f"layer {name[:40]!r}"
        if kind in MODEL_KINDS:
            if depth >= MAX_NESTING:
                raise ModelError(f"{self.file}: models nested over {MAX_NESTING} deep")
            items, out = self.model(layer, shape, depth + 1)
            return Nested(name, key, items), out
        policy = cfg.get("dtype")
        policy = (policy.get("config") or {}).get("name") if isinstance(policy, dict) else policy
        if policy is not None and policy not in FLOAT_POLICIES:
            raise ModelError(f"{self.file}: {label} computes in {str(policy)[:40]}; this app reads float models only")

        def planned(step: str, out: tuple, weights: list | None = None, **settings: Any) -> tuple[Layer, tuple]:
            return Layer(step, name, key, out, settings, tuple(weights or ())), out

        if kind == "Dense":
            if cfg.get("lora_rank") or cfg.get("quantization_config"):
                raise ModelError(f"{self.file}: {label} is quantized or has LoRA weights; this app reads plain ones")
            units, bias = self._count(cfg["units"], f"{label} units"), bool(cfg.get("use_bias", True))
            weights = [("kernel", (shape[-1], units))] + [("bias", (units,))] * bias
            return planned("Dense", (*shape[:-1], units), weights,
                           activation=self._activation(cfg.get("activation"), label))
        if kind in ("BatchNormalization", "LayerNormalization"):
            if not _last_axis(cfg.get("axis", -1), shape) or cfg.get("renorm"):
                raise ModelError(f"{self.file}: {label} normalizes over another axis than the last")
            rms = kind == "LayerNormalization" and bool(cfg.get("rms_scaling"))  # then gamma only, as Keras builds it
            scale, center, features = bool(cfg.get("scale", True) or rms), bool(cfg.get("center", True) and not rms), \
                (shape[-1],)
            weights = [("gamma", features)] * scale + [("beta", features)] * center
            if kind == "BatchNormalization":
                weights += [("moving_mean", features), ("moving_variance", features)]
            return planned(kind, shape, weights, epsilon=float(cfg.get("epsilon", 1e-3)), rms=rms)
        if kind == "Rescaling":
            scale = np.asarray(cfg["scale"], np.float32)
            offset = np.asarray(cfg.get("offset", 0.0), np.float32)
            if np.broadcast_shapes(scale.shape, offset.shape, shape) != shape:
                raise ModelError(f"{self.file}: {label} rescales with {scale.shape} values, its input is {shape}")
            return planned("Rescaling", shape, scale=scale, offset=offset)
        if kind == "Flatten":
            return planned("Reshape", (math.prod(shape),),
                           channels_last=cfg.get("data_format") == "channels_first" and len(shape) > 1)
        if kind == "Reshape":
            return planned("Reshape", self._reshaped(shape, cfg["target_shape"], label), channels_last=False)
        if kind == "Dropout":
            return planned("Dropout", shape, rate=float(cfg.get("rate", 0.0)))
        if kind in ("GaussianNoise", "InputLayer"):
            return None, shape
        if kind == "Activation":
            return planned("Activation", shape, activation=self._activation(cfg.get("activation"), label))
        if kind == "Softmax":
            if not _last_axis(cfg.get("axis", -1), shape):
                raise ModelError(f"{self.file}: {label} takes a softmax over another axis than the last")
            return planned("Activation", shape, activation="softmax")
        if kind == "ReLU":
            top = cfg.get("max_value")
            return planned("ReLU", shape, max_value=None if top is None else float(top),
                           slope=float(cfg.get("negative_slope") or 0.0), threshold=float(cfg.get("threshold") or 0.0))
        raise ModelError(f"{self.file}: has a {str(kind)[:40]} layer; this app loads dense networks only")

    def _reshaped(self, shape: tuple, target: list, label: str) -> tuple[int, ...]:
        """Reshape's target_shape with its -1 resolved; ModelError unless it holds the input's numbers exactly."""
        dims = [int(d) for d in target]
        known = math.prod(d for d in dims if d != -1)
        if dims.count(-1) == 1 and known > 0 and math.prod(shape) % known == 0:
            dims[dims.index(-1)] = math.prod(shape) // known
        if math.prod(dims) != math.prod(shape) or min(dims, default=0) < 1 or len(dims) > MAX_RANK:
            raise ModelError(f"{self.file}: {label} cannot reshape {shape} to {tuple(target)[:MAX_RANK + 1]}")
        return tuple(dims)

    def _count(self, value: Any, what: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ModelError(f"{self.file}: {what} is {str(value)[:40]}, not a count")
        return value

    def _activation(self, value: Any, label: str) -> str:
        """A Keras activation's name ('relu'; a dict naming a built-in function in some files)."""
        if isinstance(value, dict) and isinstance(value.get("config"), str):
            value = value["config"]
        name = ALIASES.get(value, value) if isinstance(value, str) else ("linear" if value is None else "")
        if name not in ACTIVATIONS:
            raise ModelError(f"{self.file}: {label} has the activation {str(value)[:40]!r}, not one this app computes")
        return name

    def _too_many(self) -> ModelError:
        return ModelError(f"{self.file}: has over {MAX_LAYERS} layers; this app reads at most {MAX_LAYERS}")


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
