"""The background training job: progress, stop, one job at a time, failures reported."""

from __future__ import annotations

import time

import pytest

from mnist_core.config import TrainConfig
from mnist_core.data import DataError
from mnist_core.database import Database
from mnist_core.job import JobStatus, TrainingJob
from mnist_core.runs import RunStore
from tests.conftest import load_tiny_mnist

CONFIG = TrainConfig(epochs=4, batch_size=100, learning_rate=0.5)


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


def runs(url: str):
    return RunStore(Database.open(url)).list()


def test_run_records_progress_and_saves(url):
    job = TrainingJob(CONFIG, "seed", load_tiny_mnist, url)
    job.run()
    state = job.snapshot()
    assert state.status == JobStatus.DONE and state.epochs_done == 4
    assert len(state.history["val_accuracy"]) == 4 and len(state.batch_loss) == 4 * 8
    assert state.run_id == runs(url)[0].id and state.test_accuracy > 0.5


def test_stop_keeps_the_model_so_far(url):
    job = TrainingJob(CONFIG.replace(epochs=10_000), "seed", load_tiny_mnist, url, owner="link:ann-token-1")
    job.start()
    deadline = time.time() + 120  # the child imports TensorFlow first
    while job.snapshot().epochs_done < 2 and time.time() < deadline:
        time.sleep(0.05)
    job.request_stop()
    job.join(120)
    state = job.snapshot()
    assert state.status == JobStatus.STOPPED and 2 <= state.epochs_done < 10_000 and not job.alive()
    run = runs(url)[0]
    assert run.stopped is True and run.epochs_done == state.epochs_done and run.owner == "link:ann-token-1"


def no_data(path=None, progress=None):
    raise DataError("MNIST not found; tried everything")


def test_data_failure_ends_as_failed_state(url):
    job = TrainingJob(CONFIG, "seed", no_data, url)
    job.run()
    state = job.snapshot()
    assert state.status == JobStatus.FAILED and "MNIST not found" in state.error and not state.active


def test_an_unreachable_database_fails_before_training(tmp_path):
    job = TrainingJob(CONFIG, "seed", load_tiny_mnist, "postgresql://ann:s3cret@127.0.0.1:1/runs")
    job.run()
    state = job.snapshot()
    assert state.status == JobStatus.FAILED and state.epochs_done == 0
    assert "cannot open" in state.error and "s3cret" not in state.error


def test_a_crashed_training_process_is_reported(url):
    job = TrainingJob(CONFIG, "seed", crash, url)
    job.run()
    state = job.snapshot()
    assert state.status == JobStatus.FAILED and "ended unexpectedly" in state.error


def crash(path=None, progress=None):
    import os

    os._exit(3)


ORPHAN = """
import sys, time
from mnist_core.config import TrainConfig
from mnist_core.job import TrainingJob
from tests.conftest import load_tiny_mnist
job = TrainingJob(TrainConfig(epochs=10_000, batch_size=100, learning_rate=0.5), "seed", load_tiny_mnist, sys.argv[1],
                  owner="link:ann-token-1")
job.start()
while job.snapshot().epochs_done < 2:
    time.sleep(0.05)
print(job.pid, flush=True)
time.sleep(600)
"""


def test_a_job_whose_server_dies_ends_within_a_second_and_saves_nothing(url):
    """The app server is killed mid-training (a reboot, a crash): its training process exits at
    once, saving nothing (the job's lease runs out and it goes back to the line, to be trained
    whole by a runner that is alive: training_queue), instead of training on unseen (or hanging)."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    server = subprocess.Popen([sys.executable, "-c", ORPHAN, url], cwd=root, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "3"})
    child = int(server.stdout.readline())
    server.send_signal(signal.SIGKILL)
    server.wait(30)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the orphaned training process did not end")
    assert runs(url) == []
