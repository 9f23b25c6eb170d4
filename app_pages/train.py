"""Train page: the book's fit (or any preset) in the background, with live charts and a stop."""

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.common import MODEL_KEY, classifier, confusion_chart, enlarge, job_slot, line_chart, mnist, run_label
from mnist_core import data as mnist_data
from mnist_core.analysis import confident_mistakes, confusion_matrix, downsample, first_layer_pictures
from mnist_core.config import OPTIMIZERS, PRESET_NOTES, PRESETS, ConfigError, parse_hidden
from mnist_core.job import JobRunning, JobState
from mnist_core.runs import read_run, runs_dir

BOOK = {"val_accuracy": 0.923, "test_accuracy": 0.922}  # chapter 1's published figures, seed model
FIELDS = ("epochs", "batch_size", "learning_rate", "optimizer", "hidden", "dropout", "validation_split", "seed")

st.title("Train a dense network")

with st.sidebar:
    st.header("Settings")
    preset_name = st.selectbox("Preset", list(PRESETS), key="train_preset",
                               help="\n".join(f"- **{k}**: {v}" for k, v in PRESET_NOTES.items()))
    st.caption(PRESET_NOTES[preset_name])
    preset = PRESETS[preset_name]
    # Each field starts at the preset's value, keyed per preset: switching presets gives fresh
    # fields, and a field whose state Streamlit drops falls back to the preset, not to its minimum.
    with st.form("train_form"):
        values = {
            "epochs": st.number_input("Epochs", 1, 10_000, preset.epochs, key=f"train_epochs_{preset_name}"),
            "batch_size": st.number_input("Batch size", 1, 60_000, preset.batch_size,
                                          key=f"train_batch_size_{preset_name}"),
            "learning_rate": st.number_input("Learning rate", 1e-6, 10.0, preset.learning_rate, format="%.4f",
                                             key=f"train_learning_rate_{preset_name}"),
            "optimizer": st.selectbox("Optimizer", OPTIMIZERS, OPTIMIZERS.index(preset.optimizer),
                                      key=f"train_optimizer_{preset_name}"),
            "hidden": st.text_input("Hidden layers", ", ".join(map(str, preset.hidden)), key=f"train_hidden_{preset_name}",
                                    help="ReLU units per layer, e.g. 128, 128; empty for none"),
            "dropout": st.slider("Dropout", 0.0, 0.9, preset.dropout, step=0.05, key=f"train_dropout_{preset_name}"),
            "validation_split": st.slider("Validation split", 0.05, 0.5, preset.validation_split, step=0.05,
                                          key=f"train_validation_split_{preset_name}"),
            "seed": st.number_input("Seed", 0, 2**31 - 1, preset.seed, key=f"train_seed_{preset_name}"),
        }
        start = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:")

slot = job_slot()
if start:
    try:
        config = preset.replace(**{**values, "hidden": parse_hidden(values["hidden"])})  # keeps augmentation etc.
        # looked up at each start, so tests can patch the loader; the job runs it in a child process
        slot.start(config, preset_name, mnist_data.load_mnist, runs_dir())
    except ConfigError as e:
        st.error(f"Check the settings: {e}")
    except JobRunning as e:
        st.warning(f"{e}. Its progress is below.")


