"""Predictions over HTTP, through real servers and a real client (`requests`).

The standalone server (`mnist_core.http_api.serve`) takes every call; the app's server
(`streamlit run streamlit_app.py`) takes the seed client's call, /health and an error beside
the page. Every bad input must be a 4xx JSON answer with a one-line `error`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator

import numpy as np
import pytest
import requests
from PIL import Image, ImageDraw
from starlette.testclient import TestClient

from mnist_core.http_api import (
    BACKGROUND_NICE,
    MAX_ARRAYS,
    MAX_BODY_BYTES,
    MAX_FILES,
    create_app,
    no_delay_on_listeners,
)
from mnist_core.preprocessing import preprocess
from mnist_core.reading.classifier import load_classifier
from mnist_core.reading.image_file import read_image
from tests.bombs import npy_header
from tests.helpers import ROOT, drawn_one, free_port, load_tiny_mnist, png_bytes, run_coroutine, subprocess_env

TIMEOUT = 60  # s for any one answer: a server that hangs fails the test, never the suite


def post(url: str, **kwargs) -> requests.Response:
    return requests.post(url, timeout=TIMEOUT, **kwargs)


def get(url: str, **kwargs) -> requests.Response:
    return requests.get(url, timeout=TIMEOUT, **kwargs)


@pytest.fixture(scope="module")
def standalone(tmp_path_factory) -> Iterator[str]:
    """`python -m mnist_core serve` on a free port, its database holding one run, "tiny run"."""
    from mnist_core.config import TrainConfig
    from mnist_core.store.database import Database
    from mnist_core.store.runs import RunStore
    from mnist_core.training import train

    data = tmp_path_factory.mktemp("data")
    RunStore(Database.open(f"sqlite:///{data / 'mnist.db'}")).save(
        train(TrainConfig(epochs=1, batch_size=100), load_tiny_mnist()), name="tiny run")
    env = subprocess_env(MNIST_DATA_DIR=str(data))
    env.pop("MNIST_DATABASE_URL", None)
    proc, url = start_server(env)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def start_server(env: dict[str, str], *args: str) -> tuple[subprocess.Popen, str]:
    """`python -m mnist_core serve` on a free port, once /health answers (another port if it cannot bind)."""
    for _ in range(3):
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "mnist_core", "serve", "--port", str(port), *args], cwd=ROOT,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{url}/health", timeout=2).ok:
                    return proc, url
            time.sleep(0.1)
        proc.kill()
        proc.wait(10)
    raise RuntimeError("the standalone server did not start")


def drawing(points: list[tuple[int, int]], width: int = 20) -> bytes:
    """A white stroke on the canvas's black, as the Draw page's canvas sends it."""
    image = Image.new("RGBA", (280, 280), "black")
    ImageDraw.Draw(image).line(points, fill="white", width=width)
    return png_bytes(image)


ONE = png_bytes(drawn_one())  # a plain "1", as the canvas sends it
SEVEN = drawing([(50, 60), (220, 60), (160, 150), (110, 250)])


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares a width x height image and holds no pixels: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def assert_error(answer: requests.Response, status: int) -> str:
    """A 4xx JSON answer whose `error` is one line, no traceback; returns the message."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    message = answer.json()["error"]
    assert message and "\n" not in message and "Traceback" not in message
    return message


# The seed's contract, from both servers

@pytest.mark.parametrize("server", ["standalone", "app_url"])
def test_the_seed_client_reads_the_seed_drawings(server, request, seed):
    url = request.getfixturevalue(server)
    for path in (seed.thick_three, seed.mnist_three):
        with open(path, "rb") as f:
            answer = post(f"{url}/predict", files={"file": f})  # the seed client's call
        assert answer.status_code == 200, answer.text
        assert answer.json()["digit"] == 3


@pytest.mark.parametrize("server", ["standalone", "app_url"])
def test_health(server, request):
    answer = get(f"{request.getfixturevalue(server)}/health")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


def test_the_app_server_still_serves_the_page_and_errors_as_json(app_url):
    assert "<html" in get(app_url).text.lower()
    assert_error(post(f"{app_url}/predict?model=nope", files={"file": ONE}), 404)


