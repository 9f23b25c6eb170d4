"""How this project starts TensorFlow, wherever it does (a training process, a worker, the
command line's train and export): these settings, before its first import.

    from mnist_core.training.tensorflow_env import prepare
    prepare()          # then `import tensorflow`; a setting already in the environment is kept
    python -m mnist_core.training.tensorflow_env     # measure oneDNN on and off on this machine, keep the faster

- TF_CPP_MIN_LOG_LEVEL=3: no C++ INFO lines (the command line promises one-line errors).
- XLA's compiled programs are kept on disk (the cache folder's `xla/`): a training's epoch and
  scoring programs compile in 1.07 s the first time and load in 0.42 s after
  (docs/figures.md#a-class), most of the time before a job's first epoch.
- oneDNN's kernels: whether they make a fit faster depends on the machine (on one 2-core AMD EPYC
  without AVX-512 the seed fit took 10.8-13.4 s with them against 14.4-15.8 s without; on this
  project's machine they made no fit faster and took 40 MB more). So each machine measures it
  once (`probe`: the seed's fit and a hidden-layer fit, with oneDNN on and off, alternated) and
  keeps the faster; until it has, they are off (the smaller).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ONEDNN = "TF_ENABLE_ONEDNN_OPTS"
CHOICE_FILE = "tensorflow_env.json"  # in the cache folder: {"machine": ..., "onednn": "0" or "1", "seconds": ...}
CLEARLY_FASTER = 0.95  # oneDNN is turned on when it takes at most this share of the time without it


def cache_dir() -> Path:
    """The project's cache folder (data.cache_path's): `$MNIST_CACHE_DIR` or ~/.cache/mnist-dense."""
    return Path(os.environ.get("MNIST_CACHE_DIR") or Path.home() / ".cache" / "mnist-dense")


def settings() -> dict[str, str]:
    return {
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TF_XLA_FLAGS": f"--tf_xla_persistent_cache_directory={cache_dir() / 'xla'}",
        ONEDNN: chosen() or "0",
    }


def prepare() -> None:
    """Set settings() in this process's environment (and so its children's), keeping any already set."""
    for name, value in settings().items():
        os.environ.setdefault(name, value)


def machine() -> str:
    """What a measurement holds for: this CPU's model and instruction sets, and TensorFlow's version."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        info = ""
    lines = sorted({line for line in info.splitlines() if line.startswith(("model name", "flags"))})
    version = next((metadata.version(d) for d in ("tensorflow", "tensorflow-cpu") if _installed(d)), "?")
    return hashlib.sha256("\n".join([platform.machine(), *lines, version]).encode()).hexdigest()[:16]


def chosen() -> str | None:
    """"1" or "0" as measured on this machine; None when it has not been."""
    try:
        record = json.loads((cache_dir() / CHOICE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record.get("onednn") if isinstance(record, dict) and record.get("machine") == machine() else None


def probe(rounds: int = 2, nice: int = 0) -> dict:
    """Time the seed's fit (30 epochs) and a hidden-layer fit (3 epochs) on MNIST-sized digits,
    each in a fresh process with oneDNN on and off, `rounds` times alternated; keep the faster
    setting for this machine (CHOICE_FILE) and return what was measured."""
    seconds: dict[str, list[float]] = {"1": [], "0": []}
    for _ in range(rounds):
        for value in ("1", "0"):
            seconds[value].append(_timed_fits(value, nice))
    best = {value: min(times) for value, times in seconds.items()}
    record = {"machine": machine(), "onednn": "1" if best["1"] <= CLEARLY_FASTER * best["0"] else "0",
              "seconds": seconds, "measured": time.strftime("%Y-%m-%d %H:%M")}
    from mnist_core import atomic

    cache_dir().mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(cache_dir() / CHOICE_FILE, json.dumps(record).encode())
    return record


FITS = """
import sys, time
import numpy as np
from mnist_core.config import PRESETS
from mnist_core.data import Mnist
from mnist_core.training.loop import train
rng = np.random.default_rng(0)
y = rng.integers(0, 10, 60_000).astype(np.uint8)
x = rng.integers(0, 40, (60_000, 28, 28)).astype(np.uint8)
for i, k in enumerate(y):
    x[i, 4 + 2 * k : 6 + 2 * k, 6:22] = 255
data = Mnist(x, y, x[:2000], y[:2000], source="synthetic")
print(train(PRESETS[sys.argv[1]].replace(epochs=int(sys.argv[2])), data).fit_seconds)
"""


def _timed_fits(onednn: str, nice: int) -> float:
    """The two fits' seconds, each in a process of its own (each sizes TensorFlow's threads for itself)."""
    env = {**os.environ, ONEDNN: onednn, "TF_CPP_MIN_LOG_LEVEL": "3"}
    total = 0.0
    for preset, epochs in (("seed", "30"), ("hidden", "3")):
        out = subprocess.run([sys.executable, "-c", FITS, preset, epochs], env=env, capture_output=True, text=True,
                             check=True, timeout=600, preexec_fn=(lambda: os.nice(nice)) if nice else None)
        total += float(out.stdout.split()[-1])
    return total


def _installed(distribution: str) -> bool:
    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


if __name__ == "__main__":
    found = probe()
    print(f"oneDNN on: {', '.join(f'{s:.2f}' for s in found['seconds']['1'])} s; off: "
          f"{', '.join(f'{s:.2f}' for s in found['seconds']['0'])} s -> {ONEDNN}={found['onednn']} on this machine")
