"""The command line, run as users run it: a subprocess, checked for one-line errors."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.helpers import ROOT, drawn_one, subprocess_env, wait_until


def cli(*args: str, env_extra: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mnist_core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=subprocess_env(**(env_extra or {})))


def a_one(path, ink="black", paper="white"):
    """A "1" drawn on paper, saved as a PNG file."""
    drawn_one(200, ink=ink, paper=paper, mode="L", width=20).save(path)
    return path


@pytest.mark.parametrize("command", [[], ["train"], ["evaluate"], ["predict"], ["data"], ["runs"], ["export"],
                                     ["drawings"], ["drawings", "export"], ["drawings", "delete"], ["scoreboard"]])
def test_help(command):
    out = cli(*command, "--help")
    assert out.returncode == 0 and out.stdout.startswith(" ".join(["usage: python -m mnist_core", *command, "[-h]"]))


def test_the_docstring_names_every_command():
    import argparse

    from mnist_core import cli as module

    named = re.search(r"\{([a-z,]+)\}", module.__doc__).group(1).split(",")
    commands = next(a for a in module._parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert named == list(commands)


def test_predict_answers_each_file_and_reports_errors(tmp_path):
    one = a_one(tmp_path / "one.png")
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
    assert out.stderr == ""  # --json: every answer, errors too, on stdout
    assert lines[0]["digit"] == 1 and abs(sum(lines[0]["probabilities"]) - 1) < 1e-3
    assert set(lines[0]) == {"file", "digit", "confidence", "probabilities", "not_a_digit"}  # POST /predict's shape
    assert lines[1] == {"file": str(blank), "digit": None, "probabilities": None}
    assert lines[2] == {"file": str(bad),
                        "error": "not an image in a supported format (PNG, JPEG, GIF, BMP, WebP, TIFF)"}
    assert lines[3] == {"file": str(tmp_path / "missing.png"), "error": "No such file or directory"}
    assert lines[4] == {"file": str(dot), "error": "a single dot, not a digit: draw the whole digit"}


@pytest.mark.slow
def test_bad_model_and_bad_settings_are_one_line_errors(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"junk")
    out = cli("evaluate", str(junk))
    assert out.returncode == 1 and out.stdout == ""
    assert re.fullmatch(r"error: junk\.h5: cannot be read as a dense Keras model \(.+\)\n", out.stderr), out.stderr
    out = cli("train", "--epochs", "0")
    assert out.returncode == 1 and out.stderr == "error: epochs must be between 1 and 10000\n"
    out = cli("train", "--data", str(tmp_path / "nothing.npz"))
    assert out.returncode == 1
    assert out.stderr == f"error: {tmp_path / 'nothing.npz'} is neither an mnist.npz file nor a folder of IDX files\n"


def test_seed_images_read_as_three(seed):
    out = cli("predict", str(seed.thick_three), str(seed.mnist_three), "--json")
    assert out.returncode == 0
    assert [json.loads(line)["digit"] for line in out.stdout.splitlines()] == [3, 3]


@pytest.mark.mnist
def test_evaluate_the_seeds_keras2_model(seed):
    out = cli("evaluate", str(seed.keras2_model), "--json")
    assert out.returncode == 0
    assert json.loads(out.stdout.splitlines()[-1])["test_accuracy"] == pytest.approx(seed.model_accuracy, abs=1e-4)


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


@pytest.mark.slow
def test_runs_export_evaluate_and_predict_by_run_name(tmp_path, tiny_mnist):
    from mnist_core.config import TrainConfig
    from mnist_core.store.database import Database, database_url
    from mnist_core.store.runs import RunStore
    from mnist_core.training.loop import train

    store = RunStore(Database.open(database_url()))  # where the CLI looks: the test's data folder
    run = store.save(train(TrainConfig(epochs=2, batch_size=100, learning_rate=0.5), tiny_mnist), name="tiny one")
    listed = cli("runs")
    assert listed.returncode == 0
    assert listed.stdout == f"{run.id}  {run.test_accuracy:>7.2%}  {2:>5} ep  tiny one\n"
    out = cli("export", "tiny one", str(tmp_path / "out"))
    assert out.returncode == 0 and sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "mnist_dense_model.h5", "model.keras", "run.json"]
    assert out.stdout.splitlines() == [str(tmp_path / "out" / name)
                                       for name in ("model.keras", "mnist_dense_model.h5", "run.json")]
    one = a_one(tmp_path / "one.png", ink="white", paper="black")
    out = cli("predict", str(one), "--model", run.id, "--json")
    from mnist_core.preprocessing import preprocess
    from mnist_core.reading.classifier import load_classifier
    from mnist_core.reading.image_file import read_image

    x28 = preprocess(read_image(one.read_bytes()))
    expected = load_classifier(store.model_path(run.id)).judge(x28).probabilities[0]
    answer = json.loads(out.stdout)
    assert out.returncode == 0 and answer["file"] == str(one) and answer["digit"] == int(expected.argmax())
    np.testing.assert_allclose(answer["probabilities"], expected, atol=2e-6)  # rounded to 6 places
    for args in (["export", "no such run", str(tmp_path)], ["evaluate", "no such run"],
                 ["predict", str(one), "--model", "missing-run"]):
        out = cli(*args)
        assert out.returncode == 1 and re.fullmatch(r"error: no run has the id or name '[a-z -]+' .*\n", out.stderr)
    for fmt, name in (("keras", "model.keras"), ("h5", "mnist_dense_model.h5")):
        out = cli("export", run.id, str(tmp_path / fmt), "--format", fmt)
        assert out.returncode == 0 and [p.name for p in (tmp_path / fmt).iterdir()] == [name]
    out = cli("export", "tiny one", str(tmp_path / "serving" / "1"), "--format", "saved_model")
    assert out.returncode == 0 and out.stdout == f"{tmp_path / 'serving' / '1'}\n", out.stderr
    import tensorflow as tf

    from mnist_core.reading.classifier import load_classifier

    x = tiny_mnist.x_test[:100].astype(np.float32) / 255.0
    served = tf.saved_model.load(str(tmp_path / "serving" / "1")).signatures["serving_default"](images=x)
    expected = load_classifier(tmp_path / "keras" / "model.keras").predict_proba(x)
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)
    out = cli("runs", "--database", "postgresql://ann:s3cret@127.0.0.1:1/runs")
    assert out.returncode == 1 and "s3cret" not in out.stderr and "cannot open" in out.stderr


@pytest.mark.slow
def test_export_of_a_shipped_model_says_where_its_file_is_or_writes_a_saved_model(tmp_path):
    out = cli("export", "default", str(tmp_path / "out"))
    assert out.returncode == 1 and not (tmp_path / "out").exists()
    assert out.stderr == ("error: default is a shipped model: its file is models/default.keras; use --format "
                          "saved_model to export it for TensorFlow Serving\n")
    out = cli("export", "default", str(tmp_path / "serving"), "--format", "saved_model")
    assert out.returncode == 0 and out.stdout == f"{tmp_path / 'serving'}\n", out.stderr
    assert (tmp_path / "serving" / "saved_model.pb").is_file()


def test_ctrl_c_exits_with_130_and_one_line(tmp_path):
    """Interrupted while it waits for input (here: an image from a pipe that nobody writes yet),
    the command says so in one line and exits as shells expect of Ctrl-C: 128 + SIGINT.
    The command starts as a terminal's foreground job does, with SIGINT at its default: a runner
    that starts the suite in the background (CI does) hands down SIGINT ignored, and Python then
    leaves it ignored, as it should for a background job."""
    fifo = tmp_path / "drawing.png"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-m", "mnist_core", "predict", str(fifo)], cwd=ROOT, text=True,
                            env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    writer = None
    try:
        def opened() -> bool:  # the command has the pipe open: it is past its start-up
            nonlocal writer
            try:
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: nobody reads yet
                return proc.poll() is not None
            return True

        def blocked_reading() -> bool:
            """Asleep in the pipe's read (the kernel's pipe_read or anon_pipe_read): a signal that
            came between open() and read() would wait, unseen, for the read to return."""
            return proc.poll() is not None or "pipe_read" in Path(f"/proc/{proc.pid}/wchan").read_text()

        wait_until(opened, 120, "the command to open the image")
        wait_until(blocked_reading, 30, "the command to wait for the image's bytes")
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if writer is not None:
            os.close(writer)
        proc.kill()
    assert proc.returncode == 130 and stdout == "" and stderr == "error: interrupted\n"


@pytest.mark.slow
def test_core_never_imports_streamlit():
    code = ("import importlib, pkgutil, sys, mnist_core\n"  # every module of the package, whatever it is called
            "for m in pkgutil.walk_packages(mnist_core.__path__, 'mnist_core.'):\n"
            "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_drawings_are_labelled_listed_exported_imported_scored_and_deleted(tmp_path):
    env = {"MNIST_DATA_DIR": str(tmp_path / "data")}
    one = a_one(tmp_path / "one.png")
    out = cli("drawings", "add", str(one), "--label", "7", env_extra=env)
    added = re.fullmatch(rf"(\S+)  {re.escape(str(one))}: labelled 7, the model read 1 \(\d+\.\d%\)\n", out.stdout)
    assert out.returncode == 0 and added, out.stdout
    out = cli("drawings", "add", str(one), "--label", "seven", env_extra=env)
    assert out.returncode == 1 and out.stderr == "error: a label is one digit from 0 to 9, not 'seven'\n"
    out = cli("drawings", "export", str(tmp_path / "out"), env_extra=env)
    assert out.returncode == 0 and sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "drawings-images-idx3-ubyte.gz", "drawings-labels-idx1-ubyte.gz", "drawings-png.zip", "drawings.npz"]
    assert out.stderr == "1 drawings\n"
    out = cli("drawings", "import", str(tmp_path / "out" / "drawings-images-idx3-ubyte.gz"),
              str(tmp_path / "out" / "drawings-labels-idx1-ubyte.gz"), env_extra=env)
    assert out.returncode == 0 and out.stdout == "imported 1 drawings\n"
    broken = tmp_path / "broken.npz"
    broken.write_bytes((tmp_path / "out" / "drawings.npz").read_bytes()[:100])
    out = cli("drawings", "import", str(broken), env_extra=env)
    assert out.returncode == 1 and re.fullmatch(r"error: broken\.npz: .+\n", out.stderr)
    listed = json.loads(cli("drawings", "list", "--json", env_extra=env).stdout)
    assert listed == {"total": 2, "per_digit": [0] * 7 + [2, 0, 0], "people": {"the operator": 2}}
    board = [json.loads(line) for line in cli("scoreboard", "--json", env_extra=env).stdout.splitlines()]
    assert {r["model"] for r in board} == {"default", "seed"} and all(r["n"] == 2 for r in board)
    assert all(r["refused"] in (0.0, 0.5, 1.0) for r in board)  # of the two, called not a digit
    drawing_id = added.group(1)
    out = cli("drawings", "delete", drawing_id, env_extra=env)
    assert out.returncode == 0 and out.stdout == f"deleted {drawing_id}\n"
    out = cli("drawings", "delete", drawing_id, env_extra=env)
    assert out.returncode == 1
    assert out.stderr == f"error: no drawing has the id {drawing_id!r}: it was deleted, or never kept\n"


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


def test_predict_explain_writes_the_pictures_beside_the_image(tmp_path):
    seven = tmp_path / "seven.png"
    png = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(png).line([(50, 60), (220, 60), (160, 150), (110, 250)], fill=255, width=20)
    png.save(seven)
    out = cli("predict", str(seven), "--explain")
    assert out.returncode == 0 and re.fullmatch(rf"{re.escape(str(seven))}: 7 \(\d+\.\d%\)\n", out.stdout)
    why, units = tmp_path / "seven.why.png", tmp_path / "seven.units.png"
    assert out.stderr == f"{why}\n{units}\n"
    assert Image.open(why).size == (196, 196) and Image.open(units).size == (8 * 84, 84)
    assert np.asarray(Image.open(why))[..., 0].max() == 255  # red: ink that made it a 7


def test_the_operator_queues_a_sweep_within_the_lines_limits(tmp_path):
    url = f"sqlite:///{tmp_path / 'line.db'}"
    out = cli("train", "--queue", "--json", "--database", url, "--epochs", "3", "--sweep", "learning-rate", "0.01",
              "0.1", "--sweep", "hidden", "none", "32,32")
    queued = [json.loads(line) for line in out.stdout.splitlines()]
    assert out.returncode == 0 and len(queued) == 4, out.stderr
    listed = cli("jobs", "--json", "--database", url)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["job"] for r in rows] == [q["job"] for q in queued] and {r["status"] for r in rows} == {"waiting"}
    again = cli("train", "--queue", "--database", url, "--sweep", "seed", "1", "2")
    assert again.returncode == 0 and len(again.stdout.split()) == 2  # the operator may have several waiting
    wrong = cli("train", "--database", url, "--sweep", "seed", "1", "2")
    assert wrong.returncode == 1 and wrong.stderr.strip() == "error: --sweep queues its jobs: add --queue"
    unknown = cli("train", "--queue", "--database", url, "--sweep", "colour", "red")
    assert unknown.returncode == 1 and "not a setting" in unknown.stderr and "Traceback" not in unknown.stderr
