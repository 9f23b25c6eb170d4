"""Play the other student: everything a stranger can reach (pages, downloads, exports, the
command line's output, HTTP answers) names owners only as "yours", "the operator's" or a
pseudonym, never by a private link or an email; every page by the same policy. On SQLite and on a real Postgres."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from PIL import Image, ImageDraw
from starlette.testclient import TestClient
from streamlit.testing.v1 import AppTest

from mnist_core import cli
from mnist_core.config import TrainConfig
from mnist_core.drawing_files import to_idx, to_npz, to_png_zip
from mnist_core.http_api import create_app, loaded_models
from mnist_core.jobs.line import JobQueue
from mnist_core.owners import Actor, Keys
from mnist_core.scoreboard import scoreboard
from mnist_core.store.database import Database
from mnist_core.store.drawings import DrawingStore
from mnist_core.store.runs import H5_FILE, MODEL_FILE, RunStore
from mnist_core.training.budget import Budget
from mnist_core.training.loop import train
from tests.apptest import page_bytes

APP = str(Path(__file__).resolve().parents[1] / "navigation.py")
EMAIL = "carol.secret@example.org"


def canvas_png() -> bytes:
    img = Image.new("RGBA", (280, 280), "black")
    ImageDraw.Draw(img).line([(140, 50), (140, 230)], fill="white", width=20)
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()


def npz_text(data: bytes) -> bytes:
    """An .npz's arrays as text (the file itself is compressed: a secret would not show in it)."""
    with np.load(io.BytesIO(data)) as npz:
        return json.dumps({k: npz[k].tolist() for k in npz.files}).encode()


@pytest.fixture
def shared(database_url, tiny_mnist, monkeypatch):
    """Ann (a private link) and Carol (a login) each have a run, a waiting job and a drawing."""
    monkeypatch.setenv("MNIST_DATABASE_URL", database_url)
    db = Database.open(database_url)
    keys = Keys.of(db)
    ann_link = keys.new_link()
    owners = {"ann": keys.owner_of(ann_link), "carol": f"user:{EMAIL}"}
    runs, drawings, jobs = RunStore(db), DrawingStore(db), JobQueue(db)
    result = train(TrainConfig(epochs=1, batch_size=100), tiny_mnist)
    x28 = tiny_mnist.x_test[0].astype(np.float32) / 255
    for name, owner in owners.items():
        runs.save(result, preset="seed", name=f"{name}'s run", owner=owner)
        jobs.submit(TrainConfig(epochs=1), "seed", Actor(owner), Budget(seconds=60))
        drawings.add(x28, 1, owner, predicted=1, confidence=0.9, model="default", image=canvas_png(),
                     strokes=json.dumps({"objects": [{"type": "Path", "path": [["M", 1, 2]]}]}))
    secrets = [ann_link, ann_link.split(".")[0], owners["ann"], EMAIL, "carol.secret"]
    return db, keys, secrets


def test_nothing_a_stranger_can_reach_names_an_owner(shared, tmp_path, capsys):
    db, keys, secrets = shared
    runs, drawings = RunStore(db), DrawingStore(db)
    artifacts: dict[str, bytes] = {}

    # downloads: each run's files and run.json, every export of the drawings
    for run in runs.list():
        artifacts[f"{run.id}/run.json"] = runs.record(run.id)
        for name in (MODEL_FILE, H5_FILE):
            artifacts[f"{run.id}/{name}"] = runs.file(run.id, name)
    c = drawings.collection()
    images, labels = to_idx(c)
    artifacts["idx"] = images + labels
    artifacts["npz"] = npz_text(to_npz(c, keys.pseudonym))
    with zipfile.ZipFile(io.BytesIO(to_png_zip(c, drawings.image))) as z:
        artifacts["png zip"] = "\n".join(z.namelist()).encode() + b"".join(z.read(n) for n in z.namelist())
    artifacts["scoreboard"] = repr(scoreboard(runs, c, lambda path: loaded_models(None)(None))).encode()

    # the pages, as Bob sees them
    st.cache_resource.clear()
    st.cache_data.clear()
    bob = AppTest.from_file(APP, default_timeout=120)
    bob.query_params["me"] = keys.new_link()
    bob.run()
    for page in ("app_pages/draw.py", "app_pages/train.py", "app_pages/runs.py", "app_pages/drawings.py",
                 "app_pages/teacher.py"):
        bob.switch_page(page).run()
        assert not bob.exception, (page, bob.exception)
        artifacts[page] = page_bytes(bob)
    # one labelling policy on every page (owners.Actor.whose): Ann and Carol by their pseudonyms,
    # as Bob sees their runs, jobs and drawings, and as run names carry them (its first two words)
    names = [keys.pseudonym(o) for o in (keys.owner_of(secrets[0]), f"user:{EMAIL}")]
    for page in ("app_pages/train.py", "app_pages/runs.py", "app_pages/drawings.py"):
        assert all(f"{name}'s".encode() in artifacts[page] for name in names), page
    for page in ("app_pages/draw.py", "app_pages/runs.py", "app_pages/teacher.py"):
        assert all(f"{name.rsplit('-', 1)[0]}'s".encode() in artifacts[page] for name in names), page
    assert not any(b"another visitor" in artifacts[page] for page in artifacts if page.startswith("app_pages/"))

    # HTTP: answers and errors for every run, by id and by name
    client = TestClient(create_app(loaded_models(runs)))
    for run in runs.list():
        for ref in (run.id, run.name, "no such run"):
            response = client.post(f"/predict?model={ref}", files={"file": ("d.png", canvas_png(), "image/png")})
            artifacts[f"http {ref}"] = response.content

    # the command line, as the operator runs it
    folder = tmp_path / "export"
    for argv in (["runs", "--json"], ["drawings", "list", "--json"], ["scoreboard", "--json"],
                 ["export", runs.list()[0].id, str(folder)], ["drawings", "export", str(folder)]):
        assert cli.main([*argv, "--database", db.url]) == 0
        out = capsys.readouterr()
        artifacts[" ".join(argv)] = (out.out + out.err).encode()
    for path in folder.iterdir():
        data = path.read_bytes()
        artifacts[f"exported {path.name}"] = npz_text(data) if path.suffix == ".npz" else data

    assert len(artifacts) > 20
    for name, data in artifacts.items():
        for secret in secrets:
            assert secret.encode() not in data, f"{secret!r} in {name}"
