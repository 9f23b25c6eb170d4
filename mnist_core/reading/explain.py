"""Why the network read what it read: which pixels pushed it toward its reading and which
toward the runner-up, and which hidden units fired most, with what each one looks for.

    why = explain(classifier, x28, reading=7, runner_up=1)
    why.pixels            # (28, 28): > 0 where the ink pushed toward 7 over 1, < 0 toward 1
    unlike_a_digit(classifier, x28)   # (28, 28): > 0 where the ink made it look like no digit
    why.units             # [Unit(index, activation, picture (28, 28) in [-1, 1]), ...]: the most active
    heatmap(why.pixels)   # (196, 196, 3) uint8: red toward the reading, blue toward the runner-up
    save_pictures(why, Path("digit.png"))   # digit.why.png, digit.units.png (predict --explain)

The pixels are integrated gradients (Sundararajan et al., 2017) of log p(reading) - log p(runner-up):
the gradient averaged along the straight path from a blank image to the drawing, times the
drawing. Their sum is how much more the drawing favours the reading over the runner-up than a
blank image does (`total`): the picture accounts for that, pixel by pixel, and for nothing else
(to within 1-20% with STEPS points on the path: a ReLU network's path is piecewise, so the sum
converges unevenly). For a dense network each gradient is a few matrix products
(forward.DenseNet.log_ratio_gradient): for the shipped 1024-1024 model, 7 ms a drawing here.

The same integrated gradients of the "not a digit" head's log-odds (novelty.Head.log_odds, at
the drawing itself) show which ink made a drawing look like no digit (`unlike_a_digit`): the
reason the page gives for "Not a digit" beside a reading that may be confident.

The units are the first hidden layer's (each looks for a pattern of ink: its 784 weights as a
28x28 picture), ranked by how strongly this drawing switched them on; for a network without
hidden layers (the book's), the two output units of the reading and the runner-up, whose weight
pictures are the digit templates it learned.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_core import atomic
from mnist_core.reading.classifier import Classifier, judged_by
from mnist_core.reading.numpy_layers import Dense

UNIT_SIDE = 84  # px of a unit's picture
STEPS = 64  # points on the path from blank to the drawing (measured: the sum 1-20% off the total)
UNITS = 8  # hidden units shown


@dataclass(frozen=True)
class Unit:
    index: int  # its place in the first hidden layer (or the digit, for an output unit)
    activation: float  # how strongly this drawing switched it on
    picture: np.ndarray  # (28, 28) its weights, scaled into [-1, 1]: red where ink switches it on


@dataclass(frozen=True)
class Explanation:
    reading: int
    runner_up: int
    pixels: np.ndarray  # (28, 28) float32: integrated gradients of log p(reading) - log p(runner-up)
    units: list[Unit]
    hidden: bool  # False: the units are output units (a network with no hidden layer)

    @property
    def total(self) -> float:
        """log p(reading) - log p(runner-up), the drawing's less a blank image's: the pixels' sum."""
        return float(self.pixels.sum())


def explain(classifier: Classifier, x28: np.ndarray, reading: int, runner_up: int, units: int = UNITS) -> Explanation:
    """The pixels and units behind `classifier`'s reading of the (28, 28) drawing `x28`."""
    x = np.asarray(x28, np.float32).reshape(1, 784)
    path = np.linspace(0.5 / STEPS, 1 - 0.5 / STEPS, STEPS, dtype=np.float32)[:, None] * x  # midpoints
    gradients = classifier.net.log_ratio_gradient(path, reading, runner_up)
    pixels = (gradients.mean(axis=0) * x[0]).reshape(28, 28).astype(np.float32)
    weights = classifier.net.first_layer_weights()  # (784, units)
    hidden = bool(classifier.net.shape_of()["hidden"])
    if hidden:
        active = classifier.net.activations(x)[0][0]  # (units,) the first hidden layer's outputs
        chosen = np.argsort(-active)[:units]
    else:  # the book's network: its output units are the digits
        active = (x @ weights)[0]
        chosen = np.array([reading, runner_up])
    return Explanation(reading, runner_up, pixels,
                       [Unit(int(i), float(active[i]), _scaled(weights[:, i].reshape(28, 28))) for i in chosen],
                       hidden)


