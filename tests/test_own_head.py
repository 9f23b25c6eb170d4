"""A fine-tune's own "not a digit" check: fitted with the drawings it learned from, carried in its
.keras (so exports, the database and every server have it), read back only within bounds, and
a Stop heeded while it is fitted."""

from __future__ import annotations

import dataclasses
import io
import threading
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_core.config import PRESETS, TrainConfig
from mnist_core.preprocessing import preprocess
from mnist_core.reading import novelty
from mnist_core.reading.classifier import MODELS_DIR, NOVELTY, Classifier, load_classifier
from mnist_core.store.database import Database
from mnist_core.store.drawings import DrawingStore
from mnist_core.store.runs import MODEL_FILE, RunStore, model_files
from mnist_core.training.model import build_model
from mnist_core.training.pipeline import Event, train_and_save
from tests.helpers import load_tiny_mnist, synthetic_digits

BASE = TrainConfig(epochs=3, batch_size=50, learning_rate=0.002, hidden=(16,), optimizer="adam")
# the tiny digits' bars are 2 px apart: no distortions
FINETUNE = PRESETS["finetune"].replace(epochs=12, replay=400, drawings=0.5, learning_rate=0.01, augment="none",
                                       batch_size=50)


def stars(n: int, seed: int = 0) -> np.ndarray:
    """(n, 28, 28) five-pointed stars drawn on a canvas and preprocessed: no digit to the default's
    check (tests/test_not_a_digit.py), each one's points and pen a little different."""
    rng = np.random.default_rng(seed)
    corners = np.array([(140, 20), (180, 260), (30, 100), (250, 100), (100, 260)], float)
    out = []
    for _ in range(n):
        points = [tuple(p) for p in corners + rng.normal(0, 8, corners.shape)]
        image = Image.new("RGBA", (280, 280), "black")
        ImageDraw.Draw(image).line([*points, points[0]], fill="white", width=int(rng.integers(10, 20)), joint="curve")
        out.append(preprocess(image))
    return np.stack(out)


def label_drawings(url: str, n: int = 120) -> None:
    """Stars that people say are digits (a 'style' that is no digit to the default's check), by three people."""
    store = DrawingStore(Database.open(url))
    for i, image in enumerate(stars(n)):
        store.add(image, i % 10, f"link:person-{i % 3}-token", predicted=0, model="default")


@pytest.mark.slow
def test_a_finetune_on_drawings_carries_a_head_fitted_with_them(sqlite_url, quick_own_heads, tmp_path):
    runs = RunStore(Database.open(sqlite_url))
    base = train_and_save(BASE, "adam", sqlite_url, load_data=load_tiny_mnist).run
    label_drawings(sqlite_url)
    events = []
    outcome = train_and_save(FINETUNE.replace(base_model=base.id), "finetune", sqlite_url, load_data=load_tiny_mnist,
                             on_event=lambda kind, payload: events.append(kind))
    kinds = [k for i, k in enumerate(events) if i == 0 or events[i - 1] != k]
    assert kinds[-3:] == [Event.EPOCH, Event.CHECK, Event.SAVING]  # announced, after the epochs
    own = load_classifier(runs.model_path(outcome.run.id))
    assert own.novelty is not None and own.novelty.head.w1.shape[0] == 784 + 16  # its network's, not the default's
    assert own.temperature == own.novelty.temperature
    assert load_classifier(runs.model_path(base.id)).novelty is None  # trained on MNIST alone: none of its own
    runs.export(outcome.run.id, tmp_path / "out")
    with zipfile.ZipFile(tmp_path / "out" / MODEL_FILE) as archive:
        assert NOVELTY in archive.namelist()
    # the drawings it never trained on: digits to its own check, as people said; not to the default's
    ft = runs.finetune(outcome.run.id)
    held = DrawingStore(runs.db).collection()
    x = held.x[np.isin(held.ids, ft.held_out)] / np.float32(255)
    borrowing = dataclasses.replace(own, novelty=None)  # the same network, judged by the default's head
    assert own.judge(x).not_a_digit.mean() < 0.1 < borrowing.judge(x).not_a_digit.mean()


@pytest.mark.slow
def test_a_stop_while_the_head_is_fitted_saves_the_run_at_once_without_it(sqlite_url, quick_own_heads,
                                                                          monkeypatch):
    from mnist_core.training import novelty_fit

    base = train_and_save(BASE, "adam", sqlite_url, load_data=load_tiny_mnist).run
    label_drawings(sqlite_url, n=30)
    release = threading.Event()

    def slow_fit(layers, data, seed, progress, labelled, share):  # a first time on a machine: minutes
        progress("digits and non-digits for the head")
        release.wait(60)
        return stats_for(784 + 16)  # had the stop been ignored, the run would carry these

    monkeypatch.setattr(novelty_fit, "fit_novelty", slow_fit)
    stop = threading.Event()

    def on_event(kind: Event, payload: object) -> None:
        if kind == Event.CHECK:
            stop.set()  # Stop, pressed while the check is fitted

    try:
        outcome = train_and_save(FINETUNE.replace(base_model=base.id, epochs=1), "finetune", sqlite_url,
                                 load_data=load_tiny_mnist, on_event=on_event, stop=stop)
    finally:
        release.set()
    with zipfile.ZipFile(io.BytesIO(RunStore(Database.open(sqlite_url)).file(outcome.run.id))) as archive:
        assert NOVELTY not in archive.namelist()


