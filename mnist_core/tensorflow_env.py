"""How this project starts TensorFlow, wherever it does (a training process, a worker, the
command line's train and export): these settings, before its first import.

    from mnist_core.tensorflow_env import prepare
    prepare()          # then `import tensorflow`; a setting already in the environment is kept
"""

from __future__ import annotations

import os

SETTINGS = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # no C++ INFO lines: the command line promises one-line errors
    # oneDNN's kernels take 40 MB of a training process's memory and make no fit faster here (the
    # loop is XLA-compiled): seed 477 -> 437 MB of its own, best 890 -> 856 MB, the same seconds
    # and accuracies (docs/figures.md#memory)
    "TF_ENABLE_ONEDNN_OPTS": "0",
}


def prepare() -> None:
    """Set SETTINGS in this process's environment (and so its children's), keeping any already set."""
    for name, value in SETTINGS.items():
        os.environ.setdefault(name, value)