def unlike_a_digit(classifier: Classifier, x28: np.ndarray) -> np.ndarray:
    """(28, 28) float32: integrated gradients of the "not a digit" head's log-odds for the drawing
    `x28`, > 0 where its ink made it look like no digit, < 0 where like a digit; the head is
    the model's own, or the default's (classifier.judged_by)."""
    judge = judged_by(classifier)
    x = np.asarray(x28, np.float32).reshape(1, 784)
    path = np.linspace(0.5 / STEPS, 1 - 0.5 / STEPS, STEPS, dtype=np.float32)[:, None] * x
    return (_log_odds_gradient(judge, path).mean(axis=0) * x[0]).reshape(28, 28).astype(np.float32)


def _log_odds_gradient(judge: Classifier, x: np.ndarray) -> np.ndarray:
    """d(head log-odds)/d(pixels) for (n, 784) pixels, through the network's hidden Dense layers
    (ReLU, as the head reads them: [pixels, hidden 1, ...]) into the head's two layers."""
    dense = [step for step in judge.net.members()[0] if isinstance(step, Dense)][:-1]
    acts = [x]
    for layer in dense:
        acts.append(np.maximum(acts[-1] @ layer.kernel + layer.bias, 0))
    head = judge.novelty.head
    w1, b1 = head._folded
    pre = sum(a @ w1[end - a.shape[1]:end] for a, end in zip(acts, np.cumsum([a.shape[1] for a in acts]),
                                                              strict=True)) + b1
    z = np.maximum(pre, 0) @ head.w2 + head.b2
    others = np.exp(z[:, 1:] - z[:, 1:].max(axis=1, keepdims=True))
    dz = np.concatenate([-np.ones((len(z), 1)), others / others.sum(axis=1, keepdims=True)], axis=1)
    dpre = (dz @ head.w2.T) * (pre > 0)
    ends = np.cumsum([a.shape[1] for a in acts])
    grads = [dpre @ w1[end - a.shape[1]:end].T for a, end in zip(acts, ends, strict=True)]
    g = grads[-1]
    for i in range(len(dense), 0, -1):  # back through each hidden layer, adding what the head read of it
        g = grads[i - 1] + (g * (acts[i] > 0)) @ dense[i - 1].kernel.T
    return g


def heatmap(signed: np.ndarray, size: int = 196) -> np.ndarray:
    """(28, 28) signed values -> (size, size, 3) uint8: red where positive, blue where negative,
    black at zero, scaled to the strongest pixel."""
    scaled = _scaled(signed)
    rgb = np.stack([np.clip(scaled, 0, 1), np.zeros_like(scaled), np.clip(-scaled, 0, 1)], axis=-1)
    factor = size // scaled.shape[0]
    return np.kron((rgb * 255).astype(np.uint8), np.ones((factor, factor, 1), np.uint8))


def save_pictures(why: Explanation, beside: Path) -> list[Path]:
    """Write the pixels' heatmap and the units' pictures (a strip, UNIT_SIDE px each) as PNGs
    beside the image `beside`: <name>.why.png and <name>.units.png."""
    from PIL import Image

    strip = np.concatenate([heatmap(u.picture, UNIT_SIDE) for u in why.units], axis=1)
    written = []
    for suffix, rgb in ((".why.png", heatmap(why.pixels)), (".units.png", strip)):
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, "PNG")
        path = beside.with_name(beside.stem + suffix)
        atomic.write_bytes(path, buffer.getvalue())
        written.append(path)
    return written


def _scaled(a: np.ndarray) -> np.ndarray:
    peak = float(np.abs(a).max())
    return (a / peak if peak > 0 else a).astype(np.float32)
