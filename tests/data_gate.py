"""Hold a test app server's training jobs in "loading data" until the test lets them go.

    with pytest.MonkeyPatch.context() as env:       # before the server starts (conftest's app_url)
        env.setenv(...server_env(gate))              # its Python imports tests/server_hooks/sitecustomize.py
    gate.touch()     # a job started now waits for its data, RUNNING in the line, for as long as the test needs
    gate.unlink()    # it loads MNIST as usual and trains

A race otherwise: a test that needs a job still running while a second visitor queues behind it
had to start a long one (1,500 epochs) and hope. The app server's worker hands its loader
(`mnist_core.data.load_mnist`, looked up when the worker starts) to each job's child process by
reference; the start-up hook replaces it in the server, with `load_mnist_behind_gate` below, a
top-level function the child imports by name. While the gate file is missing it only adds a check.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from mnist_core import data
from mnist_core.data import DataError

GATE = "MNIST_TEST_DATA_GATE"  # the gate file's path, in the app server's environment
HOOKS = Path(__file__).resolve().parent / "server_hooks"  # on the server's PYTHONPATH: its sitecustomize
ROOT = Path(__file__).resolve().parents[1]
LONGEST = 600  # s a job waits at a shut gate before it fails (a test that forgot to open it)

_load_mnist = data.load_mnist  # the real loader, whatever the hook does to the module afterwards


def server_env(gate: Path) -> dict[str, str]:
    """What a server's environment needs for the gate: the hook on its path, and the gate's file."""
    return {GATE: str(gate), "PYTHONPATH": os.pathsep.join([str(HOOKS), str(ROOT)])}


def load_mnist_behind_gate(path=None, progress=None) -> data.Mnist:
    """MNIST as `load_mnist` finds it, once the gate file is gone."""
    gate, deadline = Path(os.environ[GATE]), time.monotonic() + LONGEST
    while gate.exists():
        if time.monotonic() > deadline:
            raise DataError(f"the test's data gate {gate} stayed shut for {LONGEST} s")
        time.sleep(0.05)
    return _load_mnist(path, progress)


def install() -> None:
    """Make this process's MNIST loader the gated one (the start-up hook calls this)."""
    data.load_mnist = load_mnist_behind_gate
