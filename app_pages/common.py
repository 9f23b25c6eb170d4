"""What the pages share: the deployment's settings (read from st.secrets by the core's
deployment.Deployment), the database, models and data loaded once per process, the training
line and this server's runner, who the visitor is, the model list, the charts."""

from __future__ import annotations

import gc
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.typing import UploadedFile

from mnist_core import data as mnist_data
from mnist_core.deployment import VARIABLES, Deployment, DeploymentError, Training
from mnist_core.jobs.line import JobQueue
from mnist_core.jobs.pace import Pace, measured
from mnist_core.jobs.runner import Runner
from mnist_core.lesson import CLASS_HOURS, Scope, in_scope, run_names
from mnist_core.owners import Actor, Keys, Links, NotAllowed, Throttle, follow
from mnist_core.people import people, remove_person
from mnist_core.reading.classifier import (
    SHIPPED_MODELS,
    SHIPPED_TEST_ACCURACY,
    Classifier,
    ClassifierCache,
    store_upload,
)
from mnist_core.scoreboard import Score, scoreboard
from mnist_core.store.database import Database, StoreError
from mnist_core.store.drawings import DrawingStore, Filter
from mnist_core.store.runs import Run, RunIndex, RunStore, legacy_runs_dir
from mnist_core.training.budget import Budget

UPLOADED_MODELS = Path(tempfile.gettempdir()) / "mnist-dense-uploads"
MODEL_KEY = "model_choice"  # session state: the label of the model the Draw page uses
UPLOAD_KEY = "draw_model_upload"  # session state: (the uploader's file id, where its bytes are kept)
SHIPPED_CHOICES = {f"Default: best dense model ({SHIPPED_TEST_ACCURACY['default']:.2%})": "default",
                   f"The book's fit ({SHIPPED_TEST_ACCURACY['seed']:.2%})": "seed"}


def deployment() -> Deployment:
    """This deployment's settings, from the app's secrets (deployment.Deployment); a wrong one
    stops the page with one line. Read anew only when the secrets or what else it reads
    change: a stroke asks ten times."""
    secrets = app_secrets()
    key = (repr(secrets), os.getcwd(), *(os.environ.get(name) for name in VARIABLES))
    found = _DEPLOYMENTS.get(key)
    if found is None:
        try:
            found = Deployment.from_secrets(secrets)
        except DeploymentError as e:
            st.error(f"The secrets are wrong: {e}.")
            st.stop()
        if len(_DEPLOYMENTS) >= 8:  # tests change them; a server hardly ever
            _DEPLOYMENTS.clear()
        _DEPLOYMENTS[key] = found
    return found


_DEPLOYMENTS: dict[tuple, Deployment] = {}  # (the secrets, the folder, VARIABLES) -> what they say


def app_secrets() -> dict:
    """The app's secrets as TOML tables ({} without a secrets.toml at all)."""
    try:
        return st.secrets.to_dict()
    except FileNotFoundError:
        return {}


def budget() -> Budget:
    """What a job, a person and the line may take (budget.Budget, from `[budget]`)."""
    return deployment().budget


def run_store() -> RunStore:
    """The runs, in the database every session and server shares; StoreError if it is down."""
    return _run_store(deployment().database_url)


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


def classifier(path: Path, untrusted: bool = False) -> Classifier:
    """The model at `path`, loaded once per process (reloaded if the file changes); `untrusted`:
    a visitor's upload (save_uploaded_model), opened once in a process of its own, however many
    strokes follow (classifier.ClassifierCache)."""
    return _models().get(path, untrusted)


@st.cache_resource
def freeze_long_lived() -> bool:
    """Once per process, after the first page has run (its imports done): exempt every object
    alive from garbage collection. Streamlit collects in full after every script run, and the
    server's 110,000-odd long-lived objects (Streamlit's, pandas', SQLAlchemy's, numpy's) made
    that 66 ms of every stroke, measured; frozen, a collection takes microseconds. What is made
    later (models, sessions' state) is collected as usual."""
    gc.freeze()
    return True


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
    return scoreboard(store, DrawingStore(store.db).collection(Filter(trusted=True)), classifier)


