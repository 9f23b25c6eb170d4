"""The app's server: the pages (navigation.py) and the HTTP API (mnist_core/http_api.py) on one port.

    streamlit run streamlit_app.py     # http://localhost:8501 the app, POST /predict, GET /health

Streamlit finds `app` below and serves both with its Starlette server; the API's models come
from the pages' model cache (shipped models and saved runs), so a model is loaded once for both.
Its websockets are bounded per client address, and a page's reruns per session
(mnist_core/websocket_limits.py).
"""

import contextlib
from collections.abc import AsyncIterator

import streamlit as st
from google.protobuf.message import DecodeError
from starlette.middleware import Middleware
from streamlit.proto.BackMsg_pb2 import BackMsg

from app_pages.common import app_secrets, classifier, model_file
from mnist_core.deployment import Deployment, DeploymentError
from mnist_core.http_api import Limits, no_delay_on_listeners, routes
from mnist_core.reading.classifier import Classifier
from mnist_core.websocket_limits import PER_ADDRESS, WebSocketLimits


def resolve(name: str | None) -> Classifier:
    """A shipped model or a saved run, by name, from the cache the Draw page uses; a run deleted
    or renamed on any server stops answering at once (the database's revision is asked)."""
    return classifier(model_file(name or "default", fresh=True))


def doors() -> tuple[Limits, int]:
    """The HTTP API's limits and the websockets an address may hold, from the deployment read as
    the server starts (`[http]`); with wrong secrets the environment's, else the defaults, and the
    pages say in one line what is wrong."""
    for secrets in (app_secrets(), {}):
        try:
            deployment = Deployment.from_secrets(secrets)
        except DeploymentError:
            continue
        return deployment.http, deployment.sessions_per_address
    return Limits(), PER_ADDRESS


@contextlib.asynccontextmanager
async def listening(_app: st.App) -> AsyncIterator[None]:
    """Once the port is bound: Nagle off on the connections Streamlit accepts (http_api.no_delay_on_listeners)."""
    no_delay_on_listeners()
    yield


def rerun_kind(frame: bytes) -> str | None:
    """What a websocket frame asks for, when a newer frame of its kind supersedes it: "rerun"
    of the page (each holds the whole state of its widgets), "fragment <id>" (a fragment's
    timer); None for any other."""
    message = BackMsg()
    try:
        message.ParseFromString(frame)
    except DecodeError:
        return None  # Streamlit closes the connection for it
    if message.WhichOneof("type") != "rerun_script":
        return None
    fragment = message.rerun_script.fragment_id
    return f"fragment {fragment}" if fragment else "rerun"


limits, per_address = doors()
app = st.App("navigation.py", routes=routes(resolve, limits), lifespan=listening,
             middleware=[Middleware(WebSocketLimits, kind=rerun_kind, per_address=per_address)])
