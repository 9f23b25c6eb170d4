"""The training queue: one training at a time per server, everyone else waiting in a fair line.

    jobs = JobQueue(db)
    job = jobs.submit(config, "seed", visitor, budget)  # QueueError: one waiting job a person, a full line...
    jobs.line()                          # the running job, then the waiting ones, oldest first
    jobs.starts_in(jobs.line())          # job id -> estimated seconds until it starts
    jobs.cancel(job.id, visitor)         # waiting: it leaves the line; running: stops after its epoch
    Runner(url, load_mnist).wake()       # this server's worker: runs waiting jobs, one at a time

Jobs are rows in the database (SQLite, or the Postgres every app server shares), so a waiting
job survives a restart, and a job cut off by one (its server's heartbeat stops) is marked
interrupted at the next claim, never silently gone. Why a table and not a queue library: the
app must work with no server at all (SQLite) and share one line between app servers on
Postgres. Celery, RQ and Dramatiq need a broker (Redis, RabbitMQ); procrastinate and pgqueuer
are Postgres only; huey's SQL storage is SQLite or Postgres, not one code for both. A claim
here is one write transaction, and every write takes the database's revision lock first
(database.py), so two servers never take the same job: at a class's scale (a claim a minute)
that serializes claims as `SELECT ... FOR UPDATE SKIP LOCKED` would, on SQLite as on Postgres.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa

from mnist_core.budget import Budget, estimated_seconds, process_memory
from mnist_core.config import TrainConfig
from mnist_core.database import Database, StoreError, jobs
from mnist_core.job import JobState, JobStatus, TrainingJob
from mnist_core.owners import Actor, is_login
from mnist_core.pipeline import LoadData

HEARTBEAT_SECONDS = 1.0  # how often a running job's server says it is alive
STALE_SECONDS = 20.0  # a running job not heard of for this long was cut off
RECENT_JOBS = 8  # finished jobs whose progress a server keeps for their pages


class Status(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


WAITING_OR_RUNNING = (Status.QUEUED, Status.RUNNING)
NEXT = "next"  # starts_in's key for a job that is not in the line yet


class QueueError(Exception):
    """A job cannot be queued, cancelled or found; the message is one line for the user."""


@dataclass(frozen=True)
class QueuedJob:
    id: str
    owner: str
    preset: str
    config: TrainConfig
    time_limit: float
    status: Status
    created: float  # Unix times
    started: float | None
    finished: float | None
    heartbeat: float | None
    server: str | None
    stop_requested: bool
    epochs_done: int
    run_id: str | None
    message: str  # why it failed or stopped early

    @property
    def expected_seconds(self) -> float:
        """Its expected training time: the estimate, within its time limit."""
        return min(estimated_seconds(self.config), self.time_limit)


class JobQueue:
    """The jobs in one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def submit(self, config: TrainConfig, preset: str, actor: Actor, budget: Budget, address: str = "") -> QueuedJob:
        """Put a job in the line, within the line's limits, none of which a new browser window
        resets: one waiting job a person, `budget.jobs_per_hour` an hour; at most
        `budget.max_waiting` jobs waiting in all, `max_waiting_anonymous` of them from visitors
        without a login, `max_waiting_per_address` from one client `address` (a keyed tag of it,
        owners.Keys.tag; "" when the server does not know it). QueueError says which limit."""
        now = time.time()
        row = {"id": f"job-{secrets.token_hex(6)}", "owner": actor.owner, "preset": preset,
               "config": json.dumps(config.to_dict()), "time_limit": budget.seconds, "status": Status.QUEUED,
               "created": now, "stop_requested": False, "epochs_done": 0, "message": "", "address": address}
        waiting = jobs.c.status == Status.QUEUED
        with self.db.write() as conn:
            def count(*where: sa.ColumnElement) -> int:
                return conn.execute(sa.select(sa.func.count()).select_from(jobs).where(*where)).scalar_one()

            if count(waiting, jobs.c.owner == actor.owner):
                raise QueueError("you already have a job waiting: cancel it, or wait until it starts")
            recent = count(jobs.c.owner == actor.owner, jobs.c.created > now - 3600)
            if recent >= budget.jobs_per_hour:
                raise QueueError(f"you have started {recent} jobs in the last hour; this server allows "
                                 f"{budget.jobs_per_hour}")
            if count(waiting) >= budget.max_waiting:
                raise QueueError(f"the line is full ({budget.max_waiting} jobs waiting): try again when some have "
                                 "started")
            if not is_login(actor.owner) and count(waiting, ~jobs.c.owner.like("user:%")) >= \
                    budget.max_waiting_anonymous:
                raise QueueError(f"visitors without a login have {budget.max_waiting_anonymous} jobs waiting, this "
                                 "server's limit: log in, or try again when some have started")
            if address and count(waiting, jobs.c.address == address) >= budget.max_waiting_per_address:
                raise QueueError(f"{budget.max_waiting_per_address} jobs are waiting from your network address, this "
                                 "server's limit: try again when some have started")
            conn.execute(jobs.insert().values(**row))
        return self.get(row["id"])

    def get(self, job_id: str) -> QueuedJob:
        with self.db.read() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise QueueError(f"no job has the id {job_id[:60]!r}")
        return _job(row)

    def line(self) -> list[QueuedJob]:
        """The running jobs, then the waiting ones in the order they will start."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(jobs).where(jobs.c.status.in_(WAITING_OR_RUNNING)).order_by(
                (jobs.c.status == Status.QUEUED), jobs.c.created)).mappings().all()
        return [_job(row) for row in rows]

    def of(self, owner: str, limit: int = 5) -> list[QueuedJob]:
        """An owner's latest jobs, newest first."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(jobs).where(jobs.c.owner == owner).order_by(
                jobs.c.created.desc()).limit(limit)).mappings().all()
        return [_job(row) for row in rows]

    @staticmethod
    def starts_in(line: list[QueuedJob], now: float | None = None) -> dict[str, float]:
        """Job id -> estimated seconds until it starts, from the expected time of those ahead;
        NEXT -> when a job put in the line now would start."""
        now = now or time.time()
        ahead = sum(max(0.0, j.expected_seconds - (now - (j.started or now))) for j in line
                    if j.status == Status.RUNNING)
        starts = {}
        for job in line:
            if job.status == Status.QUEUED:
                starts[job.id] = ahead
                ahead += job.expected_seconds
        return {**starts, NEXT: ahead}

    def cancel(self, job_id: str, actor: Actor) -> None:
        """A waiting job leaves the line; a running one is stopped after its epoch (and saved)."""
        with self.db.write() as conn:
            row = conn.execute(sa.select(jobs.c.owner, jobs.c.status).where(jobs.c.id == job_id)).first()
            if row is None:
                raise QueueError(f"no job has the id {job_id[:60]!r}")
            actor.require(row.owner, "stop or cancel this job")
            if row.status == Status.QUEUED:
                conn.execute(jobs.update().where(jobs.c.id == job_id).values(
                    status=Status.CANCELLED, finished=time.time()))
            elif row.status == Status.RUNNING:
                conn.execute(jobs.update().where(jobs.c.id == job_id).values(stop_requested=True))
            else:
                raise QueueError(f"this job has already ended ({row.status})")

    def claim(self, server: str) -> QueuedJob | None:
        """Take the oldest waiting job for `server` to run, after marking jobs whose server went
        silent as interrupted; None when nobody waits."""
        now = time.time()
        stale = sa.and_(jobs.c.status == Status.RUNNING, jobs.c.heartbeat < now - STALE_SECONDS)
        with self.db.read() as conn:  # most wakes find nothing to do: no write, no new revision
            if conn.execute(sa.select(jobs.c.id).where(sa.or_(jobs.c.status == Status.QUEUED, stale))).first() is None:
                return None
        with self.db.write() as conn:
            conn.execute(jobs.update().where(stale).values(status=Status.INTERRUPTED, finished=now,
                     message="cut off: the server running it stopped (a restart?) before it ended"))
            job_id = conn.execute(sa.select(jobs.c.id).where(jobs.c.status == Status.QUEUED).order_by(
                jobs.c.created).limit(1)).scalar()
            if job_id is None:
                return None
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(
                status=Status.RUNNING, started=now, heartbeat=now, server=server))
        return self.get(job_id)

    def beat(self, job_id: str, epochs_done: int) -> bool:
        """The running job's server is alive, at `epochs_done`; True when a stop was asked for."""
        with self.db.write(bump=False) as conn:
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(
                heartbeat=time.time(), epochs_done=epochs_done))
            return bool(conn.execute(sa.select(jobs.c.stop_requested).where(jobs.c.id == job_id)).scalar())

    def finish(self, job_id: str, state: JobState) -> None:
        status = {JobStatus.DONE: Status.DONE, JobStatus.STOPPED: Status.STOPPED}.get(state.status, Status.FAILED)
        with self.db.write() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(
                status=status, finished=time.time(), epochs_done=state.epochs_done, run_id=state.run_id,
                message=state.error or state.note))


