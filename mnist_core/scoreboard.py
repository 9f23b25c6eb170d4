"""Which model reads these people's digits best: every model scored on the labelled drawings,
beside its MNIST test accuracy, and how many of them it calls "not a digit".

    rows = scoreboard(run_store, drawing_store.collection(), load=load_classifier)
    for r in rows: print(r.name, r.mnist_test, r.drawings, r.refused, r.n)

A model is scored only on drawings it never trained on: a fine-tuned run's own training
drawings (its record's `trained_on`) are left out of its score, so a fine-tune cannot look
better than it is by reciting what it learned; `n` says how many drawings each score is on.
Each drawing is read as every way in reads it (Classifier.judge: the seven views, the model's
own "not a digit" head or the default's, and a filled blob judged on the drawing's span in
stroke widths, kept with it; drawings without one, from before it was kept or imported, are
never called blobs). A labelled drawing is a digit, so each one refused is the check being
wrong about a person: `refused` is the share of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_core.reading.classifier import SHIPPED_MODELS, SHIPPED_TEST_ACCURACY, Classifier
from mnist_core.store.drawings import Collection
from mnist_core.store.runs import RunStore

RUNS_SCORED = 20  # the newest runs scored beside the shipped models: loading each model takes time


@dataclass(frozen=True)
class Score:
    name: str  # "default", "seed", or the run's name
    ref: str  # what to call it by: default, seed, or the run's id
    mnist_test: float | None
    drawings: float | None  # accuracy on the drawings it did not train on (None: there are none)
    refused: float | None  # the share of those it calls "not a digit" (None: there are none)
    n: int  # how many drawings that is
    per_class: tuple[float | None, ...]  # the accuracy per digit 0-9 (None: no drawing of that digit)


def score(clf: Classifier, c: Collection, exclude: frozenset[str] = frozenset()) -> tuple[float | None, float | None,
                                                                                          int, tuple]:
    """(accuracy, refused share, n, per-digit accuracies) of a model on the drawings not in `exclude`."""
    keep = ~np.isin(c.ids, list(exclude)) if exclude else np.ones(len(c), bool)
    if not keep.any():
        return None, None, 0, (None,) * 10
    judged = clf.judge(c.x[keep].astype(np.float32) / 255.0, c.spans(keep))  # as read everywhere
    y = c.y[keep]
    right = judged.probabilities.argmax(axis=1) == y
    per_class = tuple(float(right[y == d].mean()) if (y == d).any() else None for d in range(10))
    return float(right.mean()), float(judged.not_a_digit.mean()), int(keep.sum()), per_class


def scoreboard(store: RunStore | None, c: Collection, load: Callable[[Path], Classifier],
               runs: int = RUNS_SCORED) -> list[Score]:
    """The shipped models and the newest `runs` runs, best on the drawings first."""
    entries = [(name, name, SHIPPED_TEST_ACCURACY[name], SHIPPED_MODELS[name], frozenset()) for name in SHIPPED_MODELS]
    for run in (store.list()[:runs] if store is not None else []):
        finetune = store.finetune(run.id)
        entries.append((run.name, run.id, run.test_accuracy, store.model_path(run.id),
                        frozenset(finetune.trained_on) if finetune else frozenset()))
    rows = []
    for name, ref, mnist_test, path, exclude in entries:
        accuracy, refused, n, per_class = score(load(path), c, exclude)
        rows.append(Score(name, ref, mnist_test, accuracy, refused, n, per_class))
    return sorted(rows, key=lambda r: (r.drawings is None, -(r.drawings or 0), -(r.mnist_test or 0)))
