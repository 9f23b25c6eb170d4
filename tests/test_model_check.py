"""A model file's declared size, checked before anything is read (model_check.py, counting the
plan of model_plan.py), and the folder that keeps uploaded models bounded (classifier.store_upload)."""

from __future__ import annotations

import json
import os
import time
import zipfile

import pytest

from mnist_core.reading import classifier, model_check
from mnist_core.reading.classifier import SEED_MODEL, store_upload
from mnist_core.reading.model_check import MAX_CONFIG_BYTES, ModelError, check_model_file, parameter_limit
from tests import bombs


def keras_zip(path, entries: dict[str, bytes]):
    """A .keras zip of exactly these entries, stored (not compressed)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def seed_entries() -> dict[str, bytes]:
    with zipfile.ZipFile(SEED_MODEL) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_shipped_seed_model_passes():
    check_model_file(SEED_MODEL)


def test_a_member_that_declares_gigabytes_is_refused_from_the_zip_directory(tmp_path):
    path = bombs.keras_member_declaring(tmp_path / "big.keras", 4_000_000_000)
    assert path.stat().st_size < 100_000
    with pytest.raises(ModelError, match=r"^big\.keras: model\.weights\.h5 declares 4,000 MB$"):
        check_model_file(path)


@pytest.mark.parametrize("config", [None, b" " * (MAX_CONFIG_BYTES + 1)], ids=["missing", "over 1 MB"])
def test_a_missing_or_oversized_config_is_refused(tmp_path, config):
    entries = {k: v for k, v in seed_entries().items() if k != "config.json"}
    if config is not None:
        entries["config.json"] = config
    with pytest.raises(ModelError, match=r"^model\.keras: no readable config\.json$"):
        check_model_file(keras_zip(tmp_path / "model.keras", entries))


def test_a_model_without_an_input_shape_is_refused(tmp_path):
    """Without an input shape the parameters cannot be counted: refused, not guessed."""
    dense = {"class_name": "Dense", "config": {"name": "dense", "units": 10, "activation": "softmax"}}
    config = {"class_name": "Sequential", "config": {"name": "no_input", "layers": [dense]}}
    entries = {**seed_entries(), "config.json": json.dumps(config).encode()}
    with pytest.raises(ModelError, match=r"^model\.keras: declares no input shape$"):
        check_model_file(keras_zip(tmp_path / "model.keras", entries))


def test_the_limit_follows_the_memory_left(monkeypatch):
    """Little memory left (a full container): the limit is what it can hold several copies of,
    below the configured one."""
    copies = 4 * model_check.COPIES  # bytes a parameter takes, all copies counted
    monkeypatch.setattr(model_check, "available_memory", lambda: 5_000 * copies)
    assert parameter_limit() == 5_000
    with pytest.raises(ModelError, match=r"^seed\.keras declares 7,850 parameters; this app accepts up to 5,000$"):
        check_model_file(SEED_MODEL)
    monkeypatch.setattr(model_check, "available_memory", lambda: 2**40)  # plenty: the setting decides
    assert parameter_limit() == model_check.MAX_PARAMETERS
    monkeypatch.setenv("MNIST_MAX_PARAMETERS", "1000")
    assert parameter_limit() == 1000


def test_uploads_are_named_by_content_and_the_least_recently_used_go_first(tmp_path, monkeypatch):
    monkeypatch.setattr(classifier, "UPLOADS_KEPT", 3)
    past = time.time() - 1000

    def upload(data: bytes, name: str, used_at: float):
        path = store_upload(data, name, tmp_path)
        os.utime(path, (past + used_at, past + used_at))  # when it was used, one second apart
        return path

    a = upload(b"a" * 100, "../../etc/a.h5", 1)
    assert a.parent == tmp_path and a.suffix == ".h5" and "etc" not in a.name  # never the user's name
    upload(b"b" * 100, "b.keras", 2)
    c = upload(b"c" * 100, "c.keras", 3)
    assert upload(b"a" * 100, "same bytes, another name.h5", 4) == a  # the same file, used again now
    d = upload(b"d" * 100, "d.keras", 5)  # a fourth: the one used longest ago (b) goes
    assert sorted(tmp_path.iterdir()) == sorted([a, c, d])
    x = store_upload(b"x", "model.pkl", tmp_path)  # and now c
    assert x.suffix == ".keras"  # an unknown suffix is not kept
    assert sorted(tmp_path.iterdir()) == sorted([a, d, x])


def test_uploads_are_bounded_in_bytes_too(tmp_path, monkeypatch):
    monkeypatch.setattr(classifier, "UPLOAD_BYTES_KEPT", 250)
    past = time.time() - 1000
    kept = []
    for i in range(3):
        kept.append(store_upload(bytes([i]) * 100, f"{i}.keras", tmp_path))
        os.utime(kept[-1], (past + i, past + i))
    assert sorted(tmp_path.iterdir()) == sorted(kept[1:])  # 300 bytes did not fit: the oldest went
    big = store_upload(b"z" * 1000, "big.keras", tmp_path)  # over the bound alone: kept, being in use
    assert list(tmp_path.iterdir()) == [big]


def test_an_upload_being_written_beside_is_neither_counted_nor_removed(tmp_path, monkeypatch):
    """Another visitor's upload still in its atomic temp file (atomic.write_bytes: `.NAME.XXXX.tmp`)
    is not a kept model: removing it would fail that upload, and it may vanish (renamed) at any time."""
    monkeypatch.setattr(classifier, "UPLOADS_KEPT", 1)
    writing = tmp_path / ".0123.keras.abcd.tmp"
    writing.write_bytes(b"w" * 100)
    os.utime(writing, (time.time() - 1000,) * 2)  # the oldest file there
    kept = store_upload(b"k" * 100, "k.keras", tmp_path)
    assert sorted(tmp_path.iterdir()) == sorted([kept, writing])


def test_a_reshape_to_minus_one_counts_the_layer_after_it_and_a_shared_dataset_once_a_layer(tmp_path, monkeypatch):
    """Reshape([-1]) before each Dense, the (64, 64) kernels one dataset hard-linked three times:
    784*64+64 + 3*(64*64+64) + 64*10+10 parameters read, each counted (the -1 once kept: 0 a layer;
    the file's datasets once each: 54,986)."""
    path = bombs.keras_reshape_shared(tmp_path / "shared.keras", units=64, layers=4)
    assert check_model_file(path) == 63_370
    monkeypatch.setenv("MNIST_MAX_PARAMETERS", "60000")
    with pytest.raises(ModelError, match=r"^shared\.keras declares 63,370 parameters; this app accepts up to 60,000$"):
        check_model_file(path)


def test_weights_that_cannot_be_counted_are_refused(tmp_path):
    """Fail closed: weights whose HDF5 cannot be walked are refused, never counted as none."""
    path = bombs.BAD_MODELS["weights-not-hdf5.keras"](tmp_path / "model.keras")
    with pytest.raises(ModelError, match=r"^model\.keras: cannot be read as a dense Keras model \(\w+\)$"):
        check_model_file(path)


@pytest.mark.parametrize(("make", "words"), [
    (lambda path: bombs.keras_chunked(path, units=64), r"in over 4,096 chunks; this app reads at most 4,096$"),
    (lambda path: bombs.keras_many_layers(path, 300), r"has over 256 layers; this app reads at most 256"),
    (bombs.keras_average_tower, r"has over 256 layers; this app reads at most 256"),
], ids=["1x1 chunks", "300 layers", "2**40 paths"])
def test_files_whose_reading_is_slow_are_refused_from_what_they_declare(tmp_path, make, words):
    """Each of these kept a process busy for seconds to forever while being read (a 1 KB file in
    1x1 chunks: 28 s for 1024 units; 2,000 layers: 15 s; the tower: 2**40 paths): each is a bound."""
    path = make(tmp_path / "slow.keras")
    with pytest.raises(ModelError, match=words):
        check_model_file(path)


def test_an_upload_is_loaded_once_however_often_it_is_kept_and_asked_for(tmp_path, monkeypatch):
    """A stroke keeps the upload (store_upload) and asks for its model: five strokes, one load, and
    one try for a file that cannot be used. (Keyed by the file's time, each stroke loaded it again
    in a process of its own, and kept another copy.)"""
    loads = []
    real = classifier._open_isolated
    monkeypatch.setattr(classifier, "_open_isolated", lambda path: loads.append(path.name) or real(path))
    cache = classifier.ClassifierCache()
    for _ in range(5):
        assert cache.get(store_upload(SEED_MODEL.read_bytes(), "mine.keras", tmp_path), untrusted=True)
        with pytest.raises(ModelError, match=r"\.keras: cannot be .* \(BadZipFile\)$"):
            cache.get(store_upload(b"not a model", "bad.keras", tmp_path), untrusted=True)
    assert len(loads) == 2 and len(cache._models) == 1


def test_an_upload_whose_reading_takes_too_long_is_ended_in_one_line(monkeypatch):
    monkeypatch.setattr(classifier, "UNTRUSTED_SECONDS", 0.0)
    with pytest.raises(ModelError, match=r"^seed\.keras: reading it took over 0 s \(a damaged file\?\)$"):
        classifier.load_classifier(SEED_MODEL, untrusted=True)
