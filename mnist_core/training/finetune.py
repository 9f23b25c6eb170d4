"""Fine-tuning on the drawings people labelled: which to train on, which to hold out, the
before/after report a fine-tuned run carries (store.runs.FineTune), and its own "not a digit" check.

    held = holdout(collection, share=0.25, seed=1671)   # bool mask: never trained on
    accuracy(predict, x, y), people_in(collection, held)   # the report's figures
    own_head(model, data, config, collection.x[~held], stop, print)   # NoveltyStats, saved in its .keras

A model trained on MNIST is weakest on the Draw page: people's own digits. Every drawing they
label is kept (drawings.py); a fine-tune starts from a model (the default one by default),
trains on the labelled drawings mixed with MNIST (replayed, so that MNIST is not forgotten),
and never sees the held-out part, on which it is scored before and after. When several people
drew, whole people are held out (the test is then on handwriting the model never saw, which is
the question a class asks); with one person, a random share of their drawings.

A drawing labelled as a digit is a digit to the "not a digit" answer from then on: a fine-tune
on drawings fits its own head (novelty_fit.fit_novelty), with the drawings it learned from taught
as digits, on a quarter of the examples the shipped default's learned from (HEAD_SHARE). Without
it, the fine-tuned run would borrow the default's head, which never saw a label, and go on
refusing the very writers it learned from (issue 31: the labelling loop's gain fell from 15.5
points to 8.5). It adds about 50 s to a fine-tune, and 1.5-2 minutes the first time on a
machine, when its examples are made and cached, and a quarter to its peak memory (docs/figures.md).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np

from mnist_core.config import TrainConfig
from mnist_core.data import Mnist
from mnist_core.reading.novelty import NoveltyStats, dense_layers
from mnist_core.store.drawings import Collection, DrawingError

MIN_DRAWINGS = 10  # fewer cannot be split into a part to learn from and a part to score on
HEAD_SHARE = 0.25  # of the examples the default's head learned from: a fine-tune's own (fit_novelty's `share`)
STOP_POLL = 0.25  # s between looks at the stop flag while the head is fitted


def require_drawings(count: int) -> None:
    """DrawingError (one line) when `count` labelled drawings are too few to learn from."""
    if count < MIN_DRAWINGS:
        raise DrawingError(f"fine-tuning needs at least {MIN_DRAWINGS} labelled drawings, and there are {count}: "
                           "label some on the Draw page (or import a file on the Drawings page)")


def holdout(c: Collection, share: float, seed: int) -> np.ndarray:
    """A bool mask over the collection: True for the drawings held out of training. Stable: the
    same drawings (and people) are held out each time for the same seed, as more are added."""
    require_drawings(len(c))
    rank = lambda key: int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:12], 16)  # noqa: E731
    people = sorted(set(c.owners.tolist()), key=rank)
    if len(people) > 1:  # whole people, in a fixed random order, until the share is reached
        counts = {p: int((c.owners == p).sum()) for p in people}
        most = max(share, 0.5) * len(c)  # never most of the data
        chosen, total = set(), 0
        for p in people:
            if total >= share * len(c):
                break
            if total + counts[p] <= most:  # one who drew most of it is passed over, not held out
                chosen.add(p)
                total += counts[p]
        if chosen:
            return np.isin(c.owners, list(chosen))
    scores = np.array([rank(i) for i in c.ids], np.float64) / 16**12
    held = scores < share
    if held.all() or not held.any():  # a tiny collection: at least one on each side
        held = np.zeros(len(c), bool)
        held[int(np.argmin(scores))] = True
    return held


def accuracy(predict: Any, x: np.ndarray, y: np.ndarray) -> float | None:
    """Share of (n, 28, 28) uint8 images that `predict` (images in [0, 1] -> probabilities) reads right."""
    if len(x) == 0:
        return None
    return float((predict(x.astype(np.float32) / 255.0).argmax(axis=1) == y).mean())


def people_in(c: Collection, mask: np.ndarray) -> int:
    """How many people the masked drawings are from, when whole people were held out."""
    held, kept = set(c.owners[mask].tolist()), set(c.owners[~mask].tolist())
    return len(held) if held and not held & kept else 0


class _Stopped(Exception):
    """Raised inside own_head's thread, at its next step, once a stop was asked for."""


def own_head(model: Any, data: Mnist, config: TrainConfig, labelled: np.ndarray | None,
             stop: threading.Event | None, progress: Callable[[str], None]) -> NoveltyStats | None:
    """A fine-tune's own "not a digit" statistics, fitted on the trained Keras `model`'s dense
    layers (a committee's first network: the one whose activations classifier.judge reads) with
    the (n, 28, 28) uint8 drawings it `labelled` as digits, each step announced to `progress`.
    None unless the run is a fine-tune on drawings (`config.base_model` and `labelled`), or when
    `stop` is set before they are done: the fit runs in a thread of its own so that a stop is
    heeded within STOP_POLL seconds; the run is then saved without them."""
    if not config.base_model or labelled is None or (stop is not None and stop.is_set()):
        return None
    import keras

    from mnist_core.training.model import members
    from mnist_core.training.novelty_fit import fit_novelty

    dense = [layer for layer in members(model)[0].layers if isinstance(layer, keras.layers.Dense)]
    layers = dense_layers([w for layer in dense for w in layer.get_weights()])  # [(kernel, bias), ...]
    stopped = stop or threading.Event()

    def step(message: str) -> None:
        if stopped.is_set():  # the thread ends here, its work abandoned
            raise _Stopped
        progress(message)

    fitted: Future[NoveltyStats] = Future()

    def work() -> None:
        try:
            fitted.set_result(fit_novelty(layers, data, config.seed, step, labelled=labelled, share=HEAD_SHARE))
        except BaseException as e:  # handed to the waiting thread, which raises it
            fitted.set_exception(e)

    threading.Thread(target=work, name="own-head", daemon=True).start()
    while True:
        try:
            return fitted.result(timeout=STOP_POLL)
        except (TimeoutError, _Stopped):
            if stopped.is_set():
                return None
