"""What to train: one frozen config type, and the named presets built from it.

The command line, the app's sidebar and each run's `run.json` all speak `TrainConfig`.
The defaults are the seed notebook's fit (chapter 1 of *Deep Learning with TensorFlow and
Keras*): one softmax layer, SGD at 0.01, 200 epochs of batch 128, the last 20% held out.

    from mnist_core.config import PRESETS, TrainConfig
    cfg = PRESETS["dropout"].replace(epochs=20)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

OPTIMIZERS = ("sgd", "rmsprop", "adam")
AUGMENTATIONS = ("none", "affine", "elastic")


class ConfigError(ValueError):
    """A setting is out of range; the message is one line for the user."""


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 200  # passes over the training split
    batch_size: int = 128  # images per gradient step
    learning_rate: float = 0.01  # Keras' default for SGD
    optimizer: str = "sgd"  # one of OPTIMIZERS
    momentum: float = 0.0  # SGD only; the seed uses none
    hidden: tuple[int, ...] = ()  # ReLU units per hidden layer; () is the seed's softmax layer
    dropout: float = 0.0  # dropout rate after each hidden layer
    validation_split: float = 0.2  # fraction held out from the END of the training set, as Keras
    seed: int = 1671  # weights, shuffling and augmentation repeat with the same seed
    augment: str = "none"  # on-the-fly distortions of training images: one of AUGMENTATIONS
    label_smoothing: float = 0.0  # target mass spread over the other classes
    lr_schedule: str = "constant"  # "constant", or "cosine" decay to zero over the epochs

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        checks = [
            (1 <= self.epochs <= 10_000, "epochs must be between 1 and 10000"),
            (1 <= self.batch_size <= 60_000, "batch size must be between 1 and 60000"),
            (0 < self.learning_rate <= 10, "learning rate must be in (0, 10]"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (0 <= self.momentum < 1, "momentum must be in [0, 1)"),
            (all(1 <= h <= 8192 for h in self.hidden), "hidden sizes must be between 1 and 8192"),
            (len(self.hidden) <= 8, "at most 8 hidden layers"),
            (0 <= self.dropout < 1, "dropout must be in [0, 1)"),
            (0 < self.validation_split < 1, "validation split must be in (0, 1)"),
            (self.augment in AUGMENTATIONS, f"augment must be one of {', '.join(AUGMENTATIONS)}"),
            (0 <= self.label_smoothing < 1, "label smoothing must be in [0, 1)"),
            (self.lr_schedule in ("constant", "cosine"), "lr schedule must be constant or cosine"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Read a saved config; unknown keys are ignored so older run.json files still load."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def parse_hidden(text: str) -> tuple[int, ...]:
    """'128, 128' -> (128, 128); '' or '0' -> () (no hidden layer)."""
    try:
        sizes = tuple(int(s) for s in text.replace(" ", "").split(",") if s)
    except ValueError:
        raise ConfigError(f"hidden layers: expected sizes like 128,128, got {text!r}") from None
    return tuple(s for s in sizes if s != 0)


# The book's chapter-1 ladder, then ours. Descriptions show in the app and in --help.
PRESETS: dict[str, TrainConfig] = {
    "seed": TrainConfig(),
    "hidden": TrainConfig(hidden=(128, 128)),
    "dropout": TrainConfig(hidden=(128, 128), dropout=0.3),
    "rmsprop": TrainConfig(hidden=(128, 128), dropout=0.3, optimizer="rmsprop", learning_rate=0.001),
    "adam": TrainConfig(hidden=(128, 128), dropout=0.3, optimizer="adam", learning_rate=0.001),
    "best": TrainConfig(
        epochs=150, hidden=(1024, 1024), dropout=0.2, optimizer="adam", learning_rate=0.001,
        augment="affine", label_smoothing=0.1, lr_schedule="cosine",
    ),
}
PRESET_NOTES: dict[str, str] = {
    "seed": "The seed notebook: one Dense(10, softmax) layer on 784 pixels, SGD (book: 92.2% test)",
    "hidden": "Book: two hidden layers of 128 ReLU units, SGD",
    "dropout": "Book: the hidden layers with dropout 0.3, SGD",
    "rmsprop": "Book: the dropout network trained with RMSprop",
    "adam": "Book: the dropout network trained with Adam",
    "best": "Beyond the book: wide dense layers, random affine distortions, Adam with cosine decay",
}
