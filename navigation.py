"""The app's router: page setup, then the pages. `streamlit_app.py` serves it (with the HTTP API)."""

import streamlit as st

from app_pages.common import actor, admin_panel, freeze_long_lived, identity_panel

st.set_page_config(page_title="MNIST dense networks", page_icon=":material/draw:", layout="wide")
me = actor()
identity_panel(me)  # on every page: who the visitor is; their private link stays in the URL
admin_panel(me)
st.navigation([
    st.Page("app_pages/draw.py", title="Draw", icon=":material/draw:", default=True),
    st.Page("app_pages/train.py", title="Train", icon=":material/monitoring:"),
    st.Page("app_pages/runs.py", title="Runs", icon=":material/folder_open:"),
    st.Page("app_pages/drawings.py", title="Drawings", icon=":material/gesture:"),
    st.Page("app_pages/teacher.py", title="Class", icon=":material/groups:"),
]).run()
freeze_long_lived()  # after the first page's imports: Streamlit's full collections stay cheap
