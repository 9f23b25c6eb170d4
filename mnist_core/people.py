"""Everyone who made something here, as an admin sees them, and removing all one person made.

    for p in people(db, keys): print(p.name, p.runs, p.drawings, p.jobs)   # pseudonyms, most first
    removed = remove_person(db, owner, admin)      # their waiting jobs, runs and drawings, at once

A visitor with many private windows is many people; a troll is one of them. An admin removes
what one of them made in one confirmed action (the page, or `python -m mnist_core people
remove NAME`): waiting jobs are cancelled, a running one is stopped (and the run it leaves
when it stops is theirs, to remove again), runs and drawings are deleted, in one transaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa

from mnist_core.errors import UserError
from mnist_core.jobs.line import WAITING_OR_RUNNING, stop_or_cancel
from mnist_core.owners import Actor, Keys, NotAllowed
from mnist_core.store.database import Database, drawings, jobs, runs
from mnist_core.store.runs import delete_runs


class NoSuchPerson(UserError):
    """Nobody has that pseudonym; the message is one line for the user."""


@dataclass(frozen=True)
class Person:
    owner: str  # never shown: the name is
    name: str  # the keyed pseudonym everyone sees
    runs: int
    drawings: int
    jobs: int  # waiting or running


@dataclass(frozen=True)
class Removed:
    jobs: int
    runs: int
    drawings: int

    def __str__(self) -> str:
        return f"{self.jobs} jobs stopped or cancelled, {self.runs} runs and {self.drawings} drawings deleted"


def people(db: Database, keys: Keys) -> list[Person]:
    """Everyone who has a run, a drawing or a job in the line, most things first."""
    with db.read() as conn:
        counts = [Counter(dict(conn.execute(sa.select(t.c.owner, sa.func.count()).where(*where).group_by(
            t.c.owner)).all()))
                  for t, where in ((runs, ()), (drawings, ()), (jobs, (jobs.c.status.in_(WAITING_OR_RUNNING),)))]
    owners = set().union(*counts)
    found = [Person(o, keys.pseudonym(o), counts[0][o], counts[1][o], counts[2][o]) for o in owners]
    return sorted(found, key=lambda p: (-(p.runs + p.drawings + p.jobs), p.name))


def find(db: Database, keys: Keys, name: str) -> Person:
    """A person by their pseudonym; NoSuchPerson when nobody has it."""
    for person in people(db, keys):
        if person.name == name.strip():
            return person
    raise NoSuchPerson(f"nobody here is called {name[:60]!r} (`python -m mnist_core people` lists them)")


def remove_person(db: Database, owner: str, actor: Actor) -> Removed:
    """Everything `owner` made, gone in one transaction: an admin only."""
    if not actor.admin:
        raise NotAllowed("only an admin may remove what someone made")
    with db.write() as conn:
        ended = stop_or_cancel(conn, jobs.c.owner == owner, "removed by an admin")
        run_ids = list(conn.execute(sa.select(runs.c.id).where(runs.c.owner == owner)).scalars())
        delete_runs(conn, run_ids)
        deleted = conn.execute(drawings.delete().where(drawings.c.owner == owner)).rowcount
    return Removed(ended, len(run_ids), deleted)

