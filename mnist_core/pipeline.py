"""From a config to a saved run in one call: what the command line and the app's job both do.

    outcome = train_and_save(PRESETS["seed"], "seed", database_url(), on_event=print)
    outcome.run.id, outcome.result.test_accuracy

The steps, each announced through `on_event(kind, payload)`: load the data (DATA, with each
loader message), train (TRAINING once, then EPOCH with (epoch, logs) after every epoch, its
logs' "extras" the latest look inside: watching.frame), save the run (SAVING) with its film
(watching.film). A stop (the `stop` event set, or `time_limit` seconds of training passed)
ends training within about a second, and the model so far is saved; a stop before the first
steps ended saves nothing (NothingTrained).

A fine-tune (`config.base_model`, and `config.drawings` > 0 to learn from labelled drawings)
starts from that model's weights and saved optimizer, its network's shape written into the
run's config; the drawings are split (finetune.holdout), the held-out part and MNIST's test set
scored before and after, and the report (finetune.FineTune) saved with the run. A fine-tune on
drawings then fits its own "not a digit" check (CHECK, with each step's message; finetune.own_head),
kept in the run's model.keras; a stop meanwhile saves the run without it.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mnist_core.config import TrainConfig, split_validation
from mnist_core.data import Mnist, load_mnist
from mnist_core.finetune import accuracy, holdout, own_head, people_in
from mnist_core.reading.novelty import fit_temperature
from mnist_core.store.database import Database
from mnist_core.store.drawings import Collection, DrawingStore, Filter
from mnist_core.store.runs import FineTune, Run, RunStore, Scores, model_files, resolve_model
from mnist_core.watching.film import FILM_FILE


class Event(enum.StrEnum):
    DATA = "data"  # payload: a message from the data loader
    TRAINING = "training"  # payload: None; the first epoch starts
    EPOCH = "epoch"  # payload: (epoch, logs), logs as training.EpochCallback gets them
    CHECK = "check"  # payload: a message; a fine-tune fits its own "not a digit" check
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
    job: tuple[str, str] | None = None,
) -> Outcome:
    """Load MNIST, train `config` (for `time_limit` seconds at most), save the run in the
    database at `database_url`, owned by `owner` ("" for the operator); for a job of the line
    (`job`: its id and its runner), only while that runner holds it (RunStore.save)."""
    from mnist_core.mix import Pool
    from mnist_core.model import shape_of
    from mnist_core.reading.classifier import load_keras  # TensorFlow: imported when there is work for it
    from mnist_core.training import train
    from mnist_core.watching.watcher import Watcher

    announce = on_event or (lambda kind, payload: None)
    store = RunStore(Database.open(database_url))  # a bad URL fails before minutes of training
    base = load_keras(resolve_model(config.base_model, store), compile=True, flat_input=True) \
        if config.base_model else None
    if base is not None:
        config = config.replace(**shape_of(base))  # the run's record says what really trained
    # what this person drew or imported, and what counts for everyone (drawn here, or accepted imports)
    drawn = DrawingStore(store.db).collection(Filter(trusted_for=owner)) if config.drawings else None
    held = holdout(drawn, config.holdout, config.seed) if drawn is not None else None
    pools = [Pool("drawings", drawn.x[~held], drawn.y[~held], config.drawings)] if drawn is not None else []
    data = load_data(progress=lambda message, fraction: announce(Event.DATA, message))
    before = _scores(base, drawn, held, data) if base is not None else Scores(None, None)
    watcher = Watcher.for_training(config, data, base)  # each epoch's frame, for the page and the run's film
    announce(Event.TRAINING, None)
    result = train(config, data, on_epoch_end=lambda epoch, logs: announce(Event.EPOCH, (epoch, logs)), stop=stop,
                   time_limit=time_limit, pools=pools, base=base, watch=watcher)
    if result.epochs_done == 0:
        raise NothingTrained("stopped before the first epoch ended: nothing to save")
    report = None
    if base is not None or drawn is not None:
        after = Scores(_scores(result.model, drawn, held, None).held_out, result.test_accuracy)
        trained_on, held_out = (tuple(drawn.ids[~held]), tuple(drawn.ids[held])) if drawn is not None else ((), ())
        report = FineTune(config.base_model, trained_on, held_out,
                          people_in(drawn, held) if drawn is not None else 0, before, after)
    novelty = own_head(result.model, data, config, drawn.x[~held] if drawn is not None else None, stop,
                       lambda message: announce(Event.CHECK, message))
    announce(Event.SAVING, None)
    files = {**model_files(result.model, _temperature(result.model, data, config), novelty),
             FILM_FILE: watcher.film(result.model, result.epochs_done).to_bytes()}
    saved = store.save(result, preset=preset, owner=owner, finetune=report, job=job, files=files)
    return Outcome(saved, result)


CALIBRATION_DIGITS = 2_000  # of the validation split: a temperature is one number, and 2,000 fix it well


def _temperature(model: Any, data: Mnist, config: TrainConfig) -> float:
    """The temperature that calibrates the model's readings (seven views averaged, as every way
    in reads), fitted on the validation split it never trained on (novelty.fit_temperature)."""
    from mnist_core.reading.classifier import tta_views

    cut = split_validation(len(data.x_train), config.validation_split)
    x, y = data.x_train[cut:][:CALIBRATION_DIGITS], data.y_train[cut:][:CALIBRATION_DIGITS]
    p = np.concatenate([  # 500 digits' 3,500 views at a time: the training's peak memory is not raised
        model(tta_views(x[i:i + 500].astype(np.float32) / 255.0).reshape(-1, 784), training=False).numpy()
        for i in range(0, len(x), 500)])
    return fit_temperature(p.reshape(len(x), -1, 10).mean(axis=1), y)


def _scores(model: Any, drawn: Collection | None, held: np.ndarray | None, data: Mnist | None) -> Scores:
    """A Keras model on the held-out drawings and (with `data`) MNIST's test set."""
    def predict(x):  # (n, 28, 28) in [0, 1] -> (n, 10), a few thousand at a time
        return np.concatenate([model(x[i:i + 2000].reshape(-1, 784), training=False).numpy()
                               for i in range(0, len(x), 2000)])

    return Scores(accuracy(predict, drawn.x[held], drawn.y[held]) if drawn is not None else None,
                  accuracy(predict, data.x_test, data.y_test) if data is not None else None)
