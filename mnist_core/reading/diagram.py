"""The network as a diagram, lit by one drawing: its layers, the units that drawing switches on
most, and the strongest pushes between them.

    d = diagram(classifier.net, x28, probabilities)   # probabilities: the reading the page shows
    d.layers[0].shown      # the first hidden layer's SHOWN most active units: Unit(index, value, picture)
    d.layers[-1].shown     # the ten outputs, in digit order, valued by `probabilities`
    d.pushes               # Push(layer, source, target, strength): a pixel or unit pushing a unit up (> 0) or down
    strip(d.layers[0].values)   # (rows, columns) in [0, 1]: every unit of a wide layer at once

A dense layer computes, for each of its units, the sum of its inputs times the unit's weights,
plus a bias, then its activation (ReLU for hidden units: below zero is zero; softmax for the
ten outputs). So what a source gives a unit for this drawing is its value times the weight
between them: a push. The diagram keeps, for each unit drawn, its LINES strongest pushes from
the layer drawn before it (for the first layer, from the 784 pixels).

A unit's picture is what it looks for at this drawing: how its sum would change with more ink
at each pixel (its gradient). For the first layer that is simply its weights; deeper, it is the
weights of the units below seen through those this drawing switches on. For a committee, the
diagram is of its first network. Measured on the shipped 1024-1024 network: a few
milliseconds (benchmarks/diagram_speed.py; the figure is in docs/figures.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.errors import UserError
from mnist_core.reading.forward import DenseNet
from mnist_core.reading.numpy_layers import Dense, backpropagate


class DiagramError(UserError):
    """A network whose layers this diagram cannot draw; the message is one line for the user."""


SHOWN = 10  # units drawn of a hidden layer: as many as the outputs, readable across a phone
LINES = 3  # strongest pushes drawn into each unit


@dataclass(frozen=True)
class Unit:
    index: int  # its place in its layer (the digit, for an output)
    value: float  # what the drawing makes of it: a hidden unit's activation, an output's probability
    picture: np.ndarray  # (28, 28) float32 in [-1, 1]: what it looks for at this drawing (its gradient)


@dataclass(frozen=True)
class Layer:
    size: int  # its units, all of them
    values: np.ndarray  # (size,) every unit's value for this drawing
    shown: tuple[Unit, ...]  # the SHOWN most active (hidden), or the ten digits in order (outputs)
    outputs: bool  # the last layer: the ten digits


@dataclass(frozen=True)
class Push:
    layer: int  # into d.layers[layer]
    source: int  # a pixel (0-783, row by row) when layer == 0, else a unit of d.layers[layer - 1]
    target: int  # a unit of d.layers[layer]
    strength: float  # the source's value times the weight between them: > 0 pushes the unit up


@dataclass(frozen=True)
class Diagram:
    image: np.ndarray  # (28, 28) the drawing as read, in [0, 1]
    layers: tuple[Layer, ...]  # the hidden layers, then the outputs
    pushes: tuple[Push, ...]
    members: int  # networks in the committee this is the first of (1: one network)

    @property
    def reading(self) -> int:
        return int(np.argmax(self.layers[-1].values))


def diagram(net: DenseNet, x28: np.ndarray, probabilities: np.ndarray | None = None, shown: int = SHOWN) -> Diagram:
    """The diagram of `net` for the drawing `x28` ((28, 28) in [0, 1]); its outputs valued by
    `probabilities` (the reading as the page shows it) when given, else by this network's own."""
    steps = net.members()[0]
    x = np.asarray(x28, net.dtype).reshape(1, *net.input_shape)
    first = next(i for i, step in enumerate(steps) if isinstance(step, Dense))
    for step in steps[:first]:  # a Flatten or Rescaling before the first Dense layer
        x, _ = step.forward(x)
    if x.shape[1:] != (784,):
        raise DiagramError("this model's first dense layer does not take the 784 pixels: it cannot be drawn here")
    chain, caches, dense, inputs, outputs = steps[first:], [], [], [], []
    for i, step in enumerate(chain):  # one forward pass, keeping what each Dense layer takes and gives
        if isinstance(step, Dense):
            dense.append(i)
            inputs.append(x[0])
        x, cache = step.forward(x)
        caches.append(cache)
        if isinstance(step, Dense):
            outputs.append(x[0])
    layers, pushes, previous = [], [], None
    for n, i in enumerate(dense):
        last = n == len(dense) - 1
        values = np.asarray(probabilities, np.float32) if last and probabilities is not None else outputs[n]
        chosen = np.arange(values.size) if last else np.argsort(-values, kind="stable")[:shown]
        pictures = _gradients(chain[:i], caches[:i], chain[i], chosen)
        units = tuple(Unit(int(u), float(values[u]), p) for u, p in zip(chosen, pictures, strict=True))
        layers.append(Layer(values.size, values.astype(np.float32), units, last))
        sources = np.arange(inputs[0].size) if previous is None else previous
        pushes += _strongest(n, inputs[n], chain[i].kernel, sources, chosen)
        previous = chosen
    return Diagram(np.asarray(x28, np.float32).reshape(28, 28), tuple(layers), tuple(pushes), len(net.members()))


def _gradients(below: tuple, caches: list, step: Dense, units: np.ndarray) -> np.ndarray:
    """(k, 28, 28): each unit's sum's gradient with respect to the first layer's 784 inputs,
    through the layers `below` as this drawing set them (their caches), each scaled into [-1, 1]."""
    g = step.kernel[:, units].T  # d(sum_u)/d(this layer's input), (k, inputs)
    try:
        g = backpropagate(below, caches, np.ascontiguousarray(g))  # the drawing's caches broadcast over the k rows
    except ValueError:  # a layer between Dense layers that keeps its batch's shape (a Reshape)
        raise DiagramError("this model has a layer between its dense layers that the diagram cannot follow") from None
    g = g.reshape(len(units), 28, 28)
    peak = np.abs(g).max(axis=(1, 2), keepdims=True)
    return (g / np.where(peak > 0, peak, 1)).astype(np.float32)


def _strongest(layer: int, given: np.ndarray, kernel: np.ndarray, sources: np.ndarray,
               targets: np.ndarray) -> list[Push]:
    """The LINES strongest pushes from `sources` (values `given`) into each of `targets`."""
    pushes = given[sources, None] * kernel[np.ix_(sources, targets)]  # (sources, targets)
    top = np.argsort(-np.abs(pushes), axis=0, kind="stable")[:LINES]
    return [Push(layer, int(sources[s]), int(targets[t]), float(pushes[s, t]))
            for t in range(len(targets)) for s in top[:, t] if pushes[s, t] != 0]


def strip(values: np.ndarray, columns: int = 64) -> np.ndarray:
    """Every unit's value as a (rows, columns) picture in [0, 1], row by row (the rest of the
    last row 0): a whole wide layer at a glance."""
    v = np.maximum(np.asarray(values, np.float32), 0)
    columns = min(columns, v.size)
    rows = -(-v.size // columns)
    grid = np.zeros(rows * columns, np.float32)
    peak = float(v.max())
    grid[:v.size] = v / peak if peak > 0 else v
    return grid.reshape(rows, columns)
