"""What to train: one frozen config type, and the named presets built from it.

The command line, the app's sidebar and each saved run all speak `TrainConfig`.
The defaults are the seed notebook's fit (chapter 1 of *Deep Learning with TensorFlow and
Keras*): one softmax layer, SGD at 0.01, 200 epochs of batch 128, the last 20% held out.

Each field carries its label, help, range or choices once, as field metadata (`Setting`):
validation here, the command line's flags and the sidebar's form are all derived from it, so a
new field appears everywhere at once.

    from mnist_core.config import PRESETS, TrainConfig, settings
    cfg = PRESETS["dropout"].replace(epochs=20)
    for name, setting in settings(): print(name, setting.label, setting.low, setting.high)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from mnist_core import words
from mnist_core.errors import UserError

OPTIMIZERS = ("sgd", "rmsprop", "adam")
AUGMENTATIONS = ("none", "affine", "elastic")
LR_SCHEDULES = ("constant", "cosine")
# What training reports for every epoch, and a run keeps: metric -> one value per epoch.
Metric = Literal["loss", "accuracy", "val_loss", "val_accuracy"]
METRICS: tuple[Metric, ...] = ("loss", "accuracy", "val_loss", "val_accuracy")
History = dict[str, list[float]]


class ConfigError(UserError, ValueError):
    """A setting is out of range; the message is one line for the user."""


@dataclass(frozen=True)
class Setting:
    """What the user is told about a field, and the values it may take.

    Numbers lie in [low, high]; `open_low` / `open_high` exclude that end. `choices` lists a
    text field's values; `step` is the form's increment."""

    label: str
    help: str
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[str, ...] = ()
    step: float | None = None
    names_a_model: bool = False  # the value is a model's name: default, seed, or a run's id or name
    main: bool = False  # shown first in the form; the others are folded under "More settings"

    def check(self, name: str, value: Any) -> None:
        """Raise ConfigError with a one-line message when `value` is outside the setting."""
        label = self.label.lower()
        if self.choices and value not in self.choices:
            raise ConfigError(f"{label} must be one of {', '.join(self.choices)}")
        if self.low is None or self.high is None:
            return
        for v in value if isinstance(value, tuple) else (value,):
            below = v <= self.low if self.open_low else v < self.low
            above = v >= self.high if self.open_high else v > self.high
            if below or above:
                raise ConfigError(f"{label} must be {self.describe_range()}")

    def describe_range(self) -> str:
        """'between 1 and 10000' for a closed range, else '(0, 10]' style."""
        if not (self.open_low or self.open_high):
            return f"between {_number(self.low)} and {_number(self.high)}"
        left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
        return f"in {left}{_number(self.low)}, {_number(self.high)}{right}"


def _number(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _setting(default: Any, **meta: Any) -> Any:
    return field(default=default, metadata={"setting": Setting(**meta)})


MAX_HIDDEN_LAYERS = 8
MAX_COMMITTEE = 8


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = _setting(200, label="Epochs", help="passes over the training split", low=1, high=10_000, main=True)
    batch_size: int = _setting(128, label="Batch size", help="images per gradient step", low=1, high=60_000)
    learning_rate: float = _setting(0.01, label="Learning rate", help="step size; 0.01 is Keras' default for SGD",
                                    low=0.0, high=10.0, open_low=True, step=0.0001, main=True)
    optimizer: str = _setting("sgd", label="Optimizer", help=f"{words.SGD} {words.OPTIMIZERS}", choices=OPTIMIZERS,
                              main=True)
    momentum: float = _setting(0.0, label="Momentum", help="SGD only; the seed uses none",
                               low=0.0, high=1.0, open_high=True, step=0.05)
    hidden: tuple[int, ...] = _setting((), label="Hidden layers",
                                       help="ReLU units per hidden layer, e.g. 128,128; empty for the seed's one "
                                            f"softmax layer (at most {MAX_HIDDEN_LAYERS} layers). {words.RELU} "
                                            f"{words.SOFTMAX}", low=1, high=8192,
                                       main=True)
    dropout: float = _setting(0.0, label="Dropout", help=f"rate after each hidden layer. {words.DROPOUT}",
                              low=0.0, high=1.0, open_high=True, step=0.05, main=True)
    validation_split: float = _setting(0.2, label="Validation split",
                                       help="fraction held out from the END of the training set, as Keras",
                                       low=0.0, high=1.0, open_low=True, open_high=True, step=0.05)
    seed: int = _setting(1671, label="Random seed", help="weights, shuffling and augmentation repeat with the same "
                                                        "random seed",
                         low=0, high=2**31 - 1)
    augment: str = _setting("none", label="Augment", help="random distortions of every training batch",
                            choices=AUGMENTATIONS)
    label_smoothing: float = _setting(0.0, label="Label smoothing", help="target mass spread over the other classes",
                                      low=0.0, high=1.0, open_high=True, step=0.05)
    lr_schedule: str = _setting("constant", label="LR schedule",
                                help="constant, or cosine decay to zero over the epochs", choices=LR_SCHEDULES)
    committee: int = _setting(1, label="Committee",
                              help="networks of this shape trained side by side and averaged (Ciresan et al. 2011)",
                              low=1, high=MAX_COMMITTEE)
    pen: float = _setting(0.0, label="Pen strokes",
                          help="share of each epoch's images that are MNIST digits redrawn with a round pen, as the "
                               "canvas draws", low=0.0, high=1.0, open_high=True, step=0.05)
    styles: float = _setting(0.0, label="Font styles",
                             help="share of each epoch's images typed, or drawn as strokes, in the training fonts "
                                  "(`make fonts`)", low=0.0, high=1.0, open_high=True, step=0.05)
    drawings: float = _setting(0.0, label="Drawings",
                               help="share of each epoch's images taken from the drawings people labelled (the part "
                                    "not held out)", low=0.0, high=1.0, open_high=True, step=0.05)
    holdout: float = _setting(0.25, label="Drawings held out",
                              help="share of the labelled drawings never trained on, to score the result (by person "
                                   "when there are several)", low=0.0, high=1.0, open_low=True, open_high=True,
                              step=0.05)
    replay: int = _setting(0, label="MNIST per epoch",
                           help="MNIST training images in each epoch, drawn at random; 0 for all of them",
                           low=0, high=60_000)
    base_model: str = _setting("", label="Start from",
                               help="a model to fine-tune: default, seed, or a run's id or name (the network's shape "
                                    "then comes from it); empty for a new network", names_a_model=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        for name, setting in settings():
            setting.check(name, getattr(self, name))
        if len(self.hidden) > MAX_HIDDEN_LAYERS:
            raise ConfigError(f"at most {MAX_HIDDEN_LAYERS} hidden layers")
        if self.pen + self.styles + self.drawings >= 1.0:
            raise ConfigError("pen strokes, font styles and drawings together must leave room for MNIST (sum < 1)")
        object.__setattr__(self, "base_model", self.base_model.strip())

    @property
    def mnist_share(self) -> float:
        """The share of each epoch's images that are MNIST's own."""
        return 1.0 - self.pen - self.styles - self.drawings

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Read a saved config; unknown keys are ignored so older records still load."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def describe(self) -> str:
        """One line of every setting, e.g. 'epochs=200, batch_size=128, ...'."""
        return ", ".join(f"{k}={format_value(v)}" for k, v in dataclasses.asdict(self).items())


MNIST_TRAINING = 60_000  # images in MNIST's training set


def split_validation(n: int, validation_split: float) -> int:
    """Index where Keras splits off the validation set: the first ceil(n * (1 - split)) train."""
    return int(math.ceil(n * (1.0 - validation_split)))


def settings() -> list[tuple[str, Setting]]:
    """Every TrainConfig field with its Setting, in declaration order."""
    return [(f.name, f.metadata["setting"]) for f in dataclasses.fields(TrainConfig)]


def format_value(value: Any) -> str:
    """A field's value as the form and the command line write it: (128, 128) -> '128,128'."""
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    return _number(value)


