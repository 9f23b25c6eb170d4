"""Predictions over HTTP: this project's service beside the seed's way, on localhost.

    python benchmarks/http_speed.py [--seconds 8] [--workers 2]

Starts, one after the other on free 127.0.0.1 ports, the seed's per-request work as a plain
service (benchmarks/seed_service.py: naive resize + `model.predict`) and ours
(`python -m mnist_core serve --workers N`: N processes sharing the port, numpy, no TensorFlow),
both with the shipped default model, and posts them the same
canvas PNGs (white pen on black, 280x280, as the Draw page's canvas sends them) the seed's way:
one multipart `file` a request. 1 client: latency, request after request; 16 clients: each
posts as soon as its previous answer came, for `--seconds`. Ours then takes batches: 64 PNGs a
request, and 1,000 28x28 arrays a request as JSON (2 clients), beside the model alone on the
same arrays in this process. The client is a minimal keep-alive HTTP client on asyncio, so that
its own work takes little of the 2 cores the servers need.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from benchmarks.memory import pss_mb
from benchmarks.ws_session import digit_png
from mnist_core.preprocessing import preprocess
from mnist_core.reading.image_file import read_image

ROOT = Path(__file__).resolve().parents[1]
DRAWINGS = 64  # distinct canvas PNGs, posted round-robin
SEED_LATENCY_REQUESTS, OUR_LATENCY_REQUESTS = 60, 300
CLIENTS = 16
PNG_BATCH, ARRAY_BATCH = 64, 1000
Body = tuple[str, bytes]  # (content type, body)


class Connection:
    """One keep-alive HTTP/1.1 connection that posts prepared bodies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        self.reader, self.writer, self.port = reader, writer, port

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port), port)

    async def post(self, path: str, body: Body) -> tuple[int, bytes]:
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: {body[0]}\r\n"
                f"Content-Length: {len(body[1])}\r\n\r\n")
        self.writer.write(head.encode() + body[1])
        await self.writer.drain()
        headers = await self.reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", headers)[1])
        return int(headers.split(b" ", 2)[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def multipart(files: list[bytes]) -> Body:
    """What `requests.post(url, files=[("file", png), ...])` sends."""
    boundary = "httpspeedboundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d{i}.png"\r\n'
             f"Content-Type: image/png\r\n\r\n".encode() + data + b"\r\n" for i, data in enumerate(files)]
    return f"multipart/form-data; boundary={boundary}", b"".join(parts) + f"--{boundary}--\r\n".encode()


async def _client(port: int, bodies: list[Body], deadline: float, count: int, start: int) -> list[float]:
    """Post bodies round-robin until `count` answers or the deadline; each answer's seconds."""
    conn = await Connection.open(port)
    times: list[float] = []
    try:
        while len(times) < count and time.perf_counter() < deadline:
            t = time.perf_counter()
            status, answer = await conn.post("/predict", bodies[(start + len(times)) % len(bodies)])
            if status != 200 or b'"digit"' not in answer:
                raise RuntimeError(f"answer {status}: {answer[:200]!r}")
            times.append(time.perf_counter() - t)
    finally:
        conn.close()
    return times


def load(port: int, bodies: list[Body], clients: int, seconds: float, count: int = 10**9) -> tuple[float, list[float]]:
    """`clients` clients posting at once: (requests a second, every request's seconds)."""

    async def run() -> tuple[float, list[float]]:
        await _client(port, bodies, time.perf_counter() + 5, 3, 0)  # warm up
        start = time.perf_counter()
        deadline = start + seconds
        per_client = await asyncio.gather(*(_client(port, bodies, deadline, count, 7 * i) for i in range(clients)))
        times = [t for ts in per_client for t in ts]
        return len(times) / (time.perf_counter() - start), times

    return asyncio.run(run())


@contextlib.contextmanager
def service(args: list[str]) -> Iterator[tuple[int, subprocess.Popen]]:
    """Start a server process on a free port; yield the port and the process once it answers HTTP."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, *args, str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        start = time.perf_counter()
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.perf_counter() - start > 60 or proc.poll() is not None:
                raise RuntimeError(f"{args} did not start")
            time.sleep(0.1)
        yield port, proc
    finally:
        proc.terminate()
        proc.wait(10)


def ms(seconds: list[float], q: float = 0.5) -> float:
    return 1000 * float(np.quantile(seconds, q))


def images_per_second(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, repeats: int = 10) -> float:
    predict(x)  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict(x)
        times.append(time.perf_counter() - start)
    return len(x) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each 16-client and batch run")
    parser.add_argument("--workers", type=int, default=2, help="our server's processes (default: one per core)")
    args = parser.parse_args()
    rng = random.Random(0)
    pngs = [digit_png(rng) for _ in range(DRAWINGS)]
    singles = [multipart([png]) for png in pngs]
    png_batches = [multipart([pngs[(i + k) % DRAWINGS] for k in range(PNG_BATCH)]) for i in range(4)]
    digits = np.stack([preprocess(read_image(digit_png(rng))) for _ in range(ARRAY_BATCH)])
    as_bytes = np.round(digits * 255).astype(np.uint8)  # as MNIST's own pixels: integers 0-255
    array_body = ("application/json", json.dumps({"images": as_bytes.tolist()}, separators=(",", ":")).encode())
    npy = io.BytesIO()
    np.save(npy, as_bytes)
    npy_body = ("application/x-npy", npy.getvalue())

    seed: dict[str, float] = {}
    with service(["benchmarks/seed_service.py", "--port"]) as (port, server):
        seed["idle_mb"] = pss_mb(server.pid)
        _, times = load(port, singles, 1, 60, SEED_LATENCY_REQUESTS)
        seed["median"], seed["p95"] = ms(times), ms(times, 0.95)
        seed["rps"], times = load(port, singles, CLIENTS, args.seconds)
        seed["median16"] = ms(times)

    ours: dict[str, float] = {}
    database = f"sqlite:///{tempfile.mkdtemp(prefix='http-speed-')}/mnist.db"
    with service(["-m", "mnist_core", "serve", "--database", database, "--workers", str(args.workers), "--port"]) \
            as (port, server):
        time.sleep(3)  # every worker has loaded its model
        ours["idle_mb"] = pss_mb(server.pid)
        _, times = load(port, singles, 1, 60, OUR_LATENCY_REQUESTS)
        ours["median"], ours["p95"] = ms(times), ms(times, 0.95)
        ours["rps"], times = load(port, singles, CLIENTS, args.seconds)
        ours["median16"] = ms(times)
        ours["png_batch"] = PNG_BATCH * load(port, png_batches, 2, args.seconds)[0]
        ours["array_batch"] = ARRAY_BATCH * load(port, [array_body], 2, args.seconds)[0]
        ours["npy_batch"] = ARRAY_BATCH * load(port, [npy_body], 2, args.seconds)[0]

    from mnist_core.reading.classifier import load_classifier

    model_alone = images_per_second(load_classifier().predict_proba, as_bytes.astype(np.float32) / 255)

    print(f"{len(pngs)} canvas PNGs ({statistics.mean(map(len, pngs)) / 1000:.1f} KB on average), default model, "
          f"localhost, {CLIENTS} clients for {args.seconds:g} s\n")
    print(f"{'':36} {'seed way':>10} {'ours':>10} {'ratio':>8}")
    for label, key, unit, better in [("1 client: median latency", "median", "ms", "lower"),
                                     ("1 client: p95 latency", "p95", "ms", "lower"),
                                     (f"{CLIENTS} clients: requests a second", "rps", "/s", "higher"),
                                     (f"{CLIENTS} clients: median latency", "median16", "ms", "lower")]:
        ratio = seed[key] / ours[key] if better == "lower" else ours[key] / seed[key]
        print(f"{label:36} {seed[key]:8.1f}{unit:>2} {ours[key]:8.1f}{unit:>2} {ratio:7.1f}x")
    print(f"{'idle, after loading the model: PSS':36} {seed['idle_mb']:8.0f}MB {ours['idle_mb']:8.0f}MB "
          f"{seed['idle_mb'] / ours['idle_mb']:7.1f}x   (ours: {args.workers} processes)")
    print(f"\nours, batches of {PNG_BATCH} canvas PNGs (2 clients): {ours['png_batch']:,.0f} images a second")
    print(f"ours, batches of {ARRAY_BATCH} 28x28 arrays as JSON (2 clients): {ours['array_batch']:,.0f} images a second"
          f" (the model alone on them, in one process: {model_alone:,.0f} a second)")
    print(f"ours, batches of {ARRAY_BATCH} 28x28 arrays as .npy (2 clients): {ours['npy_batch']:,.0f} images a second")


if __name__ == "__main__":
    main()