def job_queue() -> JobQueue:
    """The training line, in the database every session and server shares."""
    return JobQueue(run_store().db)


def trains_here() -> bool:
    return deployment().trains_here


def runner() -> Runner:
    """This server's runner, woken by every Train page: `[training] slots` trainings at once
    (default: as many as the cores allow, pace.training_slots; another starts only where one was
    started ahead and memory allows: jobs.runner)."""
    settings = deployment()
    return _runner(settings.database_url, settings.slots)


@st.cache_resource
def _runner(url: str, slots: int) -> Runner:
    # the loader is looked up when the runner is made, so tests can patch it; the runner
    # passes it to each job's child process
    return Runner(url, mnist_data.load_mnist, slots=max(1, slots), spare=os.environ.get(SPARE_VARIABLE) != "0")


SPARE_VARIABLE = "MNIST_TRAINING_SPARE"  # "0": no training process started ahead of its job (the tests' servers)


def training_slots(jobs: JobQueue) -> int:
    """Trainings at once for this deployment's line: this server's, and its workers'."""
    here = runner().slots if trains_here() else 0
    workers = sum(slots for _, slots in jobs.runners()) if deployment().training != Training.SERVER else 0
    return max(1, here + workers)


def pace_now(jobs: JobQueue) -> Pace:
    """How fast jobs train here now (jobs.pace): the load read by this server's runner when it
    trains, else as the workers' heartbeats said."""
    return measured(jobs, runner().meter.demand() if trains_here() else None)


OWNER_PARAM = "me"  # the private link's query parameter: ?me=<link>
SESSION = "visitor_session"  # session state: this browser session's own random name (the admin throttle's)


def identity_keys() -> Keys:
    """The deployment's keys: `[identity] secret` in the secrets, else the database's own."""
    settings = deployment()
    return _keys(settings.database_url, settings.identity_secret)


@st.cache_resource(show_spinner=False)
def _keys(url: str, configured: str) -> Keys:
    return Keys.of(run_store().db, configured or None)  # a database that is down is not cached


def identity_links() -> Links:
    """Private links as they stand now (owners.Links): replaceable, checked in the database."""
    return Links(identity_keys(), run_store().db)


def actor() -> Actor:
    """Who this visitor is: their login (with st.login configured), else their private link, a
    signed token kept in their own URL so that a reload or a bookmark comes back to their runs.
    A link this deployment did not sign, or one its owner replaced since, is set aside for a
    fresh one (checked at every run: a replaced link acts no more, here or anywhere). Admins: logged-in emails
    listed in `[admins] emails`, or a session that gave `[admins] password` (admin_login)."""
    emails = deployment().admins
    if st.user.get("is_logged_in", False):  # without [auth] in the secrets, st.user holds no such key
        email = str(st.user.get("email") or "").strip().lower()
        if email:
            return Actor(f"user:{email}", admin=email in emails or _admin_session(), names=_names())
        st.session_state[NOTICE] = "That login gave no email address, which this app needs to know you: you are " \
                                   "known by your private link instead (log out, or use an account with an email)."
    given = st.query_params.get(OWNER_PARAM)
    try:
        links = identity_links()
        visit = follow(links, given, st.session_state.get(OWNER_PARAM))
    except StoreError:  # no secret to sign with: this session is someone for now, and the URL is left alone
        return Actor(f"session:{_session_id()}", admin=_admin_session())
    if visit.notice:
        st.session_state[NOTICE] = visit.notice
    st.session_state[OWNER_PARAM] = visit.link
    if given != visit.link:
        st.query_params[OWNER_PARAM] = visit.link  # kept in the URL: the visitor's private link
    return Actor(visit.owner, admin=_admin_session(), names=links.keys.pseudonym)


