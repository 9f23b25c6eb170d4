"""Draw page: draw (or upload) a digit, see what the dense model reads and why, and say what it was."""

import hashlib
import json

import numpy as np
import streamlit as st

from app_pages.canvas import st_canvas
from app_pages.common import (
    DRAW_SCOPE,
    MODEL_KEY,
    actor,
    classifier,
    drawing_store,
    enlarge,
    model_choices,
    model_file,
    probability_chart,
    save_uploaded_model,
    scope_picker,
)
from app_pages.diagram import show_diagram
from app_pages.lesson_link import lesson_for, lesson_maker, lesson_model
from mnist_core import words
from mnist_core.drawing_files import as_png
from mnist_core.lesson import Scope
from mnist_core.owners import NotAllowed
from mnist_core.preprocessing import NotADigit, preprocess_and_span
from mnist_core.reading.classifier import MODEL_SUFFIXES, ModelError
from mnist_core.reading.explain import Explanation, explain, heatmap, unlike_a_digit
from mnist_core.reading.image_file import CANVAS_SIDE, EXTENSIONS, ImageError, preview, read_canvas, read_image
from mnist_core.reading.interpretation import Reading, a_digit, differences, interpret, overlay
from mnist_core.store.database import StoreError
from mnist_core.store.drawings import CANVAS, UPLOAD, DrawingError
from mnist_core.store.runs import RunError

KEPT = "draw_kept"  # session state: drawing fingerprint -> the id it was kept under
NOTICE = "draw_notice"  # session state: (kind, one line) from the last labelling
LABELLED = "draw_label_for"  # session state: the fingerprint the "No, it was a" digits answer for

st.title("Draw a digit")
me = actor()
lesson = lesson_for("draw")  # a teacher's link: the model, fixed

with st.sidebar:
    st.header("Model")
    choices, store_problem = model_choices(scope_picker(DRAW_SCOPE, Scope.MINE), me.owner)
    if store_problem:
        st.warning(store_problem)
    upload_label = "Upload a model…"
    if st.session_state.get(MODEL_KEY) not in [*choices, upload_label]:
        st.session_state[MODEL_KEY] = next(iter(choices))
    fixed = lesson_model(lesson, choices)
    if fixed is not None:
        st.session_state[MODEL_KEY] = fixed
    choice = st.selectbox("Model", [*choices, upload_label], key=MODEL_KEY, disabled=fixed is not None)
    model_name = choices.get(choice)
    model_path = None
    if choice == upload_label:
        uploaded_model = st.file_uploader("A .keras or .h5 model", type=[s.lstrip(".") for s in MODEL_SUFFIXES],
                                          key="draw_model_file")
        model_path = save_uploaded_model(uploaded_model) if uploaded_model else None
    st.header("Pen")
    pen = st.slider("Pen width", 4, 60, 20, key="draw_pen")
    if lesson is None and model_name is not None:
        lesson_maker("draw", model=model_name)


def keep(label: int, x28: np.ndarray, span: float | None, reading: Reading, model: str, source: str,
         picture: object, strokes: str | None, fingerprint: str) -> None:
    """Keep the drawing with its label (a second answer relabels it); runs before the rerun.
    `span`: its ink's width in strokes, which judged it a blob or not; `picture`: the canvas's
    PNG bytes, or the uploaded image (made a PNG only now)."""
    me = actor()  # as of now, not the last run: a link replaced meanwhile acts no more
    kept = st.session_state.setdefault(KEPT, {})
    try:
        store = drawing_store()
        if fingerprint in kept:
            store.relabel(kept[fingerprint], label, me)
        else:
            image = picture if isinstance(picture, bytes) or picture is None else as_png(picture)
            kept[fingerprint] = store.add(x28, label, me.owner, predicted=reading.digit,
                                          confidence=reading.confidence, model=model, source=source, image=image,
                                          strokes=strokes, strokes_across=span).id
        st.session_state[NOTICE] = ("success",
                                    f"Kept as {a_digit(label)}. Thank you: it helps score and train the models.")
    except DrawingError as e:  # deleted meanwhile (here, on the Drawings page, by an admin)
        kept.pop(fingerprint, None)
        st.session_state[NOTICE] = ("warning", f"{e}. Answer again to keep it anew.")
    except (StoreError, NotAllowed) as e:
        st.session_state[NOTICE] = ("error", f"The drawing could not be kept: {e}")


