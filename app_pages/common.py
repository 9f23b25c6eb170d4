"""What the pages share: the database, models and data loaded once per process, the training
line and this server's runner, who the visitor is, the budget, the model list, the charts."""

from __future__ import annotations

import gc
import importlib
import tempfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from mnist_core import data as mnist_data
from mnist_core.budget import Budget, running_on_community_cloud
from mnist_core.classifier import Classifier, ClassifierCache, store_upload
from mnist_core.database import Database, StoreError, database_url
from mnist_core.drawings import DrawingStore
from mnist_core.owners import Actor, is_link_token, new_link_token, password_matches
from mnist_core.runs import Run, RunStore, legacy_runs_dir, resolve_model
from mnist_core.scoreboard import Score, scoreboard
from mnist_core.training_queue import JobQueue, Runner

UPLOADED_MODELS = Path(tempfile.gettempdir()) / "mnist-dense-uploads"
MODEL_KEY = "model_choice"  # session state: the label of the model the Draw page uses
SHIPPED_CHOICES = {"Default: best dense model": "default", "Seed reproduction (92.2%)": "seed"}
SECRET = "mnist"  # .streamlit/secrets.toml: [connections.mnist] url = "postgresql://..."


def secrets_section(*keys: str) -> dict:
    """A table of .streamlit/secrets.toml (e.g. "connections", "mnist"); {} when absent."""
    try:
        section = st.secrets
        for key in keys:
            section = section.get(key, {})
        return dict(section)
    except FileNotFoundError:  # no secrets.toml at all
        return {}


def configured_url() -> str:
    """The database URL: the app's secret `[connections.mnist] url`, else $MNIST_DATABASE_URL,
    else the SQLite file in the data folder."""
    return database_url(secrets_section("connections", SECRET).get("url"))


def budget() -> Budget:
    """What one training job may take: `[budget] seconds, max_parameters, jobs_per_hour` in the secrets, else
    the default for a shared server (on Community Cloud, or `shared = true`) or a local one."""
    settings = secrets_section("budget")
    shared = bool(settings.get("shared")) or running_on_community_cloud()
    return Budget.for_deployment(shared, settings.get("seconds"), settings.get("max_parameters"),
                                 settings.get("jobs_per_hour"))


def run_store() -> RunStore:
    """The runs, in the database every session and server shares; StoreError if it is down."""
    return _run_store(configured_url())


@st.cache_resource(show_spinner="Opening the database…")
def _run_store(url: str) -> RunStore:
    # a failure is not cached: a database that comes back is found at the next rerun
    store = RunStore(Database.open(url))
    store.import_folders(legacy_runs_dir())
    return store


@st.cache_resource
def _models() -> ClassifierCache:
    """Every model this process has loaded, shared by all sessions and the HTTP API; bounded
    by the bytes of their weights, the least recently used dropped first."""
    return ClassifierCache()


def classifier(path: Path) -> Classifier:
    """The model at `path`, loaded once per process (reloaded if the file changes)."""
    return _models().get(path)


@st.cache_resource
def warm_up_tensorflow() -> threading.Thread:
    """Import Keras (TensorFlow, ~3 s) in the background once per process, so the page draws
    at once and the model is ready by the first stroke."""
    thread = threading.Thread(target=_import_keras, daemon=True)
    thread.start()
    return thread


def _import_keras() -> None:
    """Import Keras, then exempt every object alive so far from garbage collection, once per
    process. Streamlit collects after every script run, twice (its own `gc.collect(2)`, and
    Keras' `clear_session()`, which it calls whenever Keras is loaded): with TensorFlow's
    300,000 long-lived objects in them, a Draw-page rerun took 0.39 s instead of 0.05 s. Models
    are not frozen: one evicted from the cache must still be collectable."""
    importlib.import_module("keras")
    gc.freeze()


def drawing_store() -> DrawingStore:
    """The labelled drawings, in the database the runs are in; StoreError if it is down."""
    return DrawingStore(run_store().db)


