"""Is it a digit at all, and how sure is the reading: computed with numpy from a dense model's
weights and a few small statistics (no TensorFlow at prediction time).

    layers = dense_layers(model.get_weights())             # [(W, b), ...]: 784 -> ReLU ... -> 10 logits
    stats = NoveltyStats.load(Path("models/default.novelty.npz"))
    stats = NoveltyStats.from_bytes(member, features=784 + 2048)   # a fine-tune's .keras member, checked
    acts = forward(layers, tta_views(x28[None]).reshape(7, 784))   # one drawing's 7 views (classifier.py)
    p = calibrated(view_probabilities(acts[-1][None]), stats.temperature)[0]   # (10,), confidence that means it
    score = stats.score(features(acts)[None])[0]                   # higher: less like a digit
    refused = score > stats.threshold or is_blob(strokes_across(canvas))   # "That doesn't look like a digit"
    stats.looks_like(features(acts)[None])[0]                     # "a letter or a sign", "a scribble"...

**Confidence that means what it says.** A network trained with label smoothing (the default
model: 0.1) says 88-90% when it is right 98-99% of the time. Temperature scaling (Guo et al.,
2017) divides the log-probabilities of the reading the page shows (the 7 views' average) by one
number T, fitted on the validation split by their likelihood (`fit_temperature`); the digit read
never changes. `expected_calibration_error` is the gap between confidence and accuracy over 15
equal bins of confidence.

**Not a digit.** The ten outputs cannot say "none of them", and post-hoc scores on them (max
softmax, energy, Mahalanobis distance on the hidden layer, distances in pixel space) leave
letters and faces inside the digits' clusters, and real people's digits outside them
(docs/notes.md). What works is taught: a small *head* (three of one hidden layer of 128 ReLU units, averaged) on
the network's own activations (pixels, every hidden layer) tells digits from kinds of
non-digits (non_digit_examples.py: letters and signs, shapes, scribbles, filled blobs), and says
which kind a drawing is most like. Its digits are MNIST's, drawn again as canvases, pens, fonts,
scanners and hurried hands give them (novelty_fit.py, digit_variants.py). Its score is the
log-odds of "not a digit" at the most digit-like of the drawing's 7 views: a drawing is called
no digit only when none of its small shifts and turns looks like one. Beside it, a little of the
drawing's distance from MNIST's *pixel subspace* (the residual off the training digits' first
100 principal components), each put on the scale of digits (its median and 99th percentile on
calibration digits). The threshold refuses REFUSED of the calibration digits. A filled blob comes
out of `preprocess` as a bar (its thickness is normalised away), so it is judged on the canvas:
ink whose longer side spans fewer than BLOB_STROKES stroke widths is a blob (`is_blob`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path

import numpy as np

from mnist_core import atomic, declared

Layers = list[tuple[np.ndarray, np.ndarray]]

ECE_BINS = 15
HEAD_HIDDEN = 128  # ReLU units of each member of the head (64: 1.6 points fewer non-digits caught)
HEAD_MEMBERS = 3  # heads averaged into one
PIXEL_COMPONENTS = 100  # principal components of MNIST's training digits kept
# Of the pixel residual's score beside the head's (both on the digits' scale): at 0.5 it refused
# a third of real pen traces, at 0.1 it caught 1.6 points fewer non-digits (docs/notes.md)
PIXEL_WEIGHT = 0.2
REFUSED = 0.01  # of calibration digits refused: drawn as canvases, fonts, scanners and hands give them
BLOB_STROKES = 2.5  # ink spanning fewer stroke widths than this is a blob (0.25% of calibration digits)
# What a head tells apart, in this order: a digit, or what a drawing looks like instead
DIGIT, LETTER, SHAPE, SCRIBBLE, BLOB = "a digit", "a letter or a sign", "a shape", "a scribble", "a filled blob"
KINDS = (DIGIT, LETTER, SHAPE, SCRIBBLE, BLOB)


def dense_layers(weights: list[np.ndarray]) -> Layers:
    """A Sequential dense model's get_weights() -> [(kernel, bias), ...], float32."""
    if len(weights) % 2:
        raise ValueError("expected kernels and biases in pairs")
    return [(np.asarray(w, np.float32), np.asarray(b, np.float32)) for w, b in zip(weights[::2], weights[1::2],
                                                                                     strict=True)]


