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


@pytest.mark.parametrize("command", [[], ["train"], ["evaluate"], ["predict"], ["data"], ["runs"], ["export"],
                                     ["drawings"], ["drawings", "export"], ["scoreboard"]])
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
    out = cli("train", "--epochs", "2", "--json")
    summary = json.loads(out.stdout.splitlines()[-1])
    assert out.returncode == 0 and 0.85 < summary["test_accuracy"] < 0.93
    assert {"val_accuracy", "fit_seconds", "run"} <= set(summary)
    listed = [json.loads(line) for line in cli("runs", "--json").stdout.splitlines()]
    assert [r["id"] for r in listed] == [summary["run"]] and listed[0]["config"]["epochs"] == 2


def test_every_config_field_is_a_flag_with_its_range():
    from mnist_core.config import settings

    text = " ".join(cli("train", "--help").stdout.split())
    for name, setting in settings():
        assert f"--{name.replace('_', '-')}" in text and setting.help.split(";")[0] in text
    assert "--learning-rate LEARNING_RATE Learning rate: step size; 0.01 is Keras' default for SGD; in (0, 10]" in text
    out = cli("train", "--label-smoothing", "1.5")
    assert out.returncode == 1 and out.stderr.strip() == "error: label smoothing must be in [0, 1)"
    out = cli("train", "--augment", "sideways")
    assert out.returncode == 2 and "invalid choice" in out.stderr


def test_runs_export_evaluate_and_predict_by_run_name(tmp_path, tiny_mnist):
    from mnist_core.config import TrainConfig
    from mnist_core.database import Database, database_url
    from mnist_core.runs import RunStore
    from mnist_core.training import train

    store = RunStore(Database.open(database_url()))  # where the CLI looks: the test's data folder
    run = store.save(train(TrainConfig(epochs=2, batch_size=100, learning_rate=0.5), tiny_mnist), name="tiny one")
    listed = cli("runs")
    assert listed.returncode == 0 and run.id in listed.stdout and "tiny one" in listed.stdout
    out = cli("export", "tiny one", str(tmp_path / "out"))
    assert out.returncode == 0 and sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "mnist_dense_model.h5", "model.keras", "run.json"]
    one = tmp_path / "one.png"
    img = Image.new("L", (200, 200), 0)
    ImageDraw.Draw(img).line([(100, 30), (100, 170)], fill=255, width=14)
    img.save(one)
    out = cli("predict", str(one), "--model", run.id, "--json")
    assert out.returncode == 0 and len(json.loads(out.stdout)["probabilities"]) == 10
    for args in (["export", "no such run", str(tmp_path)], ["evaluate", "no such run"],
                 ["predict", str(one), "--model", "missing-run"]):
        out = cli(*args)
        assert out.returncode == 1 and out.stderr.startswith("error: no run has the id or name")
        assert out.stderr.count("\n") == 1
    for fmt, name in (("keras", "model.keras"), ("h5", "mnist_dense_model.h5")):
        out = cli("export", run.id, str(tmp_path / fmt), "--format", fmt)
        assert out.returncode == 0 and [p.name for p in (tmp_path / fmt).iterdir()] == [name]
    out = cli("export", "tiny one", str(tmp_path / "serving" / "1"), "--format", "saved_model")
    assert out.returncode == 0, out.stderr
    import numpy as np
    import tensorflow as tf

    from mnist_core.classifier import load_classifier

    x = tiny_mnist.x_test[:100].astype(np.float32) / 255.0
    served = tf.saved_model.load(str(tmp_path / "serving" / "1")).signatures["serving_default"](images=x)
    expected = load_classifier(tmp_path / "keras" / "model.keras").predict_proba(x)
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)
    out = cli("runs", "--database", "postgresql://ann:s3cret@127.0.0.1:1/runs")
    assert out.returncode == 1 and "s3cret" not in out.stderr and "cannot open" in out.stderr


def test_core_never_imports_streamlit():
    code = ("import sys, mnist_core.cli, mnist_core.job, mnist_core.training, mnist_core.preprocessing, "
            "mnist_core.classifier, mnist_core.analysis, mnist_core.runs, mnist_core.database, mnist_core.pipeline; "
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False"


def test_drawings_are_labelled_listed_exported_imported_and_scored(tmp_path):
    env = {"MNIST_DATA_DIR": str(tmp_path / "data")}
    one = tmp_path / "one.png"
    img = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(img).line([(100, 30), (100, 170)], fill=0, width=14)
    img.save(one)
    out = cli("drawings", "add", str(one), "--label", "7", env_extra=env)
    assert out.returncode == 0 and "labelled 7, the model read 1" in out.stdout
    out = cli("drawings", "add", str(one), "--label", "seven", env_extra=env)
    assert out.returncode == 1 and out.stderr.strip() == "error: a label is one digit from 0 to 9, not 'seven'"
    out = cli("drawings", "export", str(tmp_path / "out"), env_extra=env)
    assert out.returncode == 0 and sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "drawings-images-idx3-ubyte.gz", "drawings-labels-idx1-ubyte.gz", "drawings-png.zip", "drawings.npz"]
    out = cli("drawings", "import", str(tmp_path / "out" / "drawings-images-idx3-ubyte.gz"),
              str(tmp_path / "out" / "drawings-labels-idx1-ubyte.gz"), env_extra=env)
    assert out.returncode == 0 and "imported 1 drawings" in out.stdout
    broken = tmp_path / "broken.npz"
    broken.write_bytes((tmp_path / "out" / "drawings.npz").read_bytes()[:100])
    out = cli("drawings", "import", str(broken), env_extra=env)
    assert out.returncode == 1 and out.stderr.startswith("error: broken.npz: ") and out.stderr.count("\n") == 1
    listed = json.loads(cli("drawings", "list", "--json", env_extra=env).stdout)
    assert listed["total"] == 2 and listed["per_digit"][7] == 2 and listed["people"] == {"the operator": 2}
    board = [json.loads(line) for line in cli("scoreboard", "--json", env_extra=env).stdout.splitlines()]
    assert {r["model"] for r in board} == {"default", "seed"} and all(r["n"] == 2 for r in board)


def test_drawings_add_refuses_a_blank_or_a_dot_in_one_line(tmp_path):
    blank, dot = tmp_path / "blank.png", tmp_path / "dot.png"
    Image.new("L", (200, 200), 255).save(blank)
    img = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(img).ellipse((90, 90, 110, 110), fill=0)
    img.save(dot)
    for path, why in ((blank, "no digit in it (blank)"), (dot, "a single dot, not a digit")):
        out = cli("drawings", "add", str(path), "--label", "3")
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert out.stderr.startswith(f"error: {path}: {why}") and out.stderr.count("\n") == 1
