"""The layers of a dense network as numpy computes them, forward and backward.

    steps = (Dense(kernel, bias, "relu", parameters), Dropout(0.2), Dense(k2, b2, "softmax", p2))
    y = output(steps, x)                         # (n, 784) -> (n, 10)
    y, caches = run(steps, x)                    # the same, with what backward needs
    g_x = backpropagate(steps, caches, g_y)      # dL/dy -> dL/dx

Each layer is a frozen dataclass of arrays with `forward(x) -> (y, cache)` and
`backward(g, cache) -> dL/dx`, computing what Keras computes at inference (`training=False`):
Dropout and GaussianNoise do nothing, BatchNormalization uses its moving statistics (folded
into an Affine), a committee's members run side by side and are averaged (Average). The arrays
are float32 as read; `cast` gives a float64 copy for reference checks. keras_file.py builds
these from a saved model.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


# The activations Keras saves by name, each as (f(z), gradient(z, y, g) -> dL/dz given g = dL/dy).
def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * z) + 1)  # no overflow for large |z|


def _erf(z: np.ndarray) -> np.ndarray:
    """Abramowitz and Stegun 7.1.26 (error under 1.5e-7; numpy has no erf)."""
    t = 1 / (1 + 0.3275911 * np.abs(z))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(z) * (1 - poly * np.exp(-z * z))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _hard_sigmoid(z: np.ndarray) -> np.ndarray:
    return np.clip(z / 6 + 0.5, 0, 1)  # Keras 3's: relu6(z + 3) / 6


SELU = (1.6732632423543772, 1.0507009873554805)  # alpha, scale
_PHI = 1 / math.sqrt(2 * math.pi)
Gradient = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
ACTIVATIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Gradient]] = {
    "linear": (lambda z: z, lambda z, y, g: g),
    "relu": (lambda z: np.maximum(z, 0), lambda z, y, g: g * (z > 0)),
    "relu6": (lambda z: np.clip(z, 0, 6), lambda z, y, g: g * ((z > 0) & (z < 6))),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.2 * z), lambda z, y, g: g * np.where(z > 0, 1, 0.2).astype(z.dtype)),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))), lambda z, y, g: g * np.where(z > 0, 1, y + 1)),
    "selu": (lambda z: SELU[1] * np.where(z > 0, z, SELU[0] * np.expm1(np.minimum(z, 0))),
             lambda z, y, g: g * np.where(z > 0, SELU[1], y + SELU[0] * SELU[1])),
    "gelu": (lambda z: 0.5 * z * (1 + _erf(z / math.sqrt(2))),
             lambda z, y, g: g * (0.5 * (1 + _erf(z / math.sqrt(2))) + z * _PHI * np.exp(-0.5 * z * z))),
    "silu": (lambda z: z * _sigmoid(z), lambda z, y, g: g * (_sigmoid(z) * (1 + z * (1 - _sigmoid(z))))),
    "mish": (lambda z: z * np.tanh(np.logaddexp(0, z)),
             lambda z, y, g: g * (np.tanh(np.logaddexp(0, z)) + z * (1 - np.tanh(np.logaddexp(0, z)) ** 2)
                                  * _sigmoid(z))),
    "softplus": (lambda z: np.logaddexp(0, z), lambda z, y, g: g * _sigmoid(z)),
    "softsign": (lambda z: z / (1 + np.abs(z)), lambda z, y, g: g / (1 + np.abs(z)) ** 2),
    "sigmoid": (_sigmoid, lambda z, y, g: g * y * (1 - y)),
    "log_sigmoid": (lambda z: -np.logaddexp(0, -z), lambda z, y, g: g * _sigmoid(-z)),
    "hard_sigmoid": (_hard_sigmoid, lambda z, y, g: g * ((z > -3) & (z < 3)) / 6),
    "hard_silu": (lambda z: z * _hard_sigmoid(z),
                  lambda z, y, g: g * (_hard_sigmoid(z) + z * ((z > -3) & (z < 3)) / 6)),
    "tanh": (np.tanh, lambda z, y, g: g * (1 - y * y)),
    "exponential": (np.exp, lambda z, y, g: g * y),
    "softmax": (_softmax, lambda z, y, g: y * (g - (g * y).sum(axis=-1, keepdims=True))),
    "log_softmax": (log_softmax, lambda z, y, g: g - np.exp(y) * g.sum(axis=-1, keepdims=True)),
}
ALIASES = {"swish": "silu", "hard_swish": "hard_silu", "celu": "elu"}  # celu with Keras' only alpha, 1, is elu


# The network: a chain of steps on (n, ...) float arrays. Each step's forward returns its output
# and what its backward needs; backward(g, cache) turns dL/d(output) into dL/d(input).
@dataclass(frozen=True)
class Dense:
    kernel: np.ndarray  # (inputs, units)
    bias: np.ndarray | None  # (units,)
    activation: str
    parameters: int

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        z = x @ self.kernel
        if self.bias is not None:
            z += self.bias
        y = ACTIVATIONS[self.activation][0](z)
        return y, (z, y)

    def backward(self, g: np.ndarray, cache: Any) -> np.ndarray:
        return ACTIVATIONS[self.activation][1](*cache, g) @ self.kernel.T


@dataclass(frozen=True)
class Activation:
    activation: str
    parameters: int = 0

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        y = ACTIVATIONS[self.activation][0](x)
        return y, (x, y)

    def backward(self, g: np.ndarray, cache: Any) -> np.ndarray:
        return ACTIVATIONS[self.activation][1](*cache, g)


@dataclass(frozen=True)
class ReLU:
    """Keras' ReLU layer: z above the threshold (at most max_value), else slope * (z - threshold)."""

    max_value: float | None
    slope: float
    threshold: float
    parameters: int = 0

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        y = np.where(x > self.threshold, x, 0).astype(x.dtype)
        if self.max_value is not None:
            y = np.clip(y, 0, self.max_value)
        return y + self.slope * np.minimum(x - self.threshold, 0), x

    def backward(self, g: np.ndarray, x: Any) -> np.ndarray:
        d = np.where(x > self.threshold, 1.0, np.where(x < self.threshold, self.slope, 0.0))
        if self.max_value is not None:
            d = np.where((x > self.threshold) & ((x <= 0) | (x >= self.max_value)), 0.0, d)
        return g * d.astype(g.dtype)


