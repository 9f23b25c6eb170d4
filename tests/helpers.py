"""What many tests need, written once: small data, drawings, processes, ports and deadlines.

    x, y = synthetic_digits(100)                  # (100, 28, 28) uint8 digits a dense net learns
    load_tiny_mnist()                             # a stand-in for MNIST (a loader a job's child imports)
    drawn_one()                                   # a plain "1", as the Draw page's canvas sends it
    subprocess.run([...], env=subprocess_env())   # a child that imports this project, TensorFlow quiet
    lines = LineReader(proc.stdout); lines.next(60)   # a child's next line, or a failure after 60 s
    wait_until(lambda: job.done(), 120, "the job to end")
"""

from __future__ import annotations

import io
import os
import queue
import random
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import IO, TypeVar

import numpy as np
from PIL import Image, ImageDraw

from mnist_core.data import Mnist
from mnist_core.owners import Actor

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "navigation.py")  # the router, as AppTest opens it (absolute: AppTest resolves paths by caller)
APP_TIMEOUT = 120  # s an AppTest run may take: the first one imports TensorFlow

# People, as the app knows them: a private link each (`?me=<token>`), one of them an admin.
ANN, BOB, CAT = Actor("link:ann-token-1"), Actor("link:bob-token-2"), Actor("link:cat-token-3")

T = TypeVar("T")

STRICT = "MNIST_TEST_STRICT"  # set by `make test`: a service that cannot start fails its tests, never skips them


# Data

def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 28, 28) uint8 images where digit k is a bright bar at row 4 + 2k, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n).astype(np.uint8)
    x = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(y):
        x[i, 4 + 2 * k : 6 + 2 * k, 6:22] = 255
    return x, y


def load_tiny_mnist(path=None, progress=None) -> Mnist:
    """A learnable stand-in for MNIST: 1,000 training and 200 test images. A top-level
    function, so that a training job's child process can import it."""
    x_train, y_train = synthetic_digits(1000, seed=1)
    x_test, y_test = synthetic_digits(200, seed=2)
    return Mnist(x_train, y_train, x_test, y_test, source="synthetic")


def load_never(path=None, progress=None):
    """A loader that never finishes: a job that uses it stays "loading data" until its process
    is killed (a top-level function, so a job's child process imports it)."""
    time.sleep(3600)
    raise TimeoutError("load_never waited an hour")


PHASE_GATES = "MNIST_TEST_PHASE_GATES"  # a folder: while a file named for a phase is in it, a job waits there


def load_tiny_mnist_held(path=None, progress=None) -> Mnist:
    """load_tiny_mnist, in a training process that waits in each phase whose gate file is in
    the folder $MNIST_TEST_PHASE_GATES: "loading", "styles" (making the pools of pen-drawn
    digits), "compiling", "saving"; so that a test can stop a job in any phase."""
    from mnist_core.store.runs import RunStore
    from mnist_core.training import loop as training

    gates = Path(os.environ[PHASE_GATES])

    def held(phase: str, then: Callable) -> Callable:
        def wait_then(*args, **kwargs):
            while (gates / phase).exists():
                time.sleep(0.02)
            return then(*args, **kwargs)
        return wait_then

    training._resident_rows = held("styles", training._resident_rows)
    training._compiled = held("compiling", training._compiled)
    RunStore.save = held("saving", RunStore.save)
    return held("loading", load_tiny_mnist)()


def idx_header(shape: tuple[int, ...]) -> bytes:
    """The IDX header of an array of unsigned bytes (MNIST's file format): magic, then each dimension."""
    return bytes([0, 0, 8, len(shape)]) + b"".join(int(d).to_bytes(4, "big") for d in shape)


def idx(a: np.ndarray) -> bytes:
    """A uint8 array as an IDX file (uncompressed)."""
    return idx_header(a.shape) + np.ascontiguousarray(a, dtype=np.uint8).tobytes()


# Pictures

ONE_STROKE = [(140, 40), (142, 140), (144, 240)]  # a plain "1", in the Draw page's canvas pixels (280x280)


def drawn_one(size: int = 280, ink="white", paper="black", mode: str = "RGBA", width: int = 20) -> Image.Image:
    """A plain upright "1": one stroke down the middle, as a person draws it on the canvas
    (white on the canvas's black by default)."""
    img = Image.new(mode, (size, size), paper)
    s = size / 280
    ImageDraw.Draw(img).line([(x * s, y * s) for x, y in ONE_STROKE], fill=ink, width=max(1, round(width * s)))
    return img


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# Processes, ports and deadlines

def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a child that imports this project (mnist_core, tests): this one's
    (with the test's isolated folders), the project on PYTHONPATH, TensorFlow's start-up quiet."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def free_port() -> int:
    """A localhost port that nothing listens on, for a server a test starts. Picked below Linux's
    ephemeral range (32768 and up), so that no outgoing connection is handed it between this
    check and the server's own bind; a server that still finds it taken should be started again."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20_000, 32_000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32000")


def wait_until(condition: Callable[[], object], timeout: float, what: str, every: float = 0.05) -> None:
    """Poll `condition` until it is true; fail the test (never hang it) after `timeout` s."""
    import pytest

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f} s for {what}")
        time.sleep(every)


def run_coroutine(coroutine: Coroutine[object, object, T]) -> T:
    """`asyncio.run` on a thread of its own: the browser tests' Playwright (sync API, session-wide)
    keeps an event loop running on the main thread, where `asyncio.run` would refuse to start."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class LineReader:
    """A child's output, line by line, with a deadline on each line: a thread reads the pipe, so a
    child that hangs (or never prints) fails the test instead of blocking it in readline()."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)  # the end of the output

    def next(self, timeout: float) -> str:
        """The next line; a test failure when the child ends first or says nothing for `timeout` s."""
        import pytest

        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"the child printed no line for {timeout:.0f} s")
        if line is None:
            pytest.fail("the child's output ended")
        return line

    def rest(self, timeout: float) -> list[str]:
        """Every line left, once the child's output has ended (within `timeout` s)."""
        import pytest

        lines, deadline = [], time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"the child's output did not end within {timeout:.0f} s")
            if line is None:
                return lines
            lines.append(line)


def unavailable(service: str, reason: str) -> None:
    """A service the tests need (Postgres, Chromium) cannot start here: fail under `make test`
    (MNIST_TEST_STRICT=1), where the Makefile has installed it; otherwise skip, saying why."""
    import pytest

    if os.environ.get(STRICT) == "1":
        pytest.fail(f"{service} cannot start: {reason}")
    pytest.skip(f"{service} cannot start: {reason}")
