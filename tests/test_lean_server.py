"""The app server reads drawings without TensorFlow: after drawings, uploads, HTTP requests and
a scoreboard, neither TensorFlow nor Keras is in the server process (its sys.modules, and no
TensorFlow library in its memory map)."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests

from benchmarks.app_server import app_server
from benchmarks.ws_session import DrawSession, digit_png
from mnist_core.store.database import Database
from mnist_core.store.drawings import DrawingStore
from tests.helpers import ROOT, run_coroutine, subprocess_env

pytestmark = pytest.mark.slow

PAGES = """
import base64, io, sys
import numpy as np
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest
from mnist_core.store.database import Database, database_url
from mnist_core.store.drawings import DrawingStore

def png(image):
    out = io.BytesIO(); image.save(out, "PNG"); return out.getvalue()

DrawingStore(Database.open(database_url())).add(np.full((28, 28), 200, np.uint8), 1, "")
at = AppTest.from_file("navigation.py", default_timeout=120).run()
one = Image.new("RGBA", (280, 280), "black")
ImageDraw.Draw(one).line([(140, 50), (140, 230)], fill="white", width=20)
url = "data:image/png;base64," + base64.b64encode(png(one)).decode()
at.session_state["draw_canvas_0"] = {"drawing": {"raw": {"objects": [], "background": "#000"}, "data": url},
                                     "backgroundFit": None}
at.run()
assert next(m for m in at.metric if m.label == "Prediction").value == "1", "no reading"
at.selectbox(key="model_choice").set_value("Upload a model…").run()
at.file_uploader(key="draw_model_file").upload("mine.keras", open("models/seed.keras", "rb").read()).run()
assert next(m for m in at.metric if m.label == "Prediction"), "no reading with the uploaded model"
for page in ("app_pages/drawings.py", "app_pages/runs.py", "app_pages/train.py"):
    at.switch_page(page).run()
    assert not at.exception, (page, at.exception)
import streamlit_app  # the HTTP routes beside the pages
print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
"""


def test_the_pages_draw_upload_and_score_without_tensorflow(tmp_path):
    env = {**subprocess_env(), "MNIST_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", PAGES], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=280)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_served_app_never_maps_tensorflow(tmp_path):
    DrawingStore(Database.open(f"sqlite:///{tmp_path / 'mnist.db'}")).add(np.full((28, 28), 200, np.uint8), 7, "")
    with app_server(tmp_path) as (url, server, _):

        async def visit() -> None:
            session = await DrawSession.open(url)
            for i in range(3):
                await session.draw(digit_png(random.Random(i)))
            await session.visit("drawings")  # the scoreboard
            await session.close()

        run_coroutine(visit())
        answer = requests.post(f"{url}/predict", files={"file": digit_png(random.Random(9))}, timeout=60)
        assert answer.status_code == 200 and 0 <= answer.json()["digit"] <= 9
        maps = Path(f"/proc/{server.pid}/maps").read_text()
    assert "tensorflow" not in maps and "_pywrap" not in maps
