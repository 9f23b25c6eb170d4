"""A class's runs: named by who and what, never two visitors alike; mine, the class's, everyone's;
the best of each preset; a config in one line a person reads; the gap where memorising starts."""

from __future__ import annotations

import dataclasses
import datetime as dt

from mnist_core.config import PRESETS
from mnist_core.curves import memorising_from
from mnist_core.lesson import Scope, best_of_each, in_scope, run_names
from mnist_core.store.runs import Run
from mnist_core.training.budget import summary

NOW = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)


def run(run_id: str, owner: str, name: str = "seed #1", preset: str = "seed", hours_ago: float = 1.0,
        accuracy: float = 0.9) -> Run:
    created = (NOW - dt.timedelta(hours=hours_ago)).isoformat(timespec="seconds")
    return Run(run_id, name, preset, PRESETS[preset], created, 200, False, accuracy, accuracy, 0.3, 5.0, owner)


def test_runs_are_named_by_who_and_what_and_two_people_never_share_a_name():
    pseudonyms = {"link:ann": "brave-otter-7k2m9q4x", "link:bob": "brave-otter-zz9m1q00",
                  "link:cat": "calm-yak-00000000"}
    runs = [run("1", "link:ann"), run("2", "link:bob"), run("3", "link:cat", "seed #2"), run("4", "", "seed 2026")]
    names = run_names(runs, pseudonyms.__getitem__)
    assert names == {"1": "brave-otter-7k2m9q4x's seed #1", "2": "brave-otter-zz9m1q00's seed #1",
                     "3": "calm-yak's seed #2", "4": "the operator's seed 2026"}


def test_mine_the_class_and_everyone():
    runs = [run("1", "link:ann"), run("2", "link:bob", hours_ago=30), run("3", "", hours_ago=2)]
    assert [r.id for r in in_scope(runs, Scope.MINE, "link:ann", NOW)] == ["1"]
    assert [r.id for r in in_scope(runs, Scope.CLASS, "link:ann", NOW)] == ["1", "3"]  # the last 12 hours
    assert [r.id for r in in_scope(runs, Scope.EVERYONE, "link:ann", NOW)] == ["1", "2", "3"]
    assert in_scope(runs, Scope.MINE, "", NOW) == []  # nobody's "mine" is the operator's


def test_the_best_run_of_each_preset():
    runs = [run("1", "a", accuracy=0.91), run("2", "b", accuracy=0.93), run("3", "c", preset="hidden", accuracy=0.97),
            dataclasses.replace(run("4", "d", accuracy=0.99), test_accuracy=None)]
    assert {p: r.id for p, r in best_of_each(runs).items()} == {"seed": "2", "hidden": "3"}


def test_settings_in_one_line_a_person_reads():
    assert summary(PRESETS["seed"]) == "1 layer, 7,850 weights, SGD 0.01, 200 epochs"
    assert summary(PRESETS["dropout"]) == \
        "3 layers (128, 128 hidden), 118,282 weights, SGD 0.01, dropout 0.3, 200 epochs"
    assert "=" not in summary(PRESETS["best"]) and summary(PRESETS["finetune"]).startswith("goes on training default")


def test_the_gap_is_named_once_validation_stops_improving_while_training_goes_on():
    falling = [1 / (e + 1) for e in range(60)]
    turning = [abs(e - 30) / 30 + 0.1 for e in range(60)]
    assert memorising_from({"loss": falling, "val_loss": turning}) == 31
    assert memorising_from({"loss": falling, "val_loss": falling}) is None  # still improving
    assert memorising_from({"loss": falling[:8], "val_loss": turning[:8]}) is None  # too soon to say
