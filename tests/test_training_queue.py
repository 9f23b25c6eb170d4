"""The training line: fair (one waiting job a person), in order, owned, and kept across restarts."""

from __future__ import annotations

import functools
import time
from types import SimpleNamespace

import pytest

from mnist_core.config import METRICS, TrainConfig
from mnist_core.jobs.line import LEASE_SECONDS, JobQueue, QueueError, Status, hold
from mnist_core.jobs.runner import Runner
from mnist_core.owners import Actor, NotAllowed
from mnist_core.store.database import Database, StoreError
from mnist_core.store.database import jobs as jobs_table
from mnist_core.store.runs import RunError, RunStore
from mnist_core.training.budget import Budget
from mnist_core.training.watching.film import FILM_FILE, Film
from tests.helpers import ANN, BOB, CAT, load_tiny_mnist, wait_until

LIMITS = Budget(seconds=600)
QUICK = TrainConfig(epochs=3, batch_size=100, learning_rate=0.5)


@pytest.fixture
def jobs(database_url) -> JobQueue:
    return JobQueue(Database.open(database_url))


def test_one_waiting_job_a_person_in_the_order_they_came(jobs):
    a = jobs.submit(QUICK, "seed", ANN, LIMITS)
    assert jobs.submit(QUICK, "seed", ANN, LIMITS).id == a.id  # a double click, a second tab: the same job
    with pytest.raises(QueueError, match="already have a job waiting"):
        jobs.submit(QUICK.replace(epochs=2), "seed", ANN, LIMITS)
    b = jobs.submit(QUICK.replace(epochs=400), "seed", BOB, LIMITS)
    assert [j.id for j in jobs.line()] == [a.id, b.id]
    assert jobs.claim("server-1").id == a.id  # the oldest first
    line = jobs.line()
    assert [(j.id, j.status) for j in line] == [(a.id, Status.RUNNING), (b.id, Status.WAITING)]
    assert jobs.submit(QUICK, "seed", ANN, LIMITS).id == a.id  # still the same job, now training
    jobs.submit(QUICK.replace(epochs=2), "seed", ANN, LIMITS)  # Ann's first job runs: she may queue another
    jobs.cancel(jobs.line()[-1].id, ANN)  # her second job leaves the line, and still counts
    with pytest.raises(QueueError, match="you have started 2 jobs in the last hour; this server allows 2"):
        jobs.submit(QUICK.replace(epochs=5), "seed", ANN, Budget(seconds=600, jobs_per_hour=2))


def test_only_the_owner_or_an_admin_cancels_or_stops(jobs):
    a = jobs.submit(QUICK, "seed", ANN, LIMITS)
    b = jobs.submit(QUICK, "seed", BOB, LIMITS)
    with pytest.raises(NotAllowed, match="only its owner or an admin may stop or cancel this job"):
        jobs.cancel(a.id, BOB)
    assert jobs.claim("server-1").id == a.id
    with pytest.raises(NotAllowed):
        jobs.cancel(a.id, BOB)  # running: still not Bob's to stop
    assert jobs.beat([a.id], "server-1", 1, {}) == {a.id: False}
    jobs.cancel(a.id, ANN)
    assert jobs.beat([a.id], "server-1", 2, {}) == {a.id: True}  # the runner stops it
    jobs.cancel(b.id, Actor("link:admin-token", admin=True))
    assert jobs.get(b.id).status == Status.CANCELLED and [j.id for j in jobs.line()] == [a.id]
    with pytest.raises(QueueError, match="already ended"):
        jobs.cancel(b.id, BOB)


def silence(db: Database, job_id: str, seconds: float) -> None:
    """The job's runner has said nothing for `seconds` more (its heartbeat moved back)."""
    with db.write() as conn:
        conn.execute(jobs_table.update().where(jobs_table.c.id == job_id).values(
            heartbeat=jobs_table.c.heartbeat - seconds))


