"""The command line, run as users run it: a subprocess, checked for one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed"


def cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "mnist_core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=env)


@pytest.mark.parametrize("command", [[], ["train"], ["evaluate"], ["predict"], ["data"]])
def test_help(command):
    out = cli(*command, "--help")
    assert out.returncode == 0 and "usage" in out.stdout


def test_predict_answers_each_file_and_reports_errors(tmp_path):
    one = tmp_path / "one.png"
    img = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(img).line([(100, 30), (100, 170)], fill=0, width=14)
    img.save(one)
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 0).save(blank)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not a png")
    dot = tmp_path / "dot.png"
    img = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(img).ellipse((90, 90, 110, 110), fill=0)
    img.save(dot)
    out = cli("predict", str(one), str(blank), str(bad), str(tmp_path / "missing.png"), str(dot), "--json")
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert lines[0]["digit"] == 1 and abs(sum(lines[0]["probabilities"]) - 1) < 1e-3
    assert lines[1] == {"file": str(blank), "digit": None, "probabilities": None}
    assert "not an image" in lines[2]["error"] and lines[3]["error"]
    assert lines[4] == {"file": str(dot), "error": "a single dot, not a digit: draw the whole digit"}


def test_bad_model_and_bad_settings_are_one_line_errors(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"junk")
    out = cli("evaluate", str(junk))
    assert out.returncode == 1 and out.stderr.strip().count("\n") == 0 and out.stderr.startswith("error:")
    out = cli("train", "--epochs", "0")
    assert out.returncode == 1 and out.stderr.strip() == "error: epochs must be between 1 and 10000"
    out = cli("train", "--data", str(tmp_path / "nothing.npz"))
    assert out.returncode == 1 and "Traceback" not in out.stderr and "error:" in out.stderr


@pytest.mark.skipif(not SEED.is_dir(), reason="the seed's files are in ../shared/seed")
def test_seed_images_read_as_three():
    out = cli("predict", str(SEED / "1.png"), str(SEED / "2.png"), "--json")
    assert [json.loads(line)["digit"] for line in out.stdout.splitlines()] == [3, 3]


@pytest.mark.mnist
@pytest.mark.skipif(not SEED.is_dir(), reason="the seed's files are in ../shared/seed")
def test_evaluate_the_seeds_keras2_model_scores_0_9220():
    out = cli("evaluate", str(SEED / "mnist_dense_model.h5"), "--json")
    assert out.returncode == 0
    assert json.loads(out.stdout.splitlines()[-1])["test_accuracy"] == pytest.approx(0.9220, abs=1e-4)


@pytest.mark.mnist
def test_train_json_on_real_data(tmp_path):
    out = cli("train", "--epochs", "2", "--out", str(tmp_path), "--json")
    summary = json.loads(out.stdout.splitlines()[-1])
    assert out.returncode == 0 and 0.85 < summary["test_accuracy"] < 0.93
    assert {"val_accuracy", "fit_seconds", "model_path"} <= set(summary)
    assert Path(summary["model_path"]).is_file() and Path(summary["h5_path"]).is_file()


def test_core_never_imports_streamlit():
    code = ("import sys, mnist_core.cli, mnist_core.job, mnist_core.train, mnist_core.preprocess, "
            "mnist_core.classifier, mnist_core.analysis; print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False"
