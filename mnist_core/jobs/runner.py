"""A runner takes waiting jobs from the line and trains each in a process of its own.

    Runner(url, load_mnist, slots=2, spare=True).wake()   # an app server's: trains while there are waiting jobs
    Runner(url, load_mnist, slots=2, runs_on="lab-3, GPU").serve(stop)   # a worker's: until `stop`

It claims jobs (line.JobQueue.claim), with the waiting jobs of the same settings beside each
(line.JobQueue.claim_together: one network trains for them all), starts each training in its
own process (process.TrainingJob), renews their leases every second with their progress
(line.JobQueue.beat, whose answer carries the stop flag), and records how each ended
(line.JobQueue.finish). A job whose lease it lost (it went silent too long, and another runner
took the job) is killed unsaved.

How many at once: `slots` trainings, each claimed only when its expected memory fits beside
the others (budget.estimated_peak_bytes against what the machine has free), and, with two slots
or more, never a long job on the last free one, so that short jobs pass long ones. With
`spare`, a training process is kept started ahead of the next job (process.Spare), when memory
allows one more.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import threading

from mnist_core.jobs.line import HEARTBEAT_SECONDS, LEASE_SECONDS, RECENT_JOBS, JobQueue, QueuedJob, Status
from mnist_core.jobs.pace import NEED_CORES, RECENT_EPOCHS, TOGETHER, LoadMeter, is_long
from mnist_core.jobs.process import JobState, Spare, TrainingJob
from mnist_core.limits import available_memory, process_memory
from mnist_core.store.database import Database, StoreError
from mnist_core.training import tensorflow_env
from mnist_core.training.budget import TENSORFLOW_FILE_BYTES, TRAINING_BASE_BYTES, estimated_peak_bytes
from mnist_core.training.pipeline import NOTHING_SAVED, LoadData, Member

SPARE_BYTES = TRAINING_BASE_BYTES + TENSORFLOW_FILE_BYTES  # free memory a spare process needs: room to train


class Runner:
    """Takes waiting jobs from the line and trains them in processes of their own (process.py),
    `slots` trainings at a time. An app server's runner works only while there is work: `wake()`
    starts it (on a submit, or when a page is shown), and it ends when nobody is waiting. A
    worker's serves until told to stop (`serve(stop)`), looking for work every `poll` seconds; a
    stop lets its jobs save what they trained, then it returns."""

    def __init__(self, database_url: str, load_data: LoadData, slots: int = 1, runs_on: str = "",
                 lease: float = LEASE_SECONDS, spare: bool = False) -> None:
        self.url, self.load_data, self.slots, self.lease = database_url, load_data, slots, lease
        self.server = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.runs_on = runs_on or socket.gethostname()
        self.keep_spare = spare
        self.current: dict[str, TrainingJob] = {}  # job id -> its training, while it trains (several ids: together)
        self._recent: dict[str, TrainingJob] = {}  # the last jobs trained here, for their curves
        self._spare: Spare | None = None
        self.meter = LoadMeter(self.pids)  # the threads other work keeps runnable here
        self._thread: threading.Thread | None = None
        self._woken = False  # wake() was called since the thread last looked at the line
        self._nudged = threading.Event()  # look at the jobs now, not at the next heartbeat (a Stop pressed here)
        self._lock = threading.Lock()

    def wake(self) -> None:
        """Train the waiting jobs: start the runner's thread, or, while it runs, have it look at
        the line once more before it ends (a job queued just after it found none)."""
        with self._lock:
            self._woken = True
            self._nudged.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, args=(None, 0.0), name="training-runner",
                                                daemon=True)
                self._thread.start()
        self._ready_spare()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the line is empty and the runner has ended (for tests and scripts)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def serve(self, stop: threading.Event, poll: float = 2.0) -> None:
        """Train jobs from the line until `stop` is set (a worker's life); then stop the jobs in
        training, which save what they trained, and return once they have."""
        self._run(stop, poll)
        if self._spare is not None:
            self._spare.close()

    def trainings(self) -> list[TrainingJob]:
        """The trainings under way here (one for several jobs trained together)."""
        return list({id(p): p for p in list(self.current.values())}.values())

    def pids(self) -> list[int]:
        """The processes training here now."""
        return [p.pid for p in self.trainings() if p.pid]

    def training_memory(self) -> int:
        """Bytes the training processes of this runner hold now: they are free again before the
        next job in the line starts here."""
        return sum(process_memory(pid) for pid in self.pids())

    def live(self, job_id: str) -> JobState | None:
        """The progress of `job_id` when this runner trains it, or trained it lately: epochs,
        curves, every batch's loss."""
        process = self.current.get(job_id) or self._recent.get(job_id)
        return process.snapshot() if process is not None else None

    def _run(self, stop: threading.Event | None, poll: float) -> None:
        """The loop: claim jobs while there are free slots, renew the leases of those training
        (and pass on their stop flags), record those that ended; until there is nothing to do
        (an app server's runner) or `stop` is set and every job has ended (a worker). While the
        database is away, jobs in training go on and are tended again at the next beat."""
        queue = None
        while True:
            with self._lock:
                self._woken = False
                self._nudged.clear()
            stopping = stop is not None and stop.is_set()
            idle = True  # the line had nothing for a free slot (or could not be read)
            try:
                queue = queue or JobQueue(Database.open(self.url), self.lease)
                if stop is not None:
                    queue.seen(self.server, self.runs_on, self.slots)
                idle = stopping or self._claim(queue)
                trainings = self.trainings()
                for process in trainings:  # beside each: other work, and the other trainings here
                    self._tend(queue, process, stopping, self.meter.demand() + NEED_CORES * (len(trainings) - 1))
            except StoreError:  # the waiting jobs wait; a worker looks again, a server at its next wake
                pass
            self._ready_spare()
            if not self.current and (stopping or (stop is None and idle)) and self._may_end(stop):
                return
            if self.current:
                self._nudged.wait(HEARTBEAT_SECONDS)
            elif stop is not None:
                stop.wait(poll)

    def nudge(self) -> None:
        """Look at the jobs now (a Stop pressed on this server reaches its job at once)."""
        self._nudged.set()

    def _may_end(self, stop: threading.Event | None) -> bool:
        """A worker ends when told; an app server's runner ends unless woken since it last
        looked at the line, and from then on a wake() starts a new thread."""
        if stop is not None:
            return True
        with self._lock:
            if self._woken:
                return False
            self._thread = None
            return True

    def _claim(self, queue: JobQueue) -> bool:
        """Fill the free slots; True when the line had nothing (more) that fits here."""
        while len(self.trainings()) < self.slots:
            job = queue.claim(self.server, self.runs_on, fits=self._fits)
            if job is None:
                return True
            self._start(job, queue.claim_together(job, self.server, self.runs_on, TOGETHER - 1))
        return False

    def _fits(self, job: QueuedJob) -> bool:
        """Whether `job` may start beside the trainings under way: only in a process started
        ahead and ready (a process starting beside a training slows it down for seconds, and
        the job waited as long as the training it would share the cores with: measured,
        docs/notes.md#the-line), never a long one on the last free slot (short jobs pass it),
        and only when its memory fits beside theirs."""
        trainings = self.trainings()
        if not trainings:
            return True
        with self._lock:
            if self._spare is None or not self._spare.ready():
                return False
        if self.slots > 1 and is_long(job.config, job.time_limit) and \
                sum(is_long(t.config, t.time_limit) for t in trainings) >= self.slots - 1:
            return False
        growth = sum(max(0, estimated_peak_bytes(t.config) - process_memory(t.pid or 0)) for t in trainings)
        return estimated_peak_bytes(job.config) + growth <= available_memory()

    def _ready_spare(self) -> None:
        """Keep a training process started ahead of the next job, when asked to and memory allows,
        and not while a training starts (its import would take the cores that training needs
        for its first epoch); on a machine that has not measured its TensorFlow settings yet,
        measure them (in the background, at a low priority: tensorflow_env.probe), once."""
        with self._lock:
            if self.keep_spare and (self._spare is None or not self._spare.usable(self.load_data)) \
                    and not any(t.warming() for t in self.trainings()) and available_memory() >= SPARE_BYTES:
                self._spare = Spare(self.load_data)
            global _probing
            if self.keep_spare and not _probing and tensorflow_env.chosen() is None:
                _probing = True
                threading.Thread(target=_probe, name="tensorflow-probe", daemon=True).start()

    def _start(self, job: QueuedJob, together: list[QueuedJob]) -> None:
        with self._lock:
            spare, self._spare = self._spare, None
        process = TrainingJob(job.config, job.preset, self.load_data, self.url, job.time_limit, owner=job.owner,
                              job=(job.id, self.server), spare=spare,
                              together=[Member(j.owner, j.preset, (j.id, self.server)) for j in together])
        process.start()
        for j in (job, *together):
            self.current[j.id] = process
        self._ready_spare()

    def _tend(self, queue: JobQueue, process: TrainingJob, stopping: bool, busy: float) -> None:
        """One heartbeat of one training: the ends of its jobs recorded, or their leases renewed
        and their stop flags read, in one write; `busy`: the threads other work kept runnable."""
        state = process.snapshot()
        ids = [j for j, p in list(self.current.items()) if p is process]
        for job_id in [j for j in ids if j in state.left]:  # left a training of several, with its network then
            epochs, run_id = state.left[job_id]
            queue.finish(job_id, self.server, Status.STOPPED, epochs, run_id, "" if run_id else NOTHING_SAVED,
                         progress(state, busy, epochs))
            self._forget(job_id)
        ids = [j for j in ids if j not in state.left]
        if not process.alive():
            outcome, message = state.outcome or Status.FAILED, state.error or state.note
            for job_id in ids:
                run_id = state.runs.get(job_id)  # its own run: never the run of another it trained with
                if run_id is None and outcome != Status.FAILED and state.epochs_done:
                    queue.finish(job_id, self.server, Status.FAILED, state.epochs_done, None,
                                 "its run could not be saved (the line gave the job to another)", progress(state, busy))
                else:
                    queue.finish(job_id, self.server, outcome, state.epochs_done, run_id, message,
                                 progress(state, busy))
                self._forget(job_id)
            return
        if not ids:
            return
        answers = queue.beat(ids, self.server, state.epochs_done, progress(state, busy))
        for job_id in ids:
            if job_id not in answers:  # not ours any more: someone else trains it
                if len(process.jobs) <= 1:
                    process.kill()
                else:
                    process.stop(job_id)  # one of several: it leaves, and its run is not ours to save
                self._forget(job_id)
            elif answers[job_id] or stopping:
                process.stop(job_id)
                self._nudged.set()  # one that ended at once (before its first epoch) is recorded now

    def _forget(self, job_id: str) -> None:
        process = self.current.pop(job_id, None)
        if process is not None:
            self._recent = {job_id: process, **dict(list(self._recent.items())[:RECENT_JOBS - 1])}


_probing = False  # this process measures its machine's TensorFlow settings (once)


def _probe() -> None:
    try:
        tensorflow_env.probe(nice=10)
    except (OSError, subprocess.SubprocessError, ValueError):  # not measured: the settings stay as they are
        pass


def progress(state: JobState, busy: float, epochs: int | None = None) -> dict:
    """What a job's heartbeat tells every server (line.QueuedJob.progress): its curves (its first
    `epochs`, for one that left), its last epochs' times and all its training time, the seconds
    from its start to its first epoch's end, what it is doing, the threads other work kept
    runnable, and the last epoch's extras (loop.Watch)."""
    n = state.epochs_done if epochs is None else epochs
    return {**{k: v[:n] for k, v in state.history.items()}, "seconds": state.epoch_seconds[:n][-RECENT_EPOCHS:],
            "fit": sum(state.epoch_seconds[:n]), "first": state.first_epoch, "phase": str(state.phase),
            "busy": round(busy, 2), "extras": state.extras}
