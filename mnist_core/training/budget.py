"""What one training job may cost on a shared server, and what a config is expected to cost.

    budget = Budget.for_deployment(shared=True)     # 10 minutes, 3 million parameters a job, 6 an hour...
    budget = Budget.for_deployment(True, {"seconds": 300, "max_waiting": 10})   # the deployer's `[budget]`
    budget.check(PRESETS["best"])                   # BudgetError: "... would take about 16 min ..."
    estimated_seconds(PRESETS["seed"])              # ~5 s on this project's machine

A visitor on a shared link could ask for 10,000 epochs of `best` (8 hours here) and hold the
only training slot. The deployer sets a budget per job (training seconds, and the largest
network in parameters); a job over it is refused before it is queued, with what would fit, and
a running job that overruns is stopped after its epoch and saved, like a manual stop; and a
person may start only so many jobs an hour (jobs.line.JobQueue.submit counts them).

The estimate comes from the fits measured on the project's machine (2 cores, README's ladder):
an epoch of the 48,000 training images costs about 20 ms plus 0.75 us per parameter with SGD,
1.55 us with Adam or RMSprop (seed 24 ms, hidden 0.11 s, adam 0.2 s, 1024-1024 2.95 s an epoch),
more for batches under 128, in proportion for epochs of more images (pools of pen strokes, font
styles and drawings beside MNIST: mix.py), and for each member of a committee. Machines differ up
to 3x, so a running job is held to the budget by the clock, not by the estimate.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass

from mnist_core.config import MNIST_TRAINING, TrainConfig, split_validation
from mnist_core.errors import UserError
from mnist_core.limits import MAX_PARAMETERS

# The epoch the figures below were measured on: MNIST's training split at the default validation split.
MEASURED_EPOCH = split_validation(MNIST_TRAINING, TrainConfig().validation_split)

# A training process's peak memory of its own (anonymous: what a container cannot take back; the
# file pages of TensorFlow's libraries it maps, 380 MB, are reclaimed as the free figure's cache
# is): `import tensorflow` 224 MB, MNIST 52 MB, the compiled fit 160 MB, so the seed fit 437-508 MB
# with oneDNN off, 477 MB with it on (tensorflow_env.py chooses per machine). An upper estimate:
# 520 MB, plus 130 bytes a parameter (weights, gradients, the optimizer's moments, XLA's buffers).
TRAINING_BASE_BYTES = 520 * 2**20
TRAINING_BYTES_PER_PARAMETER = 130
# The pages of TensorFlow's libraries a training process maps (Pss_File, any preset): memory the
# kernel may take back, but a training left without room for them reads them from disk again and
# again (in a 690 MB container the seed's 6 s fit took 4-6 minutes: docs/figures.md#memory).
TENSORFLOW_FILE_BYTES = 380 * 2**20
# Each image an epoch holds beyond MNIST's 48,000 (mix.py's pools): its row in the pool, kept in
# numpy and as a tensor, and its place in the two epochs of batches in memory at once; measured,
# `best` (39,000 more) peaked 200 MB above the same network on MNIST alone.
TRAINING_BYTES_PER_EXTRA_IMAGE = 5_000


class BudgetError(UserError, ValueError):
    """A job would cost more than this server allows; the message says what would fit."""


def parameters(config: TrainConfig) -> int:
    """The dense network's parameter count: weights and biases, 784 inputs to 10 outputs, for
    each member of a committee."""
    widths = [784, *config.hidden, 10]
    return config.committee * sum(a * b + b for a, b in zip(widths, widths[1:], strict=False))


@dataclass(frozen=True)
class Layer:
    """One layer of the dense network a config builds, as a person reads it."""

    name: str  # "Input", "Dense", "Dropout"
    size: str  # "784 (28x28 pixels)", "128 ReLU units", "30% of units off in training"
    parameters: int


def layers(config: TrainConfig) -> list[Layer]:
    """The network a config builds (one member of a committee), layer by layer."""
    found = [Layer("Input", "784 values (28x28 pixels)", 0)]
    width = 784
    for units in config.hidden:
        found.append(Layer("Dense", f"{units:,} ReLU units", width * units + units))
        if config.dropout:
            found.append(Layer("Dropout", f"{config.dropout:.0%} of them off in each training step", 0))
        width = units
    found.append(Layer("Dense", "10 softmax units: the digits' probabilities", width * 10 + 10))
    return found


def summary(config: TrainConfig) -> str:
    """The settings in a line a person reads: '1 layer, 7,850 weights, SGD 0.01, 200 epochs'."""
    if config.base_model:
        optimizer = _OPTIMIZER_NAMES[config.optimizer]
        return f"goes on training {config.base_model}, {optimizer} {config.learning_rate:g}, {config.epochs} epochs"
    layer_count = len(config.hidden) + 1
    shape = f"{layer_count} layers ({', '.join(map(str, config.hidden))} hidden)" if config.hidden else "1 layer"
    parts = [shape, f"{parameters(config):,} weights", f"{_OPTIMIZER_NAMES[config.optimizer]} {config.learning_rate:g}"]
    if config.momentum:
        parts.append(f"momentum {config.momentum:g}")
    if config.dropout:
        parts.append(f"dropout {config.dropout:g}")
    if config.committee > 1:
        parts.append(f"a committee of {config.committee}")
    if config.augment != "none":
        parts.append(f"{config.augment} distortions")
    extra = [f"{share:.0%} {what}" for share, what in ((config.pen, "pen-drawn"), (config.styles, "font digits"),
                                                     (config.drawings, "drawings")) if share]
    if extra:
        parts.append(" and ".join(extra))
    return ", ".join([*parts, f"{config.epochs} epochs"])


_OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam", "rmsprop": "RMSprop"}


def epoch_images(config: TrainConfig, mnist_training: int = MNIST_TRAINING) -> int:
    """Images an epoch trains on: MNIST's training split (or `replay` of it), and the extra
    pools' shares beside it (mix.py)."""
    split = split_validation(mnist_training, config.validation_split)
    return round((min(config.replay, split) if config.replay else split) / config.mnist_share)


