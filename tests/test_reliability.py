"""Hostile and unusual input, and crashes: clear one-line errors, nothing saved is lost."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_core.classifier import DEFAULT_MODEL, SEED_MODEL, load_classifier
from mnist_core.image_file import MAX_BYTES, ImageError, read_image
from mnist_core.preprocess import NotADigit, preprocess
from mnist_core.runs import list_runs

ROOT = Path(__file__).resolve().parents[1]


def encoded(img: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def a_seven(mode: str = "RGB", size: int = 200) -> Image.Image:
    img = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(img).line([(40, 40), (160, 40), (90, 170)], fill="black", width=14)
    return img.convert(mode)


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
def test_unusual_but_valid_images_are_read(mode, fmt):
    img = read_image(encoded(a_seven(mode), fmt))
    x = preprocess(img)
    assert x is not None and x.shape == (28, 28)


def test_animated_gif_uses_the_first_frame():
    frames = [a_seven("P"), Image.new("P", (200, 200), 255)]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert preprocess(read_image(data)) is not None


def test_exif_rotated_photo_is_turned_upright():
    sideways = a_seven().rotate(90, expand=True)  # as a phone stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view"
    upright = read_image(encoded(sideways, "JPEG", exif=exif))
    assert np.abs(preprocess(upright) - preprocess(a_seven())).mean() < 0.05


def test_photo_with_uneven_lighting_reads_right():
    h = w = 600
    gradient = np.linspace(120, 245, w)[None, :] * np.linspace(0.75, 1.0, h)[:, None]  # a shadow across
    paper = Image.fromarray(np.dstack([gradient] * 3).astype(np.uint8))
    ImageDraw.Draw(paper).line([(150, 120), (450, 120), (260, 500)], fill=(30, 30, 40), width=28)
    clf = load_classifier(DEFAULT_MODEL)
    assert int(clf.predict_proba(preprocess(paper)).argmax()) == 7


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
import sys, time
from pathlib import Path
import numpy as np
from mnist_core.config import TrainConfig
from mnist_core.data import Mnist
from mnist_core.runs import save_run
from mnist_core.train import train
rng = np.random.default_rng(0)
x = rng.integers(0, 255, (300, 28, 28)).astype(np.uint8); y = rng.integers(0, 10, 300).astype(np.uint8)
result = train(TrainConfig(epochs=1, hidden=(2048, 2048)), Mnist(x, y, x[:50], y[:50], "synthetic"))
root = Path(sys.argv[1])
save_run(result, root, preset="first")
print("first saved", flush=True)
while True:
    save_run(result, root, preset="again")
"""


def test_sigkill_while_saving_loses_nothing(tmp_path):
    """Kill the process in the middle of saving a run: every complete run and the shipped models
    still load, and the half-written folder is never listed. A leftover temp folder proves that
    the kill landed mid-save; we retry until one does."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    for attempt in range(5):
        root = tmp_path / f"attempt{attempt}"
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(root)], env=env, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "first saved"
        time.sleep(0.7 + 0.37 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        if any(p.name.endswith(".tmp") for p in root.iterdir()):
            break
    else:
        pytest.fail("no kill landed in the middle of a save")
    runs = list_runs(root)
    assert runs and all(not r.broken for r in runs)
    for run in runs:
        load_classifier(run.model_path)
        load_classifier(run.path / "mnist_dense_model.h5")
    assert all(not r.path.name.startswith(".") for r in runs)
    load_classifier(DEFAULT_MODEL)
    load_classifier(SEED_MODEL)
