"""The documented Python API, in fresh processes: every public name means one thing in every
import order, and no public name is also a submodule's name."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

import mnist_core
from tests.helpers import ROOT

CHECK = """
import inspect, mnist_core
from mnist_core import preprocess, train, load_classifier, load_mnist, train_and_save
for f in (preprocess, train, load_classifier, load_mnist, train_and_save,
          mnist_core.preprocess, mnist_core.train, mnist_core.train_and_save):
    assert inspect.isfunction(f), f
print("ok")
"""
ORDERS = {
    "package first": "",
    "after loading a model": "import mnist_core; mnist_core.load_classifier()",
    "after the submodules": ("import mnist_core.preprocessing, mnist_core.training.loop, mnist_core.training.pipeline,"
                             " mnist_core.cli"),
    "names first": "from mnist_core import preprocess, train; import mnist_core.preprocessing",
}


@pytest.fixture(scope="module")
def import_orders() -> Iterator[dict[str, subprocess.Popen]]:
    """Each order in a fresh interpreter, all started at once: each imports TensorFlow (5-10 s of
    one core), and two workers leave a core idle a third of the time."""
    runs = {name: subprocess.Popen([sys.executable, "-c", before + "\n" + CHECK], cwd=ROOT, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env={"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin"})
            for name, before in ORDERS.items()}
    yield runs
    for run in runs.values():
        run.kill()
        run.communicate()


@pytest.mark.slow
@pytest.mark.parametrize("order", ORDERS)
def test_public_names_are_the_functions_in_every_import_order(import_orders, order):
    out, err = import_orders[order].communicate(timeout=120)
    assert out.strip() == "ok", err[-1500:]


def test_no_public_name_is_a_submodule():
    core = ROOT / "mnist_core"
    modules = {p.stem for p in core.glob("*.py")} | {p.parent.name for p in core.glob("*/__init__.py")}
    assert not modules & set(mnist_core.__all__)
