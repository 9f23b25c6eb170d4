"""The background training job: progress, stop, one job at a time, failures reported."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from mnist_core.config import TrainConfig
from mnist_core.data import DataError
from mnist_core.jobs.line import Status
from mnist_core.jobs.process import Phase, TrainingJob
from mnist_core.store.database import Database
from mnist_core.store.runs import RunStore
from mnist_core.training.watching.frame import Frame
from tests.helpers import (
    PHASE_GATES,
    ROOT,
    LineReader,
    load_tiny_mnist,
    load_tiny_mnist_held,
    subprocess_env,
    wait_until,
)

pytestmark = pytest.mark.slow

CONFIG = TrainConfig(epochs=4, batch_size=100, learning_rate=0.5)


def runs(url: str):
    return RunStore(Database.open(url)).list()


def test_run_records_progress_and_saves(sqlite_url):
    job = TrainingJob(CONFIG, "seed", load_tiny_mnist, sqlite_url)
    job.run()
    state = job.snapshot()
    assert state.outcome == Status.DONE and state.epochs_done == 4
    assert len(state.history["val_accuracy"]) == 4 and len(state.batch_loss) == 4 * 8
    assert state.run_id == runs(sqlite_url)[0].id and state.test_accuracy > 0.5
    assert Frame.from_json(state.extras["frame"]).epoch == 4  # the latest look inside (watching.frame)


def test_stop_keeps_the_model_so_far(sqlite_url):
    job = TrainingJob(CONFIG.replace(epochs=10_000), "seed", load_tiny_mnist, sqlite_url, owner="link:ann-token-1")
    job.start()
    wait_until(lambda: job.snapshot().epochs_done >= 2, 120, "two epochs")  # the child imports TensorFlow first
    job.stop()
    job.join(120)
    state = job.snapshot()
    assert state.outcome == Status.STOPPED and 2 <= state.epochs_done < 10_000 and not job.alive()
    run = runs(sqlite_url)[0]
    assert run.stopped is True and run.epochs_done == state.epochs_done and run.owner == "link:ann-token-1"


def no_data(path=None, progress=None):
    raise DataError("MNIST not found; tried everything")


def test_data_failure_ends_as_failed_state(sqlite_url):
    job = TrainingJob(CONFIG, "seed", no_data, sqlite_url)
    job.run()
    state = job.snapshot()
    assert state.outcome == Status.FAILED and "MNIST not found" in state.error and not state.active


def test_an_unreachable_database_fails_before_training(tmp_path):
    job = TrainingJob(CONFIG, "seed", load_tiny_mnist, "postgresql://ann:s3cret@127.0.0.1:1/runs")
    job.run()
    state = job.snapshot()
    assert state.outcome == Status.FAILED and state.epochs_done == 0
    assert "cannot open" in state.error and "s3cret" not in state.error


def test_a_crashed_training_process_is_reported(sqlite_url):
    job = TrainingJob(CONFIG, "seed", crash, sqlite_url)
    job.run()
    state = job.snapshot()
    assert state.outcome == Status.FAILED and "ended unexpectedly" in state.error


def crash(path=None, progress=None):
    os._exit(3)


ORPHAN = """
import sys, time
from mnist_core.config import TrainConfig
from mnist_core.jobs.process import Phase, TrainingJob
from tests.helpers import load_tiny_mnist
job = TrainingJob(TrainConfig(epochs=10_000, batch_size=100, learning_rate=0.5), "seed", load_tiny_mnist, sys.argv[1],
                  owner="link:ann-token-1")
job.start()
deadline = time.monotonic() + 120  # the child imports TensorFlow first
while job.snapshot().epochs_done < 2:
    if time.monotonic() > deadline or not job.alive():
        job.stop()
        sys.exit("no two epochs in 120 s")
    time.sleep(0.05)
