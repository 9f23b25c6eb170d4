"""A job's budget on a shared server: estimated before it is queued, enforced by the clock."""

from __future__ import annotations

import os

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.config import PRESETS, TrainConfig
from mnist_core.jobs.line import Status
from mnist_core.jobs.process import TrainingJob
from mnist_core.store.database import Database
from mnist_core.store.runs import RunStore
from mnist_core.training.budget import Budget, BudgetError, estimated_seconds, parameters
from tests.helpers import APP, load_tiny_mnist
from tests.helpers import APP_TIMEOUT as TIMEOUT


@pytest.mark.parametrize("preset", list(PRESETS))
def test_parameters_are_the_models_own_count(preset):
    from mnist_core.training.model import build_model

    assert parameters(PRESETS[preset]) == build_model(PRESETS[preset]).count_params()


def test_estimates_follow_the_measured_ladder():
    # measured on the project's machine: seed 4.7 s, hidden 22 s, adam 41 s, best 1046 s (180 epochs of 87,000
    # images: MNIST's 48,000 with pen strokes and font styles beside them)
    for preset, measured in (("seed", 4.7), ("hidden", 22), ("adam", 41), ("best", 1046)):
        assert measured / 1.5 < estimated_seconds(PRESETS[preset]) < measured * 1.5
    twice = estimated_seconds(PRESETS["seed"].replace(epochs=400))
    assert twice == pytest.approx(2 * estimated_seconds(PRESETS["seed"]))


def test_over_budget_jobs_are_refused_with_what_would_fit():
    shared = Budget.for_deployment(shared=True)
    shared.check(PRESETS["best"].replace(epochs=100))  # 100 epochs of the showcase fit a shared server
    with pytest.raises(BudgetError, match=r"180 epochs would take about 16 min; this server allows 10 min a run: "
                                          r"at most 113 epochs of these settings fit"):
        shared.check(PRESETS["best"])
    with pytest.raises(BudgetError, match=r"10000 epochs would take about 14\.7 h; this server allows 10 min a run: "
                                          r"at most \d+ epochs of these settings fit"):
        shared.check(PRESETS["best"].replace(epochs=10_000))
    with pytest.raises(BudgetError, match="parameters is over this server's 3,000,000"):
        shared.check(TrainConfig(hidden=(4096, 4096), epochs=1))
    Budget.for_deployment(shared=False).check(PRESETS["best"].replace(epochs=10_000))  # local: a day
    assert Budget.for_deployment(True, {"seconds": 60}).seconds == 60


@pytest.mark.slow
def test_an_overrunning_job_is_stopped_and_saved(sqlite_url):
    config = TrainConfig(epochs=10_000, batch_size=100, learning_rate=0.5)
    job = TrainingJob(config, "seed", load_tiny_mnist, sqlite_url, time_limit=1.0)
    job.run()
    state = job.snapshot()
    assert state.outcome == Status.STOPPED and 1 <= state.epochs_done < 10_000
    assert "limit of 1 s" in state.note
    run = RunStore(Database.open(sqlite_url)).get(state.run_id)
    assert run.stopped and run.epochs_done == state.epochs_done


def test_the_train_page_refuses_a_job_over_the_deployers_budget():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["budget"] = {"seconds": 2, "max_parameters": 100_000}
    at.run()
    at.switch_page("app_pages/train.py").run()
    assert any("allows 2 s of training and 0.1 million parameters a run" in c.value for c in at.caption)
    at.button(key="train_start").click().run()
    assert "Too big for this server: 200 epochs would take about 5 s" in at.error[0].value
    from app_pages.common import job_queue

    assert job_queue().line() == []


def test_a_job_that_cannot_fit_in_memory_is_refused_with_what_would():
    from mnist_core.training.budget import estimated_peak_bytes

    shared = Budget.for_deployment(shared=True)
    best = PRESETS["best"].replace(epochs=100)
    shared.check(best, free_bytes=estimated_peak_bytes(best))  # just fits
    with pytest.raises(BudgetError, match=r"needs about 0\.9 GB of memory to train; this server has 0\.8 GB free: "
                                          r"networks of up to [\d,]+ parameters fit"):
        shared.check(best, free_bytes=850 * 2**20)
    mnist_alone = best.replace(pen=0.0, styles=0.0)  # the pools' images take memory too
    assert estimated_peak_bytes(best) - estimated_peak_bytes(mnist_alone) > 150 * 2**20
    with pytest.raises(BudgetError, match="no training fits now"):
        shared.check(PRESETS["seed"], free_bytes=100 * 2**20)


