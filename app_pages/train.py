"""Train page: choose a network, press Start, watch it learn, see what it learned.

The visitor's own job is always on top: before Start, the plan (the network, how long it takes
here now, when it starts); once started, that box becomes the job's progress and live curves;
once ended, its results, with the plan for the next run below. Start is idempotent (the line
returns a person's same job), so a double click or a second tab queues one job. The line
below shows everyone's jobs; only a job's owner, or an admin, may stop or cancel it.

The live view's drawing is in small functions (show_progress, show_curves, learning_chart),
redrawn every 2 s by one fragment; what a training reports beside its curves each epoch comes
as `extras` (jobs.process.JobState, a job's progress), for a later section to draw.
"""

import time
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from app_pages import learning
from app_pages.common import (
    actor,
    admin_login,
    budget,
    classifier,
    client_address,
    confusion_chart,
    deployment,
    draw_with,
    enlarge,
    identity_keys,
    job_queue,
    line_chart,
    mnist,
    model_choices,
    name_of,
    pace_now,
    run_store,
    runner,
    training_slots,
    trains_here,
)
from app_pages.lesson_link import lesson_for, lesson_maker, lesson_settings
from mnist_core import data as mnist_data
from mnist_core import words
from mnist_core.config import (
    BOOK_FIGURES,
    METRICS,
    PRESET_NOTES,
    PRESET_RESULTS,
    PRESET_TITLES,
    PRESETS,
    ConfigError,
    History,
    Setting,
    TrainConfig,
    format_value,
    is_the_books_fit,
    parse_hidden,
    settings,
)
from mnist_core.curves import MEMORISING, TRAINING, VALIDATION, memorising_from
from mnist_core.deployment import Training
from mnist_core.evaluation import REPORT_FILE, Evaluation, downsample, evaluate, first_layer_pictures
from mnist_core.jobs.line import NEXT, WAITING_OR_RUNNING, QueuedJob, QueueError, Status, admit
from mnist_core.jobs.pace import Pace, plan, unsubmitted
from mnist_core.jobs.process import JobState, Phase
from mnist_core.limits import available_memory
from mnist_core.owners import Actor, NotAllowed
from mnist_core.reading.classifier import ModelError
from mnist_core.store.database import StoreError
from mnist_core.store.drawings import DrawingError
from mnist_core.store.runs import FineTune, Run, RunError
from mnist_core.training.budget import BudgetError, duration, layers, slowed_by_memory, summary
from mnist_core.training.styles import NoFonts

st.title("Train a network")
me = actor()
admin_login()
STOP_WAIT = 1.5  # s a Stop waits here for its job to end (this server's runner sees it at once)


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


lesson = lesson_for("train")  # a teacher's link: this step's network and settings, some fixed
with st.sidebar:
    st.header("Settings")
    if lesson is not None:
        preset_name, values = lesson_settings(lesson, setting_input)
        preset = PRESETS[preset_name]
    else:
        preset_name = st.selectbox("Network", list(PRESETS), key="train_preset", format_func=PRESET_TITLES.get,
                                   help="\n".join(f"- **{PRESET_TITLES[k]}**: {v}" for k, v in PRESET_NOTES.items()))
        preset = PRESETS[preset_name]
        # Every field of TrainConfig, each starting at the preset's value: what a learner changes first, then the rest.
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
if deployment().training != Training.SERVER and not jobs.runners():
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


def memory_here() -> int | None:
    """Bytes the next job may take, when this server trains it: what the container has free, and
    what this server's trainings hold (free again before the next job starts); None: workers train."""
    return available_memory() + runner().training_memory() if trains_here() else None


def start(config: TrainConfig) -> None:
    """Start pressed: the job in the line (or the same one, pressed twice), then the page again."""
    try:  # memory is the training machine's: this server's when it trains here
        admit(jobs, config, preset_name, me, limits, here=trains_here(), address=client_address(),
              free_bytes=memory_here())
    except (ConfigError, DrawingError, ModelError, NoFonts, RunError) as e:
        st.error(f"Check the settings: {e}")
        return
    except BudgetError as e:
        st.error(f"Too big for this server: {e}")
        return
    except (QueueError, StoreError) as e:
        st.warning(str(e))
        return
    if trains_here():
        runner().wake()
    st.rerun()


