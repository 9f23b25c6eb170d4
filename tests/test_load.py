"""The load test's short mode (benchmarks/load_test.py): 20 websocket sessions and a browser
draw at once while a training job runs, then a short soak; zero errors allowed."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.helpers import ROOT, subprocess_env

pytestmark = [pytest.mark.browser, pytest.mark.mnist]


@pytest.mark.timeout(420)  # the benchmark's own limit is 300 s
def test_twenty_sessions_and_a_browser_draw_during_training_without_an_error():
    args = ["--sessions", "20", "--browsers", "1", "--drawings", "2", "--pause", "0.5", "--train-epochs", "5000",
            "--soak-seconds", "10", "--timeout", "60"]
    out = subprocess.run([sys.executable, "benchmarks/load_test.py", *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env=subprocess_env(), check=False)
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    assert "training run (still running at the end)" in out.stdout
    assert "20 websocket sessions x 2 drawings: 40 predictions, 0 errors" in out.stdout
    assert "1 browsers x 2 drawings: 2 predictions, 0 errors" in out.stdout
    soak = re.search(r"soak, 10 s, one session: (\d+) predictions, 0 errors.*\(([+-]\d+) MB\)", out.stdout)
    assert soak and int(soak.group(1)) > 20 and int(soak.group(2)) < 50, out.stdout
