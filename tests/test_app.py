"""The pages through Streamlit's AppTest: smoke, a drawing injected into the canvas, a short
training run (synthetic data patched in at the loader), and the runs list."""

from __future__ import annotations

import io
import re
import time

import pytest
import streamlit as st
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from mnist_core import data as mnist_data
from mnist_core import words
from mnist_core.owners import Keys, Links
from mnist_core.store.database import Database, database_url
from tests.apptest import canvas_value, shown
from tests.helpers import APP, drawn_one, load_tiny_mnist, synthetic_digits
from tests.helpers import APP_TIMEOUT as TIMEOUT


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture
def synthetic_data(monkeypatch):
    monkeypatch.setattr(mnist_data, "load_mnist", load_tiny_mnist)


# Each page, freshly opened with nothing saved yet: its title, and what it offers or says first.
PAGES = {
    "app_pages/draw.py": ("Draw a digit", lambda at: at.radio(key="draw_source").value == "Draw"
                          and any("Draw a digit on the black square" in i.value for i in at.info)),
    "app_pages/train.py": ("Train a network", lambda at: at.number_input(key="train_epochs_seed").value == 200
                           and at.button(key="train_start") is not None),
    "app_pages/runs.py": ("Runs", lambda at: any(i.value.startswith("No runs yet") for i in at.info)),
    "app_pages/drawings.py": ("Drawings", lambda at: any(i.value.startswith("No drawings here yet") for i in at.info)),
    "app_pages/teacher.py": ("The class", lambda at: any(i.value.startswith("No runs yet") for i in at.info)),
}


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_what_it_offers(page):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(page).run()
    title, shows = PAGES[page]
    assert not at.exception and not at.error
    assert [t.value for t in at.title] == [title] and shows(at)


def test_blank_canvas_hints_then_a_drawn_one_is_read():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.metric and "Draw a digit" in at.info[0].value
    at.session_state["draw_canvas_0"] = canvas_value(drawn_one())
    at.run()
    assert not at.exception
    prediction = next(m for m in at.metric if m.label == "Prediction")
    assert prediction.value == "1"


@pytest.mark.parametrize(("ink", "message"), [("dot", "single dot"), ("everywhere", "Draw a digit")])
def test_a_dot_or_ink_everywhere_gets_a_hint_not_a_guess(ink, message):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    img = Image.new("RGBA", (280, 280), "black")
    if ink == "dot":
        ImageDraw.Draw(img).ellipse((130, 130, 150, 150), fill="white")
    else:
        ImageDraw.Draw(img).rectangle((0, 0, 279, 279), fill="white")
    at.session_state["draw_canvas_0"] = canvas_value(img)
    at.run()
    assert not at.exception and not at.metric
    assert any(message in e.value for e in [*at.warning, *at.info])


def test_clear_button_gives_a_fresh_canvas():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.button(key="draw_clear").click().run()
    assert at.session_state["draw_clear_count"] == 1 and not at.exception


@pytest.mark.slow
def test_train_page_runs_a_short_job_and_shows_results(synthetic_data, monkeypatch):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/train.py").run()
    assert at.number_input(key="train_epochs_seed").value == 200
    assert at.selectbox(key="train_optimizer_seed").value == "sgd"
    at.number_input(key="train_epochs_seed").set_value(3)
    at.number_input(key="train_learning_rate_seed").set_value(0.5)
    at.button(key="train_start").click().run()
    from app_pages.common import job_queue, runner

    assert not at.exception, at.exception
    (job,) = job_queue().of(session_owner(at))
    runner().join(120)  # the server's worker trains the line, then ends

    def scored_again(*args, **kwargs):
        raise AssertionError("the page scored the test set its training had scored")

    monkeypatch.setattr("mnist_core.evaluation.evaluate", scored_again)  # the run's own report is read
    at.run()
    assert not at.exception, at.exception
    assert any("Finished after 3 epochs" in s.value for s in at.success)
    assert "Confusion matrix" in [h.value for h in at.subheader]
    test = next(m for m in at.metric if m.label == "Test accuracy")
    assert test.value.endswith("%") and not test.delta  # 3 epochs are not the book's fit: no comparison
    assert any("1 layer, 7,850 weights, SGD 0.5, 3 epochs" in m.value for m in at.caption)  # in a line, no dump


def test_preset_fills_the_form():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/train.py").run()
    at.selectbox(key="train_preset").set_value("adam").run()
    assert at.selectbox(key="train_optimizer_adam").value == "adam"
    assert at.text_input(key="train_hidden_adam").value == "128,128"
    assert at.number_input(key="train_learning_rate_adam").value == pytest.approx(0.001)