def model_scoreboard() -> list[Score]:
    """Every model (the shipped ones, the newest runs) on the labelled drawings, best first;
    scored again only when the database changes."""
    url = run_store().db.url
    return _scoreboard_at(url, _revision(url))


@st.cache_resource(show_spinner="Scoring the models on the labelled drawings…", max_entries=2)
def _scoreboard_at(url: str, revision: int) -> list[Score]:
    store = run_store()
    return scoreboard(store, DrawingStore(store.db).collection(), classifier)


def job_queue() -> JobQueue:
    """The training line, in the database every session and server shares."""
    return JobQueue(run_store().db)


def runner() -> Runner:
    """This server's training worker (one training at a time), woken by every Train page."""
    return _runner(configured_url())


@st.cache_resource
def _runner(url: str) -> Runner:
    # the loader is looked up when the runner is made, so tests can patch it; the runner
    # passes it to each job's child process
    return Runner(url, mnist_data.load_mnist)


OWNER_PARAM = "me"  # the private link's query parameter: ?me=<token>


def actor() -> Actor:
    """Who this visitor is: their login (with st.login configured), else their private link,
    a random token kept in their own URL so that a reload comes back to their runs and jobs.
    Admins: logged-in emails listed in `[admins] emails`, or a session that gave `[admins]
    password` (see admin_login)."""
    admins = secrets_section("admins")
    if getattr(st.user, "is_logged_in", False):
        email = str(getattr(st.user, "email", "") or "")
        return Actor(f"user:{email}", admin=email in admins.get("emails", []) or _admin_session())
    token = st.query_params.get(OWNER_PARAM, "")  # a link followed wins over the session's own
    if not is_link_token(token):
        token = st.session_state.get(OWNER_PARAM) or new_link_token()
    st.session_state[OWNER_PARAM] = token
    if st.query_params.get(OWNER_PARAM) != token:
        st.query_params[OWNER_PARAM] = token  # kept in the URL: the visitor's private link
    return Actor(f"link:{token}", admin=_admin_session())


def _admin_session() -> bool:
    return bool(st.session_state.get("admin"))


def admin_login() -> None:
    """In the sidebar: the admin password, when one is set in the secrets (compared in constant time)."""
    expected = str(secrets_section("admins").get("password") or "")
    if not expected or _admin_session():
        return
    with st.sidebar.popover("Admin", icon=":material/shield_person:"):
        given = st.text_input("Admin password", type="password", key="admin_password")
        if given and password_matches(given, expected):
            st.session_state["admin"] = True
            st.rerun()
        elif given:
            st.error("Wrong password.")


@st.cache_resource(show_spinner="Loading MNIST…")
def mnist() -> mnist_data.Mnist:
    return mnist_data.load_mnist()


def model_choices() -> tuple[dict[str, str], str]:
    """Label -> model name (a shipped model's, or a run's id): the shipped models, then every
    run, newest first; and a one-line problem when the runs cannot be read (shipped ones still work).

    Called on every stroke: the list is rebuilt only when the database's revision changes, and
    the revision itself is asked at most every 2 s, so a stroke costs no query (a hosted
    database is a network round trip away)."""
    try:
        url = run_store().db.url
        return _choices_at(url, _revision(url)), ""
    except StoreError as e:
        return dict(SHIPPED_CHOICES), f"Saved runs are unavailable: {e}"


@st.cache_data(show_spinner=False, ttl=2, max_entries=4)
def _revision(url: str) -> int:
    return run_store().db.revision()


@st.cache_resource(show_spinner=False, max_entries=4)
def _choices_at(url: str, revision: int) -> dict[str, str]:
    # shared, not copied per call (st.cache_data unpickles its value every time): callers only read it
    choices = dict(SHIPPED_CHOICES)
    for run in run_store().list():
        label = run_label(run)
        choices[label if label not in choices else f"{label} · {run.id}"] = run.id
    return choices


