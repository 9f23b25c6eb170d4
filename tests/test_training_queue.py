"""The training line: fair (one waiting job a person), in order, owned, and kept across restarts."""

from __future__ import annotations

import time

import pytest

from mnist_core.config import TrainConfig
from mnist_core.database import Database
from mnist_core.owners import Actor, NotAllowed
from mnist_core.runs import RunStore
from mnist_core.training_queue import STALE_SECONDS, JobQueue, QueueError, Runner, Status
from tests.helpers import ANN, BOB, CAT, load_tiny_mnist

QUICK = TrainConfig(epochs=3, batch_size=100, learning_rate=0.5)


@pytest.fixture
def jobs(database_url) -> JobQueue:
    return JobQueue(Database.open(database_url))


def test_one_waiting_job_a_person_in_the_order_they_came(jobs):
    a = jobs.submit(QUICK, "seed", ANN, time_limit=600)
    with pytest.raises(QueueError, match="already have a job waiting"):
        jobs.submit(QUICK, "seed", ANN, time_limit=600)
    b = jobs.submit(QUICK.replace(epochs=400), "seed", BOB, time_limit=600)
    assert [j.id for j in jobs.line()] == [a.id, b.id]
    starts = JobQueue.starts_in(jobs.line())
    assert starts[a.id] == 0 and starts[b.id] == pytest.approx(a.expected_seconds)
    assert jobs.claim("server-1").id == a.id  # the oldest first
    line = jobs.line()
    assert [(j.id, j.status) for j in line] == [(a.id, Status.RUNNING), (b.id, Status.QUEUED)]
    assert 0 < JobQueue.starts_in(line)[b.id] <= a.expected_seconds
    jobs.submit(QUICK, "seed", ANN, time_limit=600)  # Ann's first job runs: she may queue again
    jobs.cancel(jobs.line()[-1].id, ANN)  # her second job leaves the line, and still counts
    with pytest.raises(QueueError, match="you have started 2 jobs in the last hour; this server allows 2"):
        jobs.submit(QUICK, "seed", ANN, time_limit=600, per_hour=2)


def test_only_the_owner_or_an_admin_cancels_or_stops(jobs):
    a = jobs.submit(QUICK, "seed", ANN, time_limit=600)
    b = jobs.submit(QUICK, "seed", BOB, time_limit=600)
    with pytest.raises(NotAllowed, match="only its owner or an admin may stop or cancel this job"):
        jobs.cancel(a.id, BOB)
    assert jobs.claim("server-1").id == a.id
    with pytest.raises(NotAllowed):
        jobs.cancel(a.id, BOB)  # running: still not Bob's to stop
    assert jobs.beat(a.id, 1) is False
    jobs.cancel(a.id, ANN)
    assert jobs.beat(a.id, 2) is True  # the runner stops it after its epoch
    jobs.cancel(b.id, Actor("link:admin-token", admin=True))
    assert jobs.get(b.id).status == Status.CANCELLED and [j.id for j in jobs.line()] == [a.id]
    with pytest.raises(QueueError, match="already ended"):
        jobs.cancel(b.id, BOB)


def test_a_waiting_job_survives_a_restart_and_a_cut_off_one_is_marked(jobs, monkeypatch):
    a = jobs.submit(QUICK, "seed", ANN, time_limit=600)
    b = jobs.submit(QUICK, "seed", BOB, time_limit=600)
    jobs.claim("server-that-dies")
    restarted = JobQueue(Database.open(jobs.db.url))  # a new process, the same database
    assert restarted.get(b.id).status == Status.QUEUED
    later = time.time() + STALE_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)  # the dead server's heartbeat goes stale
    assert restarted.claim("server-2").id == b.id
    cut = restarted.get(a.id)
    assert cut.status == Status.INTERRUPTED and "cut off" in cut.message


def test_the_runner_trains_the_line_in_order_and_each_run_is_its_starters(database_url):
    jobs = JobQueue(Database.open(database_url))
    a = jobs.submit(QUICK, "seed", ANN, time_limit=600)
    b = jobs.submit(QUICK.replace(epochs=2), "seed", BOB, time_limit=600)
    c = jobs.submit(QUICK, "seed", CAT, time_limit=600)
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
