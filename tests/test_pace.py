"""The line's times: a pace measured from the latest jobs' epochs, the load taken out and put
back; a plan that follows the runners' rules (slots, short jobs passing long ones, jobs with the
same settings together)."""

from __future__ import annotations

import dataclasses

import pytest

from mnist_core.config import PRESETS
from mnist_core.jobs.line import NEXT, Status
from mnist_core.jobs.pace import LONG_SECONDS, Pace, Seen, plan, slowdown, unsubmitted
from mnist_core.training.budget import estimated_seconds, seconds_per_epoch

SEED, HIDDEN = PRESETS["seed"], PRESETS["hidden"]
BEST = PRESETS["best"].replace(styles=0.0, pen=0.0)  # long: about 15 min on the reference machine


def job(job_id: str, config=SEED, status=Status.WAITING, owner="link:x", **fields):
    return dataclasses.replace(unsubmitted(config, "seed", owner, 3600.0), id=job_id, status=status, **fields)


def test_the_pace_takes_the_load_out_of_recent_epochs_and_puts_todays_back():
    # a job that ran beside 2 threads of other work on 2 cores took twice the reference's epochs
    seen = Seen(SEED, [2 * seconds_per_epoch(SEED)] * 10, busy=2.0)
    pace = Pace.of([seen], busy=0.0, n_cores=2)
    assert pace.machine == pytest.approx(1.0) and "last 10 epochs (1 recent job)" in pace.basis
    assert pace.epoch(SEED) == pytest.approx(seconds_per_epoch(SEED))  # alone now: the reference
    loaded = Pace.of([seen], busy=4.0, n_cores=2)
    assert loaded.epoch(SEED) == pytest.approx(3 * seconds_per_epoch(SEED)) == pytest.approx(
        slowdown(4.0, 2.0, 2) * seconds_per_epoch(SEED))
    cold = Pace.of([], busy=0.0, n_cores=2)
    assert cold.machine == 1.0 and "no job has trained here lately" in cold.basis
    assert cold.seconds(SEED) == pytest.approx(cold.overhead + estimated_seconds(SEED))


def test_a_plan_runs_the_line_one_slot_at_a_time_and_jobs_with_the_same_settings_together():
    pace = Pace.of([], busy=0.0, n_cores=2)
    one = pace.seconds(SEED)
    line = [job("a"), job("b", config=SEED.replace(seed=2)), job("c"), job("d", config=HIDDEN)]
    times = plan(line, pace, slots=1, now=0.0, next_job=job(NEXT, config=SEED.replace(seed=2)))
    assert times["a"] == (0.0, pytest.approx(one)) and times["c"] == times["a"]  # the same settings: together
    assert times["b"] == (pytest.approx(one), pytest.approx(2 * one)) and times[NEXT] == times["b"]
    assert times["d"][0] == pytest.approx(2 * one)
    two = plan(line, pace, slots=2, now=0.0)
    assert two["a"][0] == two["b"][0] == 0.0 and two["b"][1] > one  # side by side: the second shares the cores


def test_short_jobs_pass_a_long_one_on_a_runner_with_two_slots():
    pace = Pace.of([], busy=0.0, n_cores=4)
    assert estimated_seconds(BEST) > LONG_SECONDS > estimated_seconds(SEED)
    running = job("long", config=BEST, status=Status.RUNNING, started=0.0, server="s")
    line = [running, job("long2", config=BEST.replace(seed=2), owner="link:y"), job("short", owner="link:z")]
    times = plan(line, pace, slots=2, now=10.0)
    assert times["short"][0] == 0.0  # the last free slot is a short job's
    assert times["long2"][0] == pytest.approx(times["long"][1])  # the long one waits for the long ahead
