"""From a config to a saved run in one call: what the command line and the app's job both do.

    outcome = train_and_save(PRESETS["seed"], "seed", database_url(), on_event=print)
    outcome.run.id, outcome.result.test_accuracy

The steps, each announced through `on_event(kind, payload)`: load the data (DATA, with each
loader message), make the pools of pen-drawn and font digits (STYLES, when the config has
any), build and compile the network (COMPILING), train (TRAINING once, then EPOCH with (epoch,
logs) after every epoch, its logs' "extras" the latest look inside: watching.frame), fit a
fine-tune's own "not a digit" check (CHECK), save the run (SAVING) with its film
(watching.film). A stop (the `stop` event set, or `time_limit` seconds of training passed)
ends training within about a second, and the model so far is saved; a stop before the first
steps ended saves nothing (NothingTrained).

One training may be several people's jobs (`together`: jobs of the line with the same
settings, which would train the same network): each gets a run of their own. One who leaves
(`leaving()` names them) gets the network as it is at the end of the epoch in progress, saved
then (LEFT: (job id, run id)); the others train on; when everyone has left, training stops.

A fine-tune (`config.base_model`, and `config.drawings` > 0 to learn from labelled drawings)
starts from that model's weights and saved optimizer, its network's shape written into the
run's config; the drawings are split (finetune.holdout), the held-out part and MNIST's test set
scored before and after, and the report (finetune.FineTune) saved with the run. A fine-tune on
drawings then fits its own "not a digit" check (CHECK, with each step's message; finetune.own_head),
kept in the run's model.keras; a stop meanwhile saves the run without it.
"""

from __future__ import annotations

import enum
import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mnist_core.config import TrainConfig, split_validation
from mnist_core.data import Mnist, load_mnist
from mnist_core.errors import USER_ERRORS
from mnist_core.evaluation import REPORT_FILE, scored
from mnist_core.reading.novelty import fit_temperature
from mnist_core.store.database import Database
from mnist_core.store.drawings import Collection, DrawingStore, Filter
from mnist_core.store.runs import FineTune, Hold, Run, RunError, RunStore, Scores, model_files, resolve_model
from mnist_core.training.finetune import accuracy, holdout, own_head, people_in
from mnist_core.training.watching.film import FILM_FILE


class Event(enum.StrEnum):
    DATA = "data"  # payload: a message from the data loader
    STYLES = "styles"  # payload: None; making the pools of pen-drawn and font digits
    COMPILING = "compiling"  # payload: None; building the network, compiling its steps
    TRAINING = "training"  # payload: None; the first epoch starts
    EPOCH = "epoch"  # payload: (epoch, logs), logs as training.EpochCallback gets them
    CHECK = "check"  # payload: a message; a fine-tune fits its own "not a digit" check
    LEFT = "left"  # payload: (job id, run id): one of several jobs left, its network saved
    SAVING = "saving"  # payload: None


OnEvent = Callable[[Event, Any], None]
LoadData = Callable[..., Mnist]  # load_data(progress=...) -> Mnist
JobHold = Callable[[tuple[str, str], Any, str], None]  # jobs.line.hold: (job, the save's transaction, run id)


NOTHING_SAVED = "stopped before the first epoch ended: nothing to save"


class NothingTrained(Exception):
    """Stopped before the first epoch ended: there is no model to save."""


@dataclass(frozen=True)
class Member:
    """One job a training is for: whose run it saves, and as which preset."""

    owner: str = ""  # "" for the operator
    preset: str = "custom"
    job: tuple[str, str] | None = None  # (job id, its runner): the run is saved only while that runner holds it

    def hold(self, hold: JobHold | None) -> Hold | None:
        """Its save's check that the job is still its runner's (RunStore.save's `hold`)."""
        return functools.partial(hold, self.job) if hold is not None and self.job is not None else None


@dataclass(frozen=True)
class Outcome:
    run: Run  # the first member's
    result: Any  # loop.TrainResult (the trained model, history and scores)
    runs: dict[str, str] = field(default_factory=dict)  # job id -> run id: the line's members saved at the end


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
    together: Sequence[Member] = (),
    leaving: Callable[[], list[str]] | None = None,
    hold: JobHold | None = None,
) -> Outcome:
    """Load MNIST, train `config` (for `time_limit` seconds at most), save the run in the
    database at `database_url`, owned by `owner` ("" for the operator); for a job of the line
    (`job`: its id and its runner), only while that runner holds it (`hold`: jobs.line.hold;
    without it, as in tests, the job ids only name the members). `together`:
    more jobs of the line with these settings, each saved as its own run; `leaving()`: the ids
    of those that asked to leave since it was last called."""
    from mnist_core.reading.classifier import load_keras  # TensorFlow: imported when there is work for it
    from mnist_core.training.loop import train
    from mnist_core.training.mix import Pool
    from mnist_core.training.model import shape_of
    from mnist_core.training.watching.watcher import Watcher

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
    members = [Member(owner, preset, job), *together]
    group = _Group(members, stop, leaving, store, data, config, announce, hold, watcher)

    def watch(epoch: int, model: Any, history: dict[str, list[float]]) -> dict | None:
        seen = watcher(epoch, model, history)
        group.watch(epoch, model, history)  # a leaver's run keeps the film so far
        return seen

    result = train(config, data, on_epoch_end=lambda epoch, logs: announce(Event.EPOCH, (epoch, logs)),
                   stop=group.stop, time_limit=time_limit, pools=pools, base=base,
                   on_stage=lambda name: announce(Event(name), None), watch=watch)
    if result.epochs_done == 0:
        raise NothingTrained(NOTHING_SAVED)
    if not group.unsaved():  # everyone left: each has their run already
        raise NothingTrained("everyone left before the end: their runs were saved as they left")
    report = None
    if base is not None or drawn is not None:
        after = Scores(_scores(result.model, drawn, held, None).held_out, result.test_accuracy)
        trained_on, held_out = (tuple(drawn.ids[~held]), tuple(drawn.ids[held])) if drawn is not None else ((), ())
        report = FineTune(config.base_model, trained_on, held_out,
                          people_in(drawn, held) if drawn is not None else 0, before, after)
    novelty = own_head(result.model, data, config, drawn.x[~held] if drawn is not None else None, group.stop,
                       lambda message: announce(Event.CHECK, message))
    announce(Event.SAVING, None)
    files = {**model_files(result.model, _temperature(result.model, data, config), novelty),
             FILM_FILE: watcher.film(result.model, result.epochs_done).to_bytes(),
             REPORT_FILE: scored(_test_readings(result.model, data), data).to_bytes()}  # pages never score again
    saved = {}
    for member in group.unsaved():  # one who asked to leave meanwhile gets this final network too
        try:
            saved[member] = store.save(result, preset=member.preset, owner=member.owner, finetune=report,
                                       hold=member.hold(hold), files=files)
        except USER_ERRORS:  # one of several lost its lease: the others' runs are theirs all the same
            if len(members) == 1:
                raise
    if not saved:
        raise RunError("no run could be saved: this runner lost every job of this training")
    first = next(iter(saved.values()))
    return Outcome(saved.get(members[0], first), result, {m.job[0]: r.id for m, r in saved.items() if m.job})


