"""Saved runs in the database (SQLite and a real Postgres), model files, safe loading."""

from __future__ import annotations

import json
import re

import keras
import numpy as np
import pytest

from mnist_core.config import TrainConfig
from mnist_core.owners import OPERATOR, Actor, NotAllowed
from mnist_core.reading.classifier import DEFAULT_MODEL, SEED_MODEL, ModelError, load_classifier
from mnist_core.store import database
from mnist_core.store.database import Database, StoreError
from mnist_core.store.runs import H5_FILE, MODEL_FILE, RunError, RunStore, model_files, resolve_model
from mnist_core.training.loop import train

CONFIG = TrainConfig(epochs=2, batch_size=50, learning_rate=0.001, hidden=(16,), optimizer="adam", lr_schedule="cosine")


@pytest.fixture(scope="module")
def result():
    from tests.helpers import load_tiny_mnist

    return train(CONFIG, load_tiny_mnist())


@pytest.fixture
def store(database_url) -> RunStore:
    return RunStore(Database.open(database_url))


def test_a_saved_run_exports_files_keras_opens_with_the_same_predictions(result, store, tmp_path):
    run = store.save(result, preset="seed")
    assert store.list() == [run] and store.get(run.id) == run and run.config == CONFIG
    assert store.history(run.id) == result.history
    written = store.export(run.id, tmp_path / "out")
    assert [p.name for p in written] == [MODEL_FILE, H5_FILE, "run.json"]
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["config"]["hidden"] == [16] and len(record["history"]["loss"]) == 2 and record["id"] == run.id
    x = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    expected = result.model(x).numpy()
    for name in (MODEL_FILE, H5_FILE):  # what keras.models.load_model opens
        assert np.allclose(keras.models.load_model(tmp_path / "out" / name)(x).numpy(), expected, atol=1e-6)
    assert np.allclose(load_classifier(store.model_path(run.id)).predict_proba(x), expected, atol=1e-6)


def test_model_keras_carries_the_optimizer_that_trained_it(result, store, tmp_path):
    """So that load_model(...).fit(...) goes on where training stopped: Adam's state after
    2 epochs of 800 images in batches of 50 (32 steps), and the cosine schedule over those 32."""
    run = store.save(result)
    store.export(run.id, tmp_path)
    model = keras.models.load_model(tmp_path / MODEL_FILE)
    assert isinstance(model.optimizer, keras.optimizers.Adam) and int(model.optimizer.iterations) == 32
    assert model.optimizer.get_config()["learning_rate"]["config"]["decay_steps"] == 32
    for saved, trained in zip(model.optimizer.variables, result.model.optimizer.variables, strict=True):
        np.testing.assert_allclose(saved.numpy(), trained.numpy(), atol=1e-7)  # the moments, not zeros
    assert np.abs(model.optimizer.variables[-1].numpy()).max() > 0
    x = np.random.default_rng(1).random((64, 784), dtype=np.float32)
    model.fit(x, keras.utils.to_categorical(np.arange(64) % 10, 10), batch_size=32, epochs=1, verbose=0)
    assert int(model.optimizer.iterations) == 34
    h5 = keras.models.load_model(tmp_path / H5_FILE)  # HDF5: weights and layers only, said plainly
    assert getattr(h5, "optimizer", None) is None


def test_list_get_rename_delete(result, store):
    a = store.save(result, preset="seed")
    b = store.save(result, preset="seed", name="twin")
    assert a.id != b.id and {r.id for r in store.list()} == {a.id, b.id}
    revision = store.db.revision()
    store.rename(a.id, "  my   first run ", OPERATOR)
    assert store.get(a.id).name == "my first run" == store.get("my first run").name
    assert store.db.revision() > revision  # listings cached against it see the new name
    with pytest.raises(RunError, match="empty"):
        store.rename(a.id, "   ", OPERATOR)
    store.rename(a.id, "twin", OPERATOR)
    with pytest.raises(RunError, match="2 runs are named 'twin'"):
        store.get("twin")
    store.delete(b.id, OPERATOR)
    assert [r.id for r in store.list()] == [a.id]
    with pytest.raises(RunError, match="no run"):
        store.get(b.id)
    with pytest.raises(RunError, match="no run"):
        store.delete(b.id, OPERATOR)


