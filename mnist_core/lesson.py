"""A class's runs as a lesson shows them: named by who and what, filtered to mine, the class's
or everyone's, and the best of each preset (the Runs page, the Draw page's model list, the
teacher's page).

    names = run_names(runs, keys.pseudonym)          # run id -> "brave-otter's seed #2"
    in_scope(runs, Scope.CLASS, me.owner)            # the runs of the last 12 hours: a lesson's
    best_of_each(runs)                               # preset -> its run with the best test accuracy

Names never carry an owner, only their pseudonym (owners.Keys.pseudonym): its two words, or the
whole of it where two people's two words are the same, so that two visitors' runs never share a
name. A run's own name (store.runs: "seed #2", a person's second run of that preset, or what they
renamed it) follows.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable

from mnist_core.store.runs import Run

CLASS_HOURS = 12  # "the class": runs made this long ago at most (a lesson, a school day), the teacher's too


class Scope(enum.StrEnum):
    MINE = "mine"
    CLASS = "the class"  # what was made in the last CLASS_HOURS
    EVERYONE = "everyone"


def in_scope(runs: Iterable[Run], scope: Scope, owner: str, now: dt.datetime | None = None) -> list[Run]:
    """The runs `scope` shows to `owner`, in their order."""
    if scope == Scope.EVERYONE:
        return list(runs)
    if scope == Scope.MINE:
        return [r for r in runs if owner and r.owner == owner]
    since = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(hours=CLASS_HOURS)
    return [r for r in runs if _created(r) >= since]


def run_names(runs: Iterable[Run], pseudonym: Callable[[str], str]) -> dict[str, str]:
    """Run id -> "<who>'s <name>": the owner's pseudonym, short unless two people share its
    first two words; the operator's runs are "the operator's"."""
    runs = list(runs)
    full = {r.owner: pseudonym(r.owner) for r in runs if r.owner}
    short = {owner: name.rsplit("-", 1)[0] for owner, name in full.items()}
    taken: dict[str, set[str]] = {}
    for owner, name in short.items():
        taken.setdefault(name, set()).add(owner)
    who = {owner: short[owner] if len(taken[short[owner]]) == 1 else full[owner] for owner in full}
    return {r.id: f"{who.get(r.owner, 'the operator')}'s {r.name}" for r in runs}


def best_of_each(runs: Iterable[Run]) -> dict[str, Run]:
    """Preset -> its run with the best test accuracy (runs without one left out)."""
    best: dict[str, Run] = {}
    for run in runs:
        if run.test_accuracy is not None and (run.preset not in best or
                                              run.test_accuracy > best[run.preset].test_accuracy):
            best[run.preset] = run
    return best


def _created(run: Run) -> dt.datetime:
    try:
        created = dt.datetime.fromisoformat(run.created)
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return created if created.tzinfo else created.replace(tzinfo=dt.UTC)
