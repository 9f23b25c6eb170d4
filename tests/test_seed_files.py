"""The stand-ins for the seed's files (tests/seed_files.py), made on every machine: the tests that
use them on a clone without ../shared/seed are only as good as their likeness to the real ones."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from PIL import Image

from mnist_core.preprocessing import preprocess
from mnist_core.reading.classifier import DEFAULT_MODEL, SEED_MODEL, load_classifier
from mnist_core.reading.image_file import read_image
from tests.seed_files import SHARED_SEED, make_seed_files, seed_files


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return make_seed_files(tmp_path_factory.mktemp("made"))


def test_the_pictures_have_the_seeds_sizes_and_layouts(made):
    thick = Image.open(made.thick_three)
    assert (thick.mode, thick.size) == ("RGBA", (800, 775))
    a = np.asarray(thick)
    assert not a[..., :3].any() and a[..., 3].min() == 0 and a[..., 3].max() == 255  # black, the ink in alpha
    assert 0.05 < (a[..., 3] > 128).mean() < 0.2  # a thick marker's "3" (the seed's: 10% of the sheet)
    mnist = Image.open(made.mnist_three)
    assert (mnist.mode, mnist.size) == ("RGBA", (451, 452))
    m = np.asarray(mnist)
    assert (m[..., 3] == 255).all() and (m[..., 0] == m[..., 1]).all() and m[0, 0, 0] == 0  # grey, white on black
    assert len(np.unique(m[..., 0])) > 20  # MNIST's anti-aliased grey levels, blown up


@pytest.mark.parametrize("model", [DEFAULT_MODEL, SEED_MODEL], ids=["default", "seed"])
def test_both_pictures_read_as_three(made, model):
    clf = load_classifier(model)
    for path in (made.thick_three, made.mnist_three):
        assert int(clf.predict_proba(preprocess(read_image(path.read_bytes()))).argmax()) == 3, path.name


def test_the_thick_three_fools_a_naive_resize_as_the_seeds_did(made):
    """The seed's own upload endpoint did `convert("L").resize((28, 28))`: all black here, no 3."""
    naive = np.asarray(Image.open(made.thick_three).convert("L").resize((28, 28)), np.float32) / 255
    assert int(load_classifier(SEED_MODEL).predict_proba(naive).argmax()) != 3


@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning")  # Keras 3 on a Keras 2 config
def test_the_model_is_laid_out_as_keras_2_saved_it_and_reads_as_the_seed_model(made):
    with h5py.File(made.keras2_model, "r") as f:
        assert f.attrs["keras_version"].startswith("2.") and f.attrs["backend"] == "tensorflow"
        config = json.loads(f.attrs["model_config"])
        assert [layer["class_name"] for layer in config["config"]["layers"]] == ["InputLayer", "Dense"]
        assert config["config"]["layers"][0]["config"]["batch_input_shape"] == [None, 784]  # Keras 2's key
        names = f["model_weights/dense_layer"].attrs["weight_names"]
        assert names.dtype.kind == "S" and names.tolist() == [b"dense_layer/kernel:0", b"dense_layer/bias:0"]
        assert f["model_weights/dense_layer/dense_layer/kernel:0"].shape == (784, 10)
    clf = load_classifier(made.keras2_model)
    assert clf.net.parameters() == 7850 and clf.net.input_shape == (784,)  # one Dense(10) on 784 pixels
    x = np.random.default_rng(0).random((8, 784), dtype=np.float32)
    np.testing.assert_allclose(clf.predict_proba(x), load_classifier(SEED_MODEL).predict_proba(x), atol=1e-6)


def test_the_real_files_are_used_when_present_and_made_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_TEST_SEED_DIR", raising=False)
    if (SHARED_SEED / "1.png").is_file():
        assert seed_files(tmp_path / "a").real and not (tmp_path / "a").exists()
    monkeypatch.setenv("MNIST_TEST_SEED_DIR", str(tmp_path / "nothing here"))
    files = seed_files(tmp_path / "b")
    assert not files.real and files.thick_three.is_file() and files.model_accuracy == pytest.approx(0.9217)