def test_only_the_owner_or_an_admin_may_change_a_run(result, store):
    ann, bob = Actor("link:ann-token-1"), Actor("link:bob-token-2")
    run = store.save(result, owner=ann.owner)
    assert store.get(run.id).owner == ann.owner
    for change in (lambda: store.rename(run.id, "mine now", bob), lambda: store.delete(run.id, bob)):
        with pytest.raises(NotAllowed, match="only its owner or an admin"):
            change()
    assert store.get(run.id).name == run.name  # nothing changed
    operators = store.save(result)  # from the command line: nobody's but the operator's
    with pytest.raises(NotAllowed):
        store.delete(operators.id, ann)
    store.rename(run.id, "ann's", ann)
    store.delete(run.id, Actor("link:someone-else", admin=True))
    assert [r.id for r in store.list()] == [operators.id]


def test_names_resolve_to_shipped_models_or_runs_never_to_paths(result, store):
    run = store.save(result, name="mine")
    assert resolve_model(None, store) == DEFAULT_MODEL and resolve_model("seed", None) == SEED_MODEL
    assert load_classifier(resolve_model("mine", store)).net.parameters() == result.model.count_params()
    for ref in ("../../etc/passwd", str(DEFAULT_MODEL), "models/default.keras"):
        with pytest.raises(RunError):
            resolve_model(ref, store)
    assert resolve_model(run.id, store).is_file()


def test_old_run_folders_are_imported_once_and_left_alone(result, store, tmp_path):
    old = tmp_path / "runs"
    folder = old / "20261101-120000-seed"
    folder.mkdir(parents=True)
    result.model.save(folder / MODEL_FILE)
    result.model.save(folder / H5_FILE)
    record = {"name": "from the folder days", "preset": "seed", "config": CONFIG.to_dict(), "history": result.history,
              "epochs_done": 2, "stopped": False, "val_accuracy": 0.5, "test_accuracy": 0.6, "test_loss": 1.0,
              "fit_seconds": 1.5, "created": "2026-11-01T12:00:00+00:00"}
    (folder / "run.json").write_text(json.dumps(record))
    (old / "broken").mkdir()
    (old / "broken" / "run.json").write_text("{not json")
    assert store.import_folders(old) == 1
    run = store.get("from the folder days")
    assert run.id == folder.name and run.test_accuracy == 0.6 and store.history(run.id) == result.history
    assert store.import_folders(old) == 0  # once
    store.delete(run.id, OPERATOR)
    assert store.import_folders(old) == 0  # a deleted run stays deleted
    assert sorted(p.name for p in folder.iterdir()) == sorted([MODEL_FILE, H5_FILE, "run.json"])  # nothing removed


def test_a_version_1_database_opens_in_this_app(result, database_url):
    """Version 1 had no owners and no jobs: its runs come through as the operator's."""
    import sqlalchemy as sa

    old = Database.open(database_url, migrate_to=1)
    record = {"id": "20261120-100000-seed-abcdef", "name": "from version 1", "preset": "seed",
              "created": "2026-11-20T10:00:00+00:00", "config": json.dumps(CONFIG.to_dict()), "epochs_done": 2,
              "stopped": False, "val_accuracy": 0.5, "test_accuracy": 0.6, "test_loss": 1.0, "fit_seconds": 1.0,
              "history": json.dumps(result.history)}
    with old.write() as conn:  # as version 1 wrote a run: no owner column yet
        conn.execute(sa.text(f"INSERT INTO runs ({', '.join(record)}) VALUES ({', '.join(':' + k for k in record)})"),
                     record)
        conn.execute(sa.text("INSERT INTO run_files (run_id, name, data) VALUES (:r, :n, :d)"),
                     [{"r": record["id"], "n": name, "d": data} for name, data in model_files(result.model).items()])
    assert old.schema_version() == 1
    store = RunStore(Database.open(database_url))
    assert store.db.schema_version() == len(database.MIGRATIONS)
    run = store.get("from version 1")
    assert run.owner == "" and run.test_accuracy == 0.6 and store.history(run.id) == result.history
    assert load_classifier(store.model_path(run.id)).net.parameters() == result.model.count_params()


