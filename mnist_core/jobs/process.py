"""A training run in its own process, with progress anyone can read and a stop button.

    job = TrainingJob(config, "seed", load_mnist, database_url, time_limit=600, owner="link:...")
    job.start()                               # (runner.Runner starts them, `slots` at a time)
    job.snapshot()                            # a consistent copy of the progress, any thread
    job.stop()                                # ends within a second in any phase; the model so far is kept

Why a process and not a thread: a page redrawing charts holds Python's GIL for tens of
milliseconds at a time, and a training thread that needs the GIL between its 45 ms epochs
then waits; measured, a watched seed fit took 3.9x as long in a thread. In its own process the
fit runs at the command line's speed, and its memory is returned when it ends.

A process is started ahead of its job (`Spare`): it imports TensorFlow and loads MNIST while
nothing waits for it, then takes the job it is given, so a job's first epoch comes about a
second after it starts instead of ten (docs/figures.md#a-class). One process may train several
jobs of the line with the same settings (`together`): they train one network, each gets a run
of their own, and one who stops leaves with the network as it is then (pipeline.py).

The child runs `pipeline.train_and_save` and puts its events on a queue; a reader thread here
folds them into a JobState. A stop before the first epoch has ended kills the process (there is
nothing to save, and loading, making font digits or compiling may take minutes); during
training it ends the epoch within about half a second, and the model so far is saved.
`load_data` must be a top-level function (it is pickled by reference into the child).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import multiprocessing
import multiprocessing.synchronize
import os
import queue
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from mnist_core.config import METRICS, History, TrainConfig
from mnist_core.errors import USER_ERRORS
from mnist_core.jobs.line import Status, hold
from mnist_core.training.pipeline import NOTHING_SAVED, Event, LoadData, Member

RECENT_EPOCHS = 10  # the epochs whose times tell the time left


class Phase(enum.StrEnum):
    """Where a training process is; how it ended is the line's word for it (JobState.outcome)."""

    LOADING = "loading data"
    STYLES = "making font digits"
    COMPILING = "compiling"
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
    epoch_seconds: list[float] = field(default_factory=list)  # each epoch's training time
    extras: dict = field(default_factory=dict)  # the last epoch's small payload beside the curves (loop.Watch)
    started: float = field(default_factory=time.time)
    fit_started: float | None = None
    first_epoch: float | None = None  # seconds from its start to its first epoch's end
    finished: float | None = None
    test_accuracy: float | None = None
    run_id: str | None = None  # the saved run (the first job's, when several trained together)
    runs: dict[str, str] = field(default_factory=dict)  # job id -> its run, for jobs trained together
    left: dict[str, tuple[int, str | None]] = field(default_factory=dict)  # job id -> (epochs, run) of those who left
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
        """The epochs left at the pace of the last few."""
        if not self.epoch_seconds or not self.active:
            return None
        recent = self.epoch_seconds[-RECENT_EPOCHS:]
        return sum(recent) / len(recent) * (self.config.epochs - self.epochs_done)


class Spare:
    """A training process started before its job: it imports TensorFlow and loads the data
    with `load_data`, then waits for the job a TrainingJob gives it."""

    def __init__(self, load_data: LoadData) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked threads or TF state
        self.load_data = load_data
        self.events, self.orders, self.stop_event = context.Queue(), context.Queue(), context.Event()
        self._ready = context.Event()  # set by the child once TensorFlow is imported and the data loaded
        self.process = context.Process(target=_serve, name="mnist-training", daemon=True,
                                       args=(os.getpid(), load_data, self.events, self.orders, self.stop_event,
                                             self._ready))
        with _without_main():
            self.process.start()

    def usable(self, load_data: LoadData) -> bool:
        return self.load_data is load_data and self.process.is_alive()

    def ready(self) -> bool:
        """Whether it waits with TensorFlow imported and the data loaded (a job given now starts at once)."""
        return self._ready.is_set() and self.process.is_alive()

    def close(self) -> None:
        self.process.kill()


