"""A training run in its own process, with progress anyone can read and a stop button.

    job = TrainingJob(config, "seed", load_mnist, database_url, time_limit=600, owner="link:...")
    job.start()                               # (runner.Runner starts them, `slots` at a time)
    job.snapshot()                            # a consistent copy of the progress, any thread
    job.request_stop()                        # stops within a second or so; the model is kept

Why a process and not a thread: a page redrawing charts holds Python's GIL for tens of
milliseconds at a time, and a training thread that needs the GIL between its 45 ms epochs
then waits; measured, a watched seed fit took 3.9x as long in a thread. In its own process the
fit runs at the command line's speed, and its memory is returned when it ends.
The child runs `pipeline.train_and_save` and puts its events on a queue; a reader thread here
folds them into a JobState.
`load_data` must be a top-level function (it is pickled by reference into the child).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import multiprocessing
import multiprocessing.synchronize
import queue
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from mnist_core.config import METRICS, History, TrainConfig
from mnist_core.errors import USER_ERRORS
from mnist_core.jobs.line import Status
from mnist_core.pipeline import Event, LoadData


class Phase(enum.StrEnum):
    """Where a training process is; how it ended is the line's word for it (JobState.outcome)."""

    LOADING = "loading data"
    TRAINING = "training"
    CHECKING = "fitting its not-a-digit check"  # a fine-tune on drawings, after its epochs
    SAVING = "saving"
    ENDED = "ended"


END = "end"  # the child's last event; its payload is the JobState fields that end the job


@dataclass
class JobState:
    preset: str
    config: TrainConfig
    phase: Phase = Phase.LOADING
    outcome: Status | None = None  # once ended: done, stopped or failed
    message: str = ""  # latest message of the data's loading, or of the not-a-digit check's fitting
    epochs_done: int = 0
    history: History = field(default_factory=lambda: {k: [] for k in METRICS})
    batch_loss: list[float] = field(default_factory=list)  # every batch of every epoch
    extras: dict = field(default_factory=dict)  # the last epoch's small payload beside the curves (training.Watch)
    started: float = field(default_factory=time.time)
    fit_started: float | None = None
    finished: float | None = None
    test_accuracy: float | None = None
    run_id: str | None = None  # the saved run
    error: str = ""  # why it failed
    note: str = ""  # why it stopped early, when nobody pressed Stop

    @property
    def active(self) -> bool:
        return self.phase != Phase.ENDED

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
    def __init__(self, config: TrainConfig, preset: str, load_data: LoadData, database_url: str,
                 time_limit: float | None = None, owner: str = "", job: tuple[str, str] | None = None) -> None:
        self._state = JobState(preset, config)
        self._lock = threading.Lock()
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked threads or TF state
        self._events = context.Queue()
        self._stop = context.Event()
        self._process = context.Process(
            target=_work, args=(config, preset, load_data, database_url, time_limit, owner, job, self._events,
                                self._stop),
            name="mnist-training", daemon=True,
        )
        self._reader = threading.Thread(target=self._read_events, name="training-events", daemon=True)

    def start(self) -> None:
        with _without_main():
            self._process.start()
        self._reader.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the job has ended and its last event is in the state."""
        self._reader.join(timeout)

    @property
    def pid(self) -> int | None:
        """The training process's id, once started."""
        return self._process.pid

    def alive(self) -> bool:
        """True until the job has ended and its last event is in the state."""
        return self._reader.is_alive()

    def run(self) -> None:
        """Start and wait: the whole job, synchronously."""
        self.start()
        self.join()

    def request_stop(self) -> None:
        self._stop.set()

    def kill(self) -> None:
        """End the training process at once, saving nothing (its job is no longer its runner's)."""
        self._process.kill()

    def snapshot(self) -> JobState:
        with self._lock:
            s = self._state
            history = {k: list(v) for k, v in s.history.items()}
            return dataclasses.replace(s, history=history, batch_loss=list(s.batch_loss))

    def _read_events(self) -> None:
        while True:
            try:
                event = self._events.get(timeout=0.5)
            except queue.Empty:
                if not self._process.is_alive():
                    code = self._process.exitcode
                    self._update(phase=Phase.ENDED, outcome=Status.FAILED, finished=time.time(),
                                 error=f"the training process ended unexpectedly (exit code {code})")
                    return
                continue
            kind, payload = event
            if kind == Event.DATA:
                self._update(message=payload)
            elif kind == Event.TRAINING:
                self._update(phase=Phase.TRAINING, fit_started=time.time())
            elif kind == Event.EPOCH:
                epoch, logs = payload
                with self._lock:
                    for k, values in self._state.history.items():
                        values.append(logs[k])
                    self._state.batch_loss.extend(logs["batch_loss"])
                    self._state.extras = logs.get("extras", {})
                    self._state.epochs_done = epoch + 1
            elif kind == Event.CHECK:
                self._update(phase=Phase.CHECKING, message=payload)
            elif kind == Event.SAVING:
                self._update(phase=Phase.SAVING)
            else:  # END: done, stopped or failed
                self._update(phase=Phase.ENDED, finished=time.time(), **payload)
                self._process.join(30)
                return

    def _update(self, **changes: object) -> None:
        with self._lock:
            for k, v in changes.items():
                setattr(self._state, k, v)


