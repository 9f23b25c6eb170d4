"""Fine-tuning on labelled drawings: the split, the optimizer it picks up, before/after, the scoreboard."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.config import PRESETS, TrainConfig
from mnist_core.reading.classifier import load_classifier
from mnist_core.scoreboard import scoreboard
from mnist_core.store.database import Database
from mnist_core.store.drawings import Collection, DrawingError, DrawingStore
from mnist_core.store.runs import RunStore
from mnist_core.training.finetune import holdout, people_in
from mnist_core.training.pipeline import train_and_save
from tests.helpers import load_tiny_mnist, synthetic_digits

BASE = TrainConfig(epochs=3, batch_size=50, learning_rate=0.002, hidden=(16,), optimizer="adam")


def collection(owners: list[str]) -> Collection:
    n = len(owners)
    x, y = synthetic_digits(n, seed=9)
    return Collection(np.array([f"d{i:04d}" for i in range(n)]), x, y, np.array(owners), np.full(n, -1, np.int16),
                      np.array([""] * n))


def test_whole_people_are_held_out_when_there_are_several():
    c = collection(["ann"] * 30 + ["bob"] * 30 + ["cy"] * 30 + ["dee"] * 30)
    held = holdout(c, 0.25, seed=1)
    assert people_in(c, held) == 1 and held.sum() == 30  # one whole person: a quarter
    assert not set(c.owners[held]) & set(c.owners[~held])
    assert np.array_equal(held, holdout(c, 0.25, seed=1))  # stable
    grown = collection(["ann"] * 30 + ["bob"] * 30 + ["cy"] * 30 + ["dee"] * 40)
    assert set(grown.owners[holdout(grown, 0.25, seed=1)]) == set(c.owners[held])  # more drawings: same people


@pytest.mark.parametrize("seed", range(12))
def test_one_who_drew_most_is_never_held_out(seed):
    """Ann drew 95, Bob 5: holding Ann out would leave 5 to train on (a bug, whatever the order)."""
    c = collection(["ann"] * 95 + ["bob"] * 5)
    held = holdout(c, 0.25, seed=seed)
    assert set(c.owners[held]) == {"bob"} and held.sum() == 5 and people_in(c, held) == 1


def test_several_people_are_held_out_up_to_about_the_share():
    c = collection([f"p{i}" for i in range(10) for _ in range(10)])  # ten people, ten each
    for seed in range(8):
        held = holdout(c, 0.25, seed=seed)
        assert held.sum() == 30 and people_in(c, held) == 3  # 25 asked, whole people: the next ten over


def test_one_person_gets_a_random_share_held_out():
    c = collection(["ann"] * 200)
    held = holdout(c, 0.25, seed=1)
    assert 30 < held.sum() < 70 and people_in(c, held) == 0
    with pytest.raises(DrawingError, match="needs at least 10 labelled drawings, and there are 3"):
        holdout(collection(["ann"] * 3), 0.25, seed=1)


def label_drawings(url: str, n: int = 120) -> DrawingStore:
    """Drawings in a 'style' the tiny MNIST lacks (its bars upright), by three people."""
    store = DrawingStore(Database.open(url))
    x, y = synthetic_digits(n, seed=11)
    x = x.transpose(0, 2, 1)
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        store.add(image, int(label), f"link:person-{i % 3}-token", predicted=0, model="default")
    return store


@pytest.mark.slow
def test_a_finetune_starts_from_the_base_learns_the_drawings_and_reports_before_and_after(sqlite_url, quick_own_heads):
    runs = RunStore(Database.open(sqlite_url))
    base = train_and_save(BASE, "adam", sqlite_url, load_data=load_tiny_mnist).run
    label_drawings(sqlite_url)
    config = PRESETS["finetune"].replace(epochs=12, base_model=base.id, replay=400, drawings=0.5, learning_rate=0.01,
                                         augment="none", batch_size=50)  # the tiny digits' bars are 2 px apart
    outcome = train_and_save(config, "finetune", sqlite_url, load_data=load_tiny_mnist, owner="link:person-0-token")
    run, ft = outcome.run, runs.finetune(outcome.run.id)
    assert run.config.hidden == (16,) and run.config.dropout == 0 and run.config.committee == 1  # the base's network
    assert ft.base_model == base.id and ft.people_held_out == 1 and len(ft.held_out) == 40 and len(ft.trained_on) == 80
    assert not set(ft.held_out) & set(ft.trained_on)
    assert ft.before.held_out < 0.3 and ft.after.held_out > 0.8  # it learned the new style, on people it never saw
    assert ft.after.mnist_test == pytest.approx(run.test_accuracy) and ft.before.mnist_test > 0.8
    assert runs.get(run.id).owner == "link:person-0-token"
    # the scoreboard leaves a fine-tune's own training drawings out of its score
    rows = {r.ref: r for r in scoreboard(runs, DrawingStore(runs.db).collection(), load_classifier)}
    assert rows[run.id].n == 40 and rows[base.id].n == 120 and rows["default"].n == 120
    assert rows[run.id].drawings == pytest.approx(ft.after.held_out, abs=1e-6)


@pytest.mark.slow
def test_a_finetune_goes_on_from_the_optimizer_saved_with_its_base(sqlite_url, monkeypatch):
    from mnist_core.training import loop as training

    base = train_and_save(BASE, "adam", sqlite_url, load_data=load_tiny_mnist).run
    seen = {}
    carry = training._carry_state

    def spy(trained, optimizer):
        seen["before"] = {v.path.split("/", 1)[-1]: v.numpy().copy() for v in trained.variables}
        seen["copied"] = carry(trained, optimizer)
        seen["after"] = {v.path.split("/", 1)[-1]: v.numpy().copy() for v in optimizer.variables}
        return seen["copied"]

    monkeypatch.setattr(training, "_carry_state", spy)
    train_and_save(BASE.replace(epochs=1, base_model=base.id), "custom", sqlite_url, load_data=load_tiny_mnist)
    moments = [k for k in seen["before"] if k.endswith(("momentum", "velocity"))]
    assert seen["copied"] == len(moments) == 8  # 2 layers x (kernel, bias) x (m, v)
    for k in moments:
        assert np.abs(seen["before"][k]).sum() > 0 and np.array_equal(seen["after"][k], seen["before"][k])
    assert int(seen["after"]["iteration"]) == 0  # its own step count: the new schedule starts afresh


def test_fine_tuning_with_too_few_drawings_is_one_line(sqlite_url):
    label_drawings(sqlite_url, n=4)
    with pytest.raises(DrawingError, match="at least 10"):
        train_and_save(PRESETS["finetune"].replace(base_model="seed", epochs=1), "finetune", sqlite_url,
                       load_data=load_tiny_mnist)
