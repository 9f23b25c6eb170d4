"""The clock is read within an epoch: a job stops within about a second of its time limit, even
when one epoch would take far longer, and keeps what it learned (as a manual stop does)."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.config import TrainConfig
from mnist_core.data import Mnist
from mnist_core.training.loop import train
from tests.conftest import synthetic_digits

pytestmark = pytest.mark.slow


def test_a_one_epoch_job_with_a_5_s_limit_stops_within_7_s():
    x, y = synthetic_digits(40_000, seed=1)  # batches of one: an epoch of 32,000 steps, 20-60 s here
    x_test, y_test = synthetic_digits(200, seed=2)
    config = TrainConfig(epochs=1, batch_size=1, hidden=(1024, 1024), optimizer="adam", learning_rate=0.001)
    result = train(config, Mnist(x, y, x_test, y_test, source="synthetic"), time_limit=5)
    assert result.stopped and result.fit_seconds < 7, result.fit_seconds
    assert result.epochs_done == 1  # the epoch so far is kept and reported
    assert np.isfinite(result.history["loss"][0]) and result.test_accuracy > 0.5  # it learned something