class TrainingJob:
    """One training in its own process: `job` (the line's job id and runner) and the jobs trained
    `together` with it, each saved as its own run; `spare`, a process already started."""

    def __init__(self, config: TrainConfig, preset: str, load_data: LoadData, database_url: str,
                 time_limit: float | None = None, owner: str = "", job: tuple[str, str] | None = None,
                 together: Sequence[Member] = (), spare: Spare | None = None) -> None:
        self._state = JobState(preset, config)
        self._lock = threading.Lock()
        self._order = {"config": config, "preset": preset, "database_url": database_url, "time_limit": time_limit,
                       "owner": owner, "job": job, "together": tuple(together), "hold": hold}
        self._child = spare if spare is not None and spare.usable(load_data) else None
        self._load_data = load_data
        self.config, self.time_limit = config, time_limit or float("inf")
        self.first = job[0] if job else None  # the job it was claimed for
        self.jobs = [j for j in [self.first, *(m.job[0] for m in together if m.job)] if j]  # the line's, still in it
        self._leaving: set[str] = set()  # jobs told to leave, their networks saved at their epoch's end
        self._reader = threading.Thread(target=self._read_events, name="training-events", daemon=True)

    def start(self) -> None:
        self._child = self._child or Spare(self._load_data)
        self._state.started = time.time()
        self._child.orders.put(("job", self._order))
        self._reader.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the job has ended and its last event is in the state."""
        self._reader.join(timeout)

    @property
    def pid(self) -> int | None:
        """The training process's id, once started."""
        return self._child.process.pid if self._child is not None else None

    def warming(self) -> bool:
        """True until its first epoch has ended (or the job has): the start-up a new process
        beside it would slow down."""
        with self._lock:
            return self._state.active and self._state.epochs_done == 0

    def alive(self) -> bool:
        """True until the job has ended and its last event is in the state."""
        return self._reader.is_alive() and self._state.active

    def run(self) -> None:
        """Start and wait: the whole job, synchronously."""
        self.start()
        self.join()

    def stop(self, job_id: str | None = None) -> None:
        """Stop the training (or, of several jobs trained together, let `job_id` leave with the
        network as it is at the end of this epoch). Before the first epoch has ended there is
        nothing to keep: the job ends at once (the process, when no job is left in it, killed)."""
        if job_id is not None and job_id in self._leaving:  # asked again before its epoch ended: it leaves once
            return
        if job_id is not None and job_id in self.jobs and len(self.jobs) > 1:
            self.jobs.remove(job_id)
            self._leaving.add(job_id)
            self._child.orders.put(("leave", job_id))
            with self._lock:
                if self._state.epochs_done == 0:
                    self._state.left[job_id] = (0, None)
            return
        self._child.stop_event.set()
        with self._lock:
            if self._state.epochs_done > 0 or self._state.phase in (Phase.SAVING, Phase.ENDED):
                return
            self._child.process.kill()  # loading, making font digits, compiling, the first epoch: nothing to save
            self._end(outcome=Status.STOPPED, error=NOTHING_SAVED)

    def kill(self) -> None:
        """End the training process at once, saving nothing (its job is no longer its runner's)."""
        if self._child is not None:
            self._child.process.kill()

    def snapshot(self) -> JobState:
        with self._lock:
            s = self._state
            return dataclasses.replace(s, history={k: list(v) for k, v in s.history.items()},
                                       batch_loss=list(s.batch_loss), epoch_seconds=list(s.epoch_seconds),
                                       runs=dict(s.runs), left=dict(s.left))

    def _read_events(self) -> None:
        phases = {Event.STYLES: Phase.STYLES, Event.COMPILING: Phase.COMPILING, Event.SAVING: Phase.SAVING}
        while True:
            if not self._state.active:  # stopped before its first epoch: killed, its end already written
                return
            try:
                kind, payload = self._child.events.get(timeout=0.5)
            except queue.Empty:
                if not self._child.process.is_alive():
                    with self._lock:
                        if self._state.active:
                            code = self._child.process.exitcode
                            self._end(outcome=Status.FAILED,
                                      error=f"the training process ended unexpectedly (exit code {code})")
                    return
                continue
            with self._lock:
                if not self._state.active:
                    return
                s = self._state
                if kind == Event.DATA:
                    s.message = payload
                elif kind in phases:
                    s.phase = phases[kind]
                elif kind == Event.TRAINING:
                    s.phase, s.fit_started = Phase.TRAINING, time.time()
                elif kind == Event.EPOCH:
                    epoch, logs = payload
                    for k, values in s.history.items():
                        values.append(logs[k])
                    s.batch_loss.extend(logs["batch_loss"])
                    s.epoch_seconds.append(logs["seconds"])
                    s.extras = logs.get("extras", {})
                    s.epochs_done = epoch + 1
                    s.first_epoch = s.first_epoch or time.time() - s.started
                elif kind == Event.CHECK:
                    s.phase, s.message = Phase.CHECKING, payload
                elif kind == Event.LEFT:
                    job_id, run_id = payload
                    s.left.setdefault(job_id, (s.epochs_done, run_id))
                else:  # END: done, stopped or failed
                    self._end(**payload)
                    break
        self._child.process.join(30)

    def _end(self, **fields: object) -> None:
        """The job's end, under the lock."""
        for k, v in fields.items():
            setattr(self._state, k, v)
        self._state.phase, self._state.finished = Phase.ENDED, time.time()


