"""Drawings page: every labelled drawing at a glance, filtered; delete one's own; export and
import the collection; which model reads these people's digits best."""

import pandas as pd
import streamlit as st

from app_pages.common import (
    actor,
    admin_login,
    budget,
    drawing_store,
    enlarge,
    identity_keys,
    model_scoreboard,
    percent_table,
)
from mnist_core.drawing_files import IDX_NAMES, import_drawings, to_idx, to_npz, to_png_zip
from mnist_core.owners import NotAllowed
from mnist_core.store.database import StoreError
from mnist_core.store.drawings import DrawingError, Filter

PER_PAGE = 48
COLUMNS = 8

st.title("Drawings")
me = actor()
admin_login()
try:
    store = drawing_store()
    counts = store.counts()
    owners = store.owners()
    pseudonym = identity_keys().pseudonym
except StoreError as e:
    st.error(f"The drawings are unavailable: {e}")
    st.stop()

st.caption("Every drawing someone labelled on the Draw page (or imported here): what the model saw, and what it "
           "really was. Anyone may look and export; only whoever drew one, or an admin, may delete it.")
total = sum(counts)
a, b = st.columns([1, 3])
a.metric("Labelled drawings", f"{total:,}")
a.metric("The model was wrong on", f"{store.count(Filter(wrong=True)):,}")
with b:
    st.vega_lite_chart({
        "height": 160, "mark": {"type": "bar", "tooltip": True},
        "data": {"values": [{"digit": str(d), "drawings": n} for d, n in enumerate(counts)]},
        "encoding": {"x": {"field": "digit", "type": "ordinal", "axis": {"labelAngle": 0}},
                     "y": {"field": "drawings", "type": "quantitative", "axis": {"tickMinStep": 1, "format": "d"}}},
    }, width="stretch")

people = {"Everyone": None, "Yours": me.owner, **{pseudonym(o): o for o, _ in owners if o != me.owner}}
f1, f2, f3 = st.columns(3)
digit = f1.selectbox("Digit", ["All", *range(10)], key="drawings_digit")
whose = f2.selectbox("Drawn by", list(people), key="drawings_person")
wrong = f3.toggle("Only where the model was wrong", key="drawings_wrong")
where = Filter(label=None if digit == "All" else int(digit), wrong=wrong, owner=people[whose])
matching = store.count(where)
pages = max(1, -(-matching // PER_PAGE))
page = st.number_input(f"Page (of {pages})", 1, pages, 1, key="drawings_page") if pages > 1 else 1
shown = store.page(where, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
if not shown:
    st.info("No drawings here yet: draw on the Draw page and say what each one was." if not total
            else "No drawings match these filters.")
for row in range(0, len(shown), COLUMNS):
    for column, d in zip(st.columns(COLUMNS), shown[row:row + COLUMNS], strict=False):
        read = "imported" if d.predicted is None else (f"read {d.predicted}" if d.wrong else "read right")
        column.image(enlarge(d.pixels / 255.0, 84), caption=f"{d.label} · {read}")
        column.caption(me.whose(d.owner))
        if me.may_change(d.owner) and column.button("Delete", key=f"drawings_delete_{d.id}",
                                                    icon=":material/delete:"):
            try:
                store.delete(d.id, me)
                st.rerun()
            except (DrawingError, NotAllowed, StoreError) as e:
                st.error(str(e))

chosen = people[whose]
if chosen is not None and me.may_change(chosen):  # a whole person's drawings at once: theirs, or an admin
    waiting = store.count(Filter(owner=chosen)) - store.count(Filter(owner=chosen, trusted=True))
    a, b = st.columns(2, vertical_alignment="bottom")
    if me.admin and waiting and a.button(f"Accept {waiting:,} imported drawings for everyone", key="drawings_accept",
                                         icon=":material/verified:", help="Their imports then count for everyone's "
                                         "fine-tunes and the scoreboard"):
        st.success(f"{store.accept(chosen, me):,} drawings accepted.")
    if b.checkbox(f"Delete all {store.count(Filter(owner=chosen)):,} of {whose.lower()}", key="drawings_delete_all") \
            and b.button("Delete them", key="drawings_delete_all_now", type="primary", icon=":material/delete:"):
        try:
            st.success(f"{store.delete_all(chosen, me):,} drawings deleted.")
        except (NotAllowed, StoreError) as e:
            st.error(str(e))

st.subheader("Export")
st.caption(f"The {matching:,} drawing{'' if matching == 1 else 's'} the filters above show, oldest first: "
           "MNIST's own IDX files (gzipped: any MNIST loader reads them), NumPy's .npz (x, y, person, predicted, "
           "created, id), or PNGs in a zip (28x28/<digit>/, and drawn/<digit>/ for the canvases). People appear by "
           "pseudonym only.")


def collection() -> object:
    return store.collection(where)


e1, e2, e3, e4 = st.columns(4)
e1.download_button("Images (IDX)", lambda: to_idx(collection())[0], file_name=IDX_NAMES[0],
                   key="drawings_export_idx_images", icon=":material/download:", disabled=not matching)
e2.download_button("Labels (IDX)", lambda: to_idx(collection())[1], file_name=IDX_NAMES[1],
                   key="drawings_export_idx_labels", icon=":material/download:", disabled=not matching)
e3.download_button("drawings.npz", lambda: to_npz(collection(), pseudonym), file_name="drawings.npz",
                   key="drawings_export_npz", icon=":material/download:", disabled=not matching)
e4.download_button("PNGs (zip)", lambda: to_png_zip(collection(), store.image), file_name="drawings-png.zip",
                   key="drawings_export_png", icon=":material/download:", disabled=not matching)

st.subheader("Import")
files = st.file_uploader("An export: drawings.npz, the PNG zip, or both IDX files together", accept_multiple_files=True,
                         type=["npz", "zip", "gz", "idx1-ubyte", "idx3-ubyte"], key="drawings_import_files")
if st.button("Import these drawings", key="drawings_import", disabled=not files, icon=":material/upload:"):
    try:
        limits = budget()
        added = import_drawings(store, [(f.name, f.getvalue()) for f in files], me.owner, accepted=me.admin,
                                per_day=limits.imports_per_day, max_bytes=limits.drawings_mb * 2**20)
        st.success(f"Imported {added:,} drawings; they are yours" + (
            "." if me.admin else ": they count for your own fine-tunes now, and for everyone's once an admin "
                                 "accepts them."))
    except (DrawingError, StoreError) as e:
        st.error(str(e))

st.subheader("Which model reads these digits best")
if not total:
    st.info("The scoreboard needs labelled drawings.")
else:
    try:
        board = model_scoreboard()
    except StoreError as e:
        st.error(f"The models cannot be scored: {e}")
        board = []
    percent_table(pd.DataFrame([{
        "model": r.name, "on these drawings": r.drawings, "called not a digit": r.refused, "drawings scored": r.n,
        "MNIST test": r.mnist_test, **{str(d): a for d, a in enumerate(r.per_class)},  # a dash: none of that digit
    } for r in board]), ["on these drawings", "called not a digit", "MNIST test", *map(str, range(10))])
    st.caption("The shipped models and the newest runs, each on the drawings it never trained on (a fine-tuned "
               "run's own training drawings are left out of its score), with the accuracy per digit. \"Called not "
               "a digit\": the share of these digits it says don't look like one, as the Draw page would say it.")