def test_one_file_answers_the_flat_object(standalone):
    answer = post(f"{standalone}/predict", files={"file": ONE}).json()
    assert set(answer) == {"digit", "confidence", "probabilities", "not_a_digit", "model"} and not answer["not_a_digit"]
    assert answer["digit"] == 1 and answer["model"] == "default"
    assert len(answer["probabilities"]) == 10 and abs(sum(answer["probabilities"]) - 1) < 1e-4
    assert answer["confidence"] == max(answer["probabilities"])


def test_the_answer_matches_the_draw_page(standalone):
    """The same preprocessing, model and reading as the Draw page: seven views averaged, the
    confidence calibrated (classifier.judge)."""
    from mnist_core.reading.classifier import DEFAULT_MODEL, load_classifier

    data = SEVEN
    clf, x28 = load_classifier(DEFAULT_MODEL), preprocess(read_image(data))
    expected = clf.judge(x28).probabilities[0]
    assert np.abs(clf.predict_proba_tta(x28) - clf.predict_proba(x28)).max() > 1e-4  # the views matter
    answer = post(f"{standalone}/predict", files={"file": data}).json()
    np.testing.assert_allclose(answer["probabilities"], expected, atol=2e-6)


# Batches, arrays, models

def test_several_files_are_answered_in_order_and_a_bad_one_does_not_spoil_the_rest(standalone):
    files = [("file", ("one.png", ONE)),
             ("file", ("bad.png", b"not an image")),
             ("file", ("seven.png", SEVEN))]
    answer = post(f"{standalone}/predict", files=files)
    assert answer.status_code == 200
    one, bad, seven = answer.json()["predictions"]
    assert one["digit"] == 1 and seven["digit"] == 7
    assert set(bad) == {"error"} and "not an image" in bad["error"]


def test_json_arrays_read_as_the_model_sees_them(standalone):
    x = np.stack([preprocess(read_image(png)) for png in (ONE, SEVEN)])
    for images in (x.tolist(), np.round(x * 255).astype(int).tolist()):  # [0, 1] floats, or MNIST's 0-255
        answer = post(f"{standalone}/predict", json={"images": [*images, np.zeros((28, 28)).tolist()]})
        one, seven, blank = answer.json()["predictions"]
        assert (one["digit"], seven["digit"]) == (1, 7)
        assert "blank" in blank["error"]


def npy(x: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, x)
    return buffer.getvalue()


def test_npy_batches_read_as_json_ones_and_bombs_are_refused_from_the_header(standalone):
    x = np.stack([preprocess(read_image(png)) for png in (ONE, SEVEN)])
    as_bytes = np.round(x * 255).astype(np.uint8)
    headers = {"content-type": "application/x-npy"}
    from_npy = post(f"{standalone}/predict", data=npy(as_bytes), headers=headers).json()["predictions"]
    from_json = post(f"{standalone}/predict", json={"images": as_bytes.tolist()}).json()["predictions"]
    assert [p["digit"] for p in from_npy] == [1, 7] and from_npy == from_json
    header = npy(np.zeros((1, 28, 28), np.uint8))[:-784]
    cases = [
        (npy(np.zeros((MAX_ARRAYS + 1, 28, 28), np.uint8)), 413, "limit"),
        (header.replace(b"(1, 28, 28)", b"(9, 28, 28)"), 400, "declares"),  # declares 9, holds none
        (npy_header((10**9, 28, 28)), 413, "limit"),  # declares a billion images, and nothing after it
        (header.replace(b"(1, 28, 28)", b"(9999999999, ")[:len(header)], 400, "npy"),  # a broken header
        (npy(np.zeros((2, 784), np.uint8)), 400, "(n, 28, 28)"),
        (npy(np.zeros((1, 28, 28), np.int64)), 400, "uint8 or float"),
        (npy(np.array([{"a": 1}], dtype=object)), 400, "array of numbers"),
        (b"\x93NUMPY not really", 400, "npy"),
    ]
    for body, status, words in cases:
        assert words in assert_error(post(f"{standalone}/predict", data=body, headers=headers), status)


