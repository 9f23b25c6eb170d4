"""Workers drain the line: ten seed fits queued, trained by one worker and then by two, each
worker pinned to a core of its own (taskset); an app server (`[training] on = "workers"`) answers
beside them.

    python benchmarks/workers.py [--jobs 10] [--epochs 200] [--database postgresql://...]

Prints, for one worker and for two: the line's time (first job queued to last job done), the
jobs' own training times, and the CPU seconds the app server used meanwhile (it trains nothing:
its share is the page and the line's queries). SQLite in a temporary folder by default; a
Postgres URL makes it the shared set-up of docs/deploying.md. Bounded: each round stops after
--timeout seconds.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.app_server import app_server, cpu_seconds  # noqa: E402
from mnist_core.config import PRESETS  # noqa: E402
from mnist_core.jobs.line import WAITING_OR_RUNNING, JobQueue, Status  # noqa: E402
from mnist_core.owners import Actor  # noqa: E402
from mnist_core.store.database import Database  # noqa: E402
from mnist_core.training.budget import Budget  # noqa: E402


def round_of(url: str, workers: int, jobs: int, epochs: int, timeout: float, server: str) -> dict:
    """One round: `jobs` seed fits queued, `workers` workers started; `server` matches the app
    server's command line (its port)."""
    queue = JobQueue(Database.open(url))
    config = PRESETS["seed"].replace(epochs=epochs)
    ids = [queue.submit(config, "seed", Actor(f"user:pupil{i}@school.org"), Budget()).id for i in range(jobs)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    server_cpu = cpu_seconds(server)  # the app server and nothing else (it trains nothing)
    start = time.perf_counter()
    procs = [subprocess.Popen(["taskset", "-c", str(core), sys.executable, "-m", "mnist_core", "worker",
                               "--database", url, "--name", f"core {core}"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for core in range(workers)]
    try:
        while any(queue.get(i).status in WAITING_OR_RUNNING for i in ids):
            if time.perf_counter() - start > timeout:
                raise SystemExit(f"timed out after {timeout:.0f} s")
            time.sleep(0.5)
        line_s = time.perf_counter() - start
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait(60)
    done = [queue.get(i) for i in ids]
    return {"line_s": line_s, "ok": sum(j.status == Status.DONE for j in done),
            "mean_job_s": sum(j.finished - j.started for j in done) / len(done),
            "server_cpu_s": cpu_seconds(server) - server_cpu}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--database", help="a Postgres URL (default: SQLite in a temporary folder)")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{tmp}/mnist.db"
        with app_server(Path(tmp), database_url=url, secrets={"training": {"on": "workers"}}) as (app, _, _):
            for workers in (1, 2):
                results[workers] = round_of(url, workers, args.jobs, args.epochs, args.timeout,
                                            f"--server.port {app.rsplit(':', 1)[1]}")
    print(f"{args.jobs} seed fits of {args.epochs} epochs, drained by workers pinned to a core each:")
    print("| workers | line's time | a job, mean | done | app server CPU meanwhile |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for workers, r in results.items():
        print(f"| {workers} | {r['line_s']:.1f} s | {r['mean_job_s']:.1f} s | {r['ok']}/{args.jobs} "
              f"| {r['server_cpu_s']:.1f} s |")
    print(f"two workers: the line {results[1]['line_s'] / results[2]['line_s']:.2f}x faster")
    return 0 if all(r["ok"] == args.jobs for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
