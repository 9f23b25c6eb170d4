"""How true the Train page's times are under load: another program keeps both cores busy while
three visitors start jobs a few seconds apart; each one's "done in about" (the plan box's, at
Start) is set beside when its run was really saved, for this code and for the constant estimate
it replaced, measured on the same jobs.

    python benchmarks/estimates.py [--load 2] [--rounds 2] [--slots N]

The server is this process, as an app server is: a runner (jobs.runner.Runner, a training
process started ahead) and the page's reading of the pace (jobs.pace: the threads other work
keeps runnable, the recent jobs' epochs); the rounds follow one another on it, so the first
starts with no job trained and the later ones know the earlier ones' pace. The jobs: the seed
fit, the book's two hidden layers (200 epochs), and the seed fit again with another random seed
(it waits); the load: `--load` processes spinning. Before: the estimate the page gave until now
(budget.estimated_seconds, the jobs ahead counted one at a time by the same figures). Prints
each job's estimate and truth and their ratio; the aim is within 30%.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_core.config import PRESETS  # noqa: E402
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.jobs.line import NEXT, JobQueue, QueuedJob, Status  # noqa: E402
from mnist_core.jobs.pace import cores, measured, plan, training_slots, unsubmitted  # noqa: E402
from mnist_core.jobs.runner import Runner  # noqa: E402
from mnist_core.owners import Actor  # noqa: E402
from mnist_core.store.database import Database  # noqa: E402
from mnist_core.training.budget import Budget, estimated_seconds  # noqa: E402

JOBS = [("seed", PRESETS["seed"]), ("hidden", PRESETS["hidden"]), ("seed", PRESETS["seed"].replace(seed=7))]
SPIN = "while True: pass"


def before(line: list[QueuedJob], now: float, config) -> float:
    """The constant estimate the page showed until now: the jobs ahead one at a time, each its
    reference seconds (the running ones less what they have trained), then this job's."""
    ahead = sum(max(0.0, estimated_seconds(j.config) - (now - (j.started or now))) for j in line
                if j.status == Status.RUNNING)
    ahead += sum(estimated_seconds(j.config) for j in line if j.status == Status.WAITING)
    return ahead + estimated_seconds(config)


def rounds(count: int, load: int, slots: int, gap: float) -> list[list[dict]]:
    """`count` rounds of three visitors on one server (the later rounds know the earlier jobs' pace)."""
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(load)]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/line.db"
            queue = JobQueue(Database.open(url))
            runner = Runner(url, load_mnist, slots=slots, spare=True)
            runner.wake()  # a server that has been up: its process started ahead is ready, its load read
            runner.meter.demand()
            time.sleep(15)
            return [one_round(queue, runner, slots, gap, r) for r in range(count)]
    finally:
        for spinner in spinners:
            spinner.kill()


def one_round(queue: JobQueue, runner: Runner, slots: int, gap: float, r: int) -> list[dict]:
    found = []
    for i, (preset, config) in enumerate(JOBS):
        line, now = queue.line(), queue.now()
        pace = measured(queue, runner.meter.demand())
        owner = f"link:visitor-{r}-{i}"
        estimate = plan(line, pace, slots, now, unsubmitted(config, preset, owner, Budget().seconds))[NEXT][1]
        submitted = queue.submit(config, preset, Actor(owner), Budget())
        runner.wake()
        found.append({"job": submitted.id, "preset": preset, "after": estimate, "basis": pace.basis,
                      "before": before(line, now, config)})
        time.sleep(gap)
    runner.join(1200)
    for row in found:
        job = queue.get(row["job"])
        row["truth"] = job.finished - job.created
        row["status"] = str(job.status)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", type=int, default=2, help="processes spinning beside the server (default: 2)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--slots", type=int, default=training_slots(),
                        help="trainings at once (default: as the app's, pace.training_slots)")
    parser.add_argument("--gap", type=float, default=4.0, help="seconds between the visitors' Starts")
    args = parser.parse_args()
    errors = {"before": [], "after": []}
    print(f"{args.load} processes spinning on {cores()} cores; {args.slots} trainings at once")
    for r, found in enumerate(rounds(args.rounds, args.load, args.slots, args.gap)):
        for row in found:
            for kind in errors:
                errors[kind].append(row[kind] / row["truth"])
            print(f"round {r + 1}: {row['preset']:<6} saved after {row['truth']:6.1f} s ({row['status']}); said "
                  f"{row['after']:6.1f} s ({row['after'] / row['truth']:.2f}x), before {row['before']:6.1f} s "
                  f"({row['before'] / row['truth']:.2f}x); from {row['basis']}")
    for kind, ratios in errors.items():
        worst = max(ratios, key=lambda x: abs(x - 1))
        within = sum(abs(x - 1) <= 0.3 for x in ratios)
        print(f"{kind}: estimate / truth {min(ratios):.2f}-{max(ratios):.2f}x, within 30%: {within} of {len(ratios)} "
              f"(worst {worst:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
