"""Hostile and unusual input, and crashes: clear one-line errors, nothing saved is lost."""

from __future__ import annotations

import io
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_core.preprocessing import NotADigit, preprocess
from mnist_core.reading.classifier import DEFAULT_MODEL, SEED_MODEL, load_classifier
from mnist_core.reading.image_file import MAX_BYTES, ImageError, read_image
from mnist_core.store.database import Database
from mnist_core.store.runs import RunStore
from tests.helpers import ROOT, LineReader, subprocess_env


def encoded(img: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def a_seven(mode: str = "RGB", size: int = 200) -> Image.Image:
    img = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(img).line([(40, 40), (160, 40), (90, 170)], fill="black", width=14)
    return img.convert(mode)


@pytest.fixture(scope="module")
def default_model():
    return load_classifier(DEFAULT_MODEL)


def assert_a_seven(x: np.ndarray, default_model) -> None:
    """The 28x28 digit is still the 7 that was drawn: close to the plain PNG's, and read as a 7."""
    reference = preprocess(a_seven())
    assert x.shape == (28, 28) and np.abs(x - reference).mean() < 0.05
    assert int(default_model.predict_proba(x).argmax()) == 7


@pytest.mark.parametrize("data,message", [
    (b"", "empty"),
    (b"GIF89a but not really", "damaged|not an image"),
    (b"%PDF-1.4 not an image at all", "not an image"),
    (encoded(a_seven(), "PNG")[:300], "damaged or truncated"),
    (b"\x89PNG" + b"\x00" * (MAX_BYTES + 1), "limit"),
])
def test_bad_files_give_one_line_errors(data, message):
    with pytest.raises(ImageError, match=message) as e:
        read_image(data)
    assert "\n" not in str(e.value)


def test_decompression_bomb_is_refused_before_decoding():
    # a tiny PNG whose header declares 30000x30000 pixels
    bomb = encoded(Image.new("1", (30000, 30000)), "PNG", optimize=True)
    assert len(bomb) < 200_000
    with pytest.raises(ImageError, match="limit|bomb"):
        read_image(bomb)


@pytest.mark.parametrize("mode,fmt", [("I;16", "PNG"), ("CMYK", "JPEG"), ("P", "PNG"), ("P", "GIF"), ("LA", "PNG"),
                                      ("RGB", "BMP"), ("RGB", "WEBP"), ("1", "PNG")])
def test_unusual_but_valid_images_are_read(mode, fmt, default_model):
    assert_a_seven(preprocess(read_image(encoded(a_seven(mode), fmt))), default_model)


def test_animated_gif_uses_the_first_frame(default_model):
    frames = [a_seven("P"), Image.new("P", (200, 200), 255)]  # a 7, then a blank frame
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert_a_seven(preprocess(read_image(data)), default_model)


def test_exif_rotated_photo_is_turned_upright():
    sideways = a_seven().rotate(90, expand=True)  # as a phone stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view"
    upright = read_image(encoded(sideways, "JPEG", exif=exif))
    assert np.abs(preprocess(upright) - preprocess(a_seven())).mean() < 0.05


def test_photo_with_uneven_lighting_reads_right(default_model):
    h = w = 600
    gradient = np.linspace(120, 245, w)[None, :] * np.linspace(0.75, 1.0, h)[:, None]  # a shadow across
    paper = Image.fromarray(np.dstack([gradient] * 3).astype(np.uint8))
    ImageDraw.Draw(paper).line([(150, 120), (450, 120), (260, 500)], fill=(30, 30, 40), width=28)
    assert int(default_model.predict_proba(preprocess(paper)).argmax()) == 7


def test_ink_everywhere_and_a_single_dot_get_an_answer_not_a_crash():
    assert preprocess(np.full((280, 280, 4), 255, np.uint8)) is None  # all ink: nothing stands out
    for canvas in (np.full((280, 280, 4), 255, np.uint8), np.zeros((280, 280, 4), np.uint8)):
        canvas[..., 3] = 255
        canvas[140, 140, :3] = 255 - canvas[140, 140, :3]  # one pixel, dark on light or light on dark
        with pytest.raises(NotADigit):
            preprocess(canvas)
    scribble = Image.new("RGBA", (280, 280), "black")
    for y in range(0, 280, 30):  # ink over most of the canvas
        ImageDraw.Draw(scribble).line([(0, y), (279, y + 20)], fill="white", width=25)
    p = load_classifier(SEED_MODEL).predict_proba(preprocess(scribble))
    assert np.isclose(p.sum(), 1, atol=1e-4)


SAVER = """
import sys
import numpy as np
from mnist_core.store import runs
from mnist_core.config import TrainConfig
from mnist_core.data import Mnist
from mnist_core.store.database import Database
from mnist_core.training.loop import train
url, count, units, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(0)
x = rng.integers(0, 255, (300, 28, 28)).astype(np.uint8); y = rng.integers(0, 10, 300).astype(np.uint8)
result = train(TrainConfig(epochs=1, hidden=(units,) * 2), Mnist(x, y, x[:50], y[:50], "synthetic"))
insert_rows = runs._insert_rows
def held_midway(conn, run, history, files, finetune=None):  # the save `hold`: half its rows in, uncommitted
    first = dict(list(files.items())[:1])
    insert_rows(conn, run, history, first, finetune)
    print("midway", flush=True)
    sys.stdin.read()  # until the test kills us
store = runs.RunStore(Database.open(url))
for i in range(count):
    runs._insert_rows = held_midway if i == hold else insert_rows
    store.save(result, preset=f"saved {i}")
    print("saved", i, flush=True)
"""


def saver(url: str, count: int, units: int = 2048, hold: int = -1) -> subprocess.Popen:
    """A process that trains a small model and saves it `count` times as runs in `url`; the save
    numbered `hold` stops inside its transaction (the run's row and one model file written, not
    committed), says "midway" and waits to be killed."""
    return subprocess.Popen([sys.executable, "-c", SAVER, url, str(count), str(units), str(hold)], cwd=ROOT,
                            env=subprocess_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_sigkill_while_saving_loses_nothing(database_url):
    """Kill a process inside the transaction that saves a run (a 2048-2048 model: 60 MB of
    files), after its row and its first file are written: every run saved before still loads,
    no half run is listed, the shipped models still open."""
    store = RunStore(Database.open(database_url))
    proc = saver(database_url, count=3, hold=2)
    try:
        lines = LineReader(proc.stdout)
        assert [lines.next(timeout=180) for _ in range(3)] == ["saved 0", "saved 1", "midway"]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    runs = store.list()
    assert sorted(run.preset for run in runs) == ["saved 0", "saved 1"]
    for run in runs:
        assert store.history(run.id)["loss"] and store.file(run.id, "mnist_dense_model.h5")
        load_classifier(store.model_path(run.id))
    load_classifier(DEFAULT_MODEL)
    load_classifier(SEED_MODEL)


@pytest.mark.slow
def test_two_servers_writing_at_once_lose_nothing(database_url):
    RunStore(Database.open(database_url))  # the schema, as the first server to start makes it
    writers = [saver(database_url, 6, units=64) for _ in range(2)]
    for proc in writers:
        proc.stdin.close()
        assert proc.wait(180) == 0
    names = sorted(run.preset for run in RunStore(Database.open(database_url)).list())
    assert names == sorted([f"saved {i}" for i in range(6)] * 2)
