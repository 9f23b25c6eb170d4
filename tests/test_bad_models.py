"""Every bad model file the suite makes (tests/bombs.py's BAD_MODELS, and damaged copies of the
shipped seed model), through each way a model comes in: the Draw page's upload (kept, then
opened by the model cache in a process of its own; the page itself for those that once showed a
traceback) and `python -m mnist_core predict --model FILE`. Each is refused with one line that
says why, from what the file declares (never "it took over 20 s"); a damaged copy may still read."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mnist_core import cli
from mnist_core.reading.classifier import SEED_MODEL, ClassifierCache, ModelError, store_upload
from tests import bombs
from tests.helpers import APP, ROOT, drawn_one, png_bytes, subprocess_env
from tests.helpers import APP_TIMEOUT as TIMEOUT

pytestmark = pytest.mark.slow

DAMAGED = [f"damaged-{case}.keras" for case in range(9)]  # three of each kind of damage


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture(scope="module")
def bad_models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    made = {name: make(folder / name) for name, make in bombs.BAD_MODELS.items()}
    return made | {name: bombs.damaged(SEED_MODEL, folder / name, case) for case, name in enumerate(DAMAGED)}


@pytest.fixture(scope="module")
def drawing(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("drawing") / "one.png"
    path.write_bytes(png_bytes(drawn_one()))
    return path


def assert_one_line_why(name: str, message: str) -> None:
    assert "\n" not in message and "Traceback" not in message, (name, message)
    assert "took over" not in message, (name, message)  # refused from what it declares, not by the clock


def test_every_bad_model_upload_is_refused_in_one_line(bad_models, tmp_path):
    """The Draw page's way, for every file: kept under its content's hash, then opened by the
    process's model cache in a process of its own (classifier(path, untrusted=True)), four
    visitors at a time."""
    cache = ClassifierCache()

    def upload(name: str) -> str | None:
        try:
            cache.get(store_upload(bad_models[name].read_bytes(), name, tmp_path), untrusted=True)
        except ModelError as e:
            return str(e)
        return None

    with ThreadPoolExecutor(4) as visitors:
        for name, message in zip(bad_models, visitors.map(upload, bad_models), strict=True):
            if message is None:
                assert name in DAMAGED, f"{name} was read"
            else:
                assert_one_line_why(name, message)


PAGE_SAMPLE = ["layer-config-a-list.keras", "config-nested-100000-deep.keras", "legacy-config-a-list.h5",
               "average-tower.keras", DAMAGED[1]]


def test_the_draw_page_shows_one_line_for_bad_model_uploads(bad_models):
    """The page itself, for the files that once showed a traceback or the 20 s limit, and damaged ones."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.selectbox(key="model_choice").set_value("Upload a model…").run()
    for name in PAGE_SAMPLE:
        at.file_uploader(key="draw_model_file").upload(name, bad_models[name].read_bytes()).run()
        assert not at.exception, (name, at.exception)
        if name in DAMAGED and not at.error:
            continue  # damaged where nothing reads: the model still reads
        assert len(at.error) == 1 and at.error[0].value.startswith("This model cannot be used: "), name
        assert_one_line_why(name, at.error[0].value)


def test_predict_refuses_every_bad_model_in_one_line(bad_models, drawing, capsys):
    for name, path in bad_models.items():
        status = cli.main(["predict", "--model", str(path), str(drawing)])
        out, err = capsys.readouterr()
        if name in DAMAGED and status == 0:
            continue
        assert status == 1 and not out, (name, status, out)
        assert err.startswith(f"error: {name}") and err.count("\n") == 1, (name, err)
        assert_one_line_why(name, err.strip())


def test_predict_as_a_command_refuses_a_config_nested_100000_deep(bad_models, drawing):
    """As a person runs it: Python's own stack, not pytest's (json gives up with RecursionError)."""
    name = "config-nested-100000-deep.keras"
    out = subprocess.run([sys.executable, "-m", "mnist_core", "predict", "--model", str(bad_models[name]),
                          str(drawing)], cwd=ROOT, capture_output=True, text=True, timeout=120, env=subprocess_env())
    assert out.returncode == 1 and not out.stdout
    assert out.stderr == f"error: {name}: cannot be read as a dense Keras model (RecursionError)\n"
