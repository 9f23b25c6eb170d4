"""One epoch's look inside a training: its first layer's weights as pictures, and its mistakes now.

    frame = Frame.from_json(job.extras["frame"])    # as the training process sent it (to_json)
    frame.pictures      # (k, 28, 28) in [-1, 1]: units frame.units of the first layer
    frame.confusion     # (10, 10) counts on a fixed sample of validation digits, rows = the true digit
    frame.mistakes      # a few of that sample it gets wrong now, most confident first
    frame.accuracy      # on the sample

For the book's network (no hidden layer) the first layer is the output layer: its ten units are
the digits, and their pictures the ten templates it learns, from noise to digit-like shapes. For
a network with hidden layers, a few of its first layer's units (watcher.py chooses which).

A frame travels as JSON (a job's progress in the database, the queue from the training process):
its pictures as signed bytes (1/127 of each unit's largest weight: finer than a screen shows),
its mistakes' digits as MNIST's own bytes; about 20 KB for sixteen units and eight mistakes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np

from mnist_core.evaluation import Mistake, confusion_matrix

MISTAKES = 8  # wrong digits a frame keeps
LEVELS = 127  # a picture's values, stored as int8 in [-127, 127]


@dataclass(frozen=True)
class Frame:
    epoch: int  # epochs done: 0 before the first
    units: tuple[int, ...]  # which of the first layer's units the pictures are (the digits, for the book's network)
    layer_units: int  # how many units the first layer has
    outputs: bool  # True: the first layer is the output layer, and its pictures the ten digit templates
    pictures: np.ndarray  # (len(units), 28, 28) float32, each unit's weights over their largest magnitude
    confusion: np.ndarray  # (10, 10) int64 on the sample, rows = the true digit
    mistakes: tuple[Mistake, ...] = ()  # most confidently wrong of the sample, at most MISTAKES

    @property
    def accuracy(self) -> float:
        total = int(self.confusion.sum())
        return float(np.trace(self.confusion)) / total if total else 0.0

    @classmethod
    def of(cls, epoch: int, kernel: np.ndarray, units: tuple[int, ...], outputs: bool, probabilities: np.ndarray,
           sample_x: np.ndarray, sample_y: np.ndarray) -> Frame:
        """A frame from the first layer's kernel (784, units) and the model's probabilities (n, 10)
        on the sample (sample_x (n, 28, 28) uint8, sample_y (n,))."""
        predicted = probabilities.argmax(axis=1)
        wrong = np.nonzero(predicted != sample_y)[0]
        confidence = probabilities[wrong, predicted[wrong]]
        worst = wrong[np.argsort(-confidence, kind="stable")][:MISTAKES]
        return cls(epoch, tuple(int(u) for u in units), int(kernel.shape[1]), outputs,
                   unit_pictures(kernel[:, list(units)]), confusion_matrix(sample_y, predicted),
                   tuple(Mistake(np.asarray(sample_x[i], np.uint8).reshape(28, 28), int(sample_y[i]),
                                 int(predicted[i]), float(probabilities[i, predicted[i]])) for i in worst))

    def to_json(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "units": list(self.units), "layer_units": self.layer_units,
                "outputs": self.outputs, "pictures": _b64(quantize(self.pictures)),
                "confusion": self.confusion.astype(int).tolist(),
                "mistakes": [{"image": _b64(m.image), "true": m.true, "said": m.predicted,
                              "confidence": round(m.confidence, 4)} for m in self.mistakes]}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Frame:
        """The frame a training process sent; ValueError (one line) when it is not one."""
        try:
            units = tuple(int(u) for u in record["units"])
            pictures = np.frombuffer(base64.b64decode(record["pictures"]), np.int8)
            confusion = np.asarray(record["confusion"], np.int64)
            mistakes = tuple(Mistake(np.frombuffer(base64.b64decode(m["image"]), np.uint8).reshape(28, 28),
                                     int(m["true"]), int(m["said"]), float(m["confidence"]))
                             for m in record.get("mistakes", ()))
            frame = cls(int(record["epoch"]), units, int(record["layer_units"]), bool(record["outputs"]),
                        dequantize(pictures.reshape(len(units), 28, 28)), confusion, mistakes)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a training's frame: {e}") from None
        if confusion.shape != (10, 10):
            raise ValueError("not a training's frame: its confusion matrix is not 10x10")
        return frame


def unit_pictures(kernel: np.ndarray) -> np.ndarray:
    """(784, k) weights -> (k, 28, 28) float32, each unit over its own largest magnitude: [-1, 1]."""
    pictures = np.asarray(kernel, np.float32).T.reshape(-1, 28, 28)
    peak = np.abs(pictures).max(axis=(1, 2), keepdims=True)
    return pictures / np.where(peak > 0, peak, 1)


def quantize(pictures: np.ndarray) -> np.ndarray:
    """[-1, 1] -> int8 in [-LEVELS, LEVELS]."""
    return np.round(np.clip(pictures, -1, 1) * LEVELS).astype(np.int8)


def dequantize(levels: np.ndarray) -> np.ndarray:
    return levels.astype(np.float32) / LEVELS


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()