@contextlib.contextmanager
def _without_main() -> Iterator[None]:
    """Start a spawned child without importing the parent's __main__ first, as spawn otherwise
    does: in an app server that is Streamlit's, and the training process would carry Streamlit
    too (in Cloud's smallest container, the memory its training lacks). The child needs nothing
    of __main__: its target and `load_data` are importable by name."""
    with _STARTING:  # one start at a time: two would save and restore each other's __main__
        main = sys.modules["__main__"]
        saved = {name: main.__dict__.pop(name) for name in ("__spec__", "__file__") if name in main.__dict__}
        main.__spec__ = None
        try:
            yield
        finally:
            main.__dict__.update(saved)


_STARTING = threading.Lock()


def _serve(parent: int, load_data: LoadData, events: multiprocessing.Queue, orders: multiprocessing.Queue,
           stop: multiprocessing.synchronize.Event, ready: multiprocessing.synchronize.Event) -> None:
    """The child process: TensorFlow imported and the data loaded before any job is given it;
    then its one job, every event put on `events`, then END.

    Ctrl-C in a worker's terminal reaches its children too: they leave it to the worker, which
    stops them (each saves what it trained). If the server or worker that started it goes away
    (SIGKILL, a crash), the child exits within a second without saving: its lease in the line
    runs out and the job goes back to the head of the line, to be trained whole by someone alive
    (jobs/line.py), never twice."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch_parent() -> None:  # `parent` as the parent knew it: it may be gone before this child starts
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)  # orphaned: nobody reads the events, and the job will be trained again

    threading.Thread(target=watch_parent, name="watch-parent", daemon=True).start()
    from mnist_core.training.tensorflow_env import prepare

    prepare()
    import mnist_core.training.loop  # noqa: F401  (TensorFlow and Keras: the slow imports, done before the job)
    from mnist_core.training.pipeline import NothingTrained, train_and_save

    try:
        data, failed = load_data(progress=lambda message, fraction: events.put((Event.DATA, message))), None
    except (*USER_ERRORS, ValueError) as e:
        data, failed = None, e
    ready.set()
    kind, order = orders.get()
    leaving: list[str] = []
    lock = threading.Lock()

    def read_orders() -> None:
        while True:
            kind, job_id = orders.get()
            with lock:
                leaving.append(job_id)

    def left() -> list[str]:
        with lock:
            gone = list(leaving)
            leaving.clear()
        return gone

    threading.Thread(target=read_orders, name="orders", daemon=True).start()
    try:
        if failed is not None:
            raise failed
        outcome = train_and_save(**order, load_data=lambda progress: data, on_event=lambda *e: events.put(e),
                                 stop=stop, leaving=left)
        result = outcome.result
        over_time = result.stopped and not stop.is_set()
        limit = order["time_limit"]
        note = f"stopped at this server's limit of {limit:.0f} s of training a run" if over_time else ""
        events.put((END, {"outcome": Status.STOPPED if result.stopped else Status.DONE, "note": note,
                          "test_accuracy": result.test_accuracy, "run_id": outcome.run.id, "runs": outcome.runs}))
    except NothingTrained as e:
        events.put((END, {"outcome": Status.STOPPED, "error": str(e)}))
    except (*USER_ERRORS, ValueError) as e:
        events.put((END, {"outcome": Status.FAILED, "error": str(e)}))
    except Exception as e:  # the job must end with a state, whatever broke
        events.put((END, {"outcome": Status.FAILED, "error": f"{e.__class__.__name__}: {e}"}))
