"""mnist_core: MNIST, dense Keras networks, their training and the MNIST-style preprocessing.

    from mnist_core import load_mnist, train, preprocess, load_classifier, PRESETS
    from mnist_core import train_and_save, RunStore, Database, database_url   # saved runs
    from mnist_core import DrawingStore, interpret                                 # labelled drawings, a reading

Public names are functions and types, never module names (the modules are `training`,
`preprocessing`, ...), so `mnist_core.preprocess` is the function in every import order.

Never imports streamlit; the app in streamlit_app.py is a thin view over this package.
Names load lazily, so `import mnist_core` stays cheap until TensorFlow is actually needed.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_mnist": "mnist_core.data",
    "Mnist": "mnist_core.data",
    "train": "mnist_core.training.loop",
    "TrainResult": "mnist_core.training.loop",
    "preprocess": "mnist_core.preprocessing",
    "load_classifier": "mnist_core.reading.classifier",
    "Classifier": "mnist_core.reading.classifier",
    "TrainConfig": "mnist_core.config",
    "PRESETS": "mnist_core.config",
    "train_and_save": "mnist_core.training.pipeline",
    "RunStore": "mnist_core.store.runs",
    "Run": "mnist_core.store.runs",
    "Database": "mnist_core.store.database",
    "database_url": "mnist_core.store.database",
    "DrawingStore": "mnist_core.store.drawings",
    "interpret": "mnist_core.reading.interpretation",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mnist_core' has no attribute {name!r}")