def keep_chosen(*answer: object) -> None:
    """The "No, it was a …" digits: keep the drawing with the one chosen."""
    if st.session_state.get("draw_label") is not None:
        keep(st.session_state["draw_label"], *answer)


def undo(fingerprint: str) -> None:
    me = actor()  # as of now, as in keep()
    kept = st.session_state.setdefault(KEPT, {})
    try:
        drawing_store().delete(kept.pop(fingerprint), me)
        st.session_state[NOTICE] = ("info", "Deleted: that drawing is not kept.")
    except (DrawingError, StoreError, NotAllowed, KeyError) as e:
        st.session_state[NOTICE] = ("warning", f"Nothing to undo ({e}).")


def show_why(why: Explanation) -> None:
    """The explanation of a reading, each picture with one plain line under it."""
    st.image(heatmap(why.pixels), width=196,
             caption=f"Red: ink that made it read {why.reading}; blue: ink that pointed to {why.runner_up} instead")
    kind = "hidden units it switched on most" if why.hidden else "output units of the two digits"
    st.caption(f"The {kind}, and what each looks for (its weights on the 28x28: red where ink switches it on, "
               "blue where ink switches it off):")
    cols = st.columns(4)
    for i, unit in enumerate(why.units):
        label = f"unit {unit.index}" if why.hidden else f"the {unit.index} unit"
        cols[i % 4].image(heatmap(unit.picture, 84), caption=f"{label}: {unit.activation:.1f}")
    st.caption(words.UNIT_NUMBER if why.hidden else words.OUTPUT_NUMBER)


left, right = st.columns([1, 1], gap="large")
with left:
    source = st.radio("Input", ["Draw", "Upload an image"], horizontal=True, key="draw_source")
    # The reading goes above the canvas, in a box of fixed height: in view right after drawing
    # on a phone, and the canvas never moves while a person draws.
    headline = st.container(height=110, border=False)
    image, problem, picture, strokes = None, None, None, None
    if source == "Draw":
        st.session_state.setdefault("draw_clear_count", 0)
        canvas_key = f"draw_canvas_{st.session_state.draw_clear_count}"
        canvas = st_canvas(
            stroke_width=pen, stroke_color="#FFFFFF", background_color="#000000",
            height=CANVAS_SIDE, width=CANVAS_SIDE, drawing_mode="freedraw", update_streamlit=True,
            return_image_data=True, key=canvas_key,
        )
        if st.button("Clear", key="draw_clear", icon=":material/ink_eraser:"):
            st.session_state.draw_clear_count += 1
            st.rerun()
        # The frame as the client sent it, checked before it is decoded (canvas.image_data would
        # decode whatever a client puts there: a 0.5 MB PNG can declare 80 megapixels).
        frame = ((st.session_state.get(canvas_key) or {}).get("drawing") or {}).get("data")
        if frame:
            try:
                image = read_canvas(frame)
                picture, strokes = canvas.image_bytes, json.dumps(canvas.json_data) if canvas.json_data else None
            except ImageError as e:
                problem = str(e)
    else:
        upload = st.file_uploader("A photo or scan of one handwritten digit", type=list(EXTENSIONS),
                                  key="draw_image_file")
        if upload is not None:
            try:
                image = read_image(upload.getvalue())
                st.image(preview(image), caption=upload.name, width=280)
                picture = image
            except ImageError as e:
                problem = f"{upload.name}: {e}"
    labelling = st.container()