def seconds_per_epoch(config: TrainConfig) -> float:
    """The expected time of one epoch on the project's machine."""
    per_parameter = 0.75e-6 if config.optimizer == "sgd" else 1.55e-6
    small_batches = max(1.0, 128 / config.batch_size) ** 0.7  # more steps, each less efficient
    return (0.02 + per_parameter * parameters(config)) * small_batches * epoch_images(config) / MEASURED_EPOCH


def estimated_seconds(config: TrainConfig) -> float:
    return config.epochs * seconds_per_epoch(config)


def estimated_peak_bytes(config: TrainConfig) -> int:
    """The training process's expected peak memory."""
    extra_images = max(0, epoch_images(config) - MEASURED_EPOCH)
    return (TRAINING_BASE_BYTES + TRAINING_BYTES_PER_PARAMETER * parameters(config)
            + TRAINING_BYTES_PER_EXTRA_IMAGE * extra_images)


def slowed_by_memory(config: TrainConfig, free_bytes: int) -> bool:
    """Whether `config` fits in `free_bytes` but leaves no room for TensorFlow's libraries, so
    that it would run many times slower than its estimate."""
    return estimated_peak_bytes(config) <= free_bytes < estimated_peak_bytes(config) + TENSORFLOW_FILE_BYTES


@dataclass(frozen=True)
class Budget:
    """What a deployment allows: each field is a setting of `[budget]` in the app's secrets."""

    seconds: float = 24 * 3600  # training time a job may take
    max_parameters: int = MAX_PARAMETERS  # the largest network a job may train
    jobs_per_hour: int = 1000  # jobs a person may start in any hour
    max_waiting: int = 1000  # jobs waiting in the whole line
    max_waiting_anonymous: int = 1000  # jobs waiting from visitors without a login, all together
    max_waiting_per_address: int = 1000  # jobs waiting from one client address (when the server knows it)
    imports_per_day: int = 60_000  # drawings a person may import in a day
    drawings_mb: int = 10_000  # database space the labelled drawings may take in all

    @classmethod
    def for_deployment(cls, shared: bool, settings: dict | None = None) -> Budget:
        """The deployer's `[budget]` settings where given, else the defaults for a shared app
        (Community Cloud: SHARED) or one's own machine (the field defaults)."""
        defaults = SHARED if shared else cls()
        known = {f.name: type(getattr(defaults, f.name)) for f in dataclasses.fields(cls)}
        given = {k: known[k](v) for k, v in (settings or {}).items() if k in known and v not in (None, "")}
        return dataclasses.replace(defaults, **given)

    def check(self, config: TrainConfig, free_bytes: int | None = None) -> None:
        """Raise BudgetError with one line saying what would fit, when `config` does not: its
        size, its expected time, and its expected peak memory against `free_bytes` (what the
        container has for a training process; None: not checked)."""
        n = parameters(config)
        if n > self.max_parameters:
            raise BudgetError(f"a network of {n:,} parameters is over this server's {self.max_parameters:,}: "
                              "use fewer or narrower hidden layers")
        peak = estimated_peak_bytes(config)
        if free_bytes is not None and peak > free_bytes:
            fits = max(0, (free_bytes - (peak - TRAINING_BYTES_PER_PARAMETER * n)) // TRAINING_BYTES_PER_PARAMETER)
            raise BudgetError(f"this network needs about {peak / 2**30:.1f} GB of memory to train; this server has "
                              f"{free_bytes / 2**30:.1f} GB free: "
                              + (f"networks of up to {fits:,} parameters fit" if fits else "no training fits now"))
        expected = estimated_seconds(config)
        if expected > self.seconds:
            fits = max(1, math.floor(self.seconds / seconds_per_epoch(config)))
            raise BudgetError(f"{config.epochs} epochs would take about {duration(expected)}; this server allows "
                              f"{duration(self.seconds)} a run: at most {fits} epochs of these settings fit")


# A shared server (Community Cloud): 10 minutes and 1.6 x the best preset's parameters a job, 6
# jobs an hour a person; a line of 20, at most 10 of them from visitors without a login and 5 from
# one address; 2,000 imported drawings a person a day, 200 MB of drawings in all (about 20,000).
SHARED = Budget(seconds=600, max_parameters=3_000_000, jobs_per_hour=6, max_waiting=20, max_waiting_anonymous=10,
                max_waiting_per_address=5, imports_per_day=2_000, drawings_mb=200)


def running_on_community_cloud() -> bool:
    """Streamlit Community Cloud runs apps from /mount/src (or say so: MNIST_SHARED=1)."""
    return os.environ.get("MNIST_SHARED") == "1" or os.getcwd().startswith("/mount/src/")


def duration(seconds: float) -> str:
    """'45 s', '12 min', '8.1 h'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
