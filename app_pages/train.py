"""Train page: queue the book's fit (or any preset), watch it train with live charts, stop it.

One training runs at a time per server; everyone else waits in a fair line (one waiting job a
person), sees their place and an estimated start, and can cancel. Only a job's owner, or an
admin, may stop or cancel it; everyone sees the line.
"""

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.common import (
    MODEL_KEY,
    actor,
    admin_login,
    budget,
    classifier,
    client_address,
    confusion_chart,
    enlarge,
    identity_keys,
    job_queue,
    line_chart,
    mnist,
    model_choices,
    run_label,
    run_store,
    runner,
    training_mode,
    trains_here,
)
from mnist_core import data as mnist_data
from mnist_core.analysis import Evaluation, downsample, evaluate
from mnist_core.budget import (
    BudgetError,
    available_memory,
    duration,
    estimated_seconds,
    layers,
    parameters,
    slowed_by_memory,
)
from mnist_core.config import (
    BOOK_FIGURES,
    PRESET_NOTES,
    PRESET_RESULTS,
    PRESETS,
    ConfigError,
    Setting,
    TrainConfig,
    format_value,
    is_the_books_fit,
    parse_hidden,
    settings,
)
from mnist_core.jobs.line import NEXT, JobQueue, QueuedJob, QueueError, Status, admit
from mnist_core.jobs.process import JobState, Phase
from mnist_core.owners import Actor, NotAllowed
from mnist_core.reading.classifier import ModelError
from mnist_core.store.database import StoreError
from mnist_core.store.drawings import DrawingError
from mnist_core.store.runs import FineTune, Run, RunError
from mnist_core.styles import NoFonts

st.title("Train a dense network")
me = actor()
admin_login()


def setting_input(name: str, setting: Setting, value: Any, preset_name: str) -> Any:
    """The form's widget for one TrainConfig field, from its Setting: bounds, choices, help."""
    key = f"train_{name}_{preset_name}"  # per preset: switching presets gives fresh fields
    if setting.names_a_model:  # "" (a new network), the shipped models, then every run
        names = {"": "A new network", **{ref: label for label, ref in model_choices()[0].items()}}
        options = list(names) if value in names else [*names, value]
        return st.selectbox(setting.label, options, options.index(value), format_func=lambda v: names.get(v, v),
                            key=key, help=setting.help)
    if setting.choices:
        return st.selectbox(setting.label, setting.choices, setting.choices.index(value), key=key, help=setting.help)
    if isinstance(value, tuple):
        return st.text_input(setting.label, format_value(value).replace("none", ""), key=key, help=setting.help)
    if isinstance(value, str):
        return st.text_input(setting.label, value, key=key, help=setting.help)
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
    preset = PRESETS[preset_name]
    # Every field of TrainConfig, each starting at the preset's value: the main ones first.
    values = {name: setting_input(name, setting, getattr(preset, name), preset_name)
              for name, setting in settings() if setting.main}
    with st.expander("More settings"):
        values |= {name: setting_input(name, setting, getattr(preset, name), preset_name)
                   for name, setting in settings() if not setting.main}
    limits = budget()
    st.caption(f"This server allows {duration(limits.seconds)} of training and {limits.max_parameters / 1e6:g} "
               f"million parameters a run, {limits.jobs_per_hour} runs an hour a person.")

try:
    jobs = job_queue()
except StoreError as e:
    st.error(f"Training needs the database, which is unavailable: {e}")
    st.stop()
if trains_here():
    runner().wake()  # a job left waiting (a restart, another server's line) starts here when this server is free
if training_mode() != "server" and not jobs.runners():
    st.warning("No worker has been seen in the last minute: jobs wait in the line until one starts "
               "(`python -m mnist_core worker --database URL` on a machine that reaches this app's database).")


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def chosen_config() -> tuple[TrainConfig | None, str]:
    """The settings as a config, or why they are not one."""
    try:
        return preset.replace(**{**values, "hidden": parse_hidden(values["hidden"])}), ""
    except ConfigError as e:
        return None, str(e)