def show_plan(config: TrainConfig | None, problem: str, line: list[QueuedJob], pace: Pace, again: bool) -> None:
    """What Start will do, before it is pressed: the preset's note and figures, the network, its
    size, the time it takes here now and when it would start; and Start."""
    with st.container(border=True):
        note = PRESET_NOTES[preset_name]
        if is_the_books_fit(preset):
            book = BOOK_FIGURES
            note += f" · the book: validation {book['val_accuracy']:.1%}, test {book['test_accuracy']:.1%}"
        if preset_name in PRESET_RESULTS:
            note += f" · measured here: test {PRESET_RESULTS[preset_name]:.2%}"
        st.caption(f"**{PRESET_TITLES[preset_name]}**: {note}", help=words.explain(note) or None)
        left, right = st.columns([3, 2], gap="large")
        with right:
            pressed = st.button("Train another" if again else "Start training", key="train_start", type="primary",
                                icon=":material/play_arrow:", disabled=config is None, width="stretch")
        if config is None:
            left.error(f"Check the settings: {problem}")
            return
        shape = config if not config.base_model else None
        with left:
            st.write(f"{summary(config)[0].upper()}{summary(config)[1:]}.")
            if shape is not None:
                st.dataframe(pd.DataFrame([{"layer": la.name, "size": la.size, "parameters": la.parameters}
                                           for la in layers(shape)]), hide_index=True, width="stretch",
                             column_config={"parameters": st.column_config.NumberColumn(format="localized")})
                if shape.committee > 1:
                    st.caption(f"{shape.committee} such networks side by side, their probabilities averaged.")
        with right:
            mine = unsubmitted(config, preset_name, me.owner, limits.seconds)
            starts, ends = plan(line, pace, training_slots(jobs), jobs.now(), mine)[NEXT]
            st.metric("Takes here", f"about {duration(ends - starts)}", help=f"From {pace.basis}.")
            if trains_here() and slowed_by_memory(config, memory_here()):
                st.warning("This server's memory is tight: the training fits, but TensorFlow will be read from "
                           "disk again and again, and it may take minutes instead of seconds.",
                           icon=":material/memory:")
            waiting = sum(j.status == Status.WAITING for j in line)
            st.metric("Starts", "at once" if starts < 1 else f"in about {duration(starts)}",
                      help=f"{ordinal(waiting + 1)} in the line; jobs with the same settings train together")
    if pressed:
        start(config)


def learning_chart(history: History, metric: str, height: int = 250) -> None:
    """One metric's training and validation curves against the epoch (integer ticks), and the
    epoch where memorising starts, named on the chart.
    `height`: the whole chart's, its title and legend included (Streamlit fits the spec in it)."""
    epochs = len(history.get(metric) or [])
    rows = [{"epoch": e + 1, "curve": name, "value": history[key][e]}
            for key, name in ((metric, TRAINING), (f"val_{metric}", VALIDATION)) for e in range(epochs)]
    curves = {"mark": {"type": "line", "point": epochs <= 30, "tooltip": True},
              "encoding": {"y": {"field": "value", "type": "quantitative", "title": None, "scale": {"zero": False},
                                 "axis": {"format": "%"} if metric == "accuracy" else {}},
                           "color": {"field": "curve", "type": "nominal", "title": None,
                                     "scale": {"domain": [TRAINING, VALIDATION], "range": ["#4c9be8", "#f0703a"]},
                                     "legend": {"orient": "bottom"}}}}
    layers_ = [curves]
    gap = memorising_from(history)
    if gap is not None:
        where = {"data": {"values": [{"epoch": gap, "text": MEMORISING}]}}
        layers_ += [{**where, "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#999"}},
                    {**where, "mark": {"type": "text", "align": "left", "baseline": "top", "dx": 4, "y": 4,
                                       "color": "#bbb"}, "encoding": {"text": {"field": "text"}}}]
    st.vega_lite_chart({
        "title": {"text": f"{'Loss' if metric == 'loss' else 'Accuracy'}, by epoch", "anchor": "start"},
        "data": {"values": rows},
        "encoding": {"x": {"field": "epoch", "type": "quantitative", "title": None,
                           "scale": {"domain": [1, max(epochs, 2)], "nice": False},
                           "axis": {"format": "d", "tickMinStep": 1}}},
        "layer": layers_,
    }, width="stretch", height=height)