def _names() -> Callable[[str], str] | None:
    """How the actor names others (owners.Actor.whose): by pseudonym, when the keys can be read."""
    try:
        return identity_keys().pseudonym
    except StoreError:
        return None


NOTICE = "identity_notice"  # session state: one line about the visitor's identity, shown once


def identity_panel(me: Actor) -> None:
    """In the sidebar of every page: who the visitor is to the app, and what their link is."""
    with st.sidebar:
        notice = st.session_state.pop(NOTICE, None)
        if notice:
            st.warning(notice)
        try:
            name = identity_keys().pseudonym(me.owner)
        except StoreError:
            name = "a visitor (the database is unavailable)"
        if me.owner.startswith("user:"):
            st.caption(f"Signed in as **{me.owner[5:]}**" + (" (admin)" if me.admin else "")
                       + f"; others see you as **{name}**.")
            st.button("Log out", key="identity_logout", on_click=st.logout, icon=":material/logout:")
            return
        st.caption(f"You are **{name}** to this app" + (" (admin)." if me.admin else "."))
        if me.owner.startswith("link:"):
            with st.popover("Your private link", icon=":material/key:"):
                st.write("This address is your key: whoever has it acts as you (your runs, jobs and drawings). "
                         "Copy it to come back on another device; keep it to yourself.")
                st.code(f"{_base_url()}?{OWNER_PARAM}={st.session_state[OWNER_PARAM]}", language=None)
                st.button("Replace my link", key="identity_replace", on_click=_replace_link, icon=":material/key:",
                          help="A new link for the same you: your runs, jobs and drawings stay yours, and this "
                               "link stops working at once, on every device (do it if it leaked)")
                st.button("Start afresh", key="identity_afresh", on_click=_start_afresh, icon=":material/restart_alt:",
                          help="A new link, a new you: the old link keeps its runs and drawings")
        if deployment().login:
            st.button("Log in", key="identity_login", on_click=st.login, icon=":material/login:",
                      help="Safer than a link: your runs and drawings follow your account")


def admin_panel(me: Actor) -> None:
    """In an admin's sidebar: everyone who made something, and removing all one person made."""
    if not me.admin:
        return
    with st.sidebar.expander("Admin: people", icon=":material/group:"):
        try:
            db = run_store().db
            everyone = people(db, identity_keys())
        except StoreError as e:
            st.error(str(e))
            return
        if not everyone:
            st.caption("Nobody has made anything yet.")
            return
        chosen = st.selectbox("Person", everyone, key="admin_person",
                              format_func=lambda p: f"{p.name}: {p.runs} runs, {p.drawings} drawings, {p.jobs} jobs")
        sure = st.checkbox(f"Remove everything {chosen.name} made", key="admin_person_confirm")
        if st.button("Remove", key="admin_person_remove", disabled=not sure, type="primary", icon=":material/delete:"):
            try:
                st.success(f"{chosen.name}: {remove_person(db, chosen.owner, me)}.")
            except (StoreError, NotAllowed) as e:
                st.error(str(e))


def client_address() -> str:
    """This visitor's network address as the line and the admin throttle count it (owners.Keys.client)."""
    try:
        return identity_keys().client(str(getattr(st.context, "ip_address", "") or ""))
    except StoreError:
        return ""


def _start_afresh() -> None:
    link = identity_keys().new_link()
    st.session_state[OWNER_PARAM] = link
    st.query_params[OWNER_PARAM] = link


def _replace_link() -> None:
    try:
        link = identity_links().replace(st.session_state.get(OWNER_PARAM, ""))
    except (StoreError, NotAllowed) as e:
        st.session_state[NOTICE] = f"The link could not be replaced: {e}."
        return
    st.session_state[OWNER_PARAM] = link
    st.query_params[OWNER_PARAM] = link
    st.session_state[NOTICE] = "Your private link was replaced: the old one works nowhere any more. Everything " \
                               "stays yours; copy the new link to your other devices."


