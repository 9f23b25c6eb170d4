"""From a config to a saved run in one call: what the command line and the app's job both do.

    outcome = train_and_save(PRESETS["seed"], "seed", database_url(), on_event=print)
    outcome.run.id, outcome.result.test_accuracy

The steps, each announced through `on_event(kind, payload)`: load the data (DATA, with each
loader message), train (TRAINING once, then EPOCH with (epoch, logs) after every epoch), save
the run (SAVING). A stop (the `stop` event set, or `time_limit` seconds of training passed)
ends training after the epoch in progress, and the model so far is saved; a stop before the
first epoch ended saves nothing (NothingTrained).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mnist_core.config import TrainConfig
from mnist_core.data import Mnist, load_mnist
from mnist_core.database import Database
from mnist_core.runs import Run, RunStore


class Event(enum.StrEnum):
    DATA = "data"  # payload: a message from the data loader
    TRAINING = "training"  # payload: None; the first epoch starts
    EPOCH = "epoch"  # payload: (epoch, logs), logs as training.EpochCallback gets them
    SAVING = "saving"  # payload: None


OnEvent = Callable[[Event, Any], None]
LoadData = Callable[..., Mnist]  # load_data(progress=...) -> Mnist


class NothingTrained(Exception):
    """Stopped before the first epoch ended: there is no model to save."""


@dataclass(frozen=True)
class Outcome:
    run: Run
    result: Any  # training.TrainResult (the trained model, history and scores)


def train_and_save(
    config: TrainConfig,
    preset: str,
    database_url: str,
    load_data: LoadData = load_mnist,
    on_event: OnEvent | None = None,
    stop: threading.Event | None = None,
    time_limit: float | None = None,
    owner: str = "",
) -> Outcome:
    """Load MNIST, train `config` (for `time_limit` seconds at most), save the run in the
    database at `database_url`, owned by `owner` ("" for the operator)."""
    from mnist_core.training import train  # TensorFlow: imported when there is work for it

    announce = on_event or (lambda kind, payload: None)
    store = RunStore(Database.open(database_url))  # a bad URL fails before minutes of training
    data = load_data(progress=lambda message, fraction: announce(Event.DATA, message))
    announce(Event.TRAINING, None)
    result = train(config, data, on_epoch_end=lambda epoch, logs: announce(Event.EPOCH, (epoch, logs)), stop=stop,
                   time_limit=time_limit)
    if result.epochs_done == 0:
        raise NothingTrained("stopped before the first epoch ended: nothing to save")
    announce(Event.SAVING, None)
    return Outcome(store.save(result, preset=preset, owner=owner), result)
