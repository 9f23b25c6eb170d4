"""The Train page's look inside (AppTest): after a short training, the slider through the epochs
the run kept redraws the templates and the confusion matrix at the epoch chosen; a frame a
training sent is drawn, and a frame that is not one is left out."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app_pages.learning import HOLD
from mnist_core import data as mnist_data
from mnist_core import words
from mnist_core.config import TrainConfig
from mnist_core.training import train
from mnist_core.watching.watcher import Watcher
from tests.helpers import APP, load_tiny_mnist
from tests.helpers import APP_TIMEOUT as TIMEOUT


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def test_the_slider_scrubs_through_the_epochs_a_run_kept(monkeypatch):
    monkeypatch.setattr(mnist_data, "load_mnist", load_tiny_mnist)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/train.py").run()
    at.number_input(key="train_epochs_seed").set_value(3)
    at.number_input(key="train_learning_rate_seed").set_value(0.5)
    at.button(key="train_start").click().run()
    from app_pages.common import runner

    runner().join(120)
    at.run()
    (slider,) = [s for s in at.select_slider if s.key.startswith("train_film_")]
    assert list(slider.options) == ["0", "1", "2", "3"] and slider.value == 3
    assert any(m.value == "**The ten digit templates, after epoch 3**" for m in at.markdown)
    slider.set_value(0).run()
    assert any(m.value == "**The ten digit templates, before training**" for m in at.markdown)
    weights = [h.value for h in at.html if "mw-weights" in h.value]
    assert len(weights) == 1 and weights[0].count("<img") == 10
    at.toggle(key=slider.key.replace("train_film_", "train_film_play_")).set_value(True).run()
    (played,) = [h.value for h in at.html if "mw-play" in h.value]
    assert played.count('class="mw-f"') == 10 and f"steps({4 + HOLD}, jump-none)" in played  # 4 frames, the last held
    assert played.count("After epoch 3") == 1 + HOLD and "Before training" in played


def frame_script(extras: dict) -> None:
    from app_pages import learning

    learning.show_live(extras)


def test_a_frame_is_drawn_and_one_that_is_not_is_left_out():
    data = load_tiny_mnist()
    config = TrainConfig(epochs=2, batch_size=64, learning_rate=0.5)
    watcher = Watcher.for_training(config, data)
    frames = []
    train(config, data, watch=lambda e, m, h: frames.append(watcher(e, m, h)) or frames[-1])
    at = AppTest.from_function(frame_script, args=(frames[-1],)).run()
    assert [m.value for m in at.markdown][:1] == ["**The ten digit templates, after epoch 2**"]
    assert any(words.TEMPLATES in c.value for c in at.caption)
    assert any(m.value.startswith("**Its mistakes now**") for m in at.markdown)
    assert any('class="mw-cm"' in h.value for h in at.html)  # the confusion matrix as it stands
    at = AppTest.from_function(frame_script, args=({"frame": {"epoch": "x"}},)).run()
    assert not at.exception and not at.markdown and not at.html