def model_file(name: str) -> Path:
    """The local file of a model choice: a shipped model, or a run's (fetched once: a run's
    files never change)."""
    return _model_file(run_store().db.url if name not in SHIPPED_CHOICES.values() else "", name)


@st.cache_resource(show_spinner="Fetching the model…", max_entries=64)
def _model_file(url: str, name: str) -> Path:
    return resolve_model(name, run_store() if url else None)


def run_label(run: Run) -> str:
    """How a run is named in the Draw page's model list."""
    accuracy = f"{run.test_accuracy:.2%}" if run.test_accuracy is not None else "?"
    return f"Run: {run.name} ({accuracy})"


def save_uploaded_model(data: bytes, filename: str) -> Path:
    """Keep an uploaded model where only its uploader's session refers to it (bounded space)."""
    return store_upload(data, filename, UPLOADED_MODELS)


def line_chart(frame: pd.DataFrame, x_title: str, y_title: str, height: int = 260, log_y: bool = False) -> None:
    """Lines, one per column of `frame` against its index, as a plain Vega-Lite spec.

    `st.line_chart` goes through Altair, which validates the whole spec on every call: 111 ms
    for the Train page's three charts against 8 ms this way, measured; the page redraws them
    every 2 s while a training process needs the CPU.
    """
    long = frame.rename_axis("x").reset_index().melt("x", var_name="series", value_name="y").dropna()
    legend = {"orient": "bottom"} if frame.shape[1] > 1 else None
    st.vega_lite_chart({
        "height": height,
        "mark": {"type": "line", "tooltip": True, "point": len(frame) <= 30},  # a point per epoch when few
        "data": {"values": long.to_dict("records")},
        "encoding": {
            "x": {"field": "x", "type": "quantitative", "title": x_title},
            "y": {"field": "y", "type": "quantitative", "title": y_title,
                  "scale": {"type": "log"} if log_y else {"zero": False}},
            "color": {"field": "series", "type": "nominal", "title": None, "legend": legend},
        },
    }, width="stretch")


def probability_chart(probabilities: np.ndarray) -> None:
    """The ten probabilities as bars; a plain Vega-Lite spec (cheap on every stroke, unlike Altair)."""
    st.vega_lite_chart({
        "height": 220,
        "mark": {"type": "bar", "tooltip": True},
        "data": {"values": [{"digit": str(d), "probability": float(p)} for d, p in enumerate(probabilities)]},
        "encoding": {
            "x": {"field": "digit", "type": "ordinal", "axis": {"labelAngle": 0}},
            "y": {"field": "probability", "type": "quantitative", "scale": {"domain": [0, 1]}},
        },
    }, width="stretch")


def confusion_chart(counts: np.ndarray) -> None:
    """A 10x10 confusion matrix as a heatmap with the counts written in (rows: true digit)."""
    cells = [{"true": str(t), "predicted": str(p), "count": int(counts[t, p])} for t in range(10) for p in range(10)]
    axis = {"labelAngle": 0}
    st.vega_lite_chart({
        "height": 360,
        "data": {"values": cells},
        "encoding": {
            "x": {"field": "predicted", "type": "ordinal", "axis": {**axis, "orient": "top"}},
            "y": {"field": "true", "type": "ordinal", "axis": axis},
        },
        "layer": [
            {"mark": "rect", "encoding": {"color": {"field": "count", "type": "quantitative",
                                                    "scale": {"type": "symlog", "scheme": "blues"}, "legend": None}}},
            {"mark": {"type": "text", "fontSize": 11},
             "encoding": {"text": {"field": "count"},
                          "color": {"condition": {"test": "datum.count > 100", "value": "white"}, "value": "#222"}}},
        ],
    }, width="stretch")


def enlarge(image: np.ndarray, size: int = 196) -> np.ndarray:
    """A 28x28 image in [0, 1] as uint8, blown up with hard pixel edges."""
    factor = size // image.shape[0]
    return np.kron((np.clip(image, 0, 1) * 255).astype(np.uint8), np.ones((factor, factor), np.uint8))