def show_curves(state: JobState) -> None:
    history = pd.DataFrame(state.history, index=pd.RangeIndex(1, state.epochs_done + 1, name="epoch"))
    a, b = st.columns(2)
    with a:
        st.subheader("Loss")
        line_chart(history[["loss", "val_loss"]], "epoch", "loss")
    with b:
        st.subheader("Accuracy")
        line_chart(history[["accuracy", "val_accuracy"]], "epoch", "accuracy")
    if state.batch_loss:
        group = -(-len(state.batch_loss) // 400)  # batches per point, at most 400 points
        points = downsample(state.batch_loss, 400)
        frame = pd.DataFrame({"batch loss": points}, index=np.arange(len(points)) * group + 1)
        line_chart(frame, "batch" if group == 1 else f"batch (means of {group})", "batch loss", height=180, log_y=True)


def show_progress(state: JobState) -> None:
    total = state.config.epochs
    if state.status == "loading data":
        st.progress(0.0, text=f"Loading MNIST… {state.message}")
    elif state.active:
        left = state.seconds_left
        text = f"Epoch {state.epochs_done} of {total} · {state.elapsed:.0f} s elapsed"
        text += f" · about {left:.0f} s left" if left is not None else ""
        st.progress(state.epochs_done / total, text=text)
    if state.active and st.button("Stop", key="train_stop", icon=":material/stop:"):
        slot.job.request_stop()
        st.toast("Stopping after this epoch; the model so far will be saved.")


def job_view(polling: bool) -> None:
    """Progress and curves, redrawn every 2 s (each redraw takes CPU from a running fit)."""
    state = slot.job.snapshot()
    show_progress(state)
    show_curves(state)
    if state.active != polling:
        st.rerun()


@st.cache_resource(show_spinner="Scoring the test set…", max_entries=4)
def test_report(model_path: str) -> dict:
    clf = classifier(Path(model_path))
    data = mnist()
    probabilities = clf.predict_proba(data.x_test.astype(np.float32) / 255.0)
    worst = confident_mistakes(probabilities, data.y_test, 12)
    return {
        "confusion": confusion_matrix(data.y_test, probabilities.argmax(axis=1)),
        "mistakes": [(data.x_test[i], int(data.y_test[i]), int(probabilities[i].argmax()),
                      float(probabilities[i].max())) for i in worst],
        "pictures": first_layer_pictures(clf.model, limit=40),
    }


def show_results(state: JobState) -> None:
    run = read_run(state.run_folder)
    st.success(f"{'Stopped' if state.status == 'stopped' else 'Finished'} after {state.epochs_done} epochs: "
               f"saved as “{run.name}”.")
    test, val = state.test_accuracy, state.history["val_accuracy"][-1]

    def versus_book(value: float, key: str) -> str | None:  # the book's figures are the seed model's
        return f"{(value - BOOK[key]) * 100:+.2f} pts vs the book's {BOOK[key]:.1%}" if state.preset == "seed" else None

    a, b, c = st.columns(3)
    a.metric("Test accuracy", f"{test:.2%}", delta=versus_book(test, "test_accuracy"), delta_color="off")
    b.metric("Validation accuracy", f"{val:.2%}", delta=versus_book(val, "val_accuracy"), delta_color="off")
    c.metric("Training time", f"{run.record.get('fit_seconds', 0):.1f} s")
    if state.preset != "seed":
        st.caption("The book's seed model, for reference: validation 92.3%, test 92.2%.")
    if st.button("Draw with this model", key="train_use_model", icon=":material/draw:"):
        st.session_state[MODEL_KEY] = run_label(run)
        st.switch_page("app_pages/draw.py")
    try:
        report = test_report(str(run.model_path))
    except mnist_data.DataError as e:
        st.error(str(e))
        return
    left, right = st.columns(2)
    with left:
        st.subheader("Confusion matrix")
        st.caption("Rows: the true digit; columns: what the model said.")
        confusion_chart(report["confusion"])
    with right:
        st.subheader("Most confidently wrong test digits")
        cols = st.columns(6)
        for i, (image, true, predicted, confidence) in enumerate(report["mistakes"]):
            cols[i % 6].image(enlarge(image / 255.0, 84), caption=f"{true}→{predicted} {confidence:.0%}")
    pictures = report["pictures"]
    st.subheader("What it learned: " + ("the ten digit templates" if len(pictures) == 10 else "first-layer units"))
    st.caption("Red: ink here votes for the unit; blue: against.")
    cols = st.columns(10)
    for i, picture in enumerate(pictures):
        rgb = np.stack([np.clip(picture, 0, 1), np.zeros_like(picture), np.clip(-picture, 0, 1)], axis=-1)
        cols[i % 10].image(np.kron(rgb, np.ones((3, 3, 1))), caption=str(i), clamp=True)


if slot.job is None:
    st.info("Choose a preset or settings in the sidebar and press **Start training**. "
            "The default is the book's chapter-1 fit: one softmax layer, SGD, 200 epochs.")
else:
    state = slot.job.snapshot()
    st.write(f"**{state.preset}** · {', '.join(f'{k}={v}' for k, v in state.config.to_dict().items() if k in FIELDS)}")
    # One fragment, always polling (a constant run_every, so the browser's timer never belongs to
    # an older fragment); it asks for one full rerun when the job starts or ends.
    st.fragment(job_view, run_every=2.0)(state.active)
    if not state.active:
        if state.status == "failed":
            st.error(f"Training failed: {state.error}")
        elif state.run_folder is not None:
            show_results(state)
        else:
            st.warning(state.error or "Stopped.")
