"""What a script's attacks on `POST /predict` and on imports cost an honest client.

    python benchmarks/http_attacks.py [--seconds 10] [--code DIR]

Starts `python -m mnist_core serve` and then the app's server (`streamlit run
streamlit_app.py`), each on a free 127.0.0.1 port, and for each attack below has an honest
client post a canvas PNG every 0.2 s for `--seconds`, one request after another, while the
attack runs: its median and worst latency and how many of its requests were refused, the
server's CPU seconds and the growth of its process tree's PSS. `--code DIR` runs the servers
from another checkout of this project (an older commit, for the figures before a fix).

- slow bodies: connections that declare a 10 MB JSON body and send a byte a second;
- 16-megapixel PNGs: 4 clients each posting 64 small PNGs of 16 megapixels (2 KB apiece) a
  request, as fast as they are answered; then 4 a request, the most one may declare now.

Then, in this process, a drawings import of 2,000 such PNGs in a 9 MB zip: the seconds it
takes to be refused.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.app_server import app_server  # noqa: E402
from benchmarks.memory import descendants, pss_mb  # noqa: E402
from benchmarks.ws_session import digit_png  # noqa: E402

BODY = 10 * 2**20  # what a slow body declares: the most a request may be


def huge_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (4000, 4000)).save(buffer, "PNG")  # 16 megapixels, the most one picture may have
    return buffer.getvalue()


class SlowBodies:
    """`n` connections that each declare a 10 MB JSON body and send a byte a second."""

    def __init__(self, port: int, n: int) -> None:
        self.sockets = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {BODY}\r\n\r\n{{".encode())
            self.sockets.append(s)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._dribble, daemon=True)
        self.thread.start()

    def _dribble(self) -> None:
        while not self.stop.wait(1.0):
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.sendall(b" ")

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for s in self.sockets:
            s.close()


@contextlib.contextmanager
def slow_bodies(url: str, n: int) -> Iterator[None]:
    attack = SlowBodies(int(url.rsplit(":", 1)[1]), n)
    try:
        yield
    finally:
        attack.close()


@contextlib.contextmanager
def posting(url: str, files: list, clients: int) -> Iterator[None]:
    """`clients` threads posting `files` as fast as they are answered."""
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            with contextlib.suppress(requests.RequestException):
                requests.post(f"{url}/predict", files=files, timeout=120)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in threads:
            t.join(130)


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def honest(url: str, pid: int, seconds: float, attack: Callable[[], contextlib.AbstractContextManager]) -> str:
    """The honest client's figures while `attack` runs."""
    canvas = digit_png(__import__("random").Random(0))
    before, cpu0, peak = pss_mb(pid), cpu_seconds(pid), [0.0]
    latencies, refused = [], 0
    with attack():
        time.sleep(1.0)  # the attack under way
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            start = time.perf_counter()
            try:
                status = requests.post(f"{url}/predict", files={"file": canvas}, timeout=60).status_code
            except requests.RequestException:
                status = 0
            latencies.append(time.perf_counter() - start)
            refused += status != 200
            peak[0] = max(peak[0], pss_mb(pid))
            time.sleep(0.2)
    return (f"p50 {statistics.median(latencies) * 1000:7.0f} ms, max {max(latencies):6.2f} s, "
            f"refused {refused}/{len(latencies)}; server {cpu_seconds(pid) - cpu0:5.1f} CPU-s, "
            f"+{peak[0] - before:4.0f} MB PSS")


def attacks(url: str, pid: int, seconds: float) -> None:
    png = huge_png()
    cases = {
        "nothing (the baseline)": contextlib.nullcontext,
        "4 slow bodies": lambda: slow_bodies(url, 4),
        "64 slow bodies": lambda: slow_bodies(url, 64),
        "4 clients x 64 PNGs of 16 MP": lambda: posting(url, [("file", png)] * 64, 4),
        "4 clients x 4 PNGs of 16 MP": lambda: posting(url, [("file", png)] * 4, 4),
    }
    for name, attack in cases.items():
        print(f"  {name:30s} {honest(url, pid, seconds, attack)}", flush=True)


@contextlib.contextmanager
def standalone(code: Path, data: Path) -> Iterator[tuple[str, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MNIST_DATA_DIR": str(data), "PYTHONPATH": str(code)}
    env.pop("MNIST_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "mnist_core", "serve", "--port", str(port)], cwd=code, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/health", timeout=2).ok:
                    break
            time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(20)


def an_import() -> None:
    from mnist_core.drawing_files import import_drawings
    from mnist_core.store.database import Database
    from mnist_core.store.drawings import DrawingError, DrawingStore

    buffer = io.BytesIO()
    png = huge_png()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(2000):
            archive.writestr(f"{i % 10}/{i}.png", png)
    with tempfile.TemporaryDirectory() as folder:
        store = DrawingStore(Database.open(f"sqlite:///{folder}/d.db"))
        start, cpu = time.perf_counter(), time.process_time()
        try:
            import_drawings(store, [("bomb.zip", buffer.getvalue())], "link:someone", per_day=2000)
        except DrawingError as e:
            print(f"import of 2,000 PNGs of 16 MP ({len(buffer.getvalue()) / 2**20:.1f} MB): refused in "
                  f"{time.perf_counter() - start:.2f} s ({time.process_time() - cpu:.2f} CPU-s): {e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose servers to run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        with standalone(args.code.resolve(), Path(data)) as (url, pid):
            print("python -m mnist_core serve:")
            attacks(url, pid, args.seconds)
        with app_server(Path(data), root=args.code.resolve()) as (url, proc, _):
            print("the app's server (streamlit run streamlit_app.py):")
            attacks(url, proc.pid, args.seconds)
    if args.code.resolve() == ROOT:
        an_import()


if __name__ == "__main__":
    main()