def test_a_job_whose_runner_vanished_goes_back_to_the_head_once_then_is_interrupted(jobs):
    a = jobs.submit(QUICK, "seed", ANN, LIMITS)
    b = jobs.submit(QUICK, "seed", BOB, LIMITS)
    jobs.claim("server-that-dies")
    restarted = JobQueue(Database.open(jobs.db.url))  # a new process, the same database
    assert restarted.get(b.id).status == Status.WAITING
    silence(jobs.db, a.id, LEASE_SECONDS + 1)  # the dead server's heartbeat goes stale
    again = restarted.claim("server-2")
    assert again.id == a.id and again.attempts == 2 and again.server == "server-2"  # back at the head of the line
    assert restarted.beat([a.id], "server-that-dies", 3, {}) == {}  # the lost runner may not renew it
    silence(jobs.db, a.id, LEASE_SECONDS + 1)  # server-2 dies too
    assert restarted.claim("server-3").id == b.id
    cut = restarted.get(a.id)
    assert cut.status == Status.INTERRUPTED and "cut off twice" in cut.message


@pytest.mark.parametrize("worker_skew, server_skew", [(-60.0, 0.0), (0.0, 60.0)], ids=["worker-late", "server-early"])
def test_a_worker_whose_clock_is_60_s_off_keeps_its_job(jobs, monkeypatch, worker_skew, server_skew):
    """Leases are read on the database's clock: no machine's own clock, however wrong, makes a
    live job look silent to another runner."""
    a = jobs.submit(QUICK, "seed", ANN, LIMITS)
    b = jobs.submit(QUICK, "seed", BOB, LIMITS)
    true_time = time.time
    monkeypatch.setattr(time, "time", lambda: true_time() + worker_skew)  # the worker's machine
    assert jobs.claim("worker-with-a-wrong-clock").id == a.id
    assert jobs.beat([a.id], "worker-with-a-wrong-clock", 1, {}) == {a.id: False}
    monkeypatch.setattr(time, "time", lambda: true_time() + server_skew)  # another server claims next
    assert jobs.claim("server-2").id == b.id  # the next job, not the worker's live one
    held = jobs.get(a.id)
    assert held.status == Status.RUNNING and held.server == "worker-with-a-wrong-clock" and held.attempts == 1
    assert jobs.beat([a.id], "worker-with-a-wrong-clock", 2, {}) == {a.id: False}


def test_a_stopped_job_whose_runner_vanished_is_not_trained_again(jobs):
    a = jobs.submit(QUICK, "seed", ANN, LIMITS)
    jobs.claim("server-that-dies")
    jobs.cancel(a.id, ANN)  # Ann pressed Stop; then her job's server went silent before it saved
    silence(jobs.db, a.id, LEASE_SECONDS + 1)
    assert jobs.claim("server-2") is None
    ended = jobs.get(a.id)
    assert ended.status == Status.STOPPED and ended.run_id is None and "nothing" in ended.message


def test_a_run_is_saved_only_by_the_runner_holding_its_job(jobs):
    """A runner whose lease ran out (it stalled; the job went back to the line and another runner
    took it) saves nothing; the runner holding the job saves, and the job names the run in the
    same transaction (jobs.line.hold, through RunStore.save)."""
    a = jobs.submit(QUICK, "seed", ANN, LIMITS)
    jobs.claim("server-that-stalls")
    silence(jobs.db, a.id, LEASE_SECONDS + 1)
    assert jobs.claim("server-2").id == a.id
    store = RunStore(jobs.db)
    result = SimpleNamespace(config=QUICK, epochs_done=3, stopped=False, history={m: [0.5] * 3 for m in METRICS},
                             test_accuracy=0.9, test_loss=0.3, fit_seconds=1.0)
    files = {"model.keras": b"weights"}
    with pytest.raises(RunError, match="no longer this runner's"):
        store.save(result, "seed", owner=ANN.owner, hold=functools.partial(hold, (a.id, "server-that-stalls")),
                   files=files)
    assert store.list() == [] and jobs.get(a.id).run_id is None
    run = store.save(result, "seed", owner=ANN.owner, hold=functools.partial(hold, (a.id, "server-2")), files=files)
    assert [r.id for r in store.list()] == [run.id] and jobs.get(a.id).run_id == run.id