def test_the_sidebar_shows_every_setting_with_the_configs_own_bounds():
    from mnist_core.config import PRESETS, settings

    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/train.py").run()
    at.selectbox(key="train_preset").set_value("best").run()
    widgets = {w.key: w for w in [*at.number_input, *at.selectbox, *at.text_input]}
    for name, setting in settings():
        widget = widgets[f"train_{name}_best"]
        assert widget.label == setting.label and widget.help == setting.help
        value = getattr(PRESETS["best"], name)
        if setting.choices:  # a list to pick from, the config's own
            assert widget in at.selectbox and list(widget.options) == list(setting.choices)
        elif setting.names_a_model:  # the models there are to start from
            assert widget in at.selectbox and widget.options[0] == "A new network"
        elif isinstance(value, int | float):  # a number within the config's bounds
            assert widget in at.number_input and (widget.min, widget.max) == (setting.low, setting.high)
        else:  # text the config parses: the hidden layers' sizes
            assert widget in at.text_input and isinstance(value, tuple)
    assert widgets["train_augment_best"].value == "affine" and widgets["train_lr_schedule_best"].value == "cosine"
    assert widgets["train_label_smoothing_best"].value == pytest.approx(PRESETS["best"].label_smoothing)
    widgets["train_learning_rate_best"].set_value(0.0)  # the form allows the closed bound; the config says why not
    at.button(key="train_start").click().run()
    assert "learning rate must be in (0, 10]" in at.error[0].value


def saved_run(tiny_mnist, preset: str = "seed", owner: str = ""):
    """A run saved where the app looks (the test's SQLite database), by `owner` ("" as the CLI)."""
    from mnist_core.config import TrainConfig
    from mnist_core.store.runs import RunStore
    from mnist_core.training.loop import train

    store = RunStore(Database.open(database_url()))
    return store, store.save(train(TrainConfig(epochs=1, batch_size=100), tiny_mnist), preset=preset, owner=owner)


def keys() -> Keys:
    """The deployment's keys, as the app finds them (the test database's secret)."""
    return Keys.of(Database.open(database_url()))


def session_owner(at: AppTest) -> str:
    """The owner the app knows this session as: its signed private link's, at its current version."""
    return Links(keys(), Database.open(database_url())).owner_of(at.session_state["me"])


