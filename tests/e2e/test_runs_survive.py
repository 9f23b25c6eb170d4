"""Runs survive an app restart, on SQLite and on a real Postgres: one trained from the Train
page, one from the command line and one imported from an old `runs/` folder, all listed by a
freshly started app server (a Community Cloud reboot: the process is new, the database is not)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from benchmarks.app_server import app_server
from mnist_core.config import TrainConfig
from mnist_core.store.runs import H5_FILE, MODEL_FILE
from tests.e2e.pages import open_selectbox
from tests.helpers import ROOT, load_tiny_mnist, subprocess_env

pytestmark = [pytest.mark.browser, pytest.mark.mnist]


def old_run_folder(runs_dir) -> None:
    """A run folder as the app saved them before the database."""
    from mnist_core.training.loop import train

    config = TrainConfig(epochs=1, batch_size=100)
    result = train(config, load_tiny_mnist())
    folder = runs_dir / "20261101-090000-seed"
    folder.mkdir(parents=True)
    result.model.save(folder / MODEL_FILE)
    result.model.save(folder / H5_FILE)
    (folder / "run.json").write_text(json.dumps({
        "name": "from the old folder", "preset": "seed", "config": config.to_dict(), "history": result.history,
        "epochs_done": 1, "stopped": False, "val_accuracy": 0.9, "test_accuracy": 0.9, "test_loss": 0.3,
        "fit_seconds": 0.5, "created": "2026-11-01T09:00:00+00:00"}))


def run_names_on_the_runs_page(page, url: str) -> list[str]:
    page.goto(f"{url}/runs")
    page.get_by_text("Compare validation accuracy").wait_for()
    options = open_selectbox(page, "Run")
    names = options.all_inner_texts()
    page.keyboard.press("Escape")
    return names


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@pytest.mark.timeout(600)  # two app servers, a training from the page and one from the CLI
def test_runs_from_the_page_the_cli_and_old_folders_survive_a_restart(kind, page, tmp_path, request):
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'mnist.db'}"
    if kind == "postgres":
        from tests.postgres import create_database

        url = create_database(request.getfixturevalue("postgres_admin_url"), "survive")
    old_run_folder(data / "runs")
    with app_server(data, url) as (app, _, _):
        page.goto(f"{app}/train")
        epochs = page.get_by_role("spinbutton", name="Epochs")
        epochs.fill("3")
        epochs.press("Tab")
        page.get_by_role("button", name="Start training").click()
        page.get_by_text("Finished after 3 epochs").wait_for(timeout=120_000)
    env = subprocess_env(MNIST_DATABASE_URL=url, MNIST_DATA_DIR=str(data))
    cli = subprocess.run([sys.executable, "-m", "mnist_core", "train", "--epochs", "2", "--json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr[-1000:]
    cli_run = json.loads(cli.stdout.splitlines()[-1])["name"]
    with app_server(data, url) as (app, _, _):  # a new process: nothing of the first one's memory
        names = run_names_on_the_runs_page(page, app)
    assert len(names) == 3, names
    assert any(n == "the operator's from the old folder" for n in names), names
    assert f"the operator's {cli_run}" in names  # the CLI's
    assert sum(re.fullmatch(r"[a-z]+-[a-z]+'s seed #1", n) is not None for n in names) == 1  # the page's
