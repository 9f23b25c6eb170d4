"""Lesson links: a teacher's address holds one step of a lesson, round trips, and a bad one is one line."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from mnist_core.config import PRESETS
from mnist_core.lesson_link import CLASS_PAGE, LessonError, LessonLink, app_root


def parsed(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_a_step_round_trips_through_its_address():
    link = LessonLink(page="train", title="Watch the templates form", preset="seed",
                      config=PRESETS["seed"].replace(epochs=20, learning_rate=0.1, hidden=(64,)),
                      open=("learning_rate", "batch_size"), shown=("epochs",))
    url = link.url("https://mnist.example/app/")
    assert url.startswith("https://mnist.example/app/train?lesson=train&title=Watch+the+templates+form&preset=seed")
    query = parsed(url)
    assert query["epochs"] == "20" and query["hidden"] == "64" and query["open"] == "learning_rate,batch_size"
    assert "batch_size" not in query and "me" not in query  # only what differs from the preset; never who made it
    assert LessonLink.from_query(query) == link


def test_the_class_view_is_the_same_step_on_the_class_page():
    link = LessonLink(page="train", config=PRESETS["hidden"], preset="hidden")
    projector = link.for_class()
    assert urlsplit(projector.url("http://h")).path == f"/{CLASS_PAGE}"
    assert LessonLink.from_query(parsed(projector.url("http://h"))) == projector and projector.view == "class"


def test_a_draw_step_names_its_model():
    link = LessonLink(page="draw", model="seed", title="The book's network reads your digits")
    assert link.url("http://h") == "http://h/?lesson=draw&title=The+book%27s+network+reads+your+digits&model=seed"
    assert LessonLink.from_query(parsed(link.url("http://h"))) == link


def test_no_lesson_is_none_and_a_list_value_counts_its_last():
    assert LessonLink.from_query({"me": "abc"}) is None
    assert LessonLink.from_query({"lesson": ["draw", "train"], "epochs": ["9", "3"]}).config.epochs == 3


@pytest.mark.parametrize(("query", "message"), [
    ({"lesson": "runs"}, "a lesson is a step on draw or train"),
    ({"lesson": "train", "preset": "huge"}, "there is no network called 'huge'"),
    ({"lesson": "train", "epochs": "many"}, "epochs: 'many' is not a number"),
    ({"lesson": "train", "epochs": "0"}, "epochs must be between 1 and 10000"),
    ({"lesson": "train", "optimizer": "magic"}, "optimizer must be one of sgd, rmsprop, adam"),
    ({"lesson": "train", "hidden": "12,x"}, "hidden layers: expected sizes like 128,128"),
    ({"lesson": "train", "open": "epochs,speed"}, "there is no setting called 'speed'"),
    ({"lesson": "train", "open": "epochs", "show": "epochs"}, "epochs: a setting is either open or shown fixed"),
    ({"lesson": "train", "view": "teacher"}, "a lesson's view is `class` or none"),
    ({"lesson": "draw", "model": "../../etc/passwd"}, "a lesson's model is named by"),
    ({"lesson": "draw", "title": "x" * 81}, "at most 80 characters"),
])
def test_a_bad_link_is_one_line(query, message):
    with pytest.raises(LessonError) as e:
        LessonLink.from_query(query)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_the_apps_root_from_a_pages_address():
    assert app_root("https://a.example/train?me=x&lesson=train", "train") == "https://a.example"
    assert app_root("https://a.example/sub/?me=x", "") == "https://a.example/sub"
    assert app_root("http://127.0.0.1:8501/train", "train") == "http://127.0.0.1:8501"


def test_a_title_is_one_line():
    assert LessonLink.from_query({"lesson": "draw", "title": " Two\nlines\t here "}).title == "Two lines here"
