"""Memory as Community Cloud counts it: the proportional memory (PSS) of a whole process tree.

    python benchmarks/memory.py [--presets seed,adam,best] [--epochs 2]

1. The app server (`streamlit run`, as `app_server` starts it) idle after one drawing read by the
   default model: the container's floor.
2. Each preset's training as the app's child process runs it (`python -m mnist_core train`, the
   same pipeline), its peak sampled every 50 ms over its first epochs (the peak comes with the
   first epoch: data, model, optimizer, the first distorted epoch).
3. Their sum: the app with a training job beside it (PSS adds up across processes; shared
   libraries are split between them, not counted twice).
Smallest Community Cloud container: 690 MB; the goal for the app with any training: 1.5 GB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return children + [d for c in children for d in descendants(c)]


def peak_while(proc: subprocess.Popen, every: float = 0.05) -> float:
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, pss_mb(proc.pid))
        time.sleep(every)
    return peak


def app_idle_mb() -> float:
    from benchmarks.ws_session import DrawSession, digit_png

    with tempfile.TemporaryDirectory() as tmp, app_server(Path(tmp)) as (url, proc, _):
        async def one_drawing() -> None:
            session = await DrawSession.open(url)
            import random

            await session.draw(digit_png(random.Random(0)))
            await session.close()

        asyncio.run(one_drawing())
        time.sleep(5)  # settled
        return pss_mb(proc.pid)


def training_peak_mb(preset: str, epochs: int) -> tuple[float, float]:
    """(peak PSS in MB, seconds) of one training run, as the app's job runs it."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "mnist_core", "train", "--preset", preset, "--epochs",
                                 str(epochs), "--database", f"sqlite:///{tmp}/runs.db"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak = [0.0]
        sampler = threading.Thread(target=lambda: peak.__setitem__(0, peak_while(proc)))
        sampler.start()
        proc.wait()
        sampler.join()
        return peak[0], time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="seed,adam,best")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    idle = app_idle_mb()
    print(f"app server idle, default model loaded, after a drawing: {idle:.0f} MB PSS (Cloud's smallest: 690 MB)")
    for preset in args.presets.split(","):
        peak, seconds = training_peak_mb(preset, args.epochs)
        print(f"{preset:8} training, {args.epochs} epochs: peak {peak:.0f} MB PSS ({seconds:.0f} s); "
              f"app + training {idle + peak:.0f} MB (goal: 1,500 MB)")


if __name__ == "__main__":
    main()
