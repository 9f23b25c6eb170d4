"""Fine-tuning on the drawings people labelled: which to train on, which to hold out, and the
before/after report a fine-tuned run carries (store.runs.FineTune).

    held = holdout(collection, share=0.25, seed=1671)   # bool mask: never trained on
    accuracy(predict, x, y), people_in(collection, held)   # the report's figures

A model trained on MNIST is weakest on the Draw page: people's own digits. Every drawing they
label is kept (drawings.py); a fine-tune starts from a model (the default one by default),
trains on the labelled drawings mixed with MNIST (replayed, so that MNIST is not forgotten),
and never sees the held-out part, on which it is scored before and after. When several people
drew, whole people are held out (the test is then on handwriting the model never saw, which is
the question a class asks); with one person, a random share of their drawings.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from mnist_core.store.drawings import Collection, DrawingError

MIN_DRAWINGS = 10  # fewer cannot be split into a part to learn from and a part to score on


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