def forward(layers: Layers, x: np.ndarray) -> list[np.ndarray]:
    """(n, 784) pixels in [0, 1] -> [pixels, each hidden layer's ReLU activations, logits].
    The softmax of the logits is what the Keras model outputs (its last layer's activation)."""
    acts = [np.asarray(x, np.float32).reshape(len(x), -1)]
    for i, (w, b) in enumerate(layers):
        z = acts[-1] @ w + b
        acts.append(np.maximum(z, 0) if i < len(layers) - 1 else z)
    return acts


def features(acts: list[np.ndarray]) -> np.ndarray:
    """What the head reads: the pixels and every hidden layer side by side, (n, 784 + hidden)."""
    return np.concatenate(acts[:-1], axis=1)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, np.float64) / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def view_probabilities(view_logits: np.ndarray) -> np.ndarray:
    """(n, views, 10) logits -> (n, 10): each view's softmax, averaged (the Draw page's reading,
    Classifier.predict_proba_tta); (n, 10) logits are one view."""
    z = np.asarray(view_logits)
    return softmax(z[:, None] if z.ndim == 2 else z).mean(axis=1)


def calibrated(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """(n, 10) readings with their confidence tempered: softmax(log p / T) row by row. For one
    view it is softmax(logits / T); for the views' average it keeps the average's order, so the
    digit read and the runner-up never change, only how sure the page says it is."""
    return softmax(np.log(np.clip(np.asarray(probabilities, np.float64), 1e-30, None)), temperature)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The T that maximises the likelihood of `labels` under calibrated(probabilities, T)
    (golden-section search on log T in [-3, 3])."""
    y = np.asarray(labels, int)
    rows = np.arange(len(y))

    def nll(log_t: float) -> float:
        return float(-np.log(calibrated(probabilities, float(np.exp(log_t)))[rows, y] + 1e-12).mean())

    lo, hi = -3.0, 3.0
    ratio = (np.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(a), nll(b)
    while hi - lo > 1e-4:
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(b)
    return float(np.exp((lo + hi) / 2))


def confidence_bins(probabilities: np.ndarray, labels: np.ndarray,
                    bins: int = ECE_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin, confidence, right) of each reading (n, 10): its top probability's equal-width bin
    (k/bins, (k+1)/bins], that probability, and whether it is the true digit."""
    p = np.asarray(probabilities)
    confidence, right = p.max(axis=1), p.argmax(axis=1) == np.asarray(labels)
    return np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1), confidence, right


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Sum over equal-width confidence bins of |accuracy - mean confidence|, weighted by the
    bin's share of the readings (confidence: the top probability)."""
    which, confidence, right = confidence_bins(probabilities, labels, bins)
    total = 0.0
    for k in range(bins):
        in_bin = which == k
        if in_bin.any():
            total += in_bin.mean() * abs(confidence[in_bin].mean() - right[in_bin].mean())
    return float(total)