def test_an_older_database_opens_in_a_newer_app(result, database_url, monkeypatch):
    old = RunStore(Database.open(database_url))
    run = old.save(result)
    created = []
    monkeypatch.setattr(database, "MIGRATIONS", [*database.MIGRATIONS, lambda conn: created.append(conn)])
    new = Database.open(database_url)  # the next version's app: one more migration
    assert len(created) == 1 and new.schema_version() == len(database.MIGRATIONS)
    assert RunStore(new).get(run.id) == run
    Database.open(database_url)
    assert len(created) == 1  # migrated once
    monkeypatch.setattr(database, "MIGRATIONS", database.MIGRATIONS[:-1])
    with pytest.raises(StoreError, match="made by a newer version of this app"):  # an older app refuses
        Database.open(database_url)


@pytest.mark.parametrize("url,message", [
    ("postgresql://ann:s3cret@127.0.0.1:1/runs", "cannot open"),
    ("mysql://ann:s3cret@127.0.0.1/runs", "only SQLite and Postgres"),
    ("not a url", "not a database URL"),
    ("sqlite:////proc/no/such/dir/x.db", "cannot|No such file|Permission|Read-only"),
])
def test_bad_databases_are_one_line_without_the_password(url, message):
    """The operator's detail says why, without the password; the message anyone sees says
    neither where the database is nor who connects to it."""
    with pytest.raises((StoreError, OSError)) as e:
        Database.open(url)
    detail = getattr(e.value, "detail", str(e.value))
    assert re.search(message, detail) and "s3cret" not in detail and "\n" not in detail
    if isinstance(e.value, StoreError):
        assert not any(inside in str(e.value) for inside in ("127.0.0.1", "ann:", "/runs", "/proc", "s3cret"))


def test_predict_proba_shapes_and_sums():
    clf = load_classifier(SEED_MODEL)
    one = clf.predict_proba(np.zeros((28, 28)))
    many = clf.predict_proba(np.zeros((3, 28, 28)))
    assert one.shape == (10,) and many.shape == (3, 10)
    assert np.allclose(many.sum(axis=1), 1, atol=1e-5)


def test_shipped_models_open():
    for path in (DEFAULT_MODEL, SEED_MODEL):
        assert load_classifier(path).net.input_shape == (784,)


@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning")  # Keras 3 on a Keras 2 config
def test_keras2_h5_from_the_seed_opens_and_reads_as_the_seed_model(seed):
    clf = load_classifier(seed.keras2_model)
    assert clf.net.parameters() == 7850 and clf.net.input_shape == (784,)  # one Dense(10) on 784 pixels
    x = np.random.default_rng(2).random((5, 784), dtype=np.float32)
    if not seed.real:  # the made one carries models/seed.keras's weights
        np.testing.assert_allclose(clf.predict_proba(x), load_classifier(SEED_MODEL).predict_proba(x), atol=1e-6)


def test_bad_models_are_refused(tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="cannot be read as a dense Keras model"):
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
        with pytest.raises(ModelError, match="has a Lambda layer; this app loads dense networks only"):
            load_classifier(tmp_path / name)


def test_the_model_cache_counts_bytes_and_loads_once():
    from mnist_core.reading.classifier import ClassifierCache

    # room for the seed model alone: 7,850 parameters and its "not a digit" statistics
    cache = ClassifierCache(max_bytes=4 * 10_000 + load_classifier(SEED_MODEL).novelty.nbytes)
    seed = cache.get(SEED_MODEL)
    assert cache.get(SEED_MODEL) is seed  # loaded once
    default = cache.get(DEFAULT_MODEL)  # 1.9 million parameters: the seed model is dropped
    assert cache.get(DEFAULT_MODEL) is default and cache.get(SEED_MODEL) is not seed


@pytest.mark.mnist
def test_the_shipped_models_score_what_the_scoreboard_says(real_mnist):
    from mnist_core.evaluation import evaluate
    from mnist_core.reading.classifier import SHIPPED_MODELS, SHIPPED_TEST_ACCURACY

    for name, path in SHIPPED_MODELS.items():
        report = evaluate(load_classifier(path), real_mnist, mistakes=0)
        assert report.accuracy == pytest.approx(SHIPPED_TEST_ACCURACY[name], abs=5e-5)