@dataclass(frozen=True)
class Affine:
    """x * scale + offset, per feature: Rescaling, and BatchNormalization at inference."""

    scale: np.ndarray
    offset: np.ndarray
    parameters: int

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        return x * self.scale + self.offset, None

    def backward(self, g: np.ndarray, cache: Any) -> np.ndarray:
        return g * self.scale


@dataclass(frozen=True)
class LayerNorm:
    """Keras' LayerNormalization over the last axis; rms_scaling as Keras 3 computes it (x over
    its standard deviation, not its root mean square, then gamma)."""

    gamma: np.ndarray | None
    beta: np.ndarray | None
    epsilon: float
    rms: bool
    parameters: int

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        mean = x.mean(axis=-1, keepdims=True)
        r = 1 / np.sqrt(np.square(x - mean).mean(axis=-1, keepdims=True) + x.dtype.type(self.epsilon))
        if self.rms:
            y = x * r
            return (y if self.gamma is None else y * self.gamma), (x, mean, r)
        scale = r if self.gamma is None else r * self.gamma
        shift = -mean * scale if self.beta is None else self.beta - mean * scale
        return x * scale + shift, (x, mean, r)

    def backward(self, g: np.ndarray, cache: Any) -> np.ndarray:
        x, mean, r = cache
        u = g if self.gamma is None else g * self.gamma
        if self.rms:  # y = x r, r = (var(x) + eps)^-1/2
            return r * u - r**3 * (x - mean) * (u * x).mean(axis=-1, keepdims=True)
        xhat = (x - mean) * r
        return r * (u - u.mean(axis=-1, keepdims=True) - xhat * (u * xhat).mean(axis=-1, keepdims=True))


@dataclass(frozen=True)
class Reshape:
    shape: tuple[int, ...]  # without the batch
    channels_last: bool = False  # Flatten(data_format="channels_first") first moves axis 1 to the end
    parameters: int = 0

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        moved = np.moveaxis(x, 1, -1) if self.channels_last else x
        return moved.reshape(len(x), *self.shape), moved.shape

    def backward(self, g: np.ndarray, shape: Any) -> np.ndarray:
        g = g.reshape(shape)
        return np.moveaxis(g, -1, 1) if self.channels_last else g


@dataclass(frozen=True)
class Dropout:
    """Nothing at inference; kept so that the network's shape can be told (shape_of)."""

    rate: float
    parameters: int = 0

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        return x, None

    def backward(self, g: np.ndarray, cache: Any) -> np.ndarray:
        return g


@dataclass(frozen=True)
class Average:
    """A committee: each branch runs on the same input; their outputs are averaged."""

    branches: tuple[tuple[Any, ...], ...]
    parameters: int = 0

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        outs, caches = zip(*(run(branch, x) for branch in self.branches), strict=True)
        total = outs[0]
        for out in outs[1:]:
            total = total + out  # summed, then divided, as Keras does
        return total / len(outs), (outs, caches)

    def backward(self, g: np.ndarray, cache: Any) -> np.ndarray:
        return sum(backpropagate(b, c, g / len(self.branches)) for b, c in zip(self.branches, cache[1], strict=True))


Step = Dense | Activation | ReLU | Affine | LayerNorm | Reshape | Dropout | Average


def output(steps: tuple[Step, ...], x: np.ndarray) -> np.ndarray:
    """The steps' output for x, each step's intermediate arrays freed as soon as the next has run."""
    for step in steps:
        x, _ = step.forward(x)
    return x


def run(steps: tuple[Step, ...], x: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """The steps' output for x, and each step's cache for backpropagate."""
    caches = []
    for step in steps:
        x, cache = step.forward(x)
        caches.append(cache)
    return x, caches


def backpropagate(steps: tuple[Step, ...], caches: list[Any], g: np.ndarray) -> np.ndarray:
    """dL/d(output) -> dL/d(input), through the caches of the run that gave the output."""
    for step, cache in zip(reversed(steps), reversed(caches), strict=True):
        g = step.backward(g, cache)
    return g


def walk(steps: tuple[Step, ...]) -> Iterator[Step]:
    """Every step, a committee's members' steps included."""
    for step in steps:
        yield step
        if isinstance(step, Average):
            for branch in step.branches:
                yield from walk(branch)


def arrays(steps: tuple[Step, ...]) -> Iterator[np.ndarray]:
    """Every array the steps hold."""
    for step in walk(steps):
        for f in dataclasses.fields(step):
            if isinstance(getattr(step, f.name), np.ndarray):
                yield getattr(step, f.name)


def cast(steps: tuple[Step, ...], dtype: np.dtype) -> tuple[Step, ...]:
    """The same steps with their arrays in another float type."""
    def one(step: Step) -> Step:
        if isinstance(step, Average):
            return dataclasses.replace(step, branches=tuple(cast(b, dtype) for b in step.branches))
        return dataclasses.replace(step, **{f.name: getattr(step, f.name).astype(dtype)
                                            for f in dataclasses.fields(step)
                                            if isinstance(getattr(step, f.name), np.ndarray)})
    return tuple(one(step) for step in steps)
