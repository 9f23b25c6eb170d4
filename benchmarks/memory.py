"""Memory as Community Cloud counts it: the proportional memory (PSS) of a whole process tree.

    python benchmarks/memory.py [--presets seed,adam,best] [--epochs 2]

1. The app server (`streamlit run`, as `app_server` starts it) idle after one drawing read by the
   default model: the container's floor.
2. The app server with each preset's training beside it, as its job's child process runs it
   (`python -m mnist_core train`: the same pipeline in a process of its own), both sampled
   together every 50 ms over the first epochs (the peak comes with the first epoch: data, model,
   optimizer, the first distorted epoch). Measured together, the pages the two processes share
   (TensorFlow's libraries) are split between them, as the container counts them.
3. The app server after a visit to the Train page, with the training process it then starts
   ahead of the next job (jobs.process.Spare: TensorFlow imported, MNIST loaded) once ready.
Run it with no other TensorFlow process on the machine: PSS splits shared pages with them too.
Smallest Community Cloud container: 690 MB; the goal for the app with any training: 1.5 GB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.app_server import app_server  # noqa: E402


def pss_mb(pid: int) -> float:
    """PSS of `pid` and all its descendants, in MB (from /proc/PID/smaps_rollup)."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def descendants(pid: int) -> list[int]:
    found = children(pid)
    return found + [d for c in found for d in descendants(c)]


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


class TreeWatch:
    """The PSS peak of a process tree, and the process's children whose command line holds `match`
    (not their own: a child forked for a moment still shows its parent's), sampled every 20 ms in
    a thread while the block runs.

        with TreeWatch(server.pid, b"spawn_main") as watch:   # multiprocessing's spawned children
            ...
        watch.peak, watch.seen                                # MB; the pids seen
    """

    def __init__(self, pid: int, match: bytes = b"") -> None:
        self.pid, self.match = pid, match
        self.peak, self.seen = 0.0, set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, pss_mb(self.pid))

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, pss_mb(self.pid))
            for child in children(self.pid) if self.match else ():
                try:
                    if self.match in Path(f"/proc/{child}/cmdline").read_bytes():
                        self.seen.add(child)
                except OSError:
                    continue
            time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="seed,adam,best")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, app_server(Path(tmp)) as (url, app, _):
        asyncio.run(one_drawing(url))
        time.sleep(5)  # settled
        idle = pss_mb(app.pid)
        print(f"app server idle, default model loaded, after a drawing: {idle:.0f} MB PSS (Cloud's smallest: 690 MB)")
        for preset in args.presets.split(","):
            start = time.perf_counter()
            training = subprocess.Popen(
                [sys.executable, "-m", "mnist_core", "train", "--preset", preset, "--epochs", str(args.epochs),
                 "--database", f"sqlite:///{tmp}/{preset}.db"], cwd=ROOT,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            peak = 0.0
            while training.poll() is None:
                peak = max(peak, pss_mb(app.pid) + pss_mb(training.pid))
                time.sleep(0.05)
            print(f"{preset:8} training beside it, {args.epochs} epochs ({time.perf_counter() - start:.0f} s): "
                  f"app + training peak {peak:.0f} MB PSS (goal: 1,500 MB)")
        asyncio.run(visit_train(url))
        time.sleep(30)  # its training process started ahead has imported TensorFlow and loaded MNIST
        print(f"after a visit to the Train page, with a training process started ahead: {pss_mb(app.pid):.0f} MB PSS")


async def visit_train(url: str) -> None:
    from benchmarks.ws_session import DrawSession

    session = await DrawSession.open(url)
    await session.visit("train")
    await session.close()


async def one_drawing(url: str) -> None:
    from benchmarks.ws_session import DrawSession, digit_png

    session = await DrawSession.open(url)
    await session.draw(digit_png(random.Random(0)))
    await session.close()


if __name__ == "__main__":
    main()
