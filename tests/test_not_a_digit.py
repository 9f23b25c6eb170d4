"""'That doesn't look like a digit', and confidence that means what it says, wherever a picture
is read: the classifier, HTTP, the command line, and the temperature a run carries. The reading
is never withheld: a drawing that is no digit keeps its closest digit, and says what it looks
like instead."""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageDraw
from starlette.testclient import TestClient

from mnist_core.config import TrainConfig
from mnist_core.http_api import create_app, loaded_models
from mnist_core.preprocessing import preprocess, strokes_across
from mnist_core.reading.classifier import CALIBRATION, SEED_MODEL, load_classifier
from mnist_core.store.database import Database
from mnist_core.store.runs import MODEL_FILE, RunStore
from mnist_core.training.pipeline import train_and_save
from tests.helpers import drawn_one, load_tiny_mnist


def canvas(*lines: list[tuple[int, int]], width: int = 16) -> Image.Image:
    img = Image.new("RGBA", (280, 280), "black")
    for points in lines:
        ImageDraw.Draw(img).line(points, fill="white", width=width, joint="curve")
    return img


STAR = canvas([(140, 20), (180, 260), (30, 100), (250, 100), (100, 260), (140, 20)], width=14)
# What people write, which version 2 of the head called "not a digit" (its loops and lone strokes)
ROUND_ZERO = canvas([(140 + 95 * np.cos(a), 140 + 105 * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 40)], width=18)
FLAGGED_ONE = canvas([(95, 95), (150, 40), (150, 245)], [(100, 245), (200, 245)], width=18)
OPEN_FOUR = canvas([(90, 30), (70, 160), (210, 160)], [(170, 60), (170, 250)], width=18)
FILLED_BLOB = Image.new("RGBA", (280, 280), "black")
ImageDraw.Draw(FILLED_BLOB).ellipse((60, 90, 220, 190), fill="white")  # a round one is "a single dot"
FILLED_OVAL = Image.new("RGBA", (280, 280), "black")  # its 28x28 alone reads as a 4: only its span says blob
ImageDraw.Draw(FILLED_OVAL).ellipse((70, 50, 210, 230), fill="white")
LETTER_A = canvas([(60, 250), (140, 30), (220, 250)], [(95, 160), (185, 160)], width=18)
SEVEN = canvas([(50, 60), (220, 60), (160, 150), (110, 250)], width=20)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_the_default_model_refuses_a_star_and_a_letter_and_reads_a_seven_and_a_one():
    clf = load_classifier()
    pictures = [STAR, LETTER_A, SEVEN, drawn_one()]
    judged = clf.judge(np.stack([preprocess(p) for p in pictures]), [strokes_across(p) for p in pictures])
    assert judged.not_a_digit.tolist() == [True, True, False, False]
    assert judged.probabilities.argmax(axis=1)[2:].tolist() == [7, 1]
    np.testing.assert_allclose(judged.probabilities.sum(axis=1), 1, atol=1e-5)


@pytest.mark.parametrize(("picture", "digit"), [(ROUND_ZERO, 0), (FLAGGED_ONE, 1), (OPEN_FOUR, 4)],
                         ids=["round 0", "1 with a flag and a foot", "open 4"])
def test_what_people_write_is_read_not_refused(picture, digit):
    judged = load_classifier().judge(preprocess(picture), [strokes_across(picture)])
    assert judged.probabilities[0].argmax() == digit and not judged.not_a_digit[0] and judged.looks_like == (None,)


def test_a_drawing_that_is_no_digit_says_what_it_looks_like_and_keeps_its_closest_digit():
    pictures = [LETTER_A, FILLED_BLOB]
    judged = load_classifier().judge(np.stack([preprocess(p) for p in pictures]), [strokes_across(p) for p in pictures])
    assert judged.not_a_digit.all() and judged.looks_like == ("a letter or a sign", "a filled blob")
    assert (judged.probabilities.max(axis=1) > 0).all()  # the ten probabilities are there, their argmax the closest


def test_a_model_without_a_head_of_its_own_borrows_the_shipped_ones_judgement(tmp_path):
    """A run trained here or an upload has no .novelty.npz: the shipped default's head judges
    the drawing (MNIST's pixel subspace alone let the letter through and refused the seven)."""
    shutil.copy(SEED_MODEL, tmp_path / "trained_here.keras")
    clf = load_classifier(tmp_path / "trained_here.keras")
    assert clf.novelty is None
    pictures = [STAR, LETTER_A, SEVEN, drawn_one()]
    x, across = np.stack([preprocess(p) for p in pictures]), [strokes_across(p) for p in pictures]
    judged = clf.judge(x, across)
    assert judged.not_a_digit.tolist() == [True, True, False, False]
    assert judged.probabilities.argmax(axis=1)[2:].tolist() == [7, 1]
    np.testing.assert_array_equal(judged.not_a_digit, load_classifier().judge(x, across).not_a_digit)


def test_a_filled_blob_is_judged_on_the_canvas():
    blob = Image.new("RGBA", (280, 280), "black")
    ImageDraw.Draw(blob).ellipse((60, 90, 220, 190), fill="white")
    clf, x = load_classifier(), preprocess(blob)
    assert clf.judge(x, [strokes_across(blob)]).not_a_digit[0]