def _base_url() -> str:
    url = str(getattr(st.context, "url", "") or "")
    return url.split("?", 1)[0]


def _session_id() -> str:
    return st.session_state.setdefault(SESSION, secrets.token_urlsafe(9))


def _admin_session() -> bool:
    return bool(st.session_state.get("admin"))


@st.cache_resource
def _throttle() -> Throttle:
    """Wrong admin passwords, counted for this server process (every session and address)."""
    return Throttle()


def admin_login() -> None:
    """In the sidebar: the admin password, when one is set in the secrets; each wrong try slows
    the guesser's next ones down (owners.Throttle: its session and its address, never the admin
    in a fresh session elsewhere), and the compare is constant-time."""
    if not deployment().admin_password or _admin_session():
        return
    with st.sidebar.popover("Admin", icon=":material/shield_person:"):
        st.text_input("Admin password", type="password", key="admin_password", on_change=_try_admin_password)
        message = st.session_state.pop("admin_message", "")
        if message:
            st.error(message)


def _try_admin_password() -> None:
    """One try, counted once (a callback: the field's value is not read again on later reruns)."""
    given, st.session_state["admin_password"] = st.session_state.get("admin_password", ""), ""
    if not given:
        return
    wrong = _throttle().attempt(_session_id(), client_address(), given, deployment().admin_password)
    if wrong is None:
        st.session_state["admin"] = True
    else:
        st.session_state["admin_message"] = wrong


@st.cache_resource(show_spinner="Loading MNIST…")
def mnist() -> mnist_data.Mnist:
    return mnist_data.load_mnist()


def model_choices(scope: Scope = Scope.EVERYONE, owner: str = "") -> tuple[dict[str, str], str]:
    """Label -> model name (a shipped model's, or a run's id): the shipped models, then the runs
    `scope` shows `owner` (lesson.Scope), newest first; and a one-line problem when the runs
    cannot be read (shipped ones still work).

    Called on every stroke: the list is rebuilt only when the database's revision changes, and
    the revision itself is asked at most every 2 s, so a stroke costs no query (a hosted
    database is a network round trip away)."""
    try:
        url = run_store().db.url
        labelled = _choices_at(url, _revision(url))
    except StoreError as e:
        return dict(SHIPPED_CHOICES), f"Saved runs are unavailable: {e}"
    shown = None if scope == Scope.EVERYONE else {r.id for r in in_scope([r for _, r in labelled], scope, owner)}
    return {**SHIPPED_CHOICES, **{label: r.id for label, r in labelled if shown is None or r.id in shown}}, ""


@st.cache_data(show_spinner=False, ttl=2, max_entries=4)
def _revision(url: str) -> int:
    return run_store().db.revision()


@st.cache_resource(show_spinner=False, max_entries=4)
def _runs_at(url: str, revision: int) -> RunIndex:
    """Every run, as of `revision`; cached files of runs deleted meanwhile (by any server) go."""
    store = run_store()
    index = RunIndex(store.list())
    store.sweep_model_files(index.runs)
    return index


@st.cache_resource(show_spinner=False, max_entries=4)
def _choices_at(url: str, revision: int) -> list[tuple[str, Run]]:
    # shared, not copied per call (st.cache_data unpickles its value every time): callers only read it
    names, labelled, taken = _names_at(url, revision), [], set(SHIPPED_CHOICES)
    for run in _runs_at(url, revision).runs:
        label = _label(run, names[run.id])
        labelled.append((label if label not in taken else f"{label} · {run.id}", run))
        taken.add(labelled[-1][0])
    return labelled


@st.cache_resource(show_spinner=False, max_entries=4)
def _names_at(url: str, revision: int) -> dict[str, str]:
    return run_names(_runs_at(url, revision).runs, identity_keys().pseudonym)


def names_of_runs() -> dict[str, str]:
    """Run id -> "brave-otter's seed #2", for every run (lesson.run_names), at the database's
    revision of the last 2 s."""
    url = run_store().db.url
    return _names_at(url, _revision(url))