def show_plan(config: TrainConfig | None, problem: str) -> bool:
    """What Start will do, before it is pressed: the preset's note and figures, the network, its
    size, the time it should take here and its place in the line; and Start. True on Start."""
    with st.container(border=True):
        note = PRESET_NOTES[preset_name]
        if is_the_books_fit(preset):
            book = BOOK_FIGURES
            note += f" · the book: validation {book['val_accuracy']:.1%}, test {book['test_accuracy']:.1%}"
        if preset_name in PRESET_RESULTS:
            note += f" · measured here: test {PRESET_RESULTS[preset_name]:.2%}"
        st.caption(f"**{preset_name}**: {note}")
        left, right = st.columns([3, 2], gap="large")
        with right:
            start = st.button("Start training", key="train_start", type="primary", icon=":material/play_arrow:",
                              disabled=config is None, width="stretch")
        if config is None:
            left.error(f"Check the settings: {problem}")
            return False
        shape = config if not config.base_model else None
        with left:
            if shape is None:
                st.write(f"Goes on training **{config.base_model}**: its own network, "
                         f"{config.epochs} epochs on MNIST beside the labelled drawings.")
            else:
                st.dataframe(pd.DataFrame([{"layer": la.name, "size": la.size, "parameters": la.parameters}
                                           for la in layers(shape)]), hide_index=True, width="stretch",
                             column_config={"parameters": st.column_config.NumberColumn(format="localized")})
                if shape.committee > 1:
                    st.caption(f"{shape.committee} such networks side by side, their probabilities averaged.")
        with right:
            line = jobs.line()
            waiting = sum(j.status == Status.QUEUED for j in line)
            if shape is not None:
                st.metric("Parameters", f"{parameters(shape):,}")
            st.metric("Training time here", f"about {duration(estimated_seconds(config))}",
                      help="Estimated from this project's measured fits (2 CPU cores); machines differ up to 3x")
            if trains_here() and slowed_by_memory(config, available_memory() + runner().training_memory()):
                st.warning("This server's memory is tight: the training fits, but TensorFlow will be read from "
                           "disk again and again, and it may take minutes instead of seconds.",
                           icon=":material/memory:")
            st.metric("Place in the line", "starts at once" if not line else
                      f"{ordinal(waiting + 1)}, in about {duration(JobQueue.starts_in(line)[NEXT])}")
        return start


config, problem = chosen_config()
if show_plan(config, problem):
    try:  # memory is the training machine's: this server's when it trains here
        admit(jobs, config, preset_name, me, limits, here=trains_here(), address=client_address(),
              free_bytes=available_memory() + runner().training_memory() if trains_here() else None)
        if trains_here():
            runner().wake()
    except (ConfigError, DrawingError, ModelError, NoFonts, RunError) as e:
        st.error(f"Check the settings: {e}")
    except BudgetError as e:
        st.error(f"Too big for this server: {e}")
    except (QueueError, StoreError) as e:
        st.warning(str(e))