def test_model_names_pick_a_shipped_model_or_a_run(standalone):
    data = ONE
    for name in ("seed", "default", "tiny run"):
        answer = post(f"{standalone}/predict", params={"model": name}, files={"file": data})
        assert answer.status_code == 200 and answer.json()["model"] == name


@pytest.mark.parametrize("name", ["nope", "../models/default.keras", str(ROOT / "models" / "seed.keras"), "x\ny" * 100])
def test_an_unknown_model_is_404_and_never_a_path(standalone, name):
    message = assert_error(post(f"{standalone}/predict", params={"model": name}, files={"file": b"x"}), 404)
    assert message.startswith("no run has the id or name")


# Errors are answers

def test_a_body_over_the_limit_is_refused(standalone):
    too_big = b"\0" * (MAX_BODY_BYTES + 1)
    assert_error(post(f"{standalone}/predict", files={"file": too_big}), 413)
    chunked = iter([too_big[:2**20]] * 11)  # no Content-Length: counted as it comes
    json_type = {"content-type": "application/json"}
    assert_error(post(f"{standalone}/predict", data=chunked, headers=json_type), 413)


BAD_INPUTS = [
    ("nothing", 415, "multipart"),
    ("no file", 400, "no image"),
    ("another field", 400, "no image"),
    ("no boundary", 400, "multipart"),
    ("empty file", 422, "empty"),
    ("not an image", 422, "not an image"),
    ("truncated", 422, "damaged"),
    ("too many pixels", 422, "pixels"),
    ("decompression bomb", 422, "decompression bomb"),
    ("blank", 422, "blank"),
    ("single dot", 422, "dot"),
    ("too many files", 413, "files"),
    ("plain text", 415, "multipart"),
    ("bad json", 400, "JSON"),
    ("json not images", 400, "images"),
    ("json ragged", 400, "28x28"),
    ("json wrong shape", 400, "28x28"),
    ("json out of range", 400, "0 to 255"),
    ("json too many", 413, "limit"),
]


@pytest.mark.parametrize("case, status, words", BAD_INPUTS)
def test_bad_inputs_are_4xx_json_with_one_line(standalone, case, status, words):
    message = assert_error(post(f"{standalone}/predict", **bad_request(case)), status)
    assert words.lower() in message.lower()


def bad_request(case: str) -> dict:
    """The keyword arguments of `requests.post` for each bad input above."""
    dot = Image.new("RGB", (280, 280), "black")
    ImageDraw.Draw(dot).ellipse((130, 130, 150, 150), fill="white")
    multipart = {
        "no file": {"files": {"digit": (None, "3")}},  # multipart, with a text field only
        "another field": {"files": {"image": ONE}},
        "empty file": {"files": {"file": b""}},
        "not an image": {"files": {"file": b"%PDF-1.4 not a picture"}},
        "truncated": {"files": {"file": ONE[:300]}},
        "too many pixels": {"files": {"file": png_bytes(Image.new("1", (8000, 8000)))}},  # 64 Mpx in a 10 KB file
        "decompression bomb": {"files": {"file": png_header(30000, 30000)}},
        "blank": {"files": {"file": png_bytes(Image.new("RGB", (280, 280), "black"))}},
        "single dot": {"files": {"file": png_bytes(dot)}},
        "too many files": {"files": [("file", b"x")] * (MAX_FILES + 1)},
    }
    other = {
        "nothing": {},
        "no boundary": {"data": b"--x--", "headers": {"content-type": "multipart/form-data"}},
        "plain text": {"data": b"1.png", "headers": {"content-type": "text/plain"}},
        "bad json": {"data": b"{images: [", "headers": {"content-type": "application/json"}},
        "json not images": {"json": [[0] * 28] * 28},
        "json ragged": {"json": {"images": [[[0] * 28] * 27 + [[0] * 5]]}},
        "json wrong shape": {"json": {"images": [[0] * 784]}},
        "json out of range": {"json": {"images": [[[300] * 28] * 28]}},
        "json too many": {"json": {"images": [[[0]]] * (MAX_ARRAYS + 1)}},
    }
    return {**multipart, **other}[case]


