"""The classroom benchmark's short mode (benchmarks/classroom.py): visitors draw while some of
them queue the seed fit on one server; zero errors, every run saved and owned by its starter."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT, subprocess_env

pytestmark = pytest.mark.mnist


@pytest.mark.timeout(600)  # the benchmark's own limit is 420 s
def test_a_small_class_draws_and_queues_without_an_error():
    args = ["--visitors", "8", "--trainers", "3", "--drawings", "2", "--pause", "0.5", "--timeout", "240"]
    out = subprocess.run([sys.executable, "benchmarks/classroom.py", *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=420, env=subprocess_env(), check=False)
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    assert "predictions: 16, errors: 0" in out.stdout
    assert "runs saved: 3, owned by their starters: 3" in out.stdout and "all checks passed" in out.stdout