def parse_hidden(text: str) -> tuple[int, ...]:
    """'128, 128' -> (128, 128); '', '0' or 'none' -> () (no hidden layer)."""
    text = text.replace(" ", "").lower()
    if text == "none":
        return ()
    try:
        sizes = tuple(int(s) for s in text.split(",") if s)
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
        epochs=180, hidden=(1024, 1024), dropout=0.2, optimizer="adam", learning_rate=0.001,
        augment="affine", label_smoothing=0.1, lr_schedule="cosine", pen=0.15, styles=0.3,
    ),
    "finetune": TrainConfig(
        epochs=8, hidden=(1024, 1024), dropout=0.2, optimizer="adam", learning_rate=0.0003, augment="affine",
        label_smoothing=0.1, lr_schedule="cosine", base_model="default", drawings=0.25, replay=12_000,
    ),
}
PRESET_NOTES: dict[str, str] = {
    "seed": "The seed notebook: one Dense(10, softmax) layer on 784 pixels, SGD",
    "hidden": "Book: two hidden layers of 128 ReLU units, SGD",
    "dropout": "Book: the hidden layers with dropout 0.3, SGD",
    "rmsprop": "Book: the dropout network trained with RMSprop",
    "adam": "Book: the dropout network trained with Adam",
    "best": "Beyond the book: wide dense layers, random affine distortions, Adam with cosine decay, and digits in "
            "styles MNIST lacks (MNIST redrawn with a pen, digits in the training fonts): the Draw page's model",
    "finetune": "Beyond the book: the Draw page's model goes on learning from the drawings people labelled, MNIST "
                "replayed beside them; a held-out part of the drawings scores it before and after",
}
# What each preset is, as the form names it (the key is the command line's --preset and a run's record).
PRESET_TITLES: dict[str, str] = {
    "seed": "One layer: the book's first fit",
    "hidden": "Two hidden layers (book)",
    "dropout": "Hidden layers with dropout (book)",
    "rmsprop": "Dropout network, RMSprop (book)",
    "adam": "Dropout network, Adam (book)",
    "best": "Wide layers and new styles: the Draw page's model",
    "finetune": "Fine-tune on people's drawings",
}
# Chapter 1's published figures for the seed's fit; they compare only to that exact config.
BOOK_FIGURES = {"val_accuracy": 0.923, "test_accuracy": 0.922}
# Each preset's MNIST test accuracy, measured by this project (benchmarks/ladder.py; `best`: the
# shipped default model). A fine-tune's depends on the drawings it learns from.
PRESET_RESULTS = {"seed": 0.9217, "hidden": 0.9768, "dropout": 0.9774, "rmsprop": 0.9794, "adam": 0.9817,
                  "best": 0.9933}


def is_the_books_fit(config: TrainConfig) -> bool:
    """True when `config` is the seed notebook's fit exactly, so the book's figures apply."""
    return config == PRESETS["seed"]
