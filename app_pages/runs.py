"""Runs page: every saved run, compared on one chart; download, rename, delete, draw with it."""

import pandas as pd
import streamlit as st

from app_pages.common import MODEL_KEY, line_chart, run_label
from mnist_core.runs import H5_FILE, MODEL_FILE, RunError, delete_run, list_runs, rename_run, runs_dir

st.title("Runs")
root = runs_dir()
runs = list_runs(root)
good = [r for r in runs if not r.broken]
for run in runs:
    if run.broken:
        st.warning(f"Skipped a broken run folder, {run.path.name}: {run.broken}")
if not good:
    st.info("No runs yet: train one on the Train page, or with `python -m mnist_core train`.")
    st.stop()

table = pd.DataFrame([{
    "name": r.name,
    "preset": r.record.get("preset"),
    "test accuracy": r.test_accuracy,
    "validation accuracy": r.record.get("val_accuracy"),
    "epochs": r.record.get("epochs_done"),
    "stopped": r.record.get("stopped"),
    "fit seconds": r.record.get("fit_seconds"),
    "hidden": str(r.config.hidden or "—"),
    "optimizer": r.config.optimizer,
    "created": r.record.get("created"),
} for r in good])
st.dataframe(table, hide_index=True, column_config={
    "test accuracy": st.column_config.NumberColumn(format="percent"),
    "validation accuracy": st.column_config.NumberColumn(format="percent"),
})

labels = {f"{r.name} · {r.path.name}": r for r in good}
compare = st.multiselect("Compare validation accuracy", list(labels), default=list(labels)[:3], key="runs_compare")
if compare:
    curves = pd.DataFrame({label: pd.Series(labels[label].record["history"]["val_accuracy"])
                           for label in compare})
    curves.index = curves.index + 1
    line_chart(curves, "epoch", "validation accuracy", height=300)

st.subheader("One run")
label = st.selectbox("Run", list(labels), key="runs_selected")
run = labels[label]
a, b, c = st.columns(3)
a.download_button("model.keras", (run.path / MODEL_FILE).read_bytes(), file_name=MODEL_FILE, key="runs_download_keras", icon=":material/download:")
if (run.path / H5_FILE).is_file():
    b.download_button("mnist_dense_model.h5", (run.path / H5_FILE).read_bytes(), file_name=H5_FILE, key="runs_download_h5", icon=":material/download:")
if c.button("Draw with this run", key="runs_use", icon=":material/draw:"):
    st.session_state[MODEL_KEY] = run_label(run)
    st.switch_page("app_pages/draw.py")
with st.form("runs_rename_form"):
    new_name = st.text_input("New name", value=run.name, key="runs_new_name")
    if st.form_submit_button("Rename"):
        try:
            rename_run(run.path, new_name)
            st.rerun()
        except RunError as e:
            st.error(str(e))
confirm = st.checkbox("I want to delete this run", key="runs_confirm_delete")
if st.button("Delete run", key="runs_delete", disabled=not confirm, icon=":material/delete:"):
    try:
        delete_run(run.path, root)
        st.rerun()
    except (RunError, OSError) as e:
        st.error(f"Could not delete: {e}")
