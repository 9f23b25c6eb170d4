"""The training loop on synthetic digits: it learns, reports, stops, and splits as Keras."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mnist_core.config import PRESETS, ConfigError, TrainConfig, parse_hidden, split_validation
from mnist_core.training.loop import train

FAST = TrainConfig(epochs=3, batch_size=64, learning_rate=0.5)


def test_loss_falls_and_accuracy_rises(tiny_mnist):
    result = train(FAST.replace(epochs=5), tiny_mnist)
    h = result.history
    assert set(h) == {"loss", "accuracy", "val_loss", "val_accuracy"} and len(h["loss"]) == 5
    assert h["loss"][-1] < h["loss"][0] * 0.5
    assert result.test_accuracy > 0.9 and not result.stopped


def test_callback_gets_every_epoch_and_every_batch(tiny_mnist):
    seen = []
    train(FAST, tiny_mnist, on_epoch_end=lambda epoch, logs: seen.append((epoch, logs)))
    assert [e for e, _ in seen] == [0, 1, 2]
    # 800 training images in batches of 64: 12 full batches and one of 32, as Keras does
    assert all(len(logs["batch_loss"]) == 13 for _, logs in seen)
    assert seen[0][1]["loss"] == pytest.approx(np.average(seen[0][1]["batch_loss"], weights=[64] * 12 + [32]))


def test_stop_between_epochs_keeps_the_model(tiny_mnist):
    stop = threading.Event()
    result = train(FAST.replace(epochs=50), tiny_mnist, on_epoch_end=lambda e, logs: e == 1 and stop.set(), stop=stop)
    # epoch 1 is reported while epoch 2 trains: that one is finished and kept, then it stops
    assert result.stopped and result.epochs_done == 3 and len(result.history["val_accuracy"]) == 3
    assert result.model.predict_on_batch(np.zeros((1, 784), np.float32)).shape == (1, 10)


def test_reported_scores_are_the_final_weights_scores(tiny_mnist):
    # validation is scored on a copy of the weights while the next epoch trains
    result = train(FAST, tiny_mnist)
    cut = split_validation(len(tiny_mnist.x_train), FAST.validation_split)
    for x, y, score in ((tiny_mnist.x_train[cut:], tiny_mnist.y_train[cut:], result.history["val_accuracy"][-1]),
                        (tiny_mnist.x_test, tiny_mnist.y_test, result.test_accuracy)):
        p = result.model.predict_on_batch(x.reshape(len(x), 784).astype(np.float32) / 255)
        assert score == pytest.approx(float((p.argmax(1) == y).mean()))


@pytest.mark.slow
def test_skinny_first_layer_gradient_is_the_usual_one(tiny_mnist, monkeypatch):
    # the seed's 784 -> 10 layer gets its kernel gradient in a faster layout: same steps
    plain = train(FAST, tiny_mnist)
    monkeypatch.setattr("mnist_core.training.loop.SKINNY_UNITS", 0)
    usual = train(FAST, tiny_mnist)
    for a, b in zip(plain.model.get_weights(), usual.model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert plain.history["loss"] == pytest.approx(usual.history["loss"], rel=1e-5)


@pytest.mark.slow
def test_same_seed_same_result(tiny_mnist):
    a, b = train(FAST, tiny_mnist), train(FAST, tiny_mnist)
    assert a.history["loss"] == pytest.approx(b.history["loss"], rel=1e-5)


def test_validation_split_is_taken_from_the_end_as_keras():
    assert split_validation(60000, 0.2) == 48000
    assert split_validation(1000, 0.25) == 750


# Test accuracy each preset reaches on the tiny digits in 4 epochs (measured: 0.64, 0.36, 1.0, 1.0,
# 0.44): SGD at the book's 0.01 learns slowly, dropout slower; `best`'s distortions shift the bars
# that tell the tiny digits apart.
PRESET_FLOORS = {"hidden": 0.5, "dropout": 0.25, "rmsprop": 0.95, "adam": 0.95, "best": 0.3}


@pytest.mark.slow
@pytest.mark.parametrize("preset", list(PRESET_FLOORS))
def test_every_preset_learns(preset, tiny_mnist, font_pool, monkeypatch):
    monkeypatch.setattr("mnist_core.training.mix.STYLE_DIGITS", 200)  # `best` types digits in fonts: a few, in one font
    config = PRESETS[preset].replace(epochs=4, hidden=tuple(min(h, 32) for h in PRESETS[preset].hidden))
    result = train(config, tiny_mnist)
    loss = result.history["loss"]
    assert loss[-1] < loss[0] - 0.1, loss
    assert result.test_accuracy > PRESET_FLOORS[preset]


def test_bad_settings_are_refused_with_one_line():
    with pytest.raises(ConfigError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ConfigError, match="optimizer"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ConfigError, match="hidden"):
        parse_hidden("12x")
    assert parse_hidden("128, 64") == (128, 64) and parse_hidden("") == ()


def test_config_round_trips_through_a_dict():
    config = PRESETS["best"]
    assert TrainConfig.from_dict({**config.to_dict(), "unknown": 1}) == config


@pytest.mark.mnist
def test_real_mnist_a_few_epochs_are_sensible(real_mnist):
    result = train(PRESETS["seed"].replace(epochs=3), real_mnist)
    assert 0.85 < result.test_accuracy < 0.93