@pytest.mark.slow
def test_the_runner_trains_the_line_in_order_and_each_run_is_its_starters(database_url):
    jobs = JobQueue(Database.open(database_url))
    a = jobs.submit(QUICK, "seed", ANN, LIMITS)
    b = jobs.submit(QUICK.replace(epochs=2), "seed", BOB, LIMITS)
    c = jobs.submit(QUICK, "seed", CAT, LIMITS)
    jobs.cancel(c.id, CAT)
    runner = Runner(database_url, load_tiny_mnist)
    runner.wake()
    runner.join(240)
    done = {j: jobs.get(j) for j in (a.id, b.id)}
    assert all(job.status == Status.DONE for job in done.values()), done
    assert done[a.id].started < done[b.id].started and done[a.id].finished <= done[b.id].started + 1
    store = RunStore(Database.open(database_url))
    assert store.get(done[a.id].run_id).owner == ANN.owner and store.get(done[b.id].run_id).owner == BOB.owner
    assert store.get(done[b.id].run_id).epochs_done == 2 and jobs.get(c.id).status == Status.CANCELLED
    assert jobs.line() == []


def test_ten_fresh_identities_cannot_queue_more_than_the_line_allows(jobs):
    """A private window is a new identity; the line's own limits are not per identity."""
    shared = Budget(seconds=600, max_waiting=6, max_waiting_anonymous=4, max_waiting_per_address=3)
    windows = [Actor(f"link:window-{i}") for i in range(10)]  # one person, ten private windows
    queued, refusals = [], []
    for i, window in enumerate(windows):
        try:
            queued.append(jobs.submit(QUICK, "seed", window, shared, address="tag-of-one-address" if i < 5 else ""))
        except QueueError as e:
            refusals.append(str(e))
    assert len(queued) == 4  # visitors without a login, together
    assert refusals[0].startswith("3 jobs are waiting from your network address")
    assert all("without a login" in r for r in refusals[1:] if "network address" not in r)
    logged_in = [Actor(f"user:pupil{i}@school.org") for i in range(4)]
    for pupil in logged_in[:2]:
        jobs.submit(QUICK, "seed", pupil, shared)  # a login is not counted with the anonymous
    with pytest.raises(QueueError, match=r"the line is full \(6 jobs waiting\)"):
        jobs.submit(QUICK, "seed", logged_in[2], shared)
    assert len([j for j in jobs.line() if j.status == Status.WAITING]) == 6


@pytest.mark.slow
def test_a_job_submitted_while_the_runner_is_ending_is_not_left_waiting(database_url, monkeypatch):
    """The lost wake-up: the runner's claim found nothing, and before its thread ended a visitor
    queued a job and woke it (the thread still alive, so nothing new started)."""
    jobs = JobQueue(Database.open(database_url))
    runner = Runner(database_url, load_tiny_mnist)
    claim, late = JobQueue.claim, []

    def claim_then_a_visitor_submits(self, *args, **kwargs):
        job = claim(self, *args, **kwargs)
        if job is None and not late:  # between this empty claim and the thread's end
            late.append(jobs.submit(QUICK, "seed", ANN, LIMITS))
            runner.wake()
        return job

    monkeypatch.setattr(JobQueue, "claim", claim_then_a_visitor_submits)
    runner.wake()
    runner.join(240)
    assert late and jobs.get(late[0].id).status == Status.DONE, jobs.get(late[0].id)


@pytest.mark.slow
def test_the_runner_keeps_its_jobs_through_a_database_outage(database_url, monkeypatch):
    """A StoreError while jobs train (the database away for a moment) must not end the runner:
    their heartbeats would stop, and another server would train them again."""
    jobs = JobQueue(Database.open(database_url))
    job = jobs.submit(QUICK.replace(epochs=6), "seed", ANN, LIMITS)
    beat, failures = JobQueue.beat, []

    def beat_through_an_outage(self, *args, **kwargs):
        if len(failures) < 3:
            failures.append(1)
            raise StoreError("the database is unavailable: cannot write")
        return beat(self, *args, **kwargs)

    monkeypatch.setattr(JobQueue, "beat", beat_through_an_outage)
    runner = Runner(database_url, load_tiny_mnist)
    runner.wake()
    runner.join(240)
    assert len(failures) == 3 and jobs.get(job.id).status == Status.DONE, jobs.get(job.id)


