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
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

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
    Limits,
    create_app,
    no_delay_on_listeners,
)
from mnist_core.preprocessing import preprocess
from mnist_core.reading.classifier import load_classifier
from mnist_core.reading.image_file import read_image
from tests.bombs import npy_header
from tests.helpers import (
    ROOT,
    drawn_one,
    free_port,
    load_tiny_mnist,
    png_bytes,
    run_coroutine,
    subprocess_env,
    wait_until,
)

pytestmark = pytest.mark.slow

TIMEOUT = 60  # s for any one answer: a server that hangs fails the test, never the suite


def post(url: str, **kwargs) -> requests.Response:
    return requests.post(url, timeout=TIMEOUT, **kwargs)


def get(url: str, **kwargs) -> requests.Response:
    return requests.get(url, timeout=TIMEOUT, **kwargs)


@pytest.fixture(scope="module")
def standalone_log(tmp_path_factory) -> Path:
    """What the standalone server below writes to its stdout and stderr."""
    return tmp_path_factory.mktemp("log") / "serve.log"


@pytest.fixture(scope="module")
def standalone(tmp_path_factory, standalone_log) -> Iterator[str]:
    """`python -m mnist_core serve` on a free port, its database holding one run, "tiny run"."""
    from mnist_core.config import TrainConfig
    from mnist_core.store.database import Database
    from mnist_core.store.runs import RunStore
    from mnist_core.training.loop import train

    data = tmp_path_factory.mktemp("data")
    RunStore(Database.open(f"sqlite:///{data / 'mnist.db'}")).save(
        train(TrainConfig(epochs=1, batch_size=100), load_tiny_mnist()), name="tiny run")
    env = subprocess_env(MNIST_DATA_DIR=str(data))
    env.pop("MNIST_DATABASE_URL", None)
    with open(standalone_log, "w") as log:
        proc, url = start_server(env, log=log)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def start_server(env: dict[str, str], *args: str, log: IO[str] | None = None) -> tuple[subprocess.Popen, str]:
    """`python -m mnist_core serve` on a free port, once /health answers (another port if it
    cannot bind); its output goes to `log` (default: nowhere)."""
    for _ in range(3):
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "mnist_core", "serve", "--port", str(port), *args], cwd=ROOT,
                                env=env, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT)
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
    ("json nested deep", 400, "JSON"),
    ("json huge integer", 400, "numbers"),
    ("json strings", 400, "numbers"),
    ("json booleans", 400, "numbers"),
    ("json a boolean among numbers", 400, "numbers"),
    ("json nulls", 400, "numbers"),
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
        "json nested deep": {"data": b'{"images": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                             "headers": {"content-type": "application/json"}},
        "json huge integer": {"data": b'{"images": [[[' + str(10**4000).encode() + b"]]]}",
                              "headers": {"content-type": "application/json"}},
        "json strings": {"json": {"images": [[["7"] * 28] * 28]}},
        "json booleans": {"json": {"images": [[[True] * 28] * 28]}},
        "json a boolean among numbers": {"json": {"images": [[[0] * 27 + [True]] + [[0] * 28] * 27]}},
        "json nulls": {"json": {"images": [[[None] * 28] * 28]}},
    }
    return {**multipart, **other}[case]


def test_errors_leave_the_server_well(standalone):
    """After every bad input above, sent here in a row, the server still answers, with nothing but JSON."""
    for case, status, _ in BAD_INPUTS:
        assert post(f"{standalone}/predict", **bad_request(case)).status_code == status
    answer = post(f"{standalone}/predict", files={"file": ONE})
    assert answer.status_code == 200 and answer.json()["digit"] == 1
    assert json.loads(get(f"{standalone}/health").text) == {"status": "ok"}


def test_a_client_that_goes_away_mid_body_is_one_line_in_the_log(standalone, standalone_log):
    with socket.create_connection(standalone.removeprefix("http://").split(":")) as s:  # type: ignore[arg-type]
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"images\": ")
        time.sleep(0.2)  # the server is waiting for the rest
    assert get(f"{standalone}/health").ok  # and the server has seen the connection end
    wait_until(lambda: "went away" in standalone_log.read_text(), 10, "the server to note it")
    assert "Traceback" not in standalone_log.read_text()


