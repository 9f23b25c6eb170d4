"""Workers on other machines drain the class's line, through a real Postgres: each job trained
exactly once and owned by its starter, a worker killed mid-job replaced by another, Stop pressed
on a page reaching a worker's job, and a worker's curves shown by any app server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mnist_core.config import TrainConfig
from mnist_core.jobs.line import JobQueue, Status
from mnist_core.owners import Actor, Keys
from mnist_core.store.database import Database
from mnist_core.store.runs import RunStore
from mnist_core.training.budget import Budget
from tests.apptest import page_bytes

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "navigation.py")
LEASE = 4.0  # seconds: a silent worker's jobs go back to the line this soon (20 s in the app)
WORKER = """
import signal, sys, threading
from mnist_core.jobs.runner import Runner
from tests import helpers
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
load = getattr(helpers, sys.argv[4])
Runner(sys.argv[1], load, runs_on=sys.argv[2], lease=float(sys.argv[3])).serve(stop, poll=0.3)
"""
QUICK = TrainConfig(epochs=4, batch_size=100, learning_rate=0.5)


@pytest.fixture
def url(postgres_admin_url) -> str:
    from tests.postgres import create_database

    return create_database(postgres_admin_url, f"workers_{os.getpid()}_{time.monotonic_ns()}")


def start_worker(url: str, name: str, loader: str = "load_tiny_mnist") -> subprocess.Popen:
    """A worker process training with `loader` (a function of tests/helpers.py)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-c", WORKER, url, name, str(LEASE), loader], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_workers(*workers: subprocess.Popen) -> None:
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    for w in workers:
        try:
            w.wait(60)
        except subprocess.TimeoutExpired:
            w.kill()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def test_two_workers_train_six_jobs_of_three_owners_exactly_once(url):
    queue = JobQueue(Database.open(url))
    owners = [Actor(f"user:{name}@school.org") for name in ("ann", "bob", "cat")]
    workers = [start_worker(url, f"lab-{i}, CPU") for i in (1, 2)]
    try:
        submitted = [queue.submit(QUICK, "seed", who, Budget()) for who in owners]
        # one waiting job a person: each queues a second once the first has started
        wait_for(lambda: all(queue.get(j.id).status != Status.WAITING for j in submitted), 120, "the first to start")
        submitted += [queue.submit(QUICK.replace(epochs=3), "seed", who, Budget()) for who in owners]
        wait_for(lambda: not queue.line(), 240, "the line to empty")
    finally:
        stop_workers(*workers)
    jobs = [queue.get(j.id) for j in submitted]
    assert [j.status for j in jobs] == [Status.DONE] * 6, [(j.status, j.message) for j in jobs]
    assert all(j.attempts == 1 for j in jobs) and {j.runs_on for j in jobs} <= {"lab-1, CPU", "lab-2, CPU"}
    runs = {r.id: r for r in RunStore(queue.db).list()}
    assert len(runs) == 6 and sorted(j.run_id for j in jobs) == sorted(runs)  # each trained once, each saved once
    assert all(runs[j.run_id].owner == j.owner and runs[j.run_id].epochs_done == j.config.epochs for j in jobs)


def test_a_worker_killed_mid_job_is_replaced_and_stop_on_a_page_reaches_a_worker(url, monkeypatch):
    db = Database.open(url)
    queue, keys = JobQueue(db), Keys.of(db)
    link = keys.new_link()
    ann = Actor(keys.owner_of(link))
    first = start_worker(url, "lab-1, CPU", loader="load_never")  # its job never gets past loading data
    second = None
    try:
        job = queue.submit(TrainConfig(epochs=40, batch_size=100, learning_rate=0.5), "seed", ann, Budget())
        wait_for(lambda: queue.get(job.id).status == Status.RUNNING and queue.get(job.id).heartbeat
                 > queue.get(job.id).started + 1, 120, "lab-1 to hold the job")
        first.send_signal(signal.SIGKILL)  # a power cut: no goodbye, its training process orphaned
        first.wait(10)
        second = start_worker(url, "lab-2, GPU")
        wait_for(lambda: queue.get(job.id).status != Status.RUNNING or queue.get(job.id).runs_on == "lab-2, GPU",
                 60, "the job to go back to the line and to lab-2")
        wait_for(lambda: queue.get(job.id).status != Status.RUNNING, 240, "lab-2 to finish the job")
        done = queue.get(job.id)
        assert done.status == Status.DONE and done.attempts == 2 and done.runs_on == "lab-2, GPU", done
        runs = RunStore(db).list()
        (run,) = runs  # lab-1 saved nothing: the job is trained once, whole
        assert run.id == done.run_id and run.owner == ann.owner and run.epochs_done == 40

        # Ann watches her next job from an app server that trains nothing; she presses Stop there
        monkeypatch.setenv("MNIST_DATABASE_URL", url)
        st.cache_resource.clear()
        st.cache_data.clear()
        long = queue.submit(TrainConfig(epochs=5000, batch_size=100, learning_rate=0.5), "seed", ann, Budget())
        wait_for(lambda: queue.get(long.id).epochs_done >= 3, 120, "lab-2 to train three epochs")
        at = AppTest.from_file(APP, default_timeout=120)
        at.secrets["training"] = {"on": "workers"}
        at.query_params["me"] = link
        at.run()
        at.switch_page("app_pages/train.py").run()
        assert not at.exception and "on lab-2, GPU" in " ".join(str(p.proto) for p in at.get("progress"))
        charts = page_bytes(at)  # a worker's curves, from the database
        assert b'"text": "Loss, by epoch"' in charts and b'"text": "Accuracy, by epoch"' in charts
        assert b'"validation"' in charts
        at.button(key="train_stop").click().run()
        asked = time.monotonic()
        wait_for(lambda: queue.get(long.id).status != Status.RUNNING, 30, "the worker to stop the job")
        stopped = queue.get(long.id)
        assert stopped.status == Status.STOPPED and time.monotonic() - asked < 5
        assert RunStore(db).get(stopped.run_id).stopped and stopped.epochs_done < 5000
    finally:
        stop_workers(first, *([second] if second else []))


def test_servers_starting_together_agree_on_one_identity_secret(url):
    """Eight app servers start at once on a fresh Postgres: each opens the database and makes
    or reads the deployment's secret; none fails, and all sign and name alike."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    together = threading.Barrier(8)

    def start_server(_: int) -> str:
        db = Database.open(url)
        together.wait(30)
        return Keys.of(db).pseudonym("link:ann")

    with ThreadPoolExecutor(8) as servers:
        names = list(servers.map(start_server, range(8)))
    assert len(set(names)) == 1