@pytest.mark.slow
def test_jobs_with_the_same_settings_train_together_and_each_gets_its_own_run(database_url):
    jobs = JobQueue(Database.open(database_url))
    dan = Actor("link:dan-token-4")
    alone = jobs.submit(QUICK.replace(epochs=2), "seed", dan, LIMITS)
    same = [jobs.submit(QUICK.replace(epochs=5000), "seed", who, LIMITS) for who in (ANN, BOB, CAT)]
    runner = Runner(database_url, load_tiny_mnist)
    runner.wake()
    wait_until(lambda: jobs.get(same[0].id).epochs_done >= 2, 240, "the three to train")
    assert {jobs.get(j.id).status for j in same} == {Status.RUNNING}
    assert len({jobs.get(j.id).started for j in same}) == 1  # one training for the three
    jobs.cancel(same[1].id, BOB)  # Bob leaves with the network as it is; Ann and Cat train on
    wait_until(lambda: jobs.get(same[1].id).status == Status.STOPPED, 30, "Bob's job to end")
    assert jobs.get(same[0].id).status == Status.RUNNING
    for j in (same[0], same[2]):
        jobs.cancel(j.id, ANN if j is same[0] else CAT)
    runner.join(240)
    ended = [jobs.get(j.id) for j in (alone, *same)]
    assert [j.status for j in ended] == [Status.DONE, Status.STOPPED, Status.STOPPED, Status.STOPPED], ended
    store = RunStore(jobs.db)
    runs = [store.get(j.run_id) for j in ended]
    assert [r.owner for r in runs] == [dan.owner, ANN.owner, BOB.owner, CAT.owner]
    assert [r.name for r in runs] == ["seed #1"] * 4  # each person's first: pages put who it is in front
    assert runs[2].epochs_done <= runs[1].epochs_done and all(r.stopped for r in runs[1:])
    for run in runs:  # Bob's too, who left early: the film up to his last epoch
        film = Film.from_bytes(store.file(run.id, FILM_FILE))
        assert film.epochs[0] == 0 and film.epochs[-1] == run.epochs_done, (run.name, film.epochs)


def test_a_job_an_older_app_left_queued_is_waiting_after_the_upgrade(sqlite_url):
    import sqlalchemy as sa

    old = Database.open(sqlite_url, migrate_to=6)
    job = JobQueue(old).submit(QUICK, "seed", Actor("link:ann"), Budget())
    with old.write() as conn:  # as the app before one word for a status wrote it
        conn.execute(jobs_table.update().values(status="queued"))
    line = JobQueue(Database.open(sqlite_url)).line()
    assert [(j.id, j.status) for j in line] == [(job.id, Status.WAITING)] and Status.WAITING == "waiting"
    with old.read() as conn:
        assert conn.execute(sa.select(jobs_table.c.status)).scalar_one() == "waiting"


def test_a_finetune_is_admitted_with_its_bases_network_read_from_its_plan(sqlite_url, monkeypatch):
    from mnist_core.config import PRESETS
    from mnist_core.jobs.line import admit
    from mnist_core.reading import classifier

    def opened(*args, **kwargs):
        raise AssertionError("the base model's weights were read to learn its shape")

    monkeypatch.setattr(classifier, "load_classifier", opened)
    config = PRESETS["finetune"].replace(base_model="default", drawings=0.0, hidden=(8,))
    job = admit(JobQueue(Database.open(sqlite_url)), config, "finetune", Actor("link:ann"), Budget(), here=False)
    assert (job.config.hidden, job.config.dropout, job.config.committee) == ((1024, 1024), 0.2, 1)
