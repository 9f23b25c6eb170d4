"""Everyone who made something, as an admin sees them; removing all one person made at once."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.config import TrainConfig
from mnist_core.jobs.line import JobQueue, Status
from mnist_core.owners import OPERATOR, Actor, Keys, NotAllowed
from mnist_core.people import NoSuchPerson, find, people, remove_person
from mnist_core.store.database import Database
from mnist_core.store.drawings import DrawingStore
from mnist_core.store.runs import RunStore
from mnist_core.training.budget import Budget
from mnist_core.training.loop import train

TROLL, ANN = Actor("link:troll-window-1"), Actor("user:ann@example.org")


def test_an_admin_removes_everything_one_person_made_and_nothing_else(database_url, tiny_mnist):
    db = Database.open(database_url)
    keys, runs, drawings, jobs = Keys.of(db), RunStore(db), DrawingStore(db), JobQueue(db)
    result = train(TrainConfig(epochs=1, batch_size=100), tiny_mnist)
    for who in (TROLL, ANN):
        runs.save(result, owner=who.owner)
        jobs.submit(TrainConfig(epochs=1), "seed", who, Budget())
    drawings.add_many(np.zeros((30, 28, 28), np.uint8) + 255, [1] * 30, TROLL.owner)
    drawings.add(np.ones((28, 28)), 7, ANN.owner)
    everyone = people(db, keys)
    assert [(p.name, p.runs, p.drawings, p.jobs) for p in everyone] == [
        (keys.pseudonym(TROLL.owner), 1, 30, 1), (keys.pseudonym(ANN.owner), 1, 1, 1)]
    troll = find(db, keys, keys.pseudonym(TROLL.owner))
    with pytest.raises(NotAllowed):
        remove_person(db, troll.owner, ANN)
    removed = remove_person(db, troll.owner, OPERATOR)
    assert (removed.jobs, removed.runs, removed.drawings) == (1, 1, 30)
    assert [p.owner for p in people(db, keys)] == [ANN.owner]
    assert [r.owner for r in runs.list()] == [ANN.owner] and drawings.count() == 1
    assert {j.status for j in jobs.of(TROLL.owner)} == {Status.CANCELLED}
    with pytest.raises(NoSuchPerson, match="nobody here is called"):
        find(db, keys, "no-such-person")


def test_a_job_removed_by_an_admin_ends_as_a_cancel_does_with_its_time_and_why(sqlite_url):
    db = Database.open(sqlite_url)
    jobs = JobQueue(db)
    troll, ann = (jobs.submit(TrainConfig(epochs=1), "seed", who, Budget()) for who in (TROLL, ANN))
    jobs.cancel(ann.id, ANN)
    remove_person(db, TROLL.owner, OPERATOR)
    removed, cancelled = jobs.get(troll.id), jobs.get(ann.id)
    assert removed.status == cancelled.status == Status.CANCELLED and removed.message == "removed by an admin"
    assert removed.finished is not None and cancelled.finished is not None  # the one cancel rule: jobs/line.py
