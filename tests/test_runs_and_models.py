"""Saved runs and model files: atomic saves, listing, renaming, deleting, safe loading."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from mnist_core import atomic
from mnist_core.classifier import DEFAULT_MODEL, SEED_MODEL, ModelError, load_classifier
from mnist_core.config import TrainConfig
from mnist_core.runs import RunError, delete_run, list_runs, read_run, rename_run, runs_stamp, save_run
from mnist_core.train import train

SEED_H5 = Path(__file__).resolve().parents[2] / "shared" / "seed" / "mnist_dense_model.h5"


@pytest.fixture(scope="module")
def result():
    from tests.conftest import synthetic_digits
    from mnist_core.data import Mnist

    x, y = synthetic_digits(600, seed=5)
    xt, yt = synthetic_digits(100, seed=6)
    return train(TrainConfig(epochs=2, batch_size=50, learning_rate=0.5, hidden=(16,)), Mnist(x, y, xt, yt, "synthetic"))


def test_save_writes_both_formats_and_a_record(result, tmp_path):
    folder = save_run(result, tmp_path, preset="seed")
    record = json.loads((folder / "run.json").read_text())
    assert record["config"]["hidden"] == [16] and len(record["history"]["loss"]) == 2
    x = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    expected = result.model(x).numpy()
    for name in ("model.keras", "mnist_dense_model.h5"):  # what keras.models.load_model opens
        assert np.allclose(keras.models.load_model(folder / name)(x).numpy(), expected, atol=1e-6)
    assert np.allclose(load_classifier(folder / "model.keras").predict_proba(x), expected, atol=1e-6)


def test_list_rename_delete(result, tmp_path):
    a = save_run(result, tmp_path, preset="seed")
    b = save_run(result, tmp_path, preset="seed")
    assert a != b and {r.path for r in list_runs(tmp_path)} == {a, b}
    before = runs_stamp(tmp_path)
    rename_run(a, "  my   first run ")
    assert read_run(a).name == "my first run"
    assert runs_stamp(tmp_path) != before  # listings cached against the stamp see the new name
    with pytest.raises(RunError):
        rename_run(a, "   ")
    delete_run(b, tmp_path)
    assert [r.path for r in list_runs(tmp_path)] == [a]
    with pytest.raises(RunError):
        delete_run(tmp_path / ".." / "elsewhere", tmp_path)


def test_broken_folders_are_listed_not_raised(result, tmp_path):
    good = save_run(result, tmp_path)
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "run.json").write_text("{not json")
    (tmp_path / "nomodel").mkdir()
    (tmp_path / "nomodel" / "run.json").write_text("{}")
    runs = {r.path.name: r for r in list_runs(tmp_path)}
    assert runs[good.name].broken == ""
    assert runs["garbage"].broken and runs["nomodel"].broken == "model.keras is missing"


def test_failed_save_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic.staging_dir(tmp_path / "run") as tmp:
        (tmp / "half.bin").write_bytes(b"x")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_predict_proba_shapes_and_sums():
    clf = load_classifier(SEED_MODEL)
    one = clf.predict_proba(np.zeros((28, 28)))
    many = clf.predict_proba(np.zeros((3, 28, 28)))
    assert one.shape == (10,) and many.shape == (3, 10)
    assert np.allclose(many.sum(axis=1), 1, atol=1e-5)


def test_shipped_models_open():
    for path in (DEFAULT_MODEL, SEED_MODEL):
        assert load_classifier(path).flat_input


@pytest.mark.skipif(not SEED_H5.is_file(), reason="the seed's Keras 2 model is in ../shared/seed")
def test_keras2_h5_from_the_seed_opens():
    assert load_classifier(SEED_H5).model.layers[-1].name == "dense_layer"


def test_bad_models_are_refused(tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="cannot be opened"):
        load_classifier(junk)
    with pytest.raises(ModelError, match="expected a .keras"):
        load_classifier(tmp_path / "model.pkl")
    with pytest.raises(ModelError, match="no such"):
        load_classifier(tmp_path / "missing.h5")
    wrong = keras.Sequential([keras.Input((100,)), keras.layers.Dense(10, activation="softmax")])
    wrong.save(tmp_path / "wrong.keras")
    with pytest.raises(ModelError, match="not 784"):
        load_classifier(tmp_path / "wrong.keras")


def test_lambda_layers_are_refused_by_safe_mode(tmp_path):
    inputs = keras.Input((784,))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Lambda(lambda t: t * 2)(inputs))
    for name in ("lambda.keras", "lambda.h5"):  # safe mode covers the legacy format too
        keras.Model(inputs, outputs).save(tmp_path / name)
        with pytest.raises(ModelError, match="cannot be opened"):
            load_classifier(tmp_path / name)
