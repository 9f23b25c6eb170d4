"""A runner takes waiting jobs from the line and trains each in a process of its own.

    Runner(url, load_mnist).wake()        # an app server's: trains while there are waiting jobs
    Runner(url, load_mnist, slots=2, runs_on="lab-3, GPU").serve(stop)   # a worker's: until `stop`

It claims jobs (line.JobQueue.claim), starts each in its own process (process.TrainingJob),
renews their leases every second with their curves so far (line.JobQueue.beat, whose answer
carries the stop flag), and records how each ended (line.JobQueue.finish). A job whose lease
it lost (it went silent too long, and another runner took the job) is killed unsaved.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time

from mnist_core.budget import process_memory
from mnist_core.jobs.line import HEARTBEAT_SECONDS, LEASE_SECONDS, RECENT_JOBS, JobQueue, QueuedJob, Status
from mnist_core.jobs.process import JobState, TrainingJob
from mnist_core.pipeline import LoadData
from mnist_core.store.database import Database, StoreError


class Runner:
    """Takes waiting jobs from the line and trains each in a process of its own (process.py), `slots`
    at a time. An app server's runner works only while there is work: `wake()` starts it (on a
    submit, or when a page is shown), and it ends when nobody is waiting. A worker's serves until
    told to stop (`serve(stop)`), looking for work every `poll` seconds; a stop lets its jobs
    save what they trained, then it returns."""

    def __init__(self, database_url: str, load_data: LoadData, slots: int = 1, runs_on: str = "",
                 lease: float = LEASE_SECONDS) -> None:
        self.url, self.load_data, self.slots, self.lease = database_url, load_data, slots, lease
        self.server = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.runs_on = runs_on or socket.gethostname()
        self.current: dict[str, TrainingJob] = {}  # job id -> its process, while training
        self._recent: dict[str, TrainingJob] = {}  # the last jobs trained here, for their curves
        self._thread: threading.Thread | None = None
        self._woken = False  # wake() was called since the thread last looked at the line
        self._lock = threading.Lock()

    def wake(self) -> None:
        """Train the waiting jobs: start the runner's thread, or, while it runs, have it look at
        the line once more before it ends (a job queued just after it found none)."""
        with self._lock:
            self._woken = True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, args=(None, 0.0), name="training-runner",
                                                daemon=True)
                self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the line is empty and the runner has ended (for tests and scripts)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def serve(self, stop: threading.Event, poll: float = 2.0) -> None:
        """Train jobs from the line until `stop` is set (a worker's life); then stop the jobs in
        training, which save what they trained, and return once they have."""
        self._run(stop, poll)

    def training_memory(self) -> int:
        """Bytes the training processes of this runner hold now: they are free again before the
        next job in the line starts here."""
        return sum(process_memory(p.pid) for p in list(self.current.values()) if p.pid)

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
            stopping = stop is not None and stop.is_set()
            idle = True  # the line had nothing for a free slot (or could not be read)
            try:
                queue = queue or JobQueue(Database.open(self.url), self.lease)
                if stop is not None:
                    queue.seen(self.server, self.runs_on, self.slots)
                idle = False
                while not stopping and len(self.current) < self.slots:
                    job = queue.claim(self.server, self.runs_on)
                    if job is None:
                        idle = True
                        break
                    self._start(job)
                for job_id, process in list(self.current.items()):
                    self._tend(queue, job_id, process, stopping)
            except StoreError:  # the waiting jobs wait; a worker looks again, a server at its next wake
                pass
            if not self.current and (stopping or (stop is None and idle)) and self._may_end(stop):
                return
            if self.current:
                time.sleep(HEARTBEAT_SECONDS)
            elif stop is not None:
                stop.wait(poll)

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

    def _start(self, job: QueuedJob) -> None:
        process = TrainingJob(job.config, job.preset, self.load_data, self.url, job.time_limit, owner=job.owner,
                              job=(job.id, self.server))
        process.start()
        self.current[job.id] = process

    def _tend(self, queue: JobQueue, job_id: str, process: TrainingJob, stopping: bool) -> None:
        """One heartbeat of one job: its end recorded, or its lease renewed and its stop flag read."""
        state = process.snapshot()
        if not process.alive():
            queue.finish(job_id, self.server, state.outcome or Status.FAILED, state.epochs_done, state.run_id,
                         state.error or state.note, state.history)
            self._forget(job_id)
            return
        answer = queue.beat(job_id, self.server, state.epochs_done, state.history)
        if answer is None:  # not ours any more (our lease ran out: someone else trains it)
            process.kill()
            self._forget(job_id)
        elif answer or stopping:
            process.request_stop()

    def _forget(self, job_id: str) -> None:
        process = self.current.pop(job_id)
        self._recent = {job_id: process, **dict(list(self._recent.items())[:RECENT_JOBS - 1])}