def _job(row: sa.RowMapping) -> QueuedJob:
    fields = {f.name for f in dataclasses.fields(QueuedJob)}
    values = {k: v for k, v in row.items() if k in fields}
    return QueuedJob(**{**values, "config": TrainConfig.from_dict(json.loads(row["config"])),
                        "status": Status(row["status"]), "stop_requested": bool(row["stop_requested"])})


class Runner:
    """This server's worker: takes waiting jobs from the line and trains them one at a time, each
    in its own process (job.py). It runs only while there is work: `wake()` starts it (on a
    submit, or when a page is shown), and it ends when nobody is waiting."""

    def __init__(self, database_url: str, load_data: LoadData) -> None:
        self.url, self.load_data = database_url, load_data
        self.server = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.current: tuple[str, TrainingJob] | None = None  # (job id, its process) while training
        self._recent: dict[str, TrainingJob] = {}  # the last jobs trained here, for their curves
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def wake(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="training-runner", daemon=True)
                self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the line is empty and the runner has ended (for tests and scripts)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def training_memory(self) -> int:
        """Bytes the training process of this server holds now (0 when none trains): they are
        free again before the next job in the line starts."""
        current = self.current
        return process_memory(current[1].pid) if current is not None and current[1].pid else 0

    def live(self, job_id: str) -> JobState | None:
        """The progress of `job_id` when this server trains it, or trained it lately: epochs,
        curves, every batch's loss."""
        current = self.current
        if current is not None and current[0] == job_id:
            return current[1].snapshot()
        recent = self._recent.get(job_id)
        return recent.snapshot() if recent is not None else None

    def _work(self) -> None:
        try:
            queue = JobQueue(Database.open(self.url))
            while (job := queue.claim(self.server)) is not None:
                self._train(queue, job)
        except StoreError:
            return  # the database is away: the jobs wait for it, and the next wake tries again

    def _train(self, queue: JobQueue, job: QueuedJob) -> None:
        process = TrainingJob(job.config, job.preset, self.load_data, self.url, job.time_limit, owner=job.owner)
        self.current = (job.id, process)
        process.start()
        try:
            while process.alive():
                if queue.beat(job.id, process.snapshot().epochs_done):
                    process.request_stop()
                process.join(HEARTBEAT_SECONDS)
            queue.finish(job.id, process.snapshot())
        finally:
            self._recent = {job.id: process, **dict(list(self._recent.items())[:RECENT_JOBS - 1])}
            self.current = None