def show_curves(history: History, batch_loss: list[float]) -> None:
    """Loss and accuracy per epoch, training beside validation; the loss of every batch when
    known (the job trained here)."""
    if not history.get("loss"):
        return
    history = {k: history[k] for k in METRICS}
    a, b = st.columns(2)
    with a:
        learning_chart(history, "loss")
    with b:
        learning_chart(history, "accuracy")
    if batch_loss:
        group = -(-len(batch_loss) // 400)  # batches per point, at most 400 points
        points = downsample(batch_loss, 400)
        frame = pd.DataFrame({"batch loss": points}, index=np.arange(len(points)) * group + 1)
        line_chart(frame, "batch" if group == 1 else f"batch (means of {group})", "batch loss", height=150, log_y=True)
    learning.curve_words()


PHASE_TEXT = {Phase.LOADING: "Loading MNIST…", Phase.STYLES: "Making font digits…",
              Phase.COMPILING: "Compiling the network…", Phase.SAVING: "Saving the run…"}


def show_progress(job: QueuedJob, state: JobState | None, pace: Pace) -> None:
    """A running job: where it is, epoch x of N and the time left; Stop for its owner."""
    total = job.config.epochs
    phase = state.phase if state is not None else Phase(job.progress.get("phase") or Phase.LOADING)
    done = state.epochs_done if state is not None else job.epochs_done
    if job.stop_requested:
        text = "Stopping…"
    elif phase == Phase.CHECKING:  # after the epochs: the drawings it learned from become digits to it
        text = "Fitting its own not-a-digit check…" + (f" {state.message}" if state is not None else "")
    elif phase in PHASE_TEXT and not done:
        text = PHASE_TEXT[phase] + (f" {state.message}" if state is not None and phase == Phase.LOADING else "")
    else:
        left = state.seconds_left if state is not None else None
        left = pace.left(job, jobs.now() - (job.started or 0)) if left is None else left + pace.overhead / 2
        text = f"Epoch {done} of {total} · about {duration(left)} left"
    text += f" · on {job.runs_on}" if state is None and job.runs_on else ""
    bar, button = st.columns([5, 1], vertical_alignment="bottom")
    bar.progress(done / total, text=text)
    if me.may_change(job.owner) and not job.stop_requested and button.button("Stop", key="train_stop",
                                                                               icon=":material/stop:"):
        stop_or_cancel(job, me)


def stop_or_cancel(job: QueuedJob, who: Actor) -> None:
    """Stop (or cancel) the job; when this server trains it, wait the moment it takes to end."""
    try:
        jobs.cancel(job.id, who)
    except (QueueError, NotAllowed, StoreError) as e:
        st.error(str(e))
        return
    if trains_here():
        runner().nudge()
        deadline = time.monotonic() + STOP_WAIT
        while jobs.get(job.id).status in WAITING_OR_RUNNING and time.monotonic() < deadline:
            time.sleep(0.05)
    st.rerun()


def together_with(job: QueuedJob, line: list[QueuedJob]) -> int:
    """How many other jobs train in the same training as `job` (same runner, start and settings)."""
    return sum(1 for j in line if j.id != job.id and j.status == Status.RUNNING and j.server == job.server
               and j.started == job.started and j.config == job.config)


def job_panel(job: QueuedJob, line: list[QueuedJob], pace: Pace, slots: int) -> None:
    """The visitor's job, where the plan was: waiting, training (live), or ended with its results."""
    name = f"{identity_keys().pseudonym(job.owner).rsplit('-', 1)[0]}'s {job.preset}"
    st.caption(f"**Your job, {name}**: {summary(job.config)}")
    if job.status == Status.WAITING:
        queued = [j.id for j in line if j.status == Status.WAITING]
        if job.id not in queued:  # claimed between the two reads: the next redraw shows it training
            st.info("Starting…", icon=":material/hourglass_top:")
            return
        starts, ends = plan(line, pace, slots, jobs.now())[job.id]
        info, button = st.columns([5, 1], vertical_alignment="center")
        info.info(f"Waiting: {ordinal(queued.index(job.id) + 1)} in line. Starts in about {duration(starts)}, done "
                  f"in about {duration(ends)} (from {pace.basis}).", icon=":material/hourglass_top:")
        if me.may_change(job.owner) and button.button("Cancel", key="train_cancel", icon=":material/close:"):
            stop_or_cancel(job, me)
        return
    state = runner().live(job.id) if trains_here() else None  # trained here, lately: every batch
    if job.status == Status.RUNNING:
        show_progress(job, state, pace)
        others = together_with(job, line)
        if others:
            st.caption(f"Training together with {others} other{'s' if others > 1 else ''} who chose the same "
                       "settings: one network, and a run for each.")
    elif job.status in (Status.FAILED, Status.INTERRUPTED):
        st.error(f"Training {'failed' if job.status == Status.FAILED else 'was interrupted'}: {job.message}")
    elif job.status == Status.CANCELLED:
        st.warning("You cancelled it before it started.")
    elif job.run_id is None:
        st.warning(job.message or "Stopped before the first epoch ended: nothing to save.")
    else:
        show_result(job)
    if state is not None and state.history["loss"]:
        show_curves(state.history, state.batch_loss)
    elif job.progress.get("loss"):  # trained elsewhere (a worker, another server): what its heartbeat said
        show_curves(job.progress, [])
    elif job.run_id is not None:  # trained before the progress was kept: the run's record
        show_curves(run_store().history(job.run_id), [])
    if job.status == Status.RUNNING:
        learning.show_live(state.extras if state is not None else job.progress.get("extras"))


def show_result(job: QueuedJob) -> None:
    try:
        run = run_store().get(job.run_id)
    except (RunError, StoreError) as e:
        st.error(f"The run cannot be shown: {e}")
        return
    name = name_of(run)
    st.success(f"{'Stopped' if job.status == Status.STOPPED else 'Finished'} after {run.epochs_done} epochs: "
               f"saved as “{name}”.")
    if job.message:
        st.info(f"Training {job.message}; the model so far is saved.")
    a, b, c, d = st.columns(4, vertical_alignment="bottom")
    a.metric("Test accuracy", f"{run.test_accuracy:.2%}",
             delta=versus_book(run.config, run.test_accuracy, "test_accuracy"), delta_color="off")
    b.metric("Validation accuracy", f"{run.val_accuracy:.2%}",
             delta=versus_book(run.config, run.val_accuracy, "val_accuracy"), delta_color="off")
    c.metric("Training time", f"{run.fit_seconds:.1f} s")
    if d.button("Draw with it", key="train_use_model", icon=":material/draw:"):
        draw_with(run, me)


def versus_book(config: TrainConfig, value: float, metric: str) -> str | None:
    """The difference from the book's published figure, for the book's exact fit only."""
    if not is_the_books_fit(config):
        return None
    return f"{(value - BOOK_FIGURES[metric]) * 100:+.2f} pts vs the book's {BOOK_FIGURES[metric]:.1%}"


def show_line(line: list[QueuedJob], pace: Pace, slots: int) -> None:
    """Everyone's jobs: the running ones, then the waiting ones in order, with estimated starts.
    Everyone sees whose each is (owners.Actor.whose); an admin may stop or cancel any of them."""
    if not line:
        return
    st.subheader("The line")
    times = plan(line, pace, slots, jobs.now())
    def status(job: QueuedJob) -> str:  # the status's own word, and where a running job is
        return job.status + (f", epoch {job.epochs_done}" if job.epochs_done else "") + \
            (f" on {job.runs_on}" if job.runs_on else "")

    st.table(pd.DataFrame([{
        "": "▶" if j.status == Status.RUNNING else str(i),
        "whose": me.whose(j.owner),
        "network": PRESET_TITLES.get(j.preset, j.preset),
        "epochs": j.config.epochs,
        "status": status(j),
        "starts in": "now" if j.status == Status.RUNNING else f"about {duration(times[j.id][0])}",
        "done in": f"about {duration(times[j.id][1])}",
    } for i, j in enumerate(line, start=0 if line[0].status == Status.RUNNING else 1)]).set_index(""))
    others = [j for j in line if j.owner != me.owner]
    if me.admin and others:
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        chosen = left.selectbox("A job (admin)", others, key="train_admin_job",
                                format_func=lambda j: f"{me.whose(j.owner)}: {j.preset}, {j.config.epochs} epochs "
                                                      f"({j.status})")
        if right.button("Stop or cancel it", key="train_admin_stop", icon=":material/stop:"):
            stop_or_cancel(chosen, me)


def live_view(job_id: str | None, active: bool, config: TrainConfig | None, problem: str) -> None:
    """The visitor's job (or the plan, when none is waiting or training), then the line,
    redrawn every 2 s (each redraw takes a little CPU from a running fit); one full rerun when
    the visitor's job starts or ends."""
    try:
        job = jobs.get(job_id) if job_id is not None else None
        line, pace, slots = jobs.line(), pace_now(jobs), training_slots(jobs)
    except QueueError:  # removed meanwhile (an admin removed what its owner made)
        st.rerun()
    except StoreError as e:
        st.error(f"The line is unavailable for a moment: {e}")
        return
    if job is not None and (job.status in WAITING_OR_RUNNING) != active:
        st.rerun()
    if job is not None and job.status == Status.WAITING and trains_here():
        runner().wake()  # its runner may have ended just before the job came
    if job is not None:
        with st.container(border=True):
            job_panel(job, line, pace, slots)
    if not active:
        show_plan(config, problem, line, pace, again=job is not None)
    show_line(line, pace, slots)


@st.cache_resource(show_spinner="Scoring the test set…", max_entries=4)
def test_report(run_id: str) -> Evaluation:
    """The report its training process saved with it; scored here only for a run saved before
    runs kept one (or whose report cannot be read)."""
    try:
        return Evaluation.from_bytes(run_store().file(run_id, REPORT_FILE))
    except (RunError, ValueError):
        return evaluate(classifier(run_store().model_path(run_id)), mnist())


def show_analysis(run: Run) -> None:
    """What the finished run learned: its confusion matrix, its most confident mistakes, and
    its digit templates (or first-layer units)."""
    if not is_the_books_fit(run.config):
        st.caption(f"The book's chapter-1 fit, for reference: validation {BOOK_FIGURES['val_accuracy']:.1%}, "
                   f"test {BOOK_FIGURES['test_accuracy']:.1%}.")
    finetune = run_store().finetune(run.id)
    if finetune is not None:
        show_finetune(finetune)
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
    if learning.show_film(run_store(), run.id):
        return
    pictures = first_layer_pictures(classifier(run_store().model_path(run.id)).net.first_layer_weights(), limit=40)
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


mine = jobs.of(me.owner, limit=1)
job = mine[0] if mine else None
active = job is not None and job.status in WAITING_OR_RUNNING
config, problem = chosen_config()
if config is not None and lesson is None:
    with st.sidebar:
        lesson_maker("train", preset_name, config)
# One fragment, always polling (a constant run_every, so the browser's timer never belongs to an
# older fragment): the visitor's job or the plan, and the line; one full rerun when the job starts or ends.
st.fragment(live_view, run_every=2.0)(job and job.id, active, config, problem)
if job is not None and job.status in (Status.DONE, Status.STOPPED) and job.run_id is not None:
    try:
        show_analysis(run_store().get(job.run_id))
    except (RunError, StoreError) as e:
        st.error(f"The run cannot be shown: {e}")
