"""Hold a test app server's training jobs at a step until the test lets them go, and fit a
fine-tune's own "not a digit" check there in seconds.

    with pytest.MonkeyPatch.context() as env:       # before the server starts (conftest's app_url)
        env.setenv(...server_env(gates))             # its Python imports tests/server_hooks/sitecustomize.py
    gates.data.touch()   # a job started now waits for its data, RUNNING in the line, for as long as the test needs
    gates.data.unlink()  # it loads MNIST as usual and trains
    gates.check.touch()  # a fine-tune on drawings stays "Fitting its own not-a-digit check" until unlinked

A race otherwise: a test that needs a job still running while a second visitor queues behind it
had to start a long one (1,500 epochs) and hope, and a check fitted in seconds can end between
two of the page's refreshes. The app server's worker hands its loader
(`mnist_core.data.load_mnist`, looked up when the worker starts) to each job's child process by
reference; the start-up hook replaces it in the server, with `load_mnist_behind_gate` below, a
top-level function the child imports by name. The check is held inside the training process:
the hook wraps `novelty_fit.fit_novelty` when that module is imported, in every Python process
the server starts (its PYTHONPATH has the hook), and shrinks the check's example sets as the
`quick_own_heads` fixture does (QUICK_HEADS). While a gate's file is missing it only adds a check.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_core import data
from mnist_core.data import DataError

DATA_GATE, CHECK_GATE = "MNIST_TEST_DATA_GATE", "MNIST_TEST_CHECK_GATE"  # the gates' files, in the server's environment
HOOKS = Path(__file__).resolve().parent / "server_hooks"  # on the server's PYTHONPATH: its sitecustomize
ROOT = Path(__file__).resolve().parents[1]
LONGEST = 600  # s a job waits at a shut gate before it fails (a test that forgot to open it)
# a fine-tune's own check in seconds: a few hundred examples of each set (novelty_fit's sizes), no fonts
QUICK_HEADS = {"DIGITS_EACH": 800, "VARIANT_DIGITS": 800, "NON_DIGITS": 400, "CALIBRATION_EACH": 400}
NOVELTY_FIT = "mnist_core.training.novelty_fit"

_load_mnist = data.load_mnist  # the real loader, whatever the hook does to the module afterwards


@dataclass(frozen=True)
class Gates:
    data: Path  # while it exists: a job's MNIST loading waits
    check: Path  # while it exists: a fine-tune's own check waits, announced


def server_env(gates: Gates) -> dict[str, str]:
    """What a server's environment needs for the gates: the hook on its path, and the gates' files."""
    return {DATA_GATE: str(gates.data), CHECK_GATE: str(gates.check),
            "PYTHONPATH": os.pathsep.join([str(HOOKS), str(ROOT)])}


def wait_while(gate: Path) -> None:
    deadline = time.monotonic() + LONGEST
    while gate.exists():
        if time.monotonic() > deadline:
            raise DataError(f"the test's gate {gate} stayed shut for {LONGEST} s")
        time.sleep(0.05)


def load_mnist_behind_gate(path=None, progress=None) -> data.Mnist:
    """MNIST as `load_mnist` finds it, once the data gate's file is gone."""
    wait_while(Path(os.environ[DATA_GATE]))
    return _load_mnist(path, progress)


def quick_heads(setattr: Callable[[Any, str, Any], None] = setattr) -> None:
    """novelty_fit's example sets shrunk to QUICK_HEADS, and no fonts in them."""
    from mnist_core.training import non_digit_examples, novelty_fit, styles

    for module in (styles, non_digit_examples):
        setattr(module, "font_designs", lambda: {})
    for name, n in QUICK_HEADS.items():
        setattr(novelty_fit, name, n)


def _check_behind_gate(module: Any) -> None:
    """The module's fit_novelty, announced and then held while the check gate's file exists."""
    fit = module.fit_novelty

    def fit_novelty(layers, data, seed, progress, **kwargs):
        progress("(held by the test)")
        wait_while(Path(os.environ[CHECK_GATE]))
        return fit(layers, data, seed, progress, **kwargs)

    module.fit_novelty = fit_novelty
    quick_heads()


class _WhenImported(importlib.abc.MetaPathFinder):
    """Runs `then(module)` once NOVELTY_FIT has been imported (executed), in this process."""

    def __init__(self, then: Callable[[Any], None]) -> None:
        self.then = then

    def find_spec(self, name, path, target=None):
        if name != NOVELTY_FIT:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)  # the file's own finder, not this one
        if spec is not None:
            spec.loader = _Then(spec.loader, self)
        return spec


class _Then(importlib.abc.Loader):
    """A module's loader, and then the finder's `then`: asked for once the module has run."""

    def __init__(self, loader: Any, finder: _WhenImported) -> None:
        self.loader, self.finder = loader, finder

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        self.finder.then(module)

    def __getattr__(self, name: str) -> Any:  # get_source and the rest, for tracebacks
        return getattr(self.loader, name)


def install() -> None:
    """This process's MNIST loader gated, and its fine-tune checks quick and gated (the start-up hook calls this)."""
    data.load_mnist = load_mnist_behind_gate
    if NOVELTY_FIT in sys.modules:
        _check_behind_gate(sys.modules[NOVELTY_FIT])
    else:
        sys.meta_path.insert(0, _WhenImported(_check_behind_gate))