print(job.pid, flush=True)
time.sleep(600)
"""


def test_a_job_whose_server_dies_ends_within_a_second_and_saves_nothing(sqlite_url):
    """The app server is killed mid-training (a reboot, a crash): its training process exits at
    once, saving nothing (the job's lease runs out and it goes back to the line, to be trained
    whole by a runner that is alive: jobs/line.py), instead of training on unseen (or hanging)."""
    server = subprocess.Popen([sys.executable, "-c", ORPHAN, sqlite_url], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env=subprocess_env())
    try:
        child = int(LineReader(server.stdout).next(timeout=180))
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(30)

    def ended() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        return False

    try:
        wait_until(ended, 10, "the orphaned training process to end", every=0.2)
    finally:
        if not ended():
            os.kill(child, signal.SIGKILL)
    assert runs(sqlite_url) == []


@pytest.mark.parametrize("phase", [Phase.LOADING, Phase.STYLES, Phase.COMPILING])
def test_stop_before_the_first_epoch_ends_the_job_within_a_second(sqlite_url, tmp_path, monkeypatch, phase):
    """Loading MNIST, making font digits or compiling can take minutes (`best` took 4 min 15 s
    to stop): a stop there has nothing to keep, and ends the job at once."""
    gates = tmp_path / "gates"
    gates.mkdir()
    (gates / {Phase.LOADING: "loading", Phase.STYLES: "styles", Phase.COMPILING: "compiling"}[phase]).touch()
    monkeypatch.setenv(PHASE_GATES, str(gates))
    job = TrainingJob(CONFIG.replace(pen=0.1), "seed", load_tiny_mnist_held, sqlite_url)
    job.start()
    wait_until(lambda: job.snapshot().phase == phase, 120, f"the job to be {phase}")
    asked = time.monotonic()
    job.stop()
    wait_until(lambda: not job.alive(), 5, "the job to end")
    took = time.monotonic() - asked
    state = job.snapshot()
    assert took < 1.0 and state.outcome == Status.STOPPED and "nothing to save" in state.error, (took, state)
    assert runs(sqlite_url) == []


def test_stop_while_training_ends_the_epoch_within_a_second_and_keeps_it(sqlite_url):
    job = TrainingJob(CONFIG.replace(epochs=10_000, batch_size=1), "seed", load_tiny_mnist, sqlite_url)
    job.start()  # batches of one: an epoch of 800 steps, cut in slices of half a second
    wait_until(lambda: job.snapshot().epochs_done >= 1, 120, "an epoch")
    asked = time.monotonic()
    job.stop()
    wait_until(lambda: job.snapshot().phase in (Phase.SAVING, Phase.ENDED), 5, "training to end")
    took = time.monotonic() - asked
    job.join(60)
    state = job.snapshot()
    assert took < 1.0 and state.outcome == Status.STOPPED and state.run_id == runs(sqlite_url)[0].id, (took, state)


def test_stop_while_saving_keeps_the_whole_run(sqlite_url, tmp_path, monkeypatch):
    """Saving is the end a stop asks for: the run is saved whole, and the job ends as soon as it is."""
    (tmp_path / "saving").touch()
    monkeypatch.setenv(PHASE_GATES, str(tmp_path))
    job = TrainingJob(CONFIG, "seed", load_tiny_mnist_held, sqlite_url)
    job.start()
    wait_until(lambda: job.snapshot().phase == Phase.SAVING, 120, "the job to be saving")
    job.stop()
    (tmp_path / "saving").unlink()
    opened = time.monotonic()
    wait_until(lambda: not job.alive(), 5, "the job to end")
    state = job.snapshot()
    assert time.monotonic() - opened < 1.0 and state.outcome == Status.DONE and state.epochs_done == 4, state
    assert runs(sqlite_url)[0].epochs_done == 4


def test_a_leaver_asked_twice_leaves_alone():
    """The runner repeats a stop at each heartbeat until the leaver's epoch ends: on a busy machine
    an epoch outlasts a heartbeat, and the repeat once stopped everyone trained with them."""
    from types import SimpleNamespace

    from mnist_core.training.pipeline import Member

    job = TrainingJob(CONFIG, "seed", load_tiny_mnist, "sqlite://", job=("ann", "s"),
                      together=[Member("bob", "seed", ("bob", "s")), Member("cat", "seed", ("cat", "s"))])
    job._child = SimpleNamespace(orders=queue.Queue(), stop_event=threading.Event())
    job._state.epochs_done = 3
    job.stop("bob")
    job.stop("bob")
    assert not job._child.stop_event.is_set() and job.jobs == ["ann", "cat"]
    assert job._child.orders.get_nowait() == ("leave", "bob") and job._child.orders.empty()


def test_one_who_asks_to_leave_after_the_last_epoch_gets_the_final_run(sqlite_url):
    """Ann asks to leave as the last epoch ends (after it was watched, before the runs are saved):
    the final network is hers too, under her own job, not Bob's (the runner once gave her job
    Bob's run, and her none)."""
    from mnist_core.training.pipeline import Event, Member, train_and_save

    epochs = []

    def leaving() -> list[str]:
        return ["ann"] if len(epochs) == CONFIG.epochs else []

    outcome = train_and_save(CONFIG, "seed", sqlite_url, load_tiny_mnist, owner="ann", job=("ann", "s"),
                             together=[Member("bob", "seed", ("bob", "s"))], leaving=leaving,
                             on_event=lambda kind, payload: kind == Event.EPOCH and epochs.append(payload[0]))
    store = RunStore(Database.open(sqlite_url))
    assert set(outcome.runs) == {"ann", "bob"} and outcome.run.id == outcome.runs["ann"]
    assert [store.get(outcome.runs[who]).owner for who in ("ann", "bob")] == ["ann", "bob"]