class _Group:
    """The members of one training: who is still in it, and a run saved for each who leaves,
    from the weights at the end of the epoch in progress (a loop.Watch)."""

    def __init__(self, members: list[Member], stop: threading.Event | None, leaving: Callable[[], list[str]] | None,
                 store: RunStore, data: Mnist, config: TrainConfig, announce: OnEvent, hold: JobHold | None,
                 watcher: Any) -> None:
        self.members, self._leaving, self._leavers, self.hold = list(members), leaving, [], hold
        self.watcher = watcher  # watching.watcher.Watcher: the frames so far, for a leaver's film
        self.store, self.data, self.config, self.announce = store, data, config, announce
        self.stop = _Either(stop, lambda: not self.staying())  # everyone gone: training stops
        self.started = time.perf_counter()
        self._lock = threading.Lock()  # the loop's stop is asked on its own thread, the epochs' ends on another

    def staying(self) -> list[Member]:
        with self._lock:
            return self._look()

    def unsaved(self) -> list[Member]:
        """At the end: those staying, and those who asked to leave after the last epoch's end
        (the network at the end of their epoch is the final one: theirs too)."""
        with self._lock:
            return self._look() + self._leavers

    def watch(self, epoch: int, model: Any, history: dict[str, list[float]]) -> None:
        with self._lock:
            self._look()
            leavers, self._leavers = self._leavers, []
        for member in leavers:
            self.announce(Event.LEFT, (member.job[0], self._save_now(member, epoch + 1, model, history)))

    def _look(self) -> list[Member]:
        """Under the lock: those who asked to leave since the last look go from the members to
        the leavers; the members staying."""
        gone = set(self._leaving()) if self._leaving is not None else set()
        self._leavers += [m for m in self.members if m.job and m.job[0] in gone]
        self.members = [m for m in self.members if m not in self._leavers]
        return list(self.members)

    def _save_now(self, member: Member, epochs: int, model: Any, history: dict[str, list[float]]) -> str | None:
        """The network as it is now, after `epochs`, saved as the member's run (stopped here) with
        the film so far; None when it cannot be (its lease lost, the database away): the member
        ends without one."""
        from mnist_core.training.loop import TrainResult

        p, y = _test_readings(model, self.data), self.data.y_test
        loss = float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1.0))))
        report = scored(p, self.data)
        result = TrainResult(model, self.config, {k: list(v) for k, v in history.items()}, loss,
                             report.accuracy, time.perf_counter() - self.started, stopped=True)
        files = {**model_files(model, _temperature(model, self.data, self.config)),
                 FILM_FILE: self.watcher.film(model, epochs).to_bytes(), REPORT_FILE: report.to_bytes()}
        try:
            return self.store.save(result, preset=member.preset, owner=member.owner, hold=member.hold(self.hold),
                                   files=files).id
        except USER_ERRORS:
            return None


@dataclass(frozen=True)
class _Either:
    """A stop that is set when `event` is, or when `condition()` holds."""

    event: threading.Event | None
    condition: Callable[[], bool]

    def is_set(self) -> bool:
        return (self.event is not None and self.event.is_set()) or self.condition()


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
    predict = functools.partial(_predict, model)
    return Scores(accuracy(predict, drawn.x[held], drawn.y[held]) if drawn is not None else None,
                  accuracy(predict, data.x_test, data.y_test) if data is not None else None)


def _predict(model: Any, x: np.ndarray) -> np.ndarray:
    """A Keras model's readings, one view each: (n, 28, 28) in [0, 1] -> (n, 10), a few thousand at a time."""
    x = x.reshape(len(x), 784)
    return np.concatenate([model(x[i:i + 2000], training=False).numpy() for i in range(0, len(x), 2000)])


def _test_readings(model: Any, data: Mnist) -> np.ndarray:
    return _predict(model, data.x_test.astype(np.float32) / 255.0)
