"""A training run in a background thread, with progress anyone can read and a stop button.

    slot = JobSlot()                          # one per process: one training at a time
    job = slot.start(config, "seed", load_data, runs_root)   # raises JobRunning if busy
    job.snapshot()                            # a consistent copy of the progress, any thread
    job.request_stop()                        # stops after the current epoch; the model is kept

The thread never touches a UI: it writes into the job under a lock, and pages poll
`snapshot()`. `run()` is the whole job, synchronous, so tests can call it directly.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mnist_core.config import TrainConfig
from mnist_core.data import Mnist, Progress

LoadData = Callable[[Progress], Mnist]


class JobRunning(RuntimeError):
    """A training job is already running in this process."""


@dataclass
class JobState:
    preset: str
    config: TrainConfig
    status: str = "loading data"  # loading data, training, saving, done, stopped, failed
    message: str = ""  # latest data-loading message
    epochs_done: int = 0
    history: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in ("loss", "accuracy", "val_loss", "val_accuracy")})
    batch_loss: list[float] = field(default_factory=list)  # every batch of every epoch
    started: float = field(default_factory=time.time)
    fit_started: float | None = None
    finished: float | None = None
    test_accuracy: float | None = None
    run_folder: Path | None = None
    error: str = ""

    @property
    def active(self) -> bool:
        return self.status in ("loading data", "training", "saving")

    @property
    def elapsed(self) -> float:
        return (self.finished or time.time()) - self.started

    @property
    def seconds_left(self) -> float | None:
        if self.fit_started is None or self.epochs_done == 0 or not self.active:
            return None
        per_epoch = (time.time() - self.fit_started) / self.epochs_done
        return per_epoch * (self.config.epochs - self.epochs_done)


class TrainingJob:
    def __init__(self, config: TrainConfig, preset: str, load_data: LoadData, runs_root: Path) -> None:
        self._state = JobState(preset, config)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._load_data, self._runs_root = load_data, runs_root
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="training", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def request_stop(self) -> None:
        self._stop.set()

    def snapshot(self) -> JobState:
        with self._lock:
            return copy.deepcopy(self._state)

    def run(self) -> None:
        """Load the data, train, save the run; every outcome ends in the state, never raised."""
        from mnist_core.errors import USER_ERRORS
        from mnist_core.runs import save_run
        from mnist_core.train import train

        try:
            data = self._load_data(self._on_data_progress)
            self._update(status="training", fit_started=time.time())
            result = train(self._state.config, data, on_epoch_end=self._on_epoch_end, stop=self._stop)
            if result.epochs_done == 0:
                self._update(status="stopped", finished=time.time(), error="stopped before the first epoch ended")
                return
            self._update(status="saving")
            folder = save_run(result, self._runs_root, preset=self._state.preset)
            self._update(status="stopped" if result.stopped else "done", test_accuracy=result.test_accuracy,
                         run_folder=folder, finished=time.time())
        except (*USER_ERRORS, ValueError) as e:
            self._update(status="failed", error=str(e), finished=time.time())
        except Exception as e:  # a thread must not die silently: report whatever broke
            self._update(status="failed", error=f"{e.__class__.__name__}: {e}", finished=time.time())

    def _update(self, **changes: object) -> None:
        with self._lock:
            for k, v in changes.items():
                setattr(self._state, k, v)

    def _on_data_progress(self, message: str, fraction: float | None) -> None:
        self._update(message=message)

    def _on_epoch_end(self, epoch: int, logs: dict) -> None:
        with self._lock:
            for k, values in self._state.history.items():
                values.append(logs[k])
            self._state.batch_loss.extend(logs["batch_loss"])
            self._state.epochs_done = epoch + 1


class JobSlot:
    """Holds the process's one training job; a second start while it runs is refused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.job: TrainingJob | None = None

    def start(self, config: TrainConfig, preset: str, load_data: LoadData, runs_root: Path) -> TrainingJob:
        with self._lock:
            if self.job is not None and self.job.snapshot().active:
                raise JobRunning("a training job is already running; watch it or stop it first")
            self.job = TrainingJob(config, preset, load_data, runs_root)
            self.job.start()
            return self.job