# What a body may hold and how fast it must come: counted before anything is decoded

@contextlib.contextmanager
def in_process_server(limits: Limits) -> Iterator[str]:
    """The routes with `limits` under uvicorn on a thread of this process: a real socket, and
    limits a test can make small."""
    import uvicorn

    model = load_classifier()
    server = uvicorn.Server(uvicorn.Config(create_app(lambda name: model, limits), host="127.0.0.1",
                                           port=free_port(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        wait_until(lambda: server.started, 30, "uvicorn to start")
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(30)


def test_a_server_that_takes_fewer_than_64_images_at_once_reads_uploads():
    """`MNIST_HTTP_MAX_IMAGES=10`: a multipart request was held for 64 pictures before it was
    read, so every upload was refused; now it is held for the pictures it holds."""
    client = TestClient(create_app(lambda name: load_classifier(), Limits(images=10)))
    answer = client.post("/predict", files={"file": ("one.png", ONE, "image/png")})
    assert answer.status_code == 200 and answer.json()["digit"] == 1
    answer = client.post("/predict", files=[("file", ("one.png", ONE, "image/png"))] * 10)
    assert [item["digit"] for item in answer.json()["predictions"]] == [1] * 10
    assert client.post("/predict", files=[("file", ("one.png", ONE, "image/png"))] * 11).status_code == 413


class SlowBodies:
    """`n` raw connections that each declare a 10 MB JSON body, then send a byte a second."""

    def __init__(self, url: str, n: int) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sockets = [socket.create_connection((host, int(port))) for _ in range(n)]
        for s in self.sockets:
            s.sendall(("POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {MAX_BODY_BYTES}\r\n\r\n{{").encode())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._dribble)
        self._thread.start()

    def _dribble(self) -> None:
        while not self._stop.wait(1.0):
            for s in self.sockets:
                with contextlib.suppress(OSError):  # answered and closed by the server
                    s.sendall(b" ")

    def answers(self, timeout: float) -> list[bytes]:
        """The first line each connection was answered with (b"" if none in `timeout` s)."""
        firsts = []
        for s in self.sockets:
            s.settimeout(timeout)
            try:
                firsts.append(s.recv(200).split(b"\r\n")[0])
            except TimeoutError:
                firsts.append(b"")
        return firsts

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for s in self.sockets:
            s.close()


@pytest.mark.parametrize("server", ["standalone", "app_url"])
def test_slow_bodies_do_not_shut_predict_off(server, request):
    """Four JSON bodies declaring 10 MB each, sent a byte a second, were each held for the 5,000
    arrays 10 MB can hold: the whole in-flight budget, so every honest request got 503 for as
    long as they dribbled. A body's bytes are now held as they arrive."""
    url = request.getfixturevalue(server)
    slow = SlowBodies(url, 4)
    try:
        answer = post(f"{url}/predict", files={"file": ONE})
        assert answer.status_code == 200 and answer.json()["digit"] == 1
    finally:
        slow.close()


def test_a_body_that_comes_too_slowly_is_answered_408():
    with in_process_server(Limits(body_grace=1.0, body_rate=1000)) as url:
        slow = SlowBodies(url, 2)
        try:
            assert slow.answers(timeout=20) == [b"HTTP/1.1 408 Request Timeout"] * 2
        finally:
            slow.close()
        assert post(f"{url}/predict", files={"file": ONE}).json()["digit"] == 1


def test_pictures_are_counted_by_the_pixels_their_headers_declare_before_any_is_decoded(standalone):
    """64 small PNGs of 16 megapixels each (4 KB apiece) took seconds of CPU each to decode: a
    request's pictures may now declare 64 megapixels together, refused from their headers."""
    huge = png_bytes(Image.new("1", (4000, 4000)))  # 16 megapixels, the most one picture may have
    start = time.perf_counter()
    message = assert_error(post(f"{standalone}/predict", files=[("file", huge)] * 64), 413)
    assert "1024 megapixels" in message and time.perf_counter() - start < 5
    four = post(f"{standalone}/predict", files=[("file", huge)] * 4)  # four phone photos' worth: read
    assert four.status_code == 200 and all("blank" in item["error"] for item in four.json()["predictions"])


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
