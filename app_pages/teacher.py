"""The class: one page a teacher projects. The class's runs on one chart, coloured by network,
the best of each, and how many jobs are training and waiting; people by pseudonym only."""

import pandas as pd
import streamlit as st

from app_pages.common import job_queue, names_of_runs, percent_table, run_store
from app_pages.lesson_link import plain
from mnist_core.config import PRESET_TITLES, History
from mnist_core.jobs.line import Status
from mnist_core.lesson import CLASS_HOURS, Scope, best_of_each, in_scope
from mnist_core.lesson_link import LessonError, LessonLink
from mnist_core.store.database import StoreError

st.title("The class")
try:  # a teacher's projector link (a lesson link's `view=class`): the step the class is on
    lesson = LessonLink.from_query(st.query_params.to_dict())
except LessonError:
    lesson = None
if lesson is not None and lesson.title:
    st.subheader(f"A lesson: {plain(lesson.title)}", anchor=False)
st.caption(f"Everyone's runs of the last {CLASS_HOURS} hours, as the class sees them: by pseudonym.")


@st.cache_data(show_spinner=False, max_entries=2000)
def history(run_id: str) -> History:
    """A saved run's curves (they never change once saved)."""
    return run_store().history(run_id)


def class_view() -> None:
    """Redrawn every 5 s: the line's counts, every run's validation accuracy, the best of each."""
    try:
        line = job_queue().line()
        runs = in_scope(run_store().list(), Scope.CLASS, "")
        names = names_of_runs()
    except StoreError as e:
        st.error(f"The class's runs are unavailable: {e}")
        return
    a, b, c, d = st.columns(4)
    a.metric("Training now", sum(j.status == Status.RUNNING for j in line))
    b.metric("Waiting", sum(j.status == Status.WAITING for j in line))
    c.metric("Runs", len(runs))
    d.metric("People", len({r.owner for r in runs}))
    if not runs:
        st.info("No runs yet: the class's appear here as they are saved.")
        return
    rows = [{"epoch": e + 1, "validation accuracy": v, "run": names.get(r.id, r.name),
             "network": PRESET_TITLES.get(r.preset, r.preset)}
            for r in runs for e, v in enumerate(history(r.id).get("val_accuracy", []))]
    st.vega_lite_chart({
        "height": 360, "data": {"values": rows},
        "mark": {"type": "line", "tooltip": True, "strokeWidth": 1.5},
        "encoding": {
            "x": {"field": "epoch", "type": "quantitative", "axis": {"format": "d", "tickMinStep": 1}},
            "y": {"field": "validation accuracy", "type": "quantitative", "scale": {"zero": False},
                  "axis": {"format": "%"}},
            "color": {"field": "network", "type": "nominal", "legend": {"orient": "bottom", "labelLimit": 0}},
            "detail": {"field": "run", "type": "nominal"},
            "tooltip": [{"field": "run"}, {"field": "epoch"}, {"field": "validation accuracy", "format": ".2%"}],
        },
    }, width="stretch")
    st.subheader("The best of each network")
    best = best_of_each(runs)
    percent_table(pd.DataFrame([{
        "network": PRESET_TITLES.get(preset, preset),
        "best run": names.get(run.id, run.name),
        "test accuracy": run.test_accuracy,
        "validation accuracy": run.val_accuracy,
        "epochs": run.epochs_done,
        "runs": sum(r.preset == preset for r in runs),
    } for preset, run in sorted(best.items(), key=lambda kv: -kv[1].test_accuracy)]),
        ["test accuracy", "validation accuracy"], width="stretch")


st.fragment(class_view, run_every=5.0)()