DRAW_SCOPE = "draw_model_scope"  # the Draw page's "whose runs" in its model list


def draw_with(run: Run, me: Actor) -> None:
    """Open the Draw page with `run` as its model (its list then shows whose it is)."""
    st.session_state[MODEL_KEY] = run_label(run)
    st.session_state[DRAW_SCOPE] = Scope.MINE if run.owner == me.owner else Scope.EVERYONE
    st.switch_page("app_pages/draw.py")


def scope_picker(key: str, default: Scope) -> Scope:
    """Which runs a list shows: mine, the class's (the last hours') or everyone's; a list on a
    shared server starts at `default`, on one's own machine at everyone's."""
    default = default if deployment().shared else Scope.EVERYONE
    chosen = st.segmented_control("Whose runs", list(Scope), default=default, key=key,
                                  help=f"The class: the runs made in the last {CLASS_HOURS} hours")
    return Scope(chosen) if chosen else default


def model_file(name: str, fresh: bool = False) -> Path:
    """The local file of a model: a shipped one, or a run's by id or name. Runs are found in the
    listing of the database's current revision (`fresh`, as HTTP asks: a run deleted or renamed
    on any server stops answering at once), or of one at most 2 s old (a stroke: no query)."""
    if name in SHIPPED_MODELS:
        return SHIPPED_MODELS[name]
    store = run_store()
    revision = store.db.revision() if fresh else _revision(store.db.url)
    return store.model_path(_runs_at(store.db.url, revision).find(name).id)


def run_label(run: Run) -> str:
    """How a run is named in the Draw page's model list (its name at the database's revision
    now: a run saved a moment ago is in it)."""
    return _label(run, name_of(run))


def name_of(run: Run) -> str:
    """A run's name as everyone sees it ("brave-otter's seed #2"), at the database's revision
    now when the last 2 s' names lack it (a run saved a moment ago)."""
    names = names_of_runs()
    if run.id not in names:
        store = run_store()
        names = _names_at(store.db.url, store.db.revision())
    return names.get(run.id, run.name)


def _label(run: Run, name: str) -> str:
    accuracy = f"{run.test_accuracy:.2%}" if run.test_accuracy is not None else "?"
    return f"Run: {name} ({accuracy})"


def save_uploaded_model(upload: UploadedFile) -> Path:
    """Keep an uploaded model where only its uploader's session refers to it (bounded space), once
    per upload: the reruns that follow (a stroke each) find its path in the session, without
    hashing its bytes again; kept anew if other uploads have pushed it out of the folder."""
    saved = st.session_state.get(UPLOAD_KEY)
    if saved is None or saved[0] != upload.file_id or not saved[1].exists():
        saved = st.session_state[UPLOAD_KEY] = (upload.file_id, store_upload(upload.getvalue(), upload.name,
                                                                              UPLOADED_MODELS))
    return saved[1]


def line_chart(frame: pd.DataFrame, x_title: str, y_title: str, height: int = 260, log_y: bool = False) -> None:
    """Lines, one per column of `frame` against its index, as a plain Vega-Lite spec.

    `st.line_chart` goes through Altair, which validates the whole spec on every call: 111 ms
    for the Train page's three charts against 8 ms this way, measured; the page redraws them
    every 2 s while a training process needs the CPU.
    """
    long = frame.rename_axis("x").reset_index().melt("x", var_name="series", value_name="y").dropna()
    legend = {"orient": "bottom", "labelLimit": 0} if frame.shape[1] > 1 else None  # whole names
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


def percent_table(frame: pd.DataFrame, percent: list[str], **kwargs: object) -> None:
    """A table whose `percent` columns read 98.76%, and whose missing values read as a dash,
    never "None" (the values stay numbers: the columns still sort)."""
    styled = frame.style.format(precision=2, na_rep="—").format("{:.2%}", subset=percent, na_rep="—")
    st.dataframe(styled, hide_index=True, **kwargs)


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