@contextlib.contextmanager
def _without_main() -> Iterator[None]:
    """Start a spawned child without importing the parent's __main__ first, as spawn otherwise
    does: in an app server that is Streamlit's, and the training process would carry Streamlit
    too (in Cloud's smallest container, the memory its training lacks). The child needs nothing
    of __main__: its target and `load_data` are importable by name."""
    main = sys.modules["__main__"]
    saved = {name: main.__dict__.pop(name) for name in ("__spec__", "__file__") if name in main.__dict__}
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.update(saved)


def _work(config: TrainConfig, preset: str, load_data: LoadData, database_url: str, time_limit: float | None,
          owner: str, job: tuple[str, str] | None, events: multiprocessing.Queue,
          stop: multiprocessing.synchronize.Event) -> None:
    """The child process: the whole pipeline, every event put on `events`, then END.

    Ctrl-C in a worker's terminal reaches its children too: they leave it to the worker, which
    stops them (each saves what it trained). If the server or worker that started it goes away
    (SIGKILL, a crash), the child exits within a second without saving: its lease in the line
    runs out and the job goes back to the head of the line, to be trained whole by someone alive
    (jobs/line.py), never twice."""
    import os
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from mnist_core.tensorflow_env import prepare

    prepare()
    from mnist_core.pipeline import NothingTrained, train_and_save

    parent = os.getppid()

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)  # orphaned: nobody reads the events, and the job will be trained again

    threading.Thread(target=watch_parent, name="watch-parent", daemon=True).start()
    try:
        outcome = train_and_save(config, preset, database_url, load_data, on_event=lambda *e: events.put(e), stop=stop,
                                 time_limit=time_limit, owner=owner, job=job)
        result = outcome.result
        over_time = result.stopped and not stop.is_set()
        note = f"stopped at this server's limit of {time_limit:.0f} s of training a run" if over_time else ""
        events.put((END, {"outcome": Status.STOPPED if result.stopped else Status.DONE, "note": note,
                          "test_accuracy": result.test_accuracy, "run_id": outcome.run.id}))
    except NothingTrained as e:
        events.put((END, {"outcome": Status.STOPPED, "error": str(e)}))
    except (*USER_ERRORS, ValueError) as e:
        events.put((END, {"outcome": Status.FAILED, "error": str(e)}))
    except Exception as e:  # the job must end with a state, whatever broke
        events.put((END, {"outcome": Status.FAILED, "error": f"{e.__class__.__name__}: {e}"}))
