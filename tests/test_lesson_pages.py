"""Lesson links on the pages (AppTest): the Train page opens on the step with its settings fixed
and only the open ones changeable, the Draw page on its model; a bad link is one line; a teacher's
link carries the step, never their private link."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app_pages.lesson_link import NO_LINK
from mnist_core.lesson_link import LessonLink
from mnist_core.owners import Keys
from mnist_core.store.database import Database, database_url
from tests.helpers import APP
from tests.helpers import APP_TIMEOUT as TIMEOUT

STEP = {"lesson": "train", "title": "Watch it learn", "preset": "seed", "epochs": "3", "learning_rate": "0.5",
        "open": "learning_rate,batch_size", "show": "epochs"}


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()


def opened(query: dict[str, str], page: str = "app_pages/train.py") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.run()
    return at.switch_page(page).run() if page != "app_pages/draw.py" else at


def widget_keys(at: AppTest) -> set[str]:
    return {w.key for w in [*at.number_input, *at.selectbox, *at.text_input] if w.key}


def test_a_lesson_opens_the_train_page_with_its_settings_fixed(monkeypatch):
    monkeypatch.setattr("app_pages.common.trains_here", lambda: False)  # the job waits in the line: nothing trains
    at = opened(STEP)
    assert not at.exception and not at.error
    key = LessonLink.from_query(STEP).key
    # only the open settings are fields; the preset and every other setting are not
    assert {k for k in widget_keys(at) if k.startswith("train_")} == {f"train_learning_rate_seed_{key}",
                                                                       f"train_batch_size_seed_{key}"}
    assert at.number_input(key=f"train_learning_rate_seed_{key}").value == 0.5
    assert any("Fixed by the lesson" in m.value and "Epochs: 3" in m.value for m in at.markdown)
    assert any("A lesson: Watch it learn." in i.value and "You may change: batch size, learning rate" in i.value
               for i in at.info)
    at.number_input(key=f"train_batch_size_seed_{key}").set_value(100)
    at.button(key="train_start").click().run()
    from app_pages.common import job_queue

    (job,) = job_queue().of(Keys.of(Database.open(database_url())).owner_of(at.session_state["me"]))
    assert (job.config.epochs, job.config.learning_rate, job.config.batch_size) == (3, 0.5, 100)


def test_leaving_the_lesson_gives_the_usual_form():
    at = opened(STEP)
    at.button(key="train_lesson_leave").click().run()
    assert "train_epochs_seed" in widget_keys(at) and "lesson" not in at.query_params
    assert not [i for i in at.info if "A lesson" in i.value]


def test_a_bad_lesson_link_is_one_line_and_the_page_works():
    at = opened({**STEP, "epochs": "lots"})
    assert [e.value for e in at.error] == ["This lesson link cannot be followed: epochs: 'lots' is not a number."]
    assert "train_epochs_seed" in widget_keys(at)


def test_a_draw_lesson_fixes_the_model():
    at = opened({"lesson": "draw", "model": "seed", "title": "The book's network"}, "app_pages/draw.py")
    box = at.selectbox(key="model_choice")
    assert box.value.startswith("The book's fit") and box.disabled
    assert any("The model is seed" in i.value for i in at.info)


def test_the_lesson_maker_links_this_step_without_the_teachers_private_link():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/train.py").run()
    at.number_input(key="train_epochs_seed").set_value(20).run()
    at.multiselect(key="train_lesson_open").set_value(["learning_rate"]).run()
    at.text_input(key="train_lesson_title").set_value("Templates").run()
    students, projector = (c.value for c in at.code if "lesson=" in c.value)
    query = dict(parse_qsl(urlsplit(students).query))
    assert query == {"lesson": "train", "title": "Templates", "preset": "seed", "epochs": "20",
                     "open": "learning_rate"}
    assert "me=" not in students + projector and dict(parse_qsl(urlsplit(projector).query))["view"] == "class"
    assert at.session_state["me"] not in students + projector


def test_a_links_title_is_shown_as_written_never_as_a_link_or_an_image():
    at = opened({"lesson": "train", "title": "![x](http://evil.example/t.png) [click](http://evil.example)"})
    (banner,) = [i.value for i in at.info if "A lesson" in i.value]
    assert "](" not in banner.replace("\\](", "") and "\\[click\\]" in banner and "\\!\\[x\\]" in banner
    assert "http://" not in banner  # a bare address is made a link too, escaped or not
    at = opened({"lesson": "train", "title": "www.evil.example, me@evil.example"})
    (banner,) = [i.value for i in at.info if "A lesson" in i.value]
    assert "www." not in banner and "me@" not in banner and banner.replace(NO_LINK, "").startswith(
        "**A lesson: www\\.evil\\.example, me@evil\\.example.**")


def test_the_projectors_link_opens_the_class_page_on_the_lessons_step():
    projector = LessonLink.from_query({**STEP, "title": "Templates [here](http://evil.example)"}).for_class()
    assert urlsplit(projector.url("http://x")).path == "/teacher"
    at = opened(projector.to_query(), page="app_pages/teacher.py")
    assert not at.exception and at.title[0].value == "The class"
    shown = at.subheader[0].value
    assert "http://" not in shown and shown.replace(NO_LINK, "") == "A lesson: Templates \\[here\\]\\(http://evil\\.example\\)"
