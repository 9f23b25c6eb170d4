"""Shared fixtures: small synthetic digits, isolated folders, databases, the seed's files, an app
server, and the real MNIST when asked. Plain helpers (no fixtures) are in tests/helpers.py."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MNIST_TRAINING_SPARE", "0")  # the app servers the tests start keep no training process ahead

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from mnist_core.data import Mnist  # noqa: E402
from tests.gates import Gates, quick_heads, server_env  # noqa: E402
from tests.helpers import load_tiny_mnist, synthetic_digits, unavailable  # noqa: E402, F401  (re-exported)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `postgres` marker on every test that uses the throwaway Postgres server, directly or
    as the `database_url` fixture's "postgres" kind: `make test-fast` leaves them out."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "postgres_admin_url" in getattr(item, "fixturenames", ()) or params.get("database_url") == "postgres":
            item.add_marker(pytest.mark.postgres)


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


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """An empty SQLite database of the test's own."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(scope="session")
def postgres_admin_url():
    """A throwaway Postgres server for this test session (tests/postgres.py); under `make test`
    a Postgres that cannot start fails the tests that need it instead of skipping them."""
    from tests.postgres import NoPostgres, postgres_server

    server = postgres_server()
    try:
        url = server.__enter__()
    except NoPostgres as e:
        unavailable("Postgres", str(e))
    yield url
    server.__exit__(None, None, None)


_databases = iter(range(1, 10**6))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request) -> str:
    """An empty database of each kind: an SQLite file, and a fresh database on the Postgres server."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    from tests.postgres import create_database

    return create_database(request.getfixturevalue("postgres_admin_url"), f"test_{next(_databases)}")


@pytest.fixture(scope="session")
def seed(tmp_path_factory):
    """The seed project's 1.png, 2.png and Keras 2 model: its own (../shared/seed), or equivalents
    made for a clone without them (tests/seed_files.py)."""
    from tests.seed_files import seed_files

    return seed_files(tmp_path_factory.mktemp("seed"))


@pytest.fixture(scope="session")
def gates(tmp_path_factory) -> Gates:
    """Files that, while they exist, hold the app server's jobs (tests/gates.py): create `data`
    to keep a training job in "loading data", `check` to keep a fine-tune fitting its own check,
    for as long as a test needs."""
    folder = tmp_path_factory.mktemp("gates")
    return Gates(folder / "data", folder / "check")


@pytest.fixture(scope="session")
def app_url(tmp_path_factory, gates):
    """`streamlit run streamlit_app.py` as Streamlit's own e2e suite starts it, on a free localhost
    port: the pages and the HTTP routes on one server, shared by the browser and HTTP tests."""
    from benchmarks.app_server import app_server

    with pytest.MonkeyPatch.context() as env:  # what the server process inherits
        for name, value in server_env(gates).items():
            env.setenv(name, value)
        server = app_server(tmp_path_factory.mktemp("data"))
        url, _, _ = server.__enter__()
    yield url
    server.__exit__(None, None, None)


@pytest.fixture
def font_pool(monkeypatch, tmp_path) -> Path:
    """A pool of eight 'font designs', all Pillow's own scalable font (Aileron), instead of the
    machine's fonts: style digits need no installed font, and are cached in the test's folder."""
    from PIL import ImageFont

    from mnist_core.training import styles

    path = tmp_path / "aileron.ttf"
    path.write_bytes(ImageFont.load_default(20).path.getvalue())
    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(styles, "font_designs", lambda: {name: (path,) for name in "abcdefgh"})
    return path


@pytest.fixture
def quick_own_heads(monkeypatch, tmp_path) -> None:
    """A fine-tune's own "not a digit" check (finetune.own_head) fitted in seconds: a quarter of
    a few hundred examples of each set, no fonts, the examples cached in the test's folder."""
    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path / "cache"))
    quick_heads(monkeypatch.setattr)


@pytest.fixture(scope="session")
def real_mnist() -> Mnist:
    """The real data set, through the normal source chain (cached after the first fetch)."""
    from mnist_core.data import load_mnist

    return load_mnist()