def stats_for(features: int, seed: int = 0) -> novelty.NoveltyStats:
    """Small NoveltyStats for a network whose head reads `features` features."""
    rng = np.random.default_rng(seed)
    head = novelty.fit_head(rng.normal(size=(100, features)).astype(np.float32), rng.integers(0, 5, 100),
                            novelty.KINDS, seed=0, hidden=4, epochs=1)
    pixels = novelty.fit_pixel_subspace(rng.uniform(size=(50, 784)), k=3)
    return novelty.calibrate(0.7, head, pixels, novelty.parts(head, pixels, rng.normal(size=(40, 7, features))))


@pytest.fixture(scope="module")
def tiny_model():
    return build_model(TrainConfig(hidden=(16,)))  # its head reads 784 + 16 features


def keras_file(tmp_path, model, member: bytes | None, temperature: float = 0.9):
    """A run's model.keras, carrying `member` as its NOVELTY (none when None)."""
    path = tmp_path / "model.keras"
    path.write_bytes(model_files(model, temperature)[MODEL_FILE])
    if member is not None:
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr(NOVELTY, member)
    return path


def test_the_statistics_survive_the_model_file_and_an_upload_never_reads_them(tmp_path, tiny_model):
    stats = stats_for(784 + 16)
    path = tmp_path / "model.keras"
    path.write_bytes(model_files(tiny_model, 0.9, stats)[MODEL_FILE])
    clf = load_classifier(path)
    assert clf.novelty is not None and clf.temperature == stats.temperature == 0.7  # the head's own calibration
    np.testing.assert_array_equal(clf.novelty.head.w1, stats.head.w1)
    x = synthetic_digits(5)[0] / np.float32(255)
    as_fitted = Classifier(clf.net, path, stats.temperature, stats).judge(x)
    np.testing.assert_array_equal(clf.judge(x).probabilities, as_fitted.probabilities)
    assert clf.judge(x).looks_like == as_fitted.looks_like
    upload = load_classifier(path, untrusted=True)
    assert upload.novelty is None and upload.temperature == 0.9


def _npy(shape: tuple[int, ...]) -> bytes:
    """An .npy header declaring `shape` of float32, and a few bytes of data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + bytes(64)


def _with_member(npz: bytes, name: str, data: bytes) -> bytes:
    """The .npz with its member `name` replaced (or added)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(npz)) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            if info.filename != name:
                new.writestr(info, old.read(info))
        new.writestr(name, data)
    return out.getvalue()


def _bad_members() -> dict[str, bytes]:
    good = stats_for(784 + 16).to_bytes()
    return {
        "not an npz": b"not an npz at all",
        "cut short": good[: len(good) // 2],
        "another network's": stats_for(784 + 32).to_bytes(),
        "an array declaring a billion floats": _with_member(good, "head_w1.npy", _npy((100_000, 10_000))),
        "an array of another shape": _with_member(good, "head_b2.npy", _npy((0,))),
        "larger than such statistics are": _with_member(good, "padding.npy", np.random.default_rng(0).bytes(
            2 * novelty.stats_bytes(784 + 16))),  # whole statistics beside it: refused unread
        "a threshold that is no number": dataclasses.replace(stats_for(784 + 16), threshold=float("nan")).to_bytes(),
    }


def test_the_size_allowed_is_what_such_statistics_take():
    """A member is refused unread above twice novelty.stats_bytes: the shipped default's own
    statistics (a 1024-1024 network's) must be within a few percent of it."""
    size = (MODELS_DIR / "default.novelty.npz").stat().st_size
    assert size <= novelty.stats_bytes(784 + 1024 + 1024) < 1.05 * size


@pytest.mark.parametrize("name", list(_bad_members()))
def test_a_bad_member_means_no_head_of_its_own_never_a_crash(tmp_path, tiny_model, name):
    clf = load_classifier(keras_file(tmp_path, tiny_model, _bad_members()[name]))
    assert clf.novelty is None and clf.temperature == 0.9  # the temperature it carries beside
    judged = clf.judge(synthetic_digits(3)[0] / np.float32(255))  # by the default's head, as before
    assert judged.not_a_digit.shape == (3,)