@pytest.mark.parametrize("free_mb, slowed", [(600, True), (4000, False)])
def test_the_train_page_says_when_memory_will_make_a_training_slow(monkeypatch, free_mb, slowed):
    """The seed fit in Cloud's smallest container fits, but TensorFlow's libraries do not fit beside it."""
    monkeypatch.setattr("mnist_core.limits.available_memory", lambda: free_mb * 2**20)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/train.py").run()
    assert any("memory is tight" in w.value for w in at.warning) == slowed
    Budget.for_deployment(shared=True).check(PRESETS["seed"], free_bytes=free_mb * 2**20)  # admitted either way


def test_slowed_by_memory_is_between_fitting_and_fitting_with_the_libraries():
    from mnist_core.training.budget import TENSORFLOW_FILE_BYTES, estimated_peak_bytes, slowed_by_memory

    peak = estimated_peak_bytes(PRESETS["seed"])
    assert not slowed_by_memory(PRESETS["seed"], peak - 1)  # does not fit: refused, not slowed
    assert slowed_by_memory(PRESETS["seed"], peak)
    assert slowed_by_memory(PRESETS["seed"], peak + TENSORFLOW_FILE_BYTES - 1)
    assert not slowed_by_memory(PRESETS["seed"], peak + TENSORFLOW_FILE_BYTES)


def test_tensorflow_starts_with_the_projects_settings_unless_told_otherwise(monkeypatch, tmp_path):
    import json

    from mnist_core.training import tensorflow_env

    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    for record, onednn in ((None, "0"), ({"machine": "another", "onednn": "1"}, "0"),  # measured elsewhere: off
                           ({"machine": tensorflow_env.machine(), "onednn": "1"}, "1")):  # measured here: as found
        if record is not None:
            (tmp_path / tensorflow_env.CHOICE_FILE).write_text(json.dumps(record))
        monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
        monkeypatch.delenv("TF_XLA_FLAGS", raising=False)
        tensorflow_env.prepare()
        assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == onednn and os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"
        assert os.environ["TF_XLA_FLAGS"] == f"--tf_xla_persistent_cache_directory={tmp_path / 'xla'}"


def test_the_train_page_checks_the_memory_the_container_has(monkeypatch):
    monkeypatch.setattr("mnist_core.limits.available_memory", lambda: 600 * 2**20)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/train.py").run()
    at.selectbox(key="train_preset").set_value("best").run()
    at.button(key="train_start").click().run()
    assert "Too big for this server: this network needs about 0.9 GB of memory" in at.error[0].value


@pytest.mark.parametrize("layout", ["v2", "v2 root", "v1", "v1 root", "none"])
def test_the_containers_memory_is_read_from_cgroup_v2_and_v1(tmp_path, layout):
    from mnist_core.limits import container_memory

    own = tmp_path / "self-cgroup"
    own.write_text({"v2": "0::/app.slice/streamlit", "v2 root": "0::/",
                    "v1": "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc", "v1 root": "4:memory:/docker/abc",
                    "none": "0::/"}[layout])
    root = tmp_path / "cgroup"
    folder = {"v2": root / "app.slice" / "streamlit", "v2 root": root, "v1": root / "memory" / "docker" / "abc",
              "v1 root": root / "memory", "none": root}[layout]
    folder.mkdir(parents=True, exist_ok=True)
    if layout.startswith("v2"):  # 250 MB counted, 50 MB of it file cache the kernel would drop first
        (folder / "memory.max").write_text(f"{690 * 2**20}\n")
        (folder / "memory.current").write_text(f"{250 * 2**20}\n")
        (folder / "memory.stat").write_text(f"anon 1\ninactive_file {50 * 2**20}\nactive_file 2\n")
    elif layout.startswith("v1"):
        (folder / "memory.limit_in_bytes").write_text(f"{690 * 2**20}\n")
        (folder / "memory.usage_in_bytes").write_text(f"{250 * 2**20}\n")
        (folder / "memory.stat").write_text(f"cache 3\ntotal_inactive_file {50 * 2**20}\n")
    else:  # v2 with no limit, and v1's way of saying none
        (folder / "memory.max").write_text("max\n")
        (folder / "memory.current").write_text("123\n")
        (root / "memory").mkdir()
        (root / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
        (root / "memory" / "memory.usage_in_bytes").write_text("123\n")
    expected = None if layout == "none" else (690 * 2**20, 200 * 2**20)
    assert container_memory(root, own) == expected
