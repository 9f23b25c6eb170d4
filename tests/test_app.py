"""The pages through Streamlit's AppTest: smoke, a drawing injected into the canvas, a short
training run (synthetic data patched in at the loader), and the runs list."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
import streamlit as st
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from mnist_core import data as mnist_data

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
TIMEOUT = 120  # the first run imports TensorFlow


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture
def synthetic_data(monkeypatch):
    from tests.conftest import load_tiny_mnist

    monkeypatch.setattr(mnist_data, "load_mnist", load_tiny_mnist)


def canvas_value(image: Image.Image) -> dict:
    """What the canvas component sends back after a stroke (see STREAMLIT_NOTES.md)."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"drawing": {"raw": {"objects": [], "background": "#000000"}, "data": url}, "backgroundFit": None}


@pytest.mark.parametrize("page", ["app_pages/draw.py", "app_pages/train.py", "app_pages/runs.py"])
def test_every_page_renders(page):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(page).run()
    assert not at.exception


def test_blank_canvas_hints_then_a_drawn_one_is_read():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.metric and "Draw a digit" in at.info[0].value
    img = Image.new("RGBA", (280, 280), "black")
    ImageDraw.Draw(img).line([(140, 50), (140, 230)], fill="white", width=20)
    at.session_state["draw_canvas_0"] = canvas_value(img)
    at.run()
    assert not at.exception
    prediction = next(m for m in at.metric if m.label == "Prediction")
    assert prediction.value == "1"


def test_clear_button_gives_a_fresh_canvas():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.button(key="draw_clear").click().run()
    assert at.session_state["draw_clear_count"] == 1 and not at.exception


def test_train_page_runs_a_short_job_and_shows_results(synthetic_data):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/train.py").run()
    assert at.session_state["train_epochs"] == 200 and at.session_state["train_optimizer"] == "sgd"
    at.number_input(key="train_epochs").set_value(3)
    at.number_input(key="train_learning_rate").set_value(0.5)
    at.button(key="FormSubmitter:train_form-Start training").click().run()
    from app_pages.common import job_slot

    job = job_slot().job
    assert job is not None
    job.join(120)
    at.run()
    assert not at.exception, at.exception
    assert any("Finished after 3 epochs" in s.value for s in at.success)
    assert next(m for m in at.metric if m.label == "Test accuracy").value.endswith("%")


def test_preset_fills_the_form():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/train.py").run()
    at.selectbox(key="train_preset").set_value("adam").run()
    assert at.session_state["train_optimizer"] == "adam" and at.session_state["train_hidden"] == "128, 128"


def test_runs_page_lists_renames_and_deletes(tiny_mnist, tmp_path):
    from mnist_core.config import TrainConfig
    from mnist_core.runs import list_runs, runs_dir, save_run
    from mnist_core.train import train

    save_run(train(TrainConfig(epochs=1, batch_size=100), tiny_mnist), runs_dir(), preset="seed")
    (runs_dir() / "broken").mkdir()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/runs.py").run()
    assert not at.exception and any("broken" in w.value for w in at.warning)
    at.text_input(key="runs_new_name").set_value("renamed")
    at.button(key="FormSubmitter:runs_rename_form-Rename").click().run()
    assert [r.name for r in list_runs(runs_dir()) if not r.broken] == ["renamed"]
    at.checkbox(key="runs_confirm_delete").check().run()
    at.button(key="runs_delete").click().run()
    assert [r for r in list_runs(runs_dir()) if not r.broken] == []
