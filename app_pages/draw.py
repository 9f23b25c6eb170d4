"""Draw page: draw (or upload) a digit, see what the dense model reads and what it saw."""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from app_pages.common import (
    MODEL_KEY,
    classifier,
    enlarge,
    model_choices,
    model_file,
    probability_chart,
    save_uploaded_model,
    warm_up_tensorflow,
)
from mnist_core.classifier import ModelError
from mnist_core.database import StoreError
from mnist_core.image_file import ImageError, preview, read_image
from mnist_core.preprocessing import NotADigit, preprocess
from mnist_core.runs import RunError

st.title("Draw a digit")

with st.sidebar:
    st.header("Model")
    choices, store_problem = model_choices()
    if store_problem:
        st.warning(store_problem)
    upload_label = "Upload a model…"
    if st.session_state.get(MODEL_KEY) not in [*choices, upload_label]:
        st.session_state[MODEL_KEY] = next(iter(choices))
    choice = st.selectbox("Model", [*choices, upload_label], key=MODEL_KEY)
    model_name = choices.get(choice)
    model_path = None
    if choice == upload_label:
        uploaded_model = st.file_uploader("A .keras or .h5 model", type=["keras", "h5"], key="draw_model_file")
        model_path = save_uploaded_model(uploaded_model.getvalue(), uploaded_model.name) if uploaded_model else None
    st.header("Pen")
    pen = st.slider("Pen width", 4, 60, 20, key="draw_pen")

left, right = st.columns([1, 1], gap="large")
with left:
    source = st.radio("Input", ["Draw", "Upload an image"], horizontal=True, key="draw_source")
    image, problem = None, None
    if source == "Draw":
        st.session_state.setdefault("draw_clear_count", 0)
        st.write("")  # room for the canvas's floating toolbar
        st.write("")
        canvas = st_canvas(
            stroke_width=pen, stroke_color="#FFFFFF", background_color="#000000",
            height=280, width=280, drawing_mode="freedraw", update_streamlit=True,
            return_image_data=True, key=f"draw_canvas_{st.session_state.draw_clear_count}",
        )
        if st.button("Clear", key="draw_clear", icon=":material/ink_eraser:"):
            st.session_state.draw_clear_count += 1
            st.rerun()
        image = canvas.image_data
    else:
        upload = st.file_uploader(
            "A photo or scan of one handwritten digit", type=["png", "jpg", "jpeg", "gif", "bmp", "webp"],
            key="draw_image_file",
        )
        if upload is not None:
            try:
                image = read_image(upload.getvalue())
                st.image(preview(image), caption=upload.name, width=280)
            except ImageError as e:
                problem = f"{upload.name}: {e}"

warm_up_tensorflow()  # after the canvas is on screen: importing TensorFlow holds the GIL for seconds
with right:
    model = None  # loaded after the canvas is on screen: the first load imports TensorFlow
    if model_path is not None or model_name is not None:
        try:
            model = classifier(model_path or model_file(model_name))
        except (ModelError, RunError, StoreError, OSError) as e:
            st.error(f"This model cannot be used: {e}")
    else:
        st.info("Upload a model in the sidebar, or choose another one.")
    x28, hint = None, ""
    if image is not None and not problem:
        try:
            x28 = preprocess(image)
        except NotADigit as e:
            hint = f"That is {e}."
    if problem:
        st.error(problem)
    elif hint:
        st.warning(hint)
    elif x28 is None:
        st.info("Draw a digit on the black square (or upload an image) to see what the model reads.")
    elif model is not None:
        probabilities = model.predict_proba(x28)
        digit = int(probabilities.argmax())
        a, b = st.columns(2)
        a.metric("Prediction", digit)
        b.metric("Confidence", f"{probabilities[digit]:.1%}")
        probability_chart(probabilities)
        st.image(enlarge(x28), caption="What the model sees: 28x28, as MNIST", width=196)