with right:
    model = None
    if model_path is not None or model_name is not None:
        try:
            model = classifier(model_path, untrusted=True) if model_path else classifier(model_file(model_name))
        except (ModelError, RunError, StoreError, OSError) as e:
            st.error(f"This model cannot be used: {e}")
    else:
        st.info("Upload a model in the sidebar, or choose another one.")
    x28, span, hint = None, None, ""
    if image is not None and not problem:
        try:
            x28, span = preprocess_and_span(image)
        except NotADigit as e:
            hint = f"That is {e}."
    with headline:
        if problem:
            st.error(problem)
        elif hint:
            st.warning(hint)
        elif x28 is None:
            st.info("Draw a digit on the black square (or upload an image) to see what the model reads.")
    if x28 is not None and model is not None:
        # seven views averaged, the confidence calibrated, and "not a digit" judged (classifier.judge)
        judged = model.judge(x28, [span])
        probabilities = judged.probabilities[0]
        reading = interpret(probabilities, judged.not_a_digit[0], judged.looks_like[0])
        with headline, st.container(horizontal=True, gap="large"):
            if reading.not_a_digit:  # the reading is kept, said as what it would be if it were a digit
                st.metric("Prediction", reading.headline, delta=f"more like {reading.looks_like}", delta_color="off",
                          delta_arrow="off", width="content", help=reading.warning)
                st.metric("If it is a digit", f"{reading.digit} ({reading.confidence:.0%})", width="content",
                          help=f"{reading.closest}. {words.NONE_OF_THESE}")
            else:
                st.metric("Prediction", reading.headline, width="content")
                confidence = f"{reading.confidence:.0%} / {reading.runner_up_confidence:.0%}" if reading.unsure \
                    else f"{reading.confidence:.1%}"
                st.metric("Confidence", confidence, width="content",
                          help="Calibrated: of readings this sure, about this share are right"
                          + ("; unsure: the two likeliest digits are close" if reading.unsure else ""))
        probability_chart(probabilities)
        if reading.not_a_digit:  # why the chart still names a digit
            st.caption(f"{reading.warning} {reading.closest}. {words.NONE_OF_THESE}")
        notes = differences(x28, reading.digit)
        compare = st.toggle("Compare with MNIST's own digits", key="draw_compare", value=bool(notes),
                            help="Where this drawing's ink differs from most MNIST digits of the kind it was read as: "
                                 "stroke width, width for its height, slant")
        if compare:
            st.image(overlay(x28, reading.digit), caption=f"What the model sees, against MNIST's {reading.digit}s",
                     width=196)
            for note in notes or [f"Within what most of MNIST's {reading.digit}s look like: stroke width, width "
                                  "for its height and slant."]:
                st.caption(note)
        else:
            st.image(enlarge(x28), caption="What the model sees: 28x28, as MNIST", width=196)
        if reading.not_a_digit:
            st.image(heatmap(unlike_a_digit(model, x28)), width=196,
                     caption=f"Why not a digit: red is the ink that makes it look like {reading.looks_like}, blue the "
                             "ink that looks like a digit's")
        if st.toggle("Why this reading?", key="draw_explain",
                     help="Which pixels pushed the network toward its reading, and what its busiest units look for"):
            show_why(explain(model, x28, reading.digit, reading.runner_up))
        if st.toggle("Inside the network", key="draw_inside", value=True,
                     help="The network as a diagram, lit by this drawing: redrawn with every stroke"):
            show_diagram(model.net, x28, probabilities)

        fingerprint = hashlib.sha256(x28.tobytes() + str(model_path or model_name).encode()).hexdigest()[:20]
        answer = (x28, span, reading, model_name or "uploaded model", CANVAS if source == "Draw" else UPLOAD,
                  picture, strokes, fingerprint)
        with labelling:
            st.write(f"**Was it {a_digit(reading.digit)}?**")
            row = st.container(horizontal=True)
            row.button(f"Yes, {a_digit(reading.digit)}", key="draw_right", icon=":material/check:",
                       on_click=keep, args=(reading.digit, *answer))
            if st.session_state.get(LABELLED) != fingerprint:  # a new drawing: no digit chosen yet
                st.session_state[LABELLED] = fingerprint
                st.session_state.pop("draw_label", None)
            # one key for every drawing: a key per drawing kept every old widget's state (+60 MB in
            # a 10 s soak of 200 drawings, tests/test_load.py)
            row.pills("No, it was a", list(range(10)), key="draw_label", on_change=keep_chosen, args=answer)
            kind, line = st.session_state.pop(NOTICE, (None, ""))
            if kind:
                getattr(st, kind)(line)
            if fingerprint in st.session_state.get(KEPT, {}):
                st.button("Undo: don't keep it", key="draw_undo", icon=":material/undo:", on_click=undo,
                          args=(fingerprint,))
            st.caption("Labelled drawings are kept (the drawing, its strokes, your label, and who you are to this "
                       "app) to score and improve the models. You can delete yours on the Drawings page.")