def auroc(digit_scores: np.ndarray, other_scores: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a non-digit scores higher than a digit (ties
    count half); Mann-Whitney's U over the product of the counts."""
    d, o = np.asarray(digit_scores, np.float64), np.asarray(other_scores, np.float64)
    both = np.concatenate([d, o])
    order = both.argsort(kind="mergesort")
    ranks = np.empty(len(both))
    ranks[order] = np.arange(1, len(both) + 1)
    _, inverse, counts = np.unique(both, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]  # tied values share their mean rank
    u = ranks[len(d):].sum() - len(o) * (len(o) + 1) / 2
    return float(u / (len(d) * len(o)))


def is_blob(strokes_across: float | None) -> bool:
    """Ink whose longer side spans fewer than BLOB_STROKES stroke widths (preprocessing.strokes_across)."""
    return strokes_across is not None and strokes_across < BLOB_STROKES


@dataclass(frozen=True)
class Head:
    """A one-hidden-layer network on standardised features -> a logit for each kind it knows
    (`kinds`: the first is DIGIT, the others kinds of non-digits); several trained apart and
    averaged are one such network (fit_head's `members`)."""

    mean: np.ndarray  # (d,) of the training features
    scale: np.ndarray  # (d,)
    w1: np.ndarray  # (d, hidden): HEAD_HIDDEN for each of HEAD_MEMBERS
    b1: np.ndarray  # (hidden,)
    w2: np.ndarray  # (hidden, kinds)
    b2: np.ndarray  # (kinds,)
    kinds: tuple[str, ...]  # DIGIT, then what else a drawing may look like ("a letter or a sign"...)

    def logits(self, x: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """(..., d) features -> (..., kinds) logits. The features may come as blocks of columns
        whose concatenation they are ([pixels, hidden 1, ...], each (..., d_i)): never joined,
        never copied, for the standardisation is folded into the first layer's weights."""
        blocks = [x] if isinstance(x, np.ndarray) else list(x)
        w1, b1 = self._folded
        ends = np.cumsum([block.shape[-1] for block in blocks])
        if ends[-1] != len(w1):
            raise ValueError(f"{ends[-1]} features; the head takes {len(w1)}")
        pre = b1
        for block, end in zip(blocks, ends, strict=True):
            pre = pre + block.astype(np.float32, copy=False) @ w1[end - block.shape[-1]:end]
        return (np.maximum(pre, 0) @ self.w2 + self.b2).astype(np.float32, copy=False)

    def log_odds(self, x: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """(..., d) features, or their blocks -> (...): log P(not a digit) / P(digit)."""
        z = self.logits(x)
        top = z[..., 1:].max(axis=-1)
        return top + np.log(np.exp(z[..., 1:] - top[..., None]).sum(axis=-1)) - z[..., 0]

    @cached_property
    def _folded(self) -> tuple[np.ndarray, np.ndarray]:
        """((x - mean) / scale) @ w1 + b1 == x @ w1' + b1': w1' = w1 / scale, b1' = b1 - (mean / scale) @ w1."""
        return self.w1 / self.scale[:, None], self.b1 - (self.mean / self.scale) @ self.w1


def fit_head(x: np.ndarray, kind: np.ndarray, kinds: Sequence[str], seed: int, hidden: int = HEAD_HIDDEN,
             members: int = HEAD_MEMBERS, epochs: int = 8, batch: int = 256, learning_rate: float = 1e-3,
             weight_decay: float = 1e-4) -> Head:
    """Train a Head on (n, d) features (float16 is enough: they are standardised a batch at a
    time, never copied whole) to tell their `kind` (indices into `kinds`, 0: a digit): Adam on
    the cross-entropy, a cosine-decayed learning rate. The digits weigh as much as all the
    non-digits together, and each kind of non-digit as much as another. `members` heads are
    trained from different starts and averaged: one head `members` times as wide, whose logits
    are their mean (at the same refusals, 3 catch 2.4 points more non-digits than one)."""
    kind = np.asarray(kind, int)
    counts = np.bincount(kind, minlength=len(kinds)).astype(np.float64)
    present = max(int((counts[1:] > 0).sum()), 1)
    per_kind = np.where(np.arange(len(kinds)) == 0, 1.0, counts[0] / present / np.maximum(counts, 1))
    weight = per_kind[kind].astype(np.float32)
    weight /= weight.mean()
    mean, scale = _mean_and_scale(x)
    fitted = [_fit_member(x, kind, len(kinds), weight, mean, scale, np.random.default_rng(seed + i), hidden, epochs,
                          batch, learning_rate, weight_decay) for i in range(members)]
    return Head(mean, scale, np.concatenate([f[0] for f in fitted], axis=1), np.concatenate([f[1] for f in fitted]),
                np.concatenate([f[2] for f in fitted]) / members, np.mean([f[3] for f in fitted], axis=0),
                tuple(kinds))


def _fit_member(x: np.ndarray, kind: np.ndarray, k: int, weight: np.ndarray, mean: np.ndarray, scale: np.ndarray,
                rng: np.random.Generator, hidden: int, epochs: int, batch: int, learning_rate: float,
                weight_decay: float) -> list[np.ndarray]:
    """One head's [w1, b1, w2, b2], trained on the standardised features."""
    params = [rng.normal(0, np.sqrt(2 / x.shape[1]), (x.shape[1], hidden)).astype(np.float32),
              np.zeros(hidden, np.float32), rng.normal(0, np.sqrt(2 / hidden), (hidden, k)).astype(np.float32),
              np.zeros(k, np.float32)]
    adam = _Adam(params, learning_rate, total_steps=epochs * -(-len(x) // batch))
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch):
            rows = order[i:i + batch]
            xb = (x[rows].astype(np.float32) - mean) / scale
            pre = xb @ params[0] + params[1]
            h = np.maximum(pre, 0)
            p = softmax(h @ params[2] + params[3]).astype(np.float32)
            p[np.arange(len(rows)), kind[rows]] -= 1  # d loss / d logits
            g = p * (weight[rows] / len(rows))[:, None]
            gh = (g @ params[2].T) * (pre > 0)
            adam.step([xb.T @ gh + weight_decay * params[0], gh.sum(axis=0),
                       h.T @ g + weight_decay * params[2], g.sum(axis=0)])
    return params


def _mean_and_scale(x: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation (+ 0.01, so constant pixels stay finite), in float64
    a chunk at a time."""
    total, squares = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    for i in range(0, len(x), chunk):
        part = x[i:i + chunk].astype(np.float64)
        total += part.sum(axis=0)
        squares += (part * part).sum(axis=0)
    mean = total / len(x)
    return mean.astype(np.float32), (np.sqrt(np.maximum(squares / len(x) - mean**2, 0)) + 1e-2).astype(np.float32)


class _Adam:
    """Adam (Kingma and Ba) with a cosine-decayed step size, updating arrays in place."""

    def __init__(self, params: list[np.ndarray], learning_rate: float, total_steps: int) -> None:
        self.params, self.lr, self.total = params, learning_rate, total_steps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads: list[np.ndarray]) -> None:
        self.t += 1
        lr = self.lr * 0.5 * (1 + np.cos(np.pi * min(self.t / self.total, 1.0)))
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            p -= (lr * (m / (1 - 0.9**self.t)) / (np.sqrt(v / (1 - 0.999**self.t)) + 1e-8)).astype(p.dtype)


@dataclass(frozen=True)
class PixelSubspace:
    """MNIST's training digits' mean and first principal components, in pixel space."""

    mean: np.ndarray  # (784,)
    components: np.ndarray  # (k, 784), orthonormal rows

    def residual(self, pixels: np.ndarray) -> np.ndarray:
        """(n, 784) -> (n,): the length of what the subspace cannot explain."""
        c = np.asarray(pixels, np.float32).reshape(len(pixels), -1) - self.mean
        return np.linalg.norm(c - (c @ self.components.T) @ self.components, axis=1)


def fit_pixel_subspace(pixels: np.ndarray, k: int = PIXEL_COMPONENTS) -> PixelSubspace:
    """The mean and first k principal components of (n, 784) digits (an SVD)."""
    x = np.asarray(pixels, np.float32).reshape(len(pixels), -1)
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return PixelSubspace(mean, vt[:k].astype(np.float32))


def parts(head: Head, pixels: PixelSubspace, view_features: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """(n, views, d) features (view 0 the drawing itself, its pixels first), or their blocks of
    columns as Head.logits takes them -> (n, 2): the head's log-odds of "not a digit" at the
    drawing's most digit-like view, and the drawing's pixel residual."""
    blocks = [np.asarray(view_features)] if isinstance(view_features, np.ndarray) else list(view_features)
    return np.stack([head.log_odds(blocks).min(axis=1), pixels.residual(blocks[0][:, 0, :784])], axis=1)


@dataclass(frozen=True)
class NoveltyStats:
    """Everything a model's server needs beside the weights: 1.0 MB of float32 for the default
    model (the head 0.75 MB, the pixel subspace 0.3 MB), 0.5 MB for the seed's."""

    temperature: float  # divides the logits (fit_temperature)
    head: Head
    pixels: PixelSubspace
    centre: np.ndarray  # (2,) the head's and the residual's median on calibration digits
    spread: np.ndarray  # (2,) their 99th percentile minus the median there
    threshold: float  # scores above it: "That doesn't look like a digit"

    def parts(self, view_features: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        return parts(self.head, self.pixels, view_features)

    def score(self, view_features: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """(n, views, d), or its blocks of columns -> (n,): higher is less like a digit; above
        `threshold`, refused."""
        z = (self.parts(view_features) - self.centre) / self.spread
        return z[:, 0] + PIXEL_WEIGHT * z[:, 1]

    def looks_like(self, view_features: np.ndarray | Sequence[np.ndarray]) -> list[str]:
        """(n, views, d), or its blocks -> what each drawing looks like most, of the kinds that
        are no digit ("a letter or a sign", "a shape"...), its views' probabilities averaged."""
        blocks = [np.asarray(view_features)] if isinstance(view_features, np.ndarray) else list(view_features)
        p = softmax(self.head.logits(blocks)).mean(axis=1)
        return [self.head.kinds[1 + int(i)] for i in p[:, 1:].argmax(axis=1)]

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays held."""
        return sum(a.nbytes for a in _arrays(self).values() if isinstance(a, np.ndarray))

    def to_bytes(self) -> bytes:
        """The statistics as an .npz (what `.novelty.npz` files and a run's `.keras` member hold)."""
        buffer = io.BytesIO()
        np.savez(buffer, **_arrays(self))
        return buffer.getvalue()

    def save(self, path: Path) -> None:
        atomic.write_bytes(Path(path), self.to_bytes())

    @classmethod
    def load(cls, path: Path) -> NoveltyStats:
        return cls.from_bytes(Path(path).read_bytes())

    @classmethod
    def from_bytes(cls, data: bytes, features: int | None = None) -> NoveltyStats:
        """Statistics from to_bytes' .npz; ValueError when they are not whole or not consistent,
        or (`features`) are not for a network whose head reads that many features. No array may
        declare more bytes than the file holds: each header is checked before its data is read
        (declared.read_arrays)."""
        names = ["temperature", "centre", "spread", "threshold", *(f"head_{x.name}" for x in fields(Head)),
                 *(f"pixels_{x.name}" for x in fields(PixelSubspace))]  # _arrays' keys
        kinds = {key: "U" if key == "head_kinds" else "uif" for key in names}
        a = declared.read_arrays(data, kinds, len(data), "the file's size")
        head = Head(**{x.name: a[f"head_{x.name}"] for x in fields(Head) if x.name != "kinds"},
                    kinds=tuple(str(k) for k in a["head_kinds"]))
        stats = cls(float(a["temperature"]), head,
                    PixelSubspace(**{x.name: a[f"pixels_{x.name}"] for x in fields(PixelSubspace)}),
                    a["centre"], a["spread"], float(a["threshold"]))
        _check(stats, features)
        return stats


def _arrays(stats: NoveltyStats) -> dict[str, np.ndarray]:
    """The arrays the statistics' .npz holds, by name."""
    return {"temperature": np.float64(stats.temperature), "centre": stats.centre, "spread": stats.spread,
            "threshold": np.float64(stats.threshold),
            **{f"head_{f.name}": np.asarray(getattr(stats.head, f.name)) for f in fields(Head)},
            **{f"pixels_{f.name}": getattr(stats.pixels, f.name) for f in fields(PixelSubspace)}}


def _check(stats: NoveltyStats, features: int | None) -> None:
    """ValueError unless every array has the shape the others imply, every number is finite, and
    the head reads `features` features (when given)."""
    h = stats.head
    d, hidden, kinds = len(h.mean), len(h.b1), len(h.b2)
    shapes = {"head_scale": (h.scale, (d,)), "head_w1": (h.w1, (d, hidden)), "head_w2": (h.w2, (hidden, kinds)),
              "pixels_mean": (stats.pixels.mean, (784,)), "centre": (stats.centre, (2,)),
              "spread": (stats.spread, (2,))}
    for key, (array, shape) in shapes.items():
        if array.shape != shape:
            raise ValueError(f"{key} is {array.shape}, not {shape}")
    if stats.pixels.components.ndim != 2 or stats.pixels.components.shape[1] != 784:
        raise ValueError(f"pixels_components is {stats.pixels.components.shape}")
    if len(h.kinds) != kinds or kinds < 2 or h.kinds[0] != DIGIT:
        raise ValueError(f"the head's kinds {h.kinds[:8]} do not match its {kinds} outputs")
    if features is not None and d != features:
        raise ValueError(f"the head reads {d} features; this network gives {features}")
    numbers = [stats.temperature, stats.threshold, *(a for a in _arrays(stats).values() if a.dtype.kind == "f")]
    if not all(np.isfinite(a).all() for a in numbers) or not 0.01 <= stats.temperature <= 100 \
            or (stats.spread <= 0).any():
        raise ValueError("its numbers are not all finite, or not in range")


def stats_bytes(features: int) -> int:
    """About the bytes of NoveltyStats (as arrays, or to_bytes' file) for a network whose head
    reads `features` features: the head's weights and standardisation, and the pixel subspace."""
    hidden = HEAD_HIDDEN * HEAD_MEMBERS
    head = features * (hidden + 2) + (hidden + 1) * (len(KINDS) + 1)
    return 4 * (head + (PIXEL_COMPONENTS + 1) * 784) + 20_000  # + the kinds' names and the .npz's headers


def calibrate(temperature: float, head: Head, pixels: PixelSubspace, parts: np.ndarray,
              refused: float = REFUSED) -> NoveltyStats:
    """Put the two scores on the digits' scale and set the threshold, from calibration digits'
    (n, 2) NoveltyStats.parts: `refused` of them score above it."""
    centre = np.median(parts, axis=0)
    spread = np.maximum(np.quantile(parts, 0.99, axis=0) - centre, 1e-6)
    z = (parts - centre) / spread
    threshold = float(np.quantile(z[:, 0] + PIXEL_WEIGHT * z[:, 1], 1 - refused))
    return NoveltyStats(temperature, head, pixels, centre, spread, threshold)
