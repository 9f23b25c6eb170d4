"""Files that declare their own size: every bomb is refused from its metadata, with one line,
before anything is allocated; legal models up to the limit still load."""

from __future__ import annotations

import subprocess
import sys

import keras
import pytest

from mnist_core.data import DataError, load_mnist
from mnist_core.reading.classifier import DEFAULT_MODEL, SEED_MODEL, ModelError, load_classifier
from mnist_core.reading.model_check import parameter_limit
from tests import bombs
from tests.helpers import ROOT, subprocess_env


@pytest.mark.parametrize("make,message", [
    (bombs.keras_unwritten, "declares 636 million parameters; this app accepts up to"),
    (bombs.keras_deflated, "compressed"),
    (bombs.h5_gzip, "declares 636 million parameters"),
])
def test_model_bombs_are_refused_with_one_line(make, message, tmp_path):
    path = make(tmp_path / ("bomb.h5" if make is bombs.h5_gzip else "bomb.keras"))
    assert path.stat().st_size < 400_000
    with pytest.raises(ModelError, match=message) as e:
        load_classifier(path)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("make,message", [(bombs.idx_billion, "declares"), (bombs.npz_huge, "declares")])
def test_data_bombs_are_refused_with_one_line(make, message, tmp_path):
    path = make(tmp_path / ("idx" if make is bombs.idx_billion else "mnist.npz"))
    with pytest.raises(DataError, match=message) as e:
        load_mnist(path)
    assert "\n" not in str(e.value)


MEASURE = """
import resource, sys
from pathlib import Path
from mnist_core.reading.classifier import ModelError, load_classifier
from mnist_core.data import DataError, load_mnist
from tests import bombs
import keras  # loaded before the baseline: only what the bombs would take counts
folder = Path(sys.argv[1])
files = [bombs.keras_unwritten(folder / "a.keras"), bombs.keras_deflated(folder / "b.keras"),
         bombs.h5_gzip(folder / "c.h5")]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for path in files:
    try:
        load_classifier(path)
    except ModelError:
        pass
for path in (bombs.idx_billion(folder / "idx"), bombs.npz_huge(folder / "d.npz")):
    try:
        load_mnist(path)
    except DataError:
        pass
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


@pytest.mark.slow
def test_refusing_every_bomb_takes_under_300_mb(tmp_path):
    out = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env=subprocess_env())
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.split()[-1]) < 300  # MB of peak memory the five bombs added


def test_legal_models_up_to_the_limit_load(tmp_path):
    for path in (DEFAULT_MODEL, SEED_MODEL):
        load_classifier(path)
    wide = keras.Sequential([keras.Input((784,)), keras.layers.Dense(2048, activation="relu"),
                             keras.layers.Dense(2048, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    wide.save(tmp_path / "wide.keras")
    wide.save(tmp_path / "wide.h5")
    assert wide.count_params() < parameter_limit()
    for name in ("wide.keras", "wide.h5"):
        assert load_classifier(tmp_path / name).net.parameters() == wide.count_params()


def test_the_limit_follows_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_MAX_PARAMETERS", "5000")
    with pytest.raises(ModelError, match=r"declares 7,850 parameters; this app accepts up to 5,000"):
        load_classifier(SEED_MODEL)


def test_layers_a_dense_network_has_no_use_for_are_refused(tmp_path):
    model = keras.Sequential([keras.Input((784,)), keras.layers.Embedding(10**4, 8), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    model.save(tmp_path / "embedding.keras")
    with pytest.raises(ModelError, match="Embedding layer; this app loads dense networks only"):
        load_classifier(tmp_path / "embedding.keras")


def test_a_committee_loads_and_its_members_parameters_all_count(tmp_path, monkeypatch):
    from mnist_core.config import TrainConfig
    from mnist_core.training.model import build_model, members

    committee = build_model(TrainConfig(hidden=(32,), committee=3))
    assert len(members(committee)) == 3
    for name in ("committee.keras", "committee.h5"):
        committee.save(tmp_path / name)
        assert load_classifier(tmp_path / name).net.parameters() == committee.count_params() == 3 * 25_450
    monkeypatch.setenv("MNIST_MAX_PARAMETERS", "50000")  # one member fits, three do not
    with pytest.raises(ModelError, match="declares 76,350 parameters; this app accepts up to 50,000"):
        load_classifier(tmp_path / "committee.keras")


def test_models_nested_deeper_than_a_committee_are_refused(tmp_path):
    inner = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")], name="inner")
    middle = keras.Sequential([keras.Input((784,)), inner], name="middle")
    outer = keras.Sequential([keras.Input((784,)), middle], name="outer")
    nested = keras.Sequential([keras.Input((784,)), outer], name="nested")
    nested.save(tmp_path / "nested.keras")
    with pytest.raises(ModelError, match="models nested over 2 deep"):
        load_classifier(tmp_path / "nested.keras")


@pytest.mark.parametrize("size", [1_020_000, 2_000_000])
def test_a_zip_entry_is_a_bomb_by_one_rule_for_models_and_drawings(tmp_path, size):
    """A megabyte of zeros deflates 1000:1: a model file and a zip of drawings refuse it alike."""
    import io
    import zipfile

    from mnist_core.drawing_files import read_files
    from mnist_core.store.drawings import DrawingError
    from tests.test_model_check import keras_zip, seed_entries

    model = keras_zip(tmp_path / "model.keras", seed_entries())
    drawings = io.BytesIO()
    for archive in (zipfile.ZipFile(model, "a"), zipfile.ZipFile(drawings, "w")):
        with archive:
            archive.writestr("0/a.png", bytes(size), zipfile.ZIP_DEFLATED)
    with pytest.raises(ModelError, match="like a zip bomb"):
        load_classifier(model)
    with pytest.raises(DrawingError, match="like a zip bomb"):
        read_files([("drawings.zip", drawings.getvalue())])
