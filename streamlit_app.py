"""The app's server: the pages (navigation.py) and the HTTP API (mnist_core/http_api.py) on one port.

    streamlit run streamlit_app.py     # http://localhost:8501 the app, POST /predict, GET /health

Streamlit finds `app` below and serves both with its Starlette server; the API's models come
from the pages' model cache (shipped models and saved runs), so a model is loaded once for both.
"""

import contextlib
from collections.abc import AsyncIterator

import streamlit as st

from app_pages.common import classifier, model_file
from mnist_core.http_api import no_delay_on_listeners, routes
from mnist_core.reading.classifier import Classifier


def resolve(name: str | None) -> Classifier:
    """A shipped model or a saved run, by name, from the cache the Draw page uses; a run deleted
    or renamed on any server stops answering at once (the database's revision is asked)."""
    return classifier(model_file(name or "default", fresh=True))


@contextlib.asynccontextmanager
async def listening(_app: st.App) -> AsyncIterator[None]:
    """Once the port is bound: Nagle off on the connections Streamlit accepts (http_api.no_delay_on_listeners)."""
    no_delay_on_listeners()
    yield


app = st.App("navigation.py", routes=routes(resolve), lifespan=listening)
