"""Train page: the book's fit (or any preset) in the background, with live charts and a stop."""

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.common import (
    MODEL_KEY,
    budget,
    classifier,
    configured_url,
    confusion_chart,
    enlarge,
    job_slot,
    line_chart,
    mnist,
    run_label,
    run_store,
)
from mnist_core import data as mnist_data
from mnist_core.analysis import Evaluation, downsample, evaluate
from mnist_core.budget import BudgetError, estimated_seconds
from mnist_core.config import (
    BOOK_FIGURES,
    PRESET_NOTES,
    PRESETS,
    ConfigError,
    Setting,
    TrainConfig,
    format_value,
    is_the_books_fit,
    parse_hidden,
    settings,
)
from mnist_core.database import StoreError
from mnist_core.job import JobRunning, JobState, JobStatus
from mnist_core.runs import RunError

st.title("Train a dense network")


def setting_input(name: str, setting: Setting, value: Any, preset_name: str) -> Any:
    """The form's widget for one TrainConfig field, from its Setting: bounds, choices, help."""
    key = f"train_{name}_{preset_name}"  # per preset: switching presets gives fresh fields
    if setting.choices:
        return st.selectbox(setting.label, setting.choices, setting.choices.index(value), key=key, help=setting.help)
    if isinstance(value, tuple):
        return st.text_input(setting.label, format_value(value).replace("none", ""), key=key, help=setting.help)
    if isinstance(value, int):
        return st.number_input(setting.label, int(setting.low), int(setting.high), value, key=key, help=setting.help)
    # floats: the closed bounds here, an open end is refused by TrainConfig with its one line
    decimals = "%.4f" if setting.step and setting.step < 0.01 else "%.2f"
    return st.number_input(setting.label, float(setting.low), float(setting.high), float(value), step=setting.step,
                           format=decimals, key=key, help=setting.help)


with st.sidebar:
    st.header("Settings")
    preset_name = st.selectbox("Preset", list(PRESETS), key="train_preset",
                               help="\n".join(f"- **{k}**: {v}" for k, v in PRESET_NOTES.items()))
    st.caption(PRESET_NOTES[preset_name])
    preset = PRESETS[preset_name]
    # Every field of TrainConfig, each starting at the preset's value.
    with st.form("train_form"):
        values = {name: setting_input(name, setting, getattr(preset, name), preset_name)
                  for name, setting in settings()}
        start = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:")
    limits = budget()
    st.caption(f"This server allows {limits.seconds / 60:.0f} min of training and "
               f"{limits.max_parameters / 1e6:g} million parameters a run.")

slot = job_slot()
if start:
    try:
        config = preset.replace(**{**values, "hidden": parse_hidden(values["hidden"])})
        limits.check(config)
        # looked up at each start, so tests can patch the loader; the job runs it in a child process
        slot.start(config, preset_name, mnist_data.load_mnist, configured_url(), time_limit=limits.seconds)
        st.toast(f"Started: about {estimated_seconds(config):.0f} s of training expected.")
    except ConfigError as e:
        st.error(f"Check the settings: {e}")
    except BudgetError as e:
        st.error(f"Too big for this server: {e}")
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
    if state.status == JobStatus.LOADING:
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
def test_report(run_id: str) -> Evaluation:
    return evaluate(classifier(run_store().model_path(run_id)), mnist())


def versus_book(config: TrainConfig, value: float, metric: str) -> str | None:
    """The difference from the book's published figure, for the book's exact fit only."""
    if not is_the_books_fit(config):
        return None
    return f"{(value - BOOK_FIGURES[metric]) * 100:+.2f} pts vs the book's {BOOK_FIGURES[metric]:.1%}"


def show_results(state: JobState) -> None:
    run = run_store().get(state.run_id)
    st.success(f"{'Stopped' if state.status == JobStatus.STOPPED else 'Finished'} after {run.epochs_done} epochs: "
               f"saved as “{run.name}”.")
    a, b, c = st.columns(3)
    a.metric("Test accuracy", f"{run.test_accuracy:.2%}",
             delta=versus_book(run.config, run.test_accuracy, "test_accuracy"), delta_color="off")
    b.metric("Validation accuracy", f"{run.val_accuracy:.2%}",
             delta=versus_book(run.config, run.val_accuracy, "val_accuracy"), delta_color="off")
    c.metric("Training time", f"{run.fit_seconds:.1f} s")
    if not is_the_books_fit(run.config):
        st.caption("The book's chapter-1 fit, for reference: validation 92.3%, test 92.2%.")
    if st.button("Draw with this model", key="train_use_model", icon=":material/draw:"):
        st.session_state[MODEL_KEY] = run_label(run)
        st.switch_page("app_pages/draw.py")
    try:
        report = test_report(run.id)
    except mnist_data.DataError as e:
        st.error(str(e))
        return
    left, right = st.columns(2)
    with left:
        st.subheader("Confusion matrix")
        st.caption("Rows: the true digit; columns: what the model said.")
        confusion_chart(report.confusion)
    with right:
        st.subheader("Most confidently wrong test digits")
        cols = st.columns(6)
        for i, m in enumerate(report.mistakes):
            cols[i % 6].image(enlarge(m.image / 255.0, 84), caption=f"{m.true}→{m.predicted} {m.confidence:.0%}")
    pictures = report.pictures
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
    st.write(f"**{state.preset}** · {state.config.describe()}")
    # One fragment, always polling (a constant run_every, so the browser's timer never belongs to
    # an older fragment); it asks for one full rerun when the job starts or ends.
    st.fragment(job_view, run_every=2.0)(state.active)
    if not state.active:
        if state.status == JobStatus.FAILED:
            st.error(f"Training failed: {state.error}")
        elif state.run_id is not None:
            if state.note:
                st.info(f"Training {state.note}; the model so far is saved.")
            try:
                show_results(state)
            except (RunError, StoreError) as e:
                st.error(f"The run cannot be shown: {e}")
        else:
            st.warning(state.error or "Stopped.")
