"""Runs page: every saved run, compared on one chart; download, rename, delete, draw with it."""

import json

import pandas as pd
import streamlit as st

from app_pages.common import MODEL_KEY, line_chart, run_label, run_store
from mnist_core.database import StoreError
from mnist_core.runs import H5_FILE, MODEL_FILE, RECORD_FILE, RunError

st.title("Runs")
try:
    store = run_store()
    runs = store.list()
except StoreError as e:
    st.error(f"Saved runs are unavailable: {e}")
    st.stop()
if not runs:
    st.info("No runs yet: train one on the Train page, or with `python -m mnist_core train`.")
    st.stop()

st.dataframe(pd.DataFrame([{
    "name": r.name,
    "preset": r.preset,
    "test accuracy": r.test_accuracy,
    "validation accuracy": r.val_accuracy,
    "epochs": r.epochs_done,
    "stopped": r.stopped,
    "fit seconds": r.fit_seconds,
    "hidden": ", ".join(map(str, r.config.hidden)) or "—",
    "optimizer": r.config.optimizer,
    "created": r.created,
    "id": r.id,
} for r in runs]), hide_index=True, column_config={
    "test accuracy": st.column_config.NumberColumn(format="percent"),
    "validation accuracy": st.column_config.NumberColumn(format="percent"),
})

labels = {f"{r.name} · {r.id}": r for r in runs}
compare = st.multiselect("Compare validation accuracy", list(labels), default=list(labels)[:3], key="runs_compare")
if compare:
    curves = pd.DataFrame({label: pd.Series(store.history(labels[label].id)["val_accuracy"]) for label in compare})
    curves.index = curves.index + 1
    line_chart(curves, "epoch", "validation accuracy", height=300)

st.subheader("One run")
label = st.selectbox("Run", list(labels), key="runs_selected")
run = labels[label]
st.caption(run.config.describe())
a, b, c, d = st.columns(4)
# the files are read from the database only when a download is clicked
a.download_button(MODEL_FILE, lambda: store.file(run.id, MODEL_FILE), file_name=MODEL_FILE,
                  key="runs_download_keras", icon=":material/download:")
b.download_button(H5_FILE, lambda: store.file(run.id, H5_FILE), file_name=H5_FILE, key="runs_download_h5",
                  icon=":material/download:")
c.download_button(RECORD_FILE, lambda: json.dumps(run.to_json(store.history(run.id)), indent=1),
                  file_name=RECORD_FILE, key="runs_download_record", icon=":material/download:")
if d.button("Draw with this run", key="runs_use", icon=":material/draw:"):
    st.session_state[MODEL_KEY] = run_label(run)
    st.switch_page("app_pages/draw.py")
with st.form("runs_rename_form"):
    new_name = st.text_input("New name", value=run.name, key="runs_new_name")
    if st.form_submit_button("Rename"):
        try:
            store.rename(run.id, new_name)
            st.rerun()
        except (RunError, StoreError) as e:
            st.error(str(e))
confirm = st.checkbox("I want to delete this run", key="runs_confirm_delete")
if st.button("Delete run", key="runs_delete", disabled=not confirm, icon=":material/delete:"):
    try:
        store.delete(run.id)
        st.rerun()
    except (RunError, StoreError) as e:
        st.error(f"Could not delete: {e}")