def test_confidence_is_calibrated_not_the_raw_average():
    clf = load_classifier()
    x = preprocess(SEVEN)
    raw, shown = clf.predict_proba_tta(x), clf.judge(x).probabilities[0]
    assert clf.temperature == pytest.approx(0.478, abs=0.01) and raw.argmax() == shown.argmax() == 7
    assert shown.max() > raw.max()  # trained with label smoothing, the raw average is under-confident


def test_http_the_command_line_and_the_page_give_one_reading_blobs_included(tmp_path, capsys):
    """/predict once marked a blob by negating its 28x28 and looked for it with max < 0, which a
    drawing with blank borders never meets: the Draw page refused a filled disc, /predict read it."""
    pictures = {"star": STAR, "seven": SEVEN, "disc": FILLED_BLOB}
    client = TestClient(create_app(loaded_models(None)))
    answers = client.post("/predict", files=[("file", png(p)) for p in pictures.values()]).json()["predictions"]
    star, seven, disc = answers
    assert star["not_a_digit"] is True and star["looks_like"] and 0 <= star["digit"] <= 9  # never withheld
    assert seven["digit"] == 7 and seven["not_a_digit"] is False and "looks_like" not in seven
    assert disc["not_a_digit"] is True and disc["looks_like"] == "a filled blob"
    from mnist_core import cli

    for name, picture in pictures.items():
        (tmp_path / f"{name}.png").write_bytes(png(picture))
    assert cli.main(["predict", *(str(tmp_path / f"{name}.png") for name in pictures), "--json"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    page = load_classifier().judge(np.stack([preprocess(p) for p in pictures.values()]),
                                   [strokes_across(p) for p in pictures.values()])
    for answer, line, p, refused, seen in zip(answers, printed, page.probabilities, page.not_a_digit,
                                               page.looks_like, strict=True):
        assert answer["digit"] == line["digit"] == int(p.argmax())
        assert answer["not_a_digit"] == line["not_a_digit"] == bool(refused)
        assert answer.get("looks_like") == line.get("looks_like") == seen


def test_drawings_labelled_on_the_draw_page_are_judged_by_the_scoreboard_as_by_http_and_the_command_line(
        tmp_path, capsys):
    """The scoreboard read stored 28x28s alone (and their raw average, predict_proba_tta): a
    filled oval, which preprocessing thins into a bar, was a digit to it. Each drawing now keeps
    its span in stroke widths, and the scoreboard judges as every way in does."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from app_pages.common import drawing_store
    from mnist_core import cli
    from mnist_core.scoreboard import score, scoreboard
    from tests.apptest import canvas_value, shown
    from tests.helpers import APP, APP_TIMEOUT

    pictures = {"oval": FILLED_OVAL, "letter": LETTER_A, "seven": SEVEN}
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT).run()
    on_the_page = []
    for picture in pictures.values():
        at.session_state["draw_canvas_0"] = canvas_value(picture)
        at.run()
        on_the_page.append(next(m for m in at.metric if m.label == "Prediction").value == "Not a digit")
        at.button(key="draw_right").click().run()  # "Yes, a 0": a person says what it was
    assert not at.exception and on_the_page == [True, True, False]
    at.switch_page("app_pages/drawings.py").run()
    board = shown(at.dataframe[-1])
    assert board["called not a digit"][board["model"].index("default")] == "66.67%"  # the oval and the letter
    st.cache_resource.clear()

    labelled = drawing_store().collection()  # oldest first: the oval, the letter, the seven
    by_the_scoreboard = [score(load_classifier(), labelled, frozenset(labelled.ids) - {i})[1] == 1
                         for i in labelled.ids]
    default = next(r for r in scoreboard(None, labelled, load_classifier) if r.ref == "default")
    client = TestClient(create_app(loaded_models(None)))
    answers = client.post("/predict", files=[("file", png(p)) for p in pictures.values()]).json()["predictions"]
    for name, picture in pictures.items():
        (tmp_path / f"{name}.png").write_bytes(png(picture))
    capsys.readouterr()
    assert cli.main(["predict", *(str(tmp_path / f"{name}.png") for name in pictures), "--json"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert by_the_scoreboard == [a["not_a_digit"] for a in answers] == [p["not_a_digit"] for p in printed] \
        == on_the_page
    assert default.refused == pytest.approx(2 / 3) and default.n == 3


def test_a_run_carries_the_temperature_fitted_on_its_validation_split(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    outcome = train_and_save(TrainConfig(epochs=2, batch_size=100, hidden=(32,), optimizer="adam",
                                         learning_rate=0.002, label_smoothing=0.2), "custom", url, load_tiny_mnist)
    data = RunStore(Database.open(url))
    keras_bytes = data.file(outcome.run.id, MODEL_FILE)
    with zipfile.ZipFile(io.BytesIO(keras_bytes)) as archive:
        temperature = json.loads(archive.read(CALIBRATION))["temperature"]
    clf = load_classifier(data.model_path(outcome.run.id))
    assert temperature != 1.0 and clf.temperature == pytest.approx(temperature)
