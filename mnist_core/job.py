"""A training run in its own process, with progress anyone can read and a stop button.

    slot = JobSlot()                          # one per app process: one training at a time
    job = slot.start(config, "seed", load_mnist, runs_root)   # raises JobRunning if busy
    job.snapshot()                            # a consistent copy of the progress, any thread
    job.request_stop()                        # stops after the current epoch; the model is kept

Why a process and not a thread: a page redrawing charts holds Python's GIL for tens of
milliseconds at a time, and a training thread that needs the GIL between its 45 ms epochs
then waits; measured, a watched seed fit took 3.9x as long in a thread. In its own process the
fit runs at the command line's speed, and its memory is returned when it ends.
The child reports events on a queue; a reader thread here folds them into a JobState.
`load_data` must be a top-level function (it is pickled by reference into the child).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import multiprocessing.synchronize
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mnist_core.config import TrainConfig
from mnist_core.data import Mnist, Progress

LoadData = Callable[..., Mnist]  # load_data(progress=...) -> Mnist


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
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked threads or TF state
        self._events = context.Queue()
        self._stop = context.Event()
        self._process = context.Process(
            target=_work, args=(config, preset, load_data, runs_root, self._events, self._stop),
            name="mnist-training", daemon=True,
        )
        self._reader = threading.Thread(target=self._read_events, name="training-events", daemon=True)

    def start(self) -> None:
        self._process.start()
        self._reader.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the job has ended and its last event is in the state."""
        self._reader.join(timeout)

    def run(self) -> None:
        """Start and wait: the whole job, synchronously."""
        self.start()
        self.join()

    def request_stop(self) -> None:
        self._stop.set()

    def snapshot(self) -> JobState:
        with self._lock:
            s = self._state
            return dataclasses.replace(s, history={k: list(v) for k, v in s.history.items()}, batch_loss=list(s.batch_loss))

    def _read_events(self) -> None:
        while True:
            try:
                event = self._events.get(timeout=0.5)
            except queue.Empty:
                if not self._process.is_alive():
                    code = self._process.exitcode
                    self._update(status="failed", error=f"the training process ended unexpectedly (exit code {code})",
                                 finished=time.time())
                    return
                continue
            kind, payload = event
            if kind == "data":
                self._update(message=payload)
            elif kind == "training":
                self._update(status="training", fit_started=time.time())
            elif kind == "epoch":
                epoch, logs = payload
                with self._lock:
                    for k, values in self._state.history.items():
                        values.append(logs[k])
                    self._state.batch_loss.extend(logs["batch_loss"])
                    self._state.epochs_done = epoch + 1
            elif kind == "saving":
                self._update(status="saving")
            else:  # the last event: done, stopped or failed
                self._update(finished=time.time(), **payload)
                self._process.join(30)
                return

    def _update(self, **changes: object) -> None:
        with self._lock:
            for k, v in changes.items():
                setattr(self._state, k, v)


def _work(config: TrainConfig, preset: str, load_data: LoadData, runs_root: Path,
          events: multiprocessing.Queue, stop: multiprocessing.synchronize.Event) -> None:
    """The child process: load the data, train, save the run; every step goes on `events`."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from mnist_core.errors import USER_ERRORS
    from mnist_core.runs import save_run
    from mnist_core.train import train, use_threads_for

    use_threads_for(config)
    progress: Progress = lambda message, fraction: events.put(("data", message))  # noqa: E731
    try:
        data = load_data(progress=progress)
        events.put(("training", None))
        result = train(config, data, on_epoch_end=lambda epoch, logs: events.put(("epoch", (epoch, logs))), stop=stop)
        if result.epochs_done == 0:
            events.put(("end", {"status": "stopped", "error": "stopped before the first epoch ended"}))
            return
        events.put(("saving", None))
        folder = save_run(result, runs_root, preset=preset)
        status = "stopped" if result.stopped else "done"
        events.put(("end", {"status": status, "test_accuracy": result.test_accuracy, "run_folder": folder}))
    except (*USER_ERRORS, ValueError) as e:
        events.put(("end", {"status": "failed", "error": str(e)}))
    except Exception as e:  # the job must end with a state, whatever broke
        events.put(("end", {"status": "failed", "error": f"{e.__class__.__name__}: {e}"}))


class JobSlot:
    """Holds the app's one training job; a second start while it runs is refused."""

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
