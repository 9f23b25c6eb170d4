"""A dense network computed with numpy from its saved weights: no TensorFlow, no Keras.

    net = DenseNet.load(Path("models/default.keras"))   # a .keras (Keras 3) or .h5 (Keras 2 or 3)
    net.predict_proba(x)                  # (n, 784) float32 in [0, 1] -> (n, 10), as model(x, training=False)
    net.shape_of()                        # {"hidden": (1024, 1024), "dropout": 0.2, "committee": 1}
    net.first_layer_weights()             # (784, units) of the first Dense layer
    net.activations(x)                    # each hidden Dense layer's output, [(n, units), ...]
    net.log_ratio_gradient(x, a, b)       # d(log p_a - log p_b)/dx, (n, 784): which pixels pushed to a, to b

Importing TensorFlow costs a server about 525 MB and 2-3 s; a dense network's forward pass is
a few matrix products. So the file is read as data (keras_file.py, after model_check has planned
and sized it) and computed with numpy (numpy_layers.py), within 1e-5 of Keras' own probabilities
(tests/test_forward.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mnist_core.reading.keras_file import read_network
from mnist_core.reading.numpy_layers import (
    Activation,
    Average,
    Dense,
    Dropout,
    Step,
    arrays,
    backpropagate,
    cast,
    log_softmax,
    output,
    run,
    walk,
)

TINY = np.finfo(np.float32).tiny


class DenseNet:
    """A dense network read from a .keras or .h5 file, computed with numpy in float32.
    Its arrays are read-only, so one network may serve many threads at once."""

    def __init__(self, steps: tuple[Step, ...], input_shape: tuple[int, ...], name: str) -> None:
        self.steps = steps
        self.input_shape = input_shape  # the model's own: (784,), (28, 28) or (28, 28, 1)
        self.name = name  # the file's name
        self.dtype = next(arrays(steps)).dtype  # float32, as read
        for a in arrays(steps):
            a.flags.writeable = False

    @classmethod
    def load(cls, path: str | Path) -> DenseNet:
        """Read a model file, planned and sized first (model_check.open_model); ModelError (one
        line, the file's name only) for anything this app cannot compute as Keras would, or read."""
        steps, shape = read_network(Path(path))
        return cls(steps, shape, Path(path).name)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, 784), or (n, 28, 28), pixels in [0, 1] -> (n, 10) probabilities."""
        return output(self.steps, self._inputs(x))

    def log_ratio_gradient(self, x: np.ndarray, a: int | np.ndarray, b: int | np.ndarray) -> np.ndarray:
        """d(log p_a - log p_b)/dx, shaped as x: positive where more ink would raise a (the reading)
        over b (the runner-up). a and b: one digit, or one per image."""
        x_in = self._inputs(x)
        out, caches = run(self.steps, x_in)
        h = np.zeros(out.shape, np.float64)
        rows = np.arange(len(out))
        np.add.at(h, (rows, np.broadcast_to(a, rows.shape)), 1.0)
        np.add.at(h, (rows, np.broadcast_to(b, rows.shape)), -1.0)
        return _back_from_log(self.steps, caches, out, h).reshape(np.shape(x))

    def read(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """predict_proba(x) and activations(x) together, in one pass when the network is one member."""
        if len(self.members()) > 1:
            return self.predict_proba(x), self.activations(x)
        outputs, x = [], self._inputs(x)
        for step in self.steps:
            x, _ = step.forward(x)
            if isinstance(step, Dense):
                outputs.append(x)
        return x, outputs[:-1]

    def activations(self, x: np.ndarray) -> list[np.ndarray]:
        """The outputs of the first member's hidden Dense layers (all but its last), [(n, units), ...]."""
        outputs, x = [], self._inputs(x)
        for step in self.members()[0]:
            x, _ = step.forward(x)
            if isinstance(step, Dense):
                outputs.append(x)
        return outputs[:-1]

    def first_layer_weights(self) -> np.ndarray:
        """The first Dense layer's kernel (of the first member), (inputs, units): (784, units) on flat pixels."""
        return next(step for step in self.members()[0] if isinstance(step, Dense)).kernel

    def members(self) -> list[tuple[Step, ...]]:
        """The networks a committee averages, each as its own chain of steps; [steps] for one network."""
        for i, step in enumerate(self.steps):
            if isinstance(step, Average):
                return [self.steps[:i] + branch + self.steps[i + 1:] for branch in step.branches]
        return [self.steps]

    def shape_of(self) -> dict:
        """Hidden widths, dropout and committee size, as model.shape_of tells them of a Keras model."""
        first = self.members()[0]
        dense = [step for step in first if isinstance(step, Dense)]
        dropout = [step.rate for step in first if isinstance(step, Dropout)]
        return {"hidden": tuple(int(d.kernel.shape[1]) for d in dense[:-1]),
                "dropout": float(dropout[0]) if dropout else 0.0, "committee": len(self.members())}

    def parameters(self) -> int:
        """Variables in the file, as Keras' count_params (a BatchNormalization's moving statistics included)."""
        return sum(step.parameters for step in walk(self.steps))

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays held."""
        return sum(a.nbytes for a in arrays(self.steps))

    def astype(self, dtype: type) -> DenseNet:
        """The same network computing in another float type (float64: a reference for checks)."""
        return DenseNet(cast(self.steps, np.dtype(dtype)), self.input_shape, self.name)

    def _inputs(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=self.dtype)
        return x.reshape(-1, *self.input_shape)


def _back_from_log(steps: tuple[Step, ...], caches: list[Any], out: np.ndarray, h: np.ndarray) -> np.ndarray:
    """dL/d(input) given h = dL/d(log output), (n, 10) float64. A softmax's log is differentiated
    as a log-softmax and an average's through its members' shares, so that a probability too small
    for float32 never becomes a division by zero."""
    dtype = out.dtype
    last = steps[-1] if steps else None
    if isinstance(last, Dense | Activation) and last.activation == "softmax":
        dz = (h - out * h.sum(axis=-1, keepdims=True)).astype(dtype)  # d log softmax(z) / dz
        g = dz @ last.kernel.T if isinstance(last, Dense) else dz
        return backpropagate(steps[:-1], caches[:-1], g)
    if isinstance(last, Average):
        outs, member_caches = caches[-1]
        logs = np.stack([_log_output(b, c, o) for b, c, o in zip(last.branches, member_caches, outs, strict=True)])
        shares = np.exp(logs - logs.max(axis=0))
        shares /= shares.sum(axis=0)  # y_i / sum_j y_j: d log mean(y) / d log y_i
        g = sum(_back_from_log(b, c, o, h * s)
                for b, c, o, s in zip(last.branches, member_caches, outs, shares, strict=True))
        return backpropagate(steps[:-1], caches[:-1], g)
    return backpropagate(steps, caches, (h / np.maximum(out, TINY)).astype(dtype))


def _log_output(steps: tuple[Step, ...], caches: list[Any], out: np.ndarray) -> np.ndarray:
    last = steps[-1] if steps else None
    if isinstance(last, Dense | Activation) and last.activation == "softmax":
        return log_softmax(caches[-1][0].astype(np.float64))
    return np.log(np.maximum(out.astype(np.float64), TINY))

