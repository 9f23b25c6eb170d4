"""Shared fixtures: small synthetic digits, isolated folders, and the real MNIST when asked."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from mnist_core.data import Mnist


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 28, 28) uint8 images where digit k is a bright bar at row 4 + 2k, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n).astype(np.uint8)
    x = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(y):
        x[i, 4 + 2 * k : 6 + 2 * k, 6:22] = 255
    return x, y


def load_tiny_mnist(path=None, progress=None) -> Mnist:
    """A learnable stand-in for MNIST: 1,000 training and 200 test images. A top-level
    function, so that a training job's child process can import it."""
    x_train, y_train = synthetic_digits(1000, seed=1)
    x_test, y_test = synthetic_digits(200, seed=2)
    return Mnist(x_train, y_train, x_test, y_test, source="synthetic")


@pytest.fixture
def tiny_mnist() -> Mnist:
    return load_tiny_mnist()


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """The database (SQLite) and old run folders go to a temp folder; the data cache stays the
    user's (real MNIST is verified anyway)."""
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("MNIST_DATABASE_URL", raising=False)
    monkeypatch.delenv("MNIST_PATH", raising=False)


@pytest.fixture(scope="session")
def postgres_admin_url():
    """A throwaway Postgres server for this test session (tests/postgres.py)."""
    from tests.postgres import NoPostgres, postgres_server

    try:
        server = postgres_server()
        url = server.__enter__()
    except NoPostgres as e:
        pytest.skip(str(e))
    yield url
    server.__exit__(None, None, None)


_databases = iter(range(1, 10**6))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str:
    """An empty database of each kind: an SQLite file, and a fresh database on the Postgres server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    from tests.postgres import create_database

    return create_database(request.getfixturevalue("postgres_admin_url"), f"test_{next(_databases)}")


@pytest.fixture(scope="session")
def real_mnist() -> Mnist:
    """The real data set, through the normal source chain (cached after the first fetch)."""
    from mnist_core.data import load_mnist

    return load_mnist()