def visitor(link: str) -> AppTest:
    """The app as a visitor whose private link is ?me=<link>."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["me"] = link
    return at.run()


@pytest.mark.slow
def test_runs_page_lists_renames_and_deletes_ones_own_run(tiny_mnist):
    ann = keys().new_link()
    store, run = saved_run(tiny_mnist, owner=keys().owner_of(ann))
    at = visitor(ann)
    at.switch_page("app_pages/runs.py").run()
    assert not at.exception and at.selectbox(key="runs_selected").value.endswith("'s seed #1")  # who and what
    at.text_input(key="runs_new_name").set_value("renamed")
    at.button(key="FormSubmitter:runs_rename_form-Rename").click().run()
    assert [r.name for r in store.list()] == ["renamed"]
    at.checkbox(key="runs_confirm_delete").check().run()
    at.button(key="runs_delete").click().run()
    assert store.list() == [] and not at.exception


@pytest.mark.slow
def test_a_strangers_run_cannot_be_renamed_or_deleted_but_an_admin_may(tiny_mnist):
    store, run = saved_run(tiny_mnist, owner=keys().owner_of(keys().new_link()))
    at = visitor(keys().new_link())
    at.secrets["admins"] = {"password": "correct horse"}
    at.switch_page("app_pages/runs.py").run()
    assert at.button(key="runs_delete").disabled and at.checkbox(key="runs_confirm_delete").disabled
    assert any("only its owner or an admin" in c.value for c in at.caption)
    at.text_input(key="admin_password").set_value("wrong").run()
    assert "Wrong password; the next try in 1 s." in at.error[0].value and at.button(key="runs_delete").disabled
    at.text_input(key="admin_password").set_value("correct horse").run()  # too soon: not even compared
    assert "Too many wrong passwords: try again in 1 s." in at.error[0].value and at.button(key="runs_delete").disabled
    time.sleep(1.05)
    at.text_input(key="admin_password").set_value("correct horse").run()
    at.checkbox(key="runs_confirm_delete").check().run()
    at.button(key="runs_delete").click().run()
    assert store.list() == [] and not at.exception


def test_an_unreachable_database_is_one_line_and_drawing_still_works(monkeypatch):
    monkeypatch.setenv("MNIST_DATABASE_URL", "postgresql://ann:s3cret@127.0.0.1:1/runs")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception and "Saved runs are unavailable" in at.warning[0].value
    assert not any(inside in at.warning[0].value for inside in ("s3cret", "127.0.0.1", "ann:", "/runs"))
    at.session_state["draw_canvas_0"] = canvas_value(drawn_one())
    at.run()
    assert next(m for m in at.metric if m.label == "Prediction").value == "1"  # the shipped model
    for page, says in (("app_pages/runs.py", "Saved runs are unavailable: "),
                       ("app_pages/train.py", "Training needs the database, which is unavailable: "),
                       ("app_pages/drawings.py", "The drawings are unavailable: ")):
        at.switch_page(page).run()
        assert not at.exception and len(at.error) == 1
        message = at.error[0].value
        assert message.startswith(says) and "\n" not in message
        assert not any(inside in message for inside in ("s3cret", "127.0.0.1", "ann:", "/runs"))


def upload_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.radio(key="draw_source").set_value("Upload an image").run()
    return at


def test_uploaded_photo_of_a_three_is_read(seed):
    at = upload_page()
    at.file_uploader(key="draw_image_file").upload("1.png", seed.thick_three.read_bytes(), "image/png").run()
    assert not at.exception
    assert next(m for m in at.metric if m.label == "Prediction").value == "3"


def test_broken_image_upload_is_one_line_not_a_traceback():
    at = upload_page()
    at.file_uploader(key="draw_image_file").upload("broken.png", b"\x89PNG\r\n\x1a\n broken", "image/png").run()
    assert not at.exception and not at.metric
    assert "broken.png" in at.error[0].value and "\n" not in at.error[0].value


def test_a_model_with_the_wrong_input_is_refused_clearly(tmp_path):
    import keras

    wrong = keras.Sequential([keras.Input((100,)), keras.layers.Dense(10, activation="softmax")])
    wrong.save(tmp_path / "wrong.keras")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.selectbox(key="model_choice").set_value("Upload a model…").run()
    at.file_uploader(key="draw_model_file").upload("wrong.keras", (tmp_path / "wrong.keras").read_bytes()).run()
    assert not at.exception
    assert "not 784 values or a 28x28 image" in at.error[0].value


def test_not_a_model_upload_is_refused_clearly():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.selectbox(key="model_choice").set_value("Upload a model…").run()
    at.file_uploader(key="draw_model_file").upload("evil.h5", b"\x00" * 100).run()
    assert not at.exception and "cannot be read as a dense Keras model" in at.error[0].value


def test_sixteen_bit_upload_is_shown_and_read():
    import numpy as np

    img = Image.new("I;16", (300, 300), 0)
    ImageDraw.Draw(img).line([(150, 40), (150, 260)], fill=60000, width=24)
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    assert np.asarray(Image.open(io.BytesIO(buffer.getvalue()))).max() > 255  # really 16-bit
    at = upload_page()
    at.file_uploader(key="draw_image_file").upload("deep.png", buffer.getvalue(), "image/png").run()
    assert not at.exception and not at.error
    assert next(m for m in at.metric if m.label == "Prediction").value == "1"


def test_draw_with_a_run_from_the_runs_page(tiny_mnist):
    saved_run(tiny_mnist)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/runs.py").run()
    at.button(key="runs_use").click().run()
    assert not at.exception
    assert at.selectbox(key="model_choice").value.startswith("Run: the operator's seed")  # the Draw page uses it


def test_a_model_bomb_upload_is_refused_before_loading(tmp_path):
    from tests.bombs import keras_unwritten

    bomb = keras_unwritten(tmp_path / "bomb.keras")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.selectbox(key="model_choice").set_value("Upload a model…").run()
    at.file_uploader(key="draw_model_file").upload("bomb.keras", bomb.read_bytes()).run()
    assert not at.exception
    assert "declares 636 million parameters; this app accepts up to" in at.error[0].value


def test_a_drawing_is_kept_with_its_label_relabelled_and_undone():
    from app_pages.common import drawing_store

    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.session_state["draw_canvas_0"] = canvas_value(drawn_one())
    at.run()
    assert any("Labelled drawings are kept" in c.value for c in at.caption)  # the person is told
    at.button(key="draw_right").click().run()
    assert not at.exception and any("Kept as a 1" in s.value for s in at.success)
    (kept,) = drawing_store().page()
    assert (kept.label, kept.predicted, kept.source, kept.model) == (1, 1, "canvas", "default")
    assert kept.owner == session_owner(at)
    assert drawing_store().image(kept.id).startswith(b"\x89PNG")  # the canvas as drawn
    (digits,) = [g for g in at.button_group if g.key == "draw_label"]
    digits.set_value(7).run()  # "no, it was a 7": the same drawing, relabelled
    assert [d.label for d in drawing_store().page()] == [7] and drawing_store().page()[0].wrong
    at.button(key="draw_undo").click().run()
    assert drawing_store().count() == 0 and not at.exception


def test_labelling_a_drawing_deleted_meanwhile_is_one_line():
    from app_pages.common import drawing_store
    from mnist_core.owners import OPERATOR

    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.session_state["draw_canvas_0"] = canvas_value(drawn_one())
    at.run()
    at.button(key="draw_right").click().run()
    drawing_store().delete(drawing_store().page()[0].id, OPERATOR)  # e.g. by an admin, or in another tab
    (digits,) = [g for g in at.button_group if g.key == "draw_label"]
    digits.set_value(4).run()
    assert not at.exception
    assert any("it was deleted, or never kept" in w.value and "Answer again" in w.value for w in at.warning)
    (digits,) = [g for g in at.button_group if g.key == "draw_label"]
    digits.set_value(5).run()  # answered again: kept anew
    assert [d.label for d in drawing_store().page()] == [5]


def test_an_unsure_reading_shows_the_runner_up(monkeypatch):
    import numpy as np

    from mnist_core.reading.classifier import Classifier, Judged

    def unsure(self, images, strokes_across=None):
        p = np.full((1, 10), 0.02, np.float32)
        p[0, 4], p[0, 9] = 0.46, 0.38
        return Judged(p, np.zeros(1, bool), (None,))

    monkeypatch.setattr(Classifier, "judge", unsure)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.session_state["draw_canvas_0"] = canvas_value(drawn_one())
    at.run()
    assert next(m for m in at.metric if m.label == "Prediction").value == "4 or 9?"
    assert next(m for m in at.metric if m.label == "Confidence").value == "46% / 38%"


def test_the_drawings_page_filters_deletes_ones_own_and_scores_the_models():
    import numpy as np

    from app_pages.common import drawing_store

    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    me = session_owner(at)
    x, y = synthetic_digits(6)
    store = drawing_store()
    mine = store.add(x[0], 3, me, predicted=5)
    store.add_many(x[1:], y[1:], "link:someone-else-123")
    at.switch_page("app_pages/drawings.py").run()
    assert not at.exception
    assert next(m for m in at.metric if m.label == "Labelled drawings").value == "6"
    at.toggle(key="drawings_wrong").set_value(True).run()
    assert [c.value for c in at.caption if c.value in ("yours",) or c.value.startswith("person ")] == ["yours"]
    assert [b.key for b in at.button if b.key.startswith("drawings_delete_")] == [f"drawings_delete_{mine.id}"]
    at.toggle(key="drawings_wrong").set_value(False).run()
    deletable = [b.key for b in at.button if b.key.startswith("drawings_delete_")]
    assert deletable == [f"drawings_delete_{mine.id}"]  # the others' are not offered
    board = at.dataframe[0].value
    assert {"default", "seed"} <= set(board["model"]) and (board["drawings scored"] == 6).all()
    at.button(key=f"drawings_delete_{mine.id}").click().run()
    assert store.count() == 5 and not np.isin(mine.id, store.collection().ids)


@pytest.mark.parametrize("forged", ["alice2025", "ÄÖÜäöüßabc", "k3J9x2k3J9x2k3J9.not-a-signature-at-all", ""])
def test_a_link_the_server_did_not_sign_is_replaced_with_a_fresh_one(forged):
    at = visitor(forged)
    link = at.session_state["me"]
    assert link != forged and keys().owner_of(link) is not None and at.query_params["me"] == link
    if forged:
        assert any("not made by this app" in w.value for w in at.warning)
    tampered = link[:-2] + ("AA" if not link.endswith("AA") else "BB")
    at.query_params["me"] = tampered
    at.run()
    assert at.session_state["me"] == link  # the session keeps its own; the tampered one is set aside
    assert any("not made by this app" in w.value for w in at.warning)


def test_a_signed_link_followed_is_that_person_and_start_afresh_is_a_new_one():
    ann = keys().new_link()
    at = visitor(ann)
    assert session_owner(at) == keys().owner_of(ann)
    name = keys().pseudonym(keys().owner_of(ann))
    assert any(name in c.value for c in at.sidebar.caption)
    at.button(key="identity_afresh").click().run()
    assert at.session_state["me"] != ann and at.query_params["me"] == at.session_state["me"]
    assert session_owner(at) != keys().owner_of(ann)


def test_a_replaced_link_acts_no_more_anywhere_and_its_owner_keeps_everything(tiny_mnist):
    """Ann's link leaked: Bob has a page open with it. Ann replaces her link; Bob's next rename
    renames nothing, and the old link, followed anew, is set aside; Ann keeps her run."""
    old = keys().new_link()
    store, run = saved_run(tiny_mnist, owner=keys().owner_of(old))
    ann, bob = visitor(old), visitor(old)
    bob.switch_page("app_pages/runs.py").run()
    assert not bob.checkbox(key="runs_confirm_delete").disabled  # Bob acts as Ann
    ann.button(key="identity_replace").click().run()
    new = ann.session_state["me"]
    assert new != old and ann.query_params["me"] == new and session_owner(ann) == keys().owner_of(old)
    assert any("works nowhere any more" in w.value for w in ann.sidebar.warning)
    bob.text_input(key="runs_new_name").set_value("stolen")
    bob.button(key="FormSubmitter:runs_rename_form-Rename").click().run()
    assert [r.name for r in store.list()] == [run.name]
    assert any("was replaced by its owner" in w.value for w in bob.sidebar.warning)
    assert bob.session_state["me"] not in (old, new)
    carol = visitor(old)  # the leaked link, followed later
    assert carol.session_state["me"] != old and any("replaced by its owner" in w.value for w in carol.sidebar.warning)
    ann.switch_page("app_pages/runs.py").run()
    ann.text_input(key="runs_new_name").set_value("still mine")
    ann.button(key="FormSubmitter:runs_rename_form-Rename").click().run()
    assert [r.name for r in store.list()] == ["still mine"]


def test_admin_emails_must_be_a_list_and_a_login_must_bring_an_email():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["admins"] = {"emails": "teacher@school.org"}
    at.run()
    assert "`[admins] emails` must be a list" in at.error[0].value
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.user = {"is_logged_in": True, "sub": "uid-1"}
    at.run()
    assert any("gave no email address" in w.value for w in at.sidebar.warning)
    assert keys().owner_of(at.session_state["me"]) is not None  # known by a private link instead
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["admins"] = {"emails": ["Teacher@School.org"]}
    at.user = {"is_logged_in": True, "sub": "uid-2", "email": "teacher@school.org"}
    at.run()
    assert any("Signed in as **teacher@school.org**" in c.value for c in at.sidebar.caption)
    assert any("(admin)" in c.value or "teacher@school.org" in c.value for c in at.sidebar.caption)


def test_tables_show_a_dash_where_a_value_is_missing_never_none(tiny_mnist):
    from mnist_core.store.drawings import DrawingStore

    store, _ = saved_run(tiny_mnist)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/runs.py").run()  # no drawings: "on drawings" is missing for every run
    cells = shown(at.dataframe[0])
    assert not at.exception and cells["on drawings"] == ["—"] and cells["test accuracy"][0].endswith("%")
    assert not any(v in (None, "None", "nan") for column in cells.values() for v in column)
    DrawingStore(store.db).add(tiny_mnist.x_test[0], 3, "")  # only 3s drawn: the other digits' cells are missing
    at.switch_page("app_pages/drawings.py").run()
    board = shown(at.dataframe[-1])
    assert board["0"] == ["—"] * len(board["model"]) and all(v.endswith("%") for v in board["3"])
    assert not any(v in (None, "None", "nan") for column in board.values() for v in column)


def test_why_this_reading_shows_the_pixels_and_the_units():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.session_state["draw_canvas_0"] = canvas_value(drawn_one())
    at.run()
    assert next(m for m in at.metric if m.label == "Prediction").value == "1"
    shown_before = len(at.get("image"))
    at.toggle(key="draw_explain").set_value(True).run()
    assert not at.exception and len(at.get("image")) == shown_before + 9  # the pixels, and eight units
    captions = [c.value for c in at.caption]
    assert any(c.startswith("The hidden units it switched on most") for c in captions)
    assert any("Red: ink that made it read 1" in str(i.proto) for i in at.get("image"))


def test_why_this_reading_names_the_output_units_of_a_network_without_hidden_layers():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    models = at.selectbox(key="model_choice")
    models.set_value(next(label for label in models.options if "book" in label)).run()
    at.session_state["draw_canvas_0"] = canvas_value(drawn_one())
    at.run()
    at.toggle(key="draw_explain").set_value(True).run()
    assert any(c.value.startswith("The output units of the two digits") for c in at.caption)


def test_a_star_is_not_a_digit_and_says_why_and_its_reading_is_kept():
    star = Image.new("RGBA", (280, 280), "black")
    ImageDraw.Draw(star).line([(140, 20), (180, 260), (30, 100), (250, 100), (100, 260), (140, 20)], fill="white",
                              width=14)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.session_state["draw_canvas_0"] = canvas_value(star)
    at.run()
    assert next(m for m in at.metric if m.label == "Prediction").value == "Not a digit"
    assert not [m for m in at.metric if m.label == "Confidence"]
    said = [c.value for c in at.caption]
    assert any(c.startswith("It looks more like a") and "than a digit. If it is a digit, it is most like" in c
               and c.endswith(words.NONE_OF_THESE) for c in said), said  # and why ten outputs still name one
    closest = next(m for m in at.metric if m.label == "If it is a digit")
    assert closest.value[0].isdigit() and closest.value.endswith("%)")  # the reading, kept beside the warning
    assert any("Why not a digit" in str(i.proto) for i in at.get("image"))  # the ink that makes it so
    assert at.button(key="draw_right").label.startswith("Yes, a")  # the reading is kept: it can be labelled


def test_a_runs_reliability_diagram_and_calibration_error(tiny_mnist, synthetic_data):
    saved_run(tiny_mnist)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/runs.py").run()
    at.toggle(key="runs_reliability").set_value(True).run()
    assert not at.exception
    note = next(c.value for c in at.caption if "expected calibration error" in c.value)
    assert re.search(r"error \d+\.\d% as the network says, \d+\.\d% as the app shows it", note)


def test_an_uploaded_model_is_loaded_once_however_many_strokes_follow(monkeypatch):
    """Each stroke reruns the page; the upload is the same file: one load in all (a load is a
    process of its own), and one try for a file that cannot be used."""
    from mnist_core.reading import classifier as reading
    from mnist_core.reading.classifier import SEED_MODEL

    loads = []
    real = reading._open_isolated
    monkeypatch.setattr(reading, "_open_isolated", lambda path: loads.append(path.name) or real(path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.selectbox(key="model_choice").set_value("Upload a model…").run()
    at.file_uploader(key="draw_model_file").upload("mine.keras", SEED_MODEL.read_bytes()).run()
    for width in (12, 16, 20, 24, 28):  # five strokes
        at.session_state["draw_canvas_0"] = canvas_value(drawn_one(width=width))
        at.run()
        assert not at.exception and next(m for m in at.metric if m.label == "Prediction").value == "1"
    assert len(loads) == 1
    at.file_uploader(key="draw_model_file").upload("bad.keras", b"not a model").run()
    for width in (12, 16, 20):
        at.session_state["draw_canvas_0"] = canvas_value(drawn_one(width=width))
        at.run()
        assert not at.exception and "cannot be read as a dense Keras model" in at.error[0].value
    assert len(loads) == 2
def test_the_class_page_shows_the_best_of_each_network_by_pseudonym_and_the_runs_page_filters(tiny_mnist):
    from tests.apptest import page_bytes

    ann, bob = keys().new_link(), keys().new_link()
    saved_run(tiny_mnist, "seed", keys().owner_of(ann))
    saved_run(tiny_mnist, "hidden", keys().owner_of(bob))
    at = visitor(ann)
    at.switch_page("app_pages/teacher.py").run()
    assert not at.exception and [m.value for m in at.metric if m.label in ("Runs", "People")] == ["2", "2"]
    best = shown(at.dataframe[0])
    names = {keys().pseudonym(keys().owner_of(link)).rsplit("-", 1)[0] for link in (ann, bob)}
    assert {n.split("'s ")[0] for n in best["best run"]} == names and len(best["network"]) == 2
    assert b"link:" not in page_bytes(at)  # pseudonyms only
    at.switch_page("app_pages/runs.py").run()
    assert len(shown(at.dataframe[0])["name"]) == 2  # one's own machine: everyone's at first
    at.segmented_control(key="runs_scope").set_value("mine").run()
    assert len(shown(at.dataframe[0])["name"]) == 1 and shown(at.dataframe[0])["whose"] == ["yours"]