def show_curves(history: dict[str, list[float]], batch_loss: list[float]) -> None:
    """Loss and accuracy per epoch; the loss of every batch when known (the job trained here)."""
    history = pd.DataFrame(history, index=pd.RangeIndex(1, len(history["loss"]) + 1, name="epoch"))
    a, b = st.columns(2)
    with a:
        st.subheader("Loss")
        line_chart(history[["loss", "val_loss"]], "epoch", "loss")
    with b:
        st.subheader("Accuracy")
        line_chart(history[["accuracy", "val_accuracy"]], "epoch", "accuracy")
    if batch_loss:
        group = -(-len(batch_loss) // 400)  # batches per point, at most 400 points
        points = downsample(batch_loss, 400)
        frame = pd.DataFrame({"batch loss": points}, index=np.arange(len(points)) * group + 1)
        line_chart(frame, "batch" if group == 1 else f"batch (means of {group})", "batch loss", height=180, log_y=True)


def show_progress(job: QueuedJob, state: JobState | None, jobs: JobQueue) -> None:
    """A running job: its progress bar (live when this server trains it), and Stop for its owner."""
    total = job.config.epochs
    if state is None:  # trained by another server or a worker: what its heartbeat says
        st.progress(job.epochs_done / total, text=f"Epoch {job.epochs_done} of {total} · on {job.runs_on}")
    elif state.phase == Phase.LOADING:
        st.progress(0.0, text=f"Loading MNIST… {state.message}")
    else:
        left = state.seconds_left
        text = f"Epoch {state.epochs_done} of {total} · {state.elapsed:.0f} s elapsed"
        text += f" · about {left:.0f} s left" if left is not None else ""
        st.progress(state.epochs_done / total, text=text)
    if me.may_change(job.owner) and not job.stop_requested:
        if st.button("Stop", key="train_stop", icon=":material/stop:"):
            stop_or_cancel(jobs, job, me)
            st.toast("Stopping in a moment; the model so far will be saved.")
    elif job.stop_requested:
        st.caption("Stopping…")


def stop_or_cancel(jobs: JobQueue, job: QueuedJob, who: Actor) -> None:
    try:
        jobs.cancel(job.id, who)
    except (QueueError, NotAllowed, StoreError) as e:
        st.error(str(e))


def live_view(job_id: str | None, polling: bool) -> None:
    """The visitor's job and the line, redrawn every 2 s (each redraw takes a little CPU from a
    running fit); one full rerun when the visitor's job starts or ends."""
    jobs = job_queue()
    if job_id is not None:
        job = jobs.get(job_id)
        if job.status == Status.QUEUED and trains_here():
            runner().wake()  # its runner may have ended just before the job came
        job_view(jobs, job)
        if (job.status in (Status.QUEUED, Status.RUNNING)) != polling:
            st.rerun()
    show_line(jobs)


def job_view(jobs: JobQueue, job: QueuedJob) -> None:
    if job.status == Status.QUEUED:
        line = jobs.line()
        queued = [j.id for j in line if j.status == Status.QUEUED]
        if job.id not in queued:  # claimed between the two reads: the next redraw shows it training
            st.info("Starting…", icon=":material/hourglass_top:")
            return
        place = queued.index(job.id) + 1
        wait = JobQueue.starts_in(line)[job.id]
        st.info(f"Waiting: {ordinal(place)} in line, starts in about {wait:.0f} s "
                f"({job.preset}, {job.config.epochs} epochs).", icon=":material/hourglass_top:")
        if me.may_change(job.owner) and st.button("Cancel", key="train_cancel", icon=":material/close:"):
            stop_or_cancel(jobs, job, me)
            st.rerun()
        return
    state = runner().live(job.id) if trains_here() else None  # trained here, lately: every batch
    if job.status == Status.RUNNING:
        show_progress(job, state, jobs)
    if state is not None:
        show_curves(state.history, state.batch_loss)
    elif job.progress.get("loss"):  # trained elsewhere (a worker, another server): what its heartbeat said
        show_curves(job.progress, [])
    elif job.run_id is not None:  # trained before the progress was kept: the run's record
        show_curves(run_store().history(job.run_id), [])


@st.cache_resource(show_spinner="Scoring the test set…", max_entries=4)
def test_report(run_id: str) -> Evaluation:
    return evaluate(classifier(run_store().model_path(run_id)), mnist())


def versus_book(config: TrainConfig, value: float, metric: str) -> str | None:
    """The difference from the book's published figure, for the book's exact fit only."""
    if not is_the_books_fit(config):
        return None
    return f"{(value - BOOK_FIGURES[metric]) * 100:+.2f} pts vs the book's {BOOK_FIGURES[metric]:.1%}"


def show_results(job: QueuedJob, run: Run) -> None:
    st.success(f"{'Stopped' if job.status == Status.STOPPED else 'Finished'} after {run.epochs_done} epochs: "
               f"saved as “{run.name}”.")
    if job.message:
        st.info(f"Training {job.message}; the model so far is saved.")
    a, b, c = st.columns(3)
    a.metric("Test accuracy", f"{run.test_accuracy:.2%}",
             delta=versus_book(run.config, run.test_accuracy, "test_accuracy"), delta_color="off")
    b.metric("Validation accuracy", f"{run.val_accuracy:.2%}",
             delta=versus_book(run.config, run.val_accuracy, "val_accuracy"), delta_color="off")
    c.metric("Training time", f"{run.fit_seconds:.1f} s")
    if not is_the_books_fit(run.config):
        st.caption(f"The book's chapter-1 fit, for reference: validation {BOOK_FIGURES['val_accuracy']:.1%}, "
                   f"test {BOOK_FIGURES['test_accuracy']:.1%}.")
    finetune = run_store().finetune(run.id)
    if finetune is not None:
        show_finetune(finetune)
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


def show_finetune(ft: FineTune) -> None:
    """Before and after: on the drawings it never trained on, and on MNIST's test set."""
    st.subheader("Before and after")
    whom = f"{ft.people_held_out} {'person' if ft.people_held_out == 1 else 'people'}" if ft.people_held_out \
        else "a random share"
    st.caption(f"Started from {ft.base_model or 'a new network'}; learned from {len(ft.trained_on)} labelled "
               f"drawings; {len(ft.held_out)} held out ({whom}), never trained on.")
    a, b = st.columns(2)
    for column, label, before, after in ((a, "Held-out drawings", ft.before.held_out, ft.after.held_out),
                                         (b, "MNIST test", ft.before.mnist_test, ft.after.mnist_test)):
        if after is None:
            continue
        delta = None if before is None else f"{(after - before) * 100:+.2f} pts (was {before:.2%})"
        column.metric(label, f"{after:.2%}", delta=delta)


def show_line(jobs: JobQueue) -> None:
    """Everyone's jobs: the running one, then the waiting ones in order, with estimated starts.
    An admin sees who each is (pseudonyms), and may stop or cancel any of them."""
    line = jobs.line()
    if not line:
        return
    st.subheader("The line")
    starts = JobQueue.starts_in(line)
    pseudonym = identity_keys().pseudonym

    def whose(job: QueuedJob) -> str:
        if job.owner == me.owner:
            return "yours"
        return pseudonym(job.owner) if me.admin else "another visitor's"

    st.table(pd.DataFrame([{
        "": "▶" if j.status == Status.RUNNING else str(i),
        "whose": whose(j),
        "preset": j.preset,
        "epochs": j.config.epochs,
        "status": "waiting" if j.status == Status.QUEUED else (
            f"training, epoch {j.epochs_done}" if j.epochs_done else "starting") + (f" on {j.runs_on}" if j.runs_on
                                                                                   else ""),
        "starts in": "now" if j.id not in starts else f"about {starts[j.id]:.0f} s",
    } for i, j in enumerate(line, start=0 if line[0].status == Status.RUNNING else 1)]).set_index(""))
    others = [j for j in line if j.owner != me.owner]
    if me.admin and others:
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        chosen = left.selectbox("A job (admin)", others, key="train_admin_job",
                                format_func=lambda j: f"{whose(j)}: {j.preset}, {j.config.epochs} epochs ({j.status})")
        if right.button("Stop or cancel it", key="train_admin_stop", icon=":material/stop:"):
            stop_or_cancel(jobs, chosen, me)


mine = jobs.of(me.owner, limit=1)
job = mine[0] if mine else None
if job is not None:
    st.write(f"Your latest job: **{job.preset}** · {job.config.describe()}")
# One fragment, always polling (a constant run_every, so the browser's timer never belongs to an
# older fragment): the visitor's job and the line; one full rerun when the job starts or ends.
st.fragment(live_view, run_every=2.0)(job and job.id, job is not None and job.status in (Status.QUEUED, Status.RUNNING))
if job is not None:
    if job.status in (Status.FAILED, Status.INTERRUPTED):
        st.error(f"Training {'failed' if job.status == Status.FAILED else 'was interrupted'}: {job.message}")
    elif job.status == Status.CANCELLED:
        st.warning("Cancelled before it started.")
    elif job.status in (Status.DONE, Status.STOPPED):
        if job.run_id is None:
            st.warning(job.message or "Stopped before the first epoch ended: nothing to save.")
        else:
            try:
                show_results(job, run_store().get(job.run_id))
            except (RunError, StoreError) as e:
                st.error(f"The run cannot be shown: {e}")
