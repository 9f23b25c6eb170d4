"""The Train page's look inside (AppTest): the slider through the epochs a run kept redraws the
templates at the epoch chosen, and plays them; a run from before films shows none; a frame a
training sent is drawn, and a frame that is not one is left out."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app_pages.learning import HOLD
from mnist_core import words
from mnist_core.config import TrainConfig
from mnist_core.training.loop import train
from mnist_core.training.pipeline import train_and_save
from mnist_core.training.watching.watcher import Watcher
from tests.helpers import APP_TIMEOUT as TIMEOUT
from tests.helpers import load_tiny_mnist


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def film_script(url: str, run_id: str) -> None:
    from app_pages import learning
    from mnist_core.store.database import Database
    from mnist_core.store.runs import RunStore

    learning.show_film(RunStore(Database.open(url)), run_id)


def test_the_slider_scrubs_through_the_epochs_a_run_kept(sqlite_url):
    run = train_and_save(TrainConfig(epochs=3, batch_size=64, learning_rate=0.5), "seed", sqlite_url,
                         load_tiny_mnist).run
    at = AppTest.from_function(film_script, args=(sqlite_url, run.id), default_timeout=TIMEOUT).run()
    (slider,) = at.select_slider
    assert slider.key == f"train_film_{run.id}" and list(slider.options) == ["0", "1", "2", "3"] and slider.value == 3
    assert any(m.value == "**The ten digit templates, after epoch 3**" for m in at.markdown)
    slider.set_value(0).run()
    assert any(m.value == "**The ten digit templates, before training**" for m in at.markdown)
    weights = [h.value for h in at.html if "mw-weights" in h.value]
    assert len(weights) == 1 and weights[0].count("<img") == 10
    at.toggle(key=f"train_film_play_{run.id}").set_value(True).run()
    (played,) = [h.value for h in at.html if "mw-play" in h.value]
    assert played.count('class="mw-f"') == 10 and f"steps({4 + HOLD}, jump-none)" in played  # 4 frames, the last held
    assert played.count("After epoch 3") == 1 + HOLD and "Before training" in played


def test_a_run_without_a_film_shows_none(sqlite_url):
    from mnist_core.store.database import Database
    from mnist_core.store.runs import RunStore

    store = RunStore(Database.open(sqlite_url))
    run = store.save(train(TrainConfig(epochs=1, batch_size=100), load_tiny_mnist()), preset="seed")  # as before films
    at = AppTest.from_function(film_script, args=(sqlite_url, run.id), default_timeout=TIMEOUT).run()
    assert not at.exception and not at.select_slider


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
