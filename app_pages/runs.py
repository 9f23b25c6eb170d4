"""Runs page: the saved runs (mine, the class's or everyone's), each named by who and what,
compared on one chart; download, draw with it; rename or delete one's own (an admin: any)."""

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.common import (
    actor,
    admin_login,
    classifier,
    draw_with,
    drawing_store,
    line_chart,
    mnist,
    model_scoreboard,
    names_of_runs,
    percent_table,
    run_store,
    scope_picker,
)
from mnist_core import words
from mnist_core.config import PRESET_TITLES, format_value, settings
from mnist_core.data import DataError
from mnist_core.evaluation import Reliability, reliability
from mnist_core.lesson import Scope, in_scope
from mnist_core.owners import NotAllowed
from mnist_core.reading.classifier import ModelError
from mnist_core.reading.novelty import ECE_BINS, calibrated
from mnist_core.store.database import StoreError
from mnist_core.store.drawings import Filter
from mnist_core.store.runs import H5_FILE, MODEL_FILE, RECORD_FILE, Run, RunError
from mnist_core.training.budget import summary

RELIABILITY_DIGITS = 2_000  # of MNIST's test set: seven views each, a second or two for the widest runs


@st.cache_resource(show_spinner="Reading MNIST's test digits…", max_entries=8)
def reliability_of(run_id: str) -> tuple[Reliability, Reliability]:
    """The run's readings of test digits, before and after its calibration."""
    data, clf = mnist(), classifier(run_store().model_path(run_id))
    x, y = data.x_test[:RELIABILITY_DIGITS].astype(np.float32) / 255, data.y_test[:RELIABILITY_DIGITS]
    raw = clf.predict_proba_tta(x)  # what judge shows is this, tempered: one pass for both
    return reliability(raw, y), reliability(calibrated(raw, clf.temperature), y)


st.title("Runs")
me = actor()
admin_login()


try:
    store = run_store()
    everyone = store.list()
    names = names_of_runs()
except StoreError as e:
    st.error(f"Saved runs are unavailable: {e}")
    st.stop()
runs = in_scope(everyone, scope_picker("runs_scope", Scope.CLASS), me.owner)
if not runs:
    st.info("No runs yet: train one on the Train page, or with `python -m mnist_core train`."
            if not everyone else "None of these: show the class's runs, or everyone's.")
    st.stop()
# the drawings people labelled, as a second test set: each run on those it never trained on
on_drawings = {s.ref: s for s in model_scoreboard()} if drawing_store().count(Filter(trusted=True)) else {}

percent_table(pd.DataFrame([{
    "name": names.get(r.id, r.name),
    "test accuracy": r.test_accuracy,
    "on drawings": on_drawings[r.id].drawings if r.id in on_drawings else None,
    "validation accuracy": r.val_accuracy,
    "network": summary(r.config),
    "epochs": r.epochs_done,
    "stopped": r.stopped,
    "fit seconds": r.fit_seconds,
    "whose": me.whose(r.owner),
    "created": r.created,
} for r in runs]), ["test accuracy", "on drawings", "validation accuracy"], column_config={
    "on drawings": st.column_config.Column(help="on the labelled drawings it did not train on (the Drawings page's "
                                           "scoreboard; the newest runs)"),
})

labels: dict[str, Run] = {}
for r in runs:  # whole names; a run's id only where two share a name
    labels[names.get(r.id, r.name) if names.get(r.id, r.name) not in labels else f"{names[r.id]} · {r.id}"] = r
compare = st.multiselect("Compare validation accuracy", list(labels), default=list(labels)[:3], key="runs_compare")
if compare:
    curves = pd.DataFrame({label: pd.Series(store.history(labels[label].id)["val_accuracy"]) for label in compare})
    curves.index = curves.index + 1
    line_chart(curves, "epoch", "validation accuracy", height=300)

st.subheader("One run")
label = st.selectbox("Run", list(labels), key="runs_selected")
run = labels[label]
st.caption(f"{PRESET_TITLES.get(run.preset, run.preset)}: {summary(run.config)}.")
with st.expander("All its settings"):
    st.table(pd.DataFrame([{"setting": setting.label, "value": format_value(getattr(run.config, name))}
                           for name, setting in settings()]).set_index("setting"))
a, b, c, d = st.columns(4)
# the files are read from the database only when a download is clicked
a.download_button(MODEL_FILE, lambda: store.file(run.id, MODEL_FILE), file_name=MODEL_FILE,
                  key="runs_download_keras", icon=":material/download:")
b.download_button(H5_FILE, lambda: store.file(run.id, H5_FILE), file_name=H5_FILE, key="runs_download_h5",
                  icon=":material/download:")
c.download_button(RECORD_FILE, lambda: store.record(run.id),
                  file_name=RECORD_FILE, key="runs_download_record", icon=":material/download:")
if d.button("Draw with this run", key="runs_use", icon=":material/draw:"):
    draw_with(run, me)
if st.toggle("How far to trust its confidence", key="runs_reliability",
             help="A reliability diagram: of the readings it gave with each confidence, how many were right"):
    try:
        raw, shown = reliability_of(run.id)
        centres = (np.arange(ECE_BINS) + 0.5) / ECE_BINS  # of reliability's bins
        line_chart(pd.DataFrame({"as the network says": raw.accuracy, "as shown (calibrated)": shown.accuracy,
                                 "right as often as sure": centres}, index=pd.Index(centres, name="confidence")),
                   f"confidence ({ECE_BINS} bins)", "share right", height=260)
        st.caption(f"On {RELIABILITY_DIGITS:,} of MNIST's test digits, read as the Draw page reads them: expected "
                   f"calibration error {raw.ece:.1%} as the network says, {shown.ece:.1%} as the app shows it "
                   "(its temperature, fitted on the validation split, is saved with the run).")
        st.caption(f"{words.CALIBRATION} {words.TEMPERATURE}")
    except (DataError, ModelError, RunError, StoreError) as e:
        st.error(f"Cannot score it: {e}")
mine = me.may_change(run.owner)  # the buttons say it; the store enforces it
if not mine:
    st.caption(f"This run is {me.whose(run.owner)}: only its owner or an admin may rename or delete it.")
with st.form("runs_rename_form"):
    new_name = st.text_input("New name", value=run.name, key="runs_new_name", disabled=not mine)
    if st.form_submit_button("Rename", disabled=not mine):
        try:
            store.rename(run.id, new_name, me)
            st.rerun()
        except (RunError, NotAllowed, StoreError) as e:
            st.error(str(e))
confirm = st.checkbox("I want to delete this run", key="runs_confirm_delete", disabled=not mine)
if st.button("Delete run", key="runs_delete", disabled=not (confirm and mine), icon=":material/delete:"):
    try:
        store.delete(run.id, me)
        st.rerun()
    except (RunError, NotAllowed, StoreError) as e:
        st.error(f"Could not delete: {e}")
