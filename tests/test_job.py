"""The background training job: progress, stop, one job at a time, failures reported."""

from __future__ import annotations

import time

import pytest

from mnist_core.config import TrainConfig
from mnist_core.data import DataError
from mnist_core.job import JobRunning, JobSlot, TrainingJob
from mnist_core.runs import list_runs
from tests.conftest import load_tiny_mnist

CONFIG = TrainConfig(epochs=4, batch_size=100, learning_rate=0.5)


def test_run_records_progress_and_saves(tmp_path):
    job = TrainingJob(CONFIG, "seed", load_tiny_mnist, tmp_path)
    job.run()
    state = job.snapshot()
    assert state.status == "done" and state.epochs_done == 4
    assert len(state.history["val_accuracy"]) == 4 and len(state.batch_loss) == 4 * 8
    assert state.run_folder == list_runs(tmp_path)[0].path and state.test_accuracy > 0.5


def test_stop_keeps_the_model_and_second_start_is_refused(tmp_path):
    slot = JobSlot()
    job = slot.start(CONFIG.replace(epochs=10_000), "seed", load_tiny_mnist, tmp_path)
    deadline = time.time() + 120  # the child imports TensorFlow first
    while job.snapshot().epochs_done < 2 and time.time() < deadline:
        time.sleep(0.05)
    with pytest.raises(JobRunning):
        slot.start(CONFIG, "seed", load_tiny_mnist, tmp_path)
    assert slot.job is job  # a refresh or a second tab finds the same job
    job.request_stop()
    job.join(120)
    state = job.snapshot()
    assert state.status == "stopped" and 2 <= state.epochs_done < 10_000
    assert list_runs(tmp_path)[0].record["stopped"] is True
    assert slot.start(CONFIG.replace(epochs=1), "seed", load_tiny_mnist, tmp_path) is not job


def no_data(path=None, progress=None):
    raise DataError("MNIST not found; tried everything")


def test_data_failure_ends_as_failed_state(tmp_path):
    job = TrainingJob(CONFIG, "seed", no_data, tmp_path)
    job.run()
    state = job.snapshot()
    assert state.status == "failed" and "MNIST not found" in state.error and not state.active


def test_a_crashed_training_process_is_reported(tmp_path):
    job = TrainingJob(CONFIG, "seed", crash, tmp_path)
    job.run()
    state = job.snapshot()
    assert state.status == "failed" and "ended unexpectedly" in state.error


def crash(path=None, progress=None):
    import os

    os._exit(3)
