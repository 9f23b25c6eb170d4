"""A job's start to its first epoch: a process started for the job, against one started ahead
(jobs.process.Spare), each with XLA's compilation cache empty and kept; the seed fit.

    python benchmarks/job_start.py [--rounds 3] [--preset seed]

Each round runs the four cases one after another (so a busy machine slows them alike) and prints
the seconds from TrainingJob.start() to its first epoch's end, and to its last (the run saved).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_core.config import PRESETS  # noqa: E402
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.jobs.process import Spare, TrainingJob  # noqa: E402
from mnist_core.training.tensorflow_env import cache_dir  # noqa: E402


def first_epoch(preset: str, ahead: bool, url: str) -> tuple[float, float]:
    """(seconds to the first epoch's end, to the job's end) of one job."""
    spare = Spare(load_mnist) if ahead else None
    while spare is not None and not spare.ready():
        time.sleep(0.05)
    job = TrainingJob(PRESETS[preset], preset, load_mnist, url, spare=spare)
    job.start()
    job.join(900)
    state = job.snapshot()
    return state.first_epoch or float("nan"), state.elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--preset", default="seed")
    args = parser.parse_args()
    found: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/runs.db"
        for _ in range(args.rounds):
            for cache in ("empty", "kept"):
                # empty: a fresh folder every time, nothing compiled before
                xla = Path(tempfile.mkdtemp(dir=tmp)) if cache == "empty" else cache_dir() / "xla"
                os.environ["TF_XLA_FLAGS"] = f"--tf_xla_persistent_cache_directory={xla}"
                for ahead in (False, True):
                    key = f"{'started ahead' if ahead else 'started for the job'}, XLA cache {cache}"
                    found.setdefault(key, []).append(first_epoch(args.preset, ahead, url))
    print(f"{args.preset}: a job's start to its first epoch (and to its end), medians of {args.rounds}")
    for key, times in found.items():
        print(f"  {key:<44} {statistics.median(t[0] for t in times):6.2f} s  "
              f"({statistics.median(t[1] for t in times):.1f} s)  all: {', '.join(f'{t[0]:.2f}' for t in times)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
