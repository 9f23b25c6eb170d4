"""The training line: jobs wait in a fair line in the database, and runners train them.

    jobs = JobQueue(db)
    job = jobs.submit(config, "seed", visitor, budget)  # QueueError: one waiting job a person, a full line...
    jobs.line()                          # the running jobs, then the waiting ones, oldest first
    jobs.cancel(job.id, visitor)         # waiting: it leaves the line; running: it stops within ~2 s
    admit(jobs, config, "seed", visitor, budget)   # every rule a job passes first, then submit

Jobs are rows in the database (SQLite, or the Postgres that app servers and workers on other
machines share). A runner claims a job (on Postgres `SELECT ... FOR UPDATE SKIP LOCKED`, so
workers never wait for one another; on SQLite, the write lock), trains it in a process of its
own (runner.py, process.py), and renews its lease every second: its heartbeat carries the epochs done and
their curves (`progress`), which any server shows, and answers with the stop flag. A job whose
runner vanished (SIGKILL, a power cut, the network gone: no heartbeat for `lease` seconds) goes
back to the head of the line once, then is marked interrupted with the reason (or, when its owner
had asked it to stop, ends stopped with nothing saved). Every time in a job's row is the
database's clock (store.database.clock), so no lease compares two machines' clocks.

Why a table and not a queue library: the app must work with no server at all (SQLite) and
share one line between servers and workers on Postgres. Celery, RQ and Dramatiq need a broker
(Redis, RabbitMQ); procrastinate and pgqueuer are Postgres only; huey's SQL storage is SQLite or
Postgres, not one code for both.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from mnist_core.config import TrainConfig
from mnist_core.errors import UserError
from mnist_core.owners import Actor, is_login
from mnist_core.store.database import Database, clock, jobs, runners
from mnist_core.store.runs import RunError
from mnist_core.training.budget import Budget

HEARTBEAT_SECONDS = 1.0  # how often a runner renews its jobs' leases (and reads their stop flags)
LEASE_SECONDS = 20.0  # a running job not heard of for this long lost its runner
MAX_ATTEMPTS = 2  # claims a job gets: once more after its runner vanished, then it is interrupted
RECENT_JOBS = 8  # finished jobs whose progress a runner keeps for their pages
CLAIM_WINDOW = 40  # waiting jobs a runner looks through for one that fits it (and for ones with the same settings)


class Status(enum.StrEnum):
    """A job's status, the one word for it everywhere: the database, the pages, the command line
    and its JSON, the docs."""

    WAITING = "waiting"  # in the line ("queued" in databases before schema v7)
    RUNNING = "running"
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


WAITING_OR_RUNNING = (Status.WAITING, Status.RUNNING)
NEXT = "next"  # the id of a job not in the line yet, when its start is planned (pace.plan)


class QueueError(UserError):
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
    attempts: int  # times it was claimed (twice: its first runner vanished)
    runs_on: str  # where it trains: "lab-3, GPU"
    progress: dict  # as its runner last said: the curves (History's keys), the epochs' times (runner.progress)


class JobQueue:
    """The jobs in one database; a running job whose runner is silent for `lease` seconds was cut off."""

    def __init__(self, db: Database, lease: float = LEASE_SECONDS) -> None:
        self.db, self.lease = db, lease

    def submit(self, config: TrainConfig, preset: str, actor: Actor, budget: Budget, address: str = "") -> QueuedJob:
        """Put a job in the line, within the line's limits, none of which a new browser window
        resets: one waiting job a person (the operator may queue several: a sweep),
        `budget.jobs_per_hour` an hour; at most `budget.max_waiting` jobs waiting in all,
        `max_waiting_anonymous` of them from visitors without a login, `max_waiting_per_address`
        from one client `address` (a keyed tag of it, owners.Keys.tag; "" when the server does
        not know it). QueueError says which limit. Idempotent: the same person's job with the
        same preset and settings, waiting or training, is returned instead of a second one (a
        double click, two tabs)."""
        settings = json.dumps(config.to_dict())
        row = {"id": f"job-{secrets.token_hex(6)}", "owner": actor.owner, "preset": preset,
               "config": settings, "time_limit": budget.seconds, "status": Status.WAITING,
               "created": clock(), "stop_requested": False, "epochs_done": 0, "message": "", "address": address}
        waiting = jobs.c.status == Status.WAITING
        with self.db.write() as conn:
            def count(*where: sa.ColumnElement) -> int:
                return conn.execute(sa.select(sa.func.count()).select_from(jobs).where(*where)).scalar_one()

            same = conn.execute(sa.select(jobs.c.id).where(
                jobs.c.owner == actor.owner, jobs.c.status.in_(WAITING_OR_RUNNING), jobs.c.preset == preset,
                jobs.c.config == settings, ~jobs.c.stop_requested)).scalar()
            if same is not None:
                return self._get(conn, same)
            if actor.owner and count(waiting, jobs.c.owner == actor.owner):
                raise QueueError("you already have a job waiting: cancel it, or wait until it starts")
            recent = count(jobs.c.owner == actor.owner, jobs.c.created > clock() - 3600)
            if recent >= budget.jobs_per_hour:
                raise QueueError(f"you have started {recent} jobs in the last hour; this server allows "
                                 f"{budget.jobs_per_hour}")
            if count(waiting) >= budget.max_waiting:
                raise QueueError(f"the line is full ({budget.max_waiting} jobs waiting): try again when some have "
                                 "started")
            if actor.owner and not is_login(actor.owner) and count(waiting, ~jobs.c.owner.like("user:%")) >= \
                    budget.max_waiting_anonymous:
                raise QueueError(f"visitors without a login have {budget.max_waiting_anonymous} jobs waiting, this "
                                 "server's limit: log in, or try again when some have started")
            if address and count(waiting, jobs.c.address == address) >= budget.max_waiting_per_address:
                raise QueueError(f"{budget.max_waiting_per_address} jobs are waiting from your network address, this "
                                 "server's limit: try again when some have started")
            conn.execute(jobs.insert().values(**row))
            return self._get(conn, row["id"])

    def now(self) -> float:
        """The clock the jobs' times are on: the database's."""
        return self.db.now()

    def get(self, job_id: str) -> QueuedJob:
        with self.db.read() as conn:
            return self._get(conn, job_id)

    @staticmethod
    def _get(conn: sa.Connection, job_id: str) -> QueuedJob:
        row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise QueueError(f"no job has the id {job_id[:60]!r}")
        return _job(row)

    def line(self) -> list[QueuedJob]:
        """The running jobs, then the waiting ones in the order they will start."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(jobs).where(jobs.c.status.in_(WAITING_OR_RUNNING)).order_by(
                (jobs.c.status == Status.WAITING), jobs.c.created)).mappings().all()
        return [_job(row) for row in rows]

    def recent(self, seconds: float, limit: int = 20) -> list[QueuedJob]:
        """The running jobs, and the `limit` latest that ended in the last `seconds`: newest first."""
        ended = jobs.c.status.in_((Status.DONE, Status.STOPPED))
        with self.db.read() as conn:
            rows = conn.execute(sa.select(jobs).where(sa.or_(jobs.c.status == Status.RUNNING, sa.and_(
                ended, jobs.c.finished > clock() - seconds))).order_by(jobs.c.started.desc()).limit(limit)).mappings()
            return [_job(row) for row in rows]

    def of(self, owner: str, limit: int = 5) -> list[QueuedJob]:
        """An owner's latest jobs, newest first."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(jobs).where(jobs.c.owner == owner).order_by(
                jobs.c.created.desc()).limit(limit)).mappings().all()
        return [_job(row) for row in rows]

    def cancel(self, job_id: str, actor: Actor) -> None:
        """A waiting job leaves the line; a running one is stopped after its epoch (and saved)."""
        with self.db.write() as conn:
            row = conn.execute(sa.select(jobs.c.owner, jobs.c.status).where(jobs.c.id == job_id)).first()
            if row is None:
                raise QueueError(f"no job has the id {job_id[:60]!r}")
            actor.require(row.owner, "stop or cancel this job")
            if row.status not in WAITING_OR_RUNNING:
                raise QueueError(f"this job has already ended ({row.status})")
            stop_or_cancel(conn, jobs.c.id == job_id)

    def claim(self, server: str, runs_on: str = "", fits: Callable[[QueuedJob], bool] | None = None
              ) -> QueuedJob | None:
        """Take the oldest waiting job for the runner `server` (shown as `runs_on`), of those
        `fits` allows (its memory, its length: runner.Runner says); None when nobody waits.
        First, jobs whose runner went silent go back to the head of the line (the first time),
        or end as interrupted (the second), or as stopped when a stop was asked for."""
        lost = sa.and_(jobs.c.status == Status.RUNNING, jobs.c.heartbeat < clock() - self.lease)
        with self.db.read() as conn:  # most calls find nothing to do: no write
            if conn.execute(sa.select(jobs.c.id).where(sa.or_(jobs.c.status == Status.WAITING, lost))).first() is None:
                return None
        with self.db.write(bump=False) as conn:  # the runs' listings do not depend on the line
            conn.execute(jobs.update().where(lost, jobs.c.run_id.is_not(None)).values(  # it saved, then went silent
                status=Status.DONE, finished=clock(), message="its runner went silent after saving the run"))
            conn.execute(jobs.update().where(lost, jobs.c.stop_requested).values(  # its owner wanted it to end
                status=Status.STOPPED, finished=clock(),
                message="its runner went silent before it saved: nothing was kept"))
            conn.execute(jobs.update().where(lost, jobs.c.attempts >= MAX_ATTEMPTS).values(
                status=Status.INTERRUPTED, finished=clock(),
                message=f"cut off twice: the machine training it stopped answering (silent for {self.lease:.0f} s)"))
            conn.execute(jobs.update().where(lost).values(status=Status.WAITING, server=None, heartbeat=None))
            for job in self._waiting(conn, CLAIM_WINDOW):
                if fits is None or fits(job):
                    return self._take(conn, [job.id], server, runs_on)[0]
        return None

    def claim_together(self, job: QueuedJob, server: str, runs_on: str, limit: int) -> list[QueuedJob]:
        """Take, for the runner that claimed `job`, up to `limit` waiting jobs with its preset,
        settings and time limit: one network trains for them all (each gets a run of its own).
        None for a fine-tune on labelled drawings (each person's own)."""
        if job.config.drawings:
            return []
        with self.db.write(bump=False) as conn:
            same = [j.id for j in self._waiting(conn, CLAIM_WINDOW) if (j.preset, j.config, j.time_limit)
                    == (job.preset, job.config, job.time_limit)][:limit]
            return self._take(conn, same, server, runs_on, started=job.started) if same else []

    @staticmethod
    def _waiting(conn: sa.Connection, limit: int) -> list[QueuedJob]:
        """The first `limit` waiting jobs, oldest first; on Postgres, rows that another runner
        is claiming now are skipped, not waited for."""
        query = sa.select(jobs).where(jobs.c.status == Status.WAITING).order_by(jobs.c.created).limit(limit)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [_job(row) for row in conn.execute(query).mappings()]

    def _take(self, conn: sa.Connection, ids: list[str], server: str, runs_on: str,
              started: float | None = None) -> list[QueuedJob]:
        """The jobs `ids` run now on `server`; `started`: the time of the job they train with."""
        conn.execute(jobs.update().where(jobs.c.id.in_(ids)).values(
            status=Status.RUNNING, started=started or clock(), heartbeat=clock(), server=server, runs_on=runs_on[:120],
            attempts=jobs.c.attempts + 1, epochs_done=0, progress="{}"))
        return [self._get(conn, job_id) for job_id in ids]

    def beat(self, job_ids: list[str], server: str, epochs_done: int, progress: dict) -> dict[str, bool]:
        """The runner `server` still trains the jobs `job_ids` (one training: several jobs with the
        same settings), at `epochs_done`, with their `progress` so far (the curves, the epochs'
        times: runner.progress), in one write. Job id -> True when a stop was asked for; a job
        that is no longer this runner's (its lease ran out and it went back to the line, or an
        admin removed it) is left out."""
        with self.db.write(bump=False) as conn:
            mine = sa.and_(jobs.c.id.in_(job_ids), jobs.c.server == server, jobs.c.status == Status.RUNNING)
            conn.execute(jobs.update().where(mine).values(heartbeat=clock(), epochs_done=epochs_done,
                                                          progress=json.dumps(progress)))
            return {row.id: bool(row.stop_requested)
                    for row in conn.execute(sa.select(jobs.c.id, jobs.c.stop_requested).where(mine))}

    def finish(self, job_id: str, server: str, status: Status, epochs_done: int, run_id: str | None, message: str,
               progress: dict) -> None:
        """The runner `server` says how the job ended: done, stopped or failed, and why."""
        with self.db.write() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.server == server).values(
                status=status, finished=clock(), epochs_done=epochs_done, run_id=run_id, message=message,
                progress=json.dumps(progress)))

    def seen(self, runner: str, runs_on: str, slots: int) -> None:
        """A runner says it is alive (the page tells when no worker has been seen for a while)."""
        with self.db.write(bump=False) as conn:
            found = conn.execute(runners.update().where(runners.c.name == runner).values(
                seen=clock(), runs_on=runs_on[:120], slots=slots)).rowcount
            if not found:
                conn.execute(runners.insert().values(name=runner, seen=clock(), runs_on=runs_on[:120], slots=slots))

    def runners(self, within: float = 60.0) -> list[tuple[str, int]]:
        """(where it runs, slots) of every runner seen in the last `within` seconds."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(runners.c.runs_on, runners.c.slots).where(
                runners.c.seen > clock() - within)).all()
        return [(r.runs_on, int(r.slots)) for r in rows]


def hold(job: tuple[str, str], conn: sa.Connection, run_id: str) -> None:
    """Inside a run's save (RunStore.save's `hold`, bound to `job`: its id and its runner): the
    job is still that runner's, and now names the run; RunError, and nothing saved, when its lease
    ran out and the job went back to the line or ended."""
    job_id, runner = job
    query = sa.select(jobs.c.server, jobs.c.status).where(jobs.c.id == job_id)
    row = conn.execute(query.with_for_update() if conn.dialect.name == "postgresql" else query).first()
    if row is None or row.server != runner or row.status != Status.RUNNING:
        raise RunError("this job is no longer this runner's (its lease ran out): another trains it")
    conn.execute(jobs.update().where(jobs.c.id == job_id).values(run_id=run_id))


def stop_or_cancel(conn: sa.Connection, where: sa.ColumnElement, message: str = "") -> int:
    """The cancel rule, for the jobs `where` selects, in the caller's write transaction (whoever
    checked that the actor may): a waiting job leaves the line, cancelled with `message`; a
    running one is asked to stop after its epoch, and saves what it trained. How many it found."""
    cancelled = conn.execute(jobs.update().where(where, jobs.c.status == Status.WAITING).values(
        status=Status.CANCELLED, finished=clock(), message=message)).rowcount
    stopped = conn.execute(jobs.update().where(where, jobs.c.status == Status.RUNNING).values(
        stop_requested=True)).rowcount
    return cancelled + stopped


def admit(queue: JobQueue, config: TrainConfig, preset: str, actor: Actor, budget: Budget, *, here: bool = True,
          free_bytes: int | None = None, address: str = "") -> QueuedJob:
    """Every rule a job passes before it waits in the line, in one place (the Train page and
    `train --queue` call it), each refusal one line: a fine-tune takes its base model's network
    (read from the model's file); font styles need fonts where it trains (checked when `here`,
    this machine, trains it); a fine-tune needs enough drawings its owner may learn from; then
    the budget's size and time, and memory (`free_bytes`, when `here`); then the line's limits."""
    from mnist_core.reading.model_check import open_model
    from mnist_core.store.drawings import DrawingStore, Filter
    from mnist_core.store.runs import RunStore, resolve_model
    from mnist_core.training.finetune import require_drawings
    from mnist_core.training.styles import training_designs

    if config.base_model:  # its plan, not its weights: the training process opens it to train
        with open_model(resolve_model(config.base_model, RunStore(queue.db))) as base:
            config = config.replace(**base.plan.shape_of())
    if here and config.styles:
        training_designs()  # NoFonts now, not after the job has waited in line
    if config.drawings:
        require_drawings(DrawingStore(queue.db).count(Filter(trusted_for=actor.owner)))
    budget.check(config, free_bytes if here else None)
    return queue.submit(config, preset, actor, budget, address)


def _job(row: sa.RowMapping) -> QueuedJob:
    fields = {f.name for f in dataclasses.fields(QueuedJob)}
    values = {k: v for k, v in row.items() if k in fields}
    return QueuedJob(**{**values, "config": TrainConfig.from_dict(json.loads(row["config"])),
                        "status": Status(row["status"]), "stop_requested": bool(row["stop_requested"]),
                        "progress": json.loads(row["progress"] or "{}")})
