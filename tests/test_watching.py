"""Watching a network learn: each epoch's frame (weights as pictures, mistakes now), the film a
run keeps, and what they cost the training (nothing of its results)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mnist_core.config import TrainConfig
from mnist_core.evaluation import confusion_matrix
from mnist_core.store.database import Database
from mnist_core.store.runs import RunStore
from mnist_core.training.loop import train
from mnist_core.training.pipeline import Event, train_and_save
from mnist_core.training.watching.film import FILM_FILE, Film, kept
from mnist_core.training.watching.frame import MISTAKES, Frame, unit_pictures
from mnist_core.training.watching.watcher import UNITS, Watcher, first_kernel
from tests.helpers import load_tiny_mnist

SEED = TrainConfig(epochs=6, batch_size=64, learning_rate=0.5)  # the book's network, on tiny digits
HIDDEN = TrainConfig(epochs=2, batch_size=64, learning_rate=0.05, hidden=(40,), dropout=0.3)


def watched(config: TrainConfig, data) -> tuple[Watcher, list[dict], object]:
    watcher, logs = Watcher.for_training(config, data), []
    result = train(config, data, on_epoch_end=lambda epoch, log: logs.append(log), watch=watcher)
    return watcher, logs, result


def initial_kernel(config: TrainConfig, data) -> np.ndarray:
    """The first layer's weights before any step: a training stopped before its first epoch."""
    stop = threading.Event()
    stop.set()
    return first_kernel(train(config, data, stop=stop).model)


def test_every_epoch_carries_the_latest_frame_of_the_ten_templates(tiny_mnist):
    watcher, logs, result = watched(SEED, tiny_mnist)
    frames = [Frame.from_json(log["extras"]["frame"]) for log in logs]
    assert [f.epoch for f in frames] == [1, 2, 3, 4, 5, 6]  # all kept epochs: each made when it ended
    last = frames[-1]
    assert last.outputs and last.units == tuple(range(10)) and last.pictures.shape == (10, 28, 28)
    np.testing.assert_allclose(last.pictures, unit_pictures(first_kernel(result.model)), atol=0.5 / 127)
    assert last.confusion.sum() == len(watcher.sample_y) and np.abs(last.pictures).max() == pytest.approx(1.0)
    p = np.asarray(result.model(watcher.sample_x.reshape(-1, 784).astype(np.float32) / 255, training=False))
    np.testing.assert_array_equal(last.confusion, confusion_matrix(watcher.sample_y, p.argmax(1)))
    assert len(last.mistakes) == min(MISTAKES, int(last.confusion.sum() - np.trace(last.confusion)))
    assert all(m.true != m.predicted for m in last.mistakes)
    confidences = [m.confidence for m in last.mistakes]
    assert confidences == sorted(confidences, reverse=True)
    # the templates move from one epoch to the next
    assert np.abs(frames[0].pictures - last.pictures).mean() > 0.02


@pytest.mark.slow
def test_the_film_starts_from_the_real_initial_weights_and_ends_at_the_last_epoch(tiny_mnist):
    watcher, _, result = watched(SEED, tiny_mnist)
    film = Film.from_bytes(watcher.film(result.model, result.epochs_done).to_bytes())
    assert film.epochs == (0, 1, 2, 3, 4, 5, 6)
    np.testing.assert_allclose(film.at(0).pictures, unit_pictures(initial_kernel(SEED, tiny_mnist)), atol=0.5 / 127)
    np.testing.assert_allclose(film.at(6).pictures, unit_pictures(first_kernel(result.model)), atol=0.5 / 127)
    assert film.at(0).accuracy < 0.5 < film.at(6).accuracy  # noise, then digits


@pytest.fixture(scope="module")
def hidden_watched():
    """A network with hidden layers and dropout, trained watched: (watcher, each epoch's logs, result)."""
    return watched(HIDDEN, load_tiny_mnist())


@pytest.mark.slow
def test_watching_changes_nothing_of_the_training(hidden_watched, tiny_mnist):
    # the initial weights are made again after the first epoch, reseeding: dropout and shuffles go on unchanged
    _, _, seen = hidden_watched
    unseen = train(HIDDEN, tiny_mnist)
    assert seen.history == unseen.history
    for a, b in zip(seen.model.get_weights(), unseen.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_hidden_layer_shows_the_units_that_changed_most_and_keeps_them(hidden_watched):
    watcher, logs, result = hidden_watched
    frames = [Frame.from_json(log["extras"]["frame"]) for log in logs]
    units = frames[0].units
    assert len(units) == UNITS and all(f.units == units for f in frames) and not frames[0].outputs
    assert frames[0].layer_units == 40
    film = watcher.film(result.model, result.epochs_done)
    change = np.linalg.norm(film.at(1).pictures - film.at(0).pictures, axis=(1, 2))
    assert film.at(0).units == units and change.min() > 0


def test_a_film_is_small_and_keeps_a_few_dozen_epochs():
    epochs = [e for e in range(201) if kept(e, 200)]
    assert epochs[:11] == list(range(11)) and epochs[-1] == 200 and 20 <= len(epochs) <= 30
    assert 30 <= sum(kept(e, 10_000) for e in range(10_001)) <= 60


@pytest.mark.parametrize("bad", [b"", b"PK\x03\x04 not a zip", b"x" * 100])
def test_bytes_that_are_not_a_film_are_one_line(bad):
    with pytest.raises(ValueError, match="not a film"):
        Film.from_bytes(bad)


@pytest.mark.parametrize("bad", [{}, {"epoch": 1}, {"epoch": 1, "units": [0], "layer_units": 10, "outputs": True,
                                                     "pictures": "AAAA", "confusion": [[0]]}])
def test_json_that_is_not_a_frame_is_one_line(bad):
    with pytest.raises(ValueError, match="not a training's frame"):
        Frame.from_json(bad)


def test_a_saved_run_keeps_its_film_and_epochs_report_frames(sqlite_url):
    frames = []
    outcome = train_and_save(SEED, "seed", sqlite_url, load_tiny_mnist,
                             on_event=lambda kind, p: kind == Event.EPOCH and frames.append(p[1]["extras"]["frame"]))
    film = Film.from_bytes(RunStore(Database.open(sqlite_url)).file(outcome.run.id, FILM_FILE))
    assert film.epochs == (0, 1, 2, 3, 4, 5, 6) and [f["epoch"] for f in frames] == [1, 2, 3, 4, 5, 6]