def test_errors_leave_the_server_well(standalone):
    """After every bad input above, sent here in a row, the server still answers, with nothing but JSON."""
    for case, status, _ in BAD_INPUTS:
        assert post(f"{standalone}/predict", **bad_request(case)).status_code == status
    answer = post(f"{standalone}/predict", files={"file": ONE})
    assert answer.status_code == 200 and answer.json()["digit"] == 1
    assert json.loads(get(f"{standalone}/health").text) == {"status": "ok"}


def test_a_request_is_decoded_and_read_in_threads_that_yield_to_the_pages_strokes():
    """Beside the app, a visitor's stroke (a script thread at the process's priority) goes
    before the work of requests: decoding, the model and the answer run at nice +BACKGROUND_NICE."""
    base = os.getpriority(os.PRIO_PROCESS, 0)
    niceness: dict[str, int] = {}

    class Recording:  # the default model, noting the priority of the thread that reads with it
        def __init__(self) -> None:
            self.model = load_classifier()

        def judge(self, *args, **kwargs):
            niceness["model"] = os.getpriority(os.PRIO_PROCESS, 0)  # 0: the calling thread, on Linux
            return self.model.judge(*args, **kwargs)

    model = Recording()
    client = TestClient(create_app(lambda name: model))
    answer = client.post("/predict", files={"file": ("one.png", ONE, "image/png")})
    assert answer.status_code == 200 and answer.json()["digit"] == 1
    assert niceness == {"model": min(base + BACKGROUND_NICE, 19)}
    assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the caller's thread is left as it was


# Several worker processes on one port

def test_two_workers_share_the_port_and_answer_alike(tmp_path):
    env = subprocess_env(MNIST_DATA_DIR=str(tmp_path))
    env.pop("MNIST_DATABASE_URL", None)
    proc, url = start_server(env, "--workers", "2")
    try:
        with requests.Session() as session:  # one keep-alive connection, then fresh ones
            answers = [session.post(f"{url}/predict", files={"file": ONE}, timeout=TIMEOUT) for _ in range(3)]
        answers += [post(f"{url}/predict", files={"file": SEVEN}) for _ in range(3)]
        assert [a.json()["digit"] for a in answers] == [1, 1, 1, 7, 7, 7]
    finally:
        proc.terminate()
        assert proc.wait(20) is not None


def test_the_workers_listener_turns_nagle_off_on_every_connection():
    """uvicorn's shared listener (proto 0 before uvicorn fixed issue 3149) left Nagle on, so every
    keep-alive answer from `serve --workers 2` waited ~40 ms for a delayed ACK; serve also sets
    TCP_NODELAY on it (no_delay_on_listeners), so connections have it with any uvicorn. The call
    itself is proven on a proto-0 listener by the app server's test below."""
    import asyncio
    import socket

    from uvicorn import Config

    async def accepted_nodelay() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        listener = Config("app:app", host="127.0.0.1", port=0).bind_socket()  # as serve --workers N binds it
        no_delay_on_listeners()
        async with await asyncio.start_server(on_connect, sock=listener):
            _, writer = await asyncio.open_connection(*listener.getsockname())
            try:
                return await asyncio.wait_for(accepted, 10)
            finally:
                writer.close()

    assert run_coroutine(accepted_nodelay()) != 0


def test_the_app_servers_listener_turns_nagle_off_once_told():
    """Streamlit binds the app's port with protocol 0 too (its own _bind_socket), so every file
    after the first on a kept-alive connection waited ~40 ms; streamlit_app.py's lifespan calls
    no_delay_on_listeners, and the connections accepted then inherit TCP_NODELAY."""
    import asyncio
    import socket

    from streamlit.web.server.starlette.starlette_server import _bind_socket

    async def accepted_nodelay(listener: socket.socket) -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        async with await asyncio.start_server(on_connect, sock=listener):
            _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
            try:
                return await asyncio.wait_for(accepted, 10)
            finally:
                writer.close()

    with _bind_socket("127.0.0.1", 0, 16) as listener, socket.socket() as client_only:
        client_only.connect(listener.getsockname())  # a connected socket, not a listener: left alone
        assert no_delay_on_listeners() >= 1
        assert client_only.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        listener.accept()[0].close()
        assert run_coroutine(accepted_nodelay(listener)) != 0
