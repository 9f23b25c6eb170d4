"""How fast this server trains now, and so how long a job takes and when each waiting one starts.

    meter = LoadMeter(runner.pids)            # the runner's: threads other work keeps runnable
    pace = measured(jobs, meter.demand())     # from the last epochs of the latest jobs, and the load now
    pace.seconds(config)                      # a job started now: setup, its epochs, saving
    plan(jobs.line(), pace, slots, jobs.now())   # job id -> seconds until it starts, and until it ends

The estimate starts from the reference figures of budget.py (an epoch's cost measured on the
project's machine, alone) and scales them by what this server shows now:
- its machine: how much slower than the reference its recent jobs' epochs ran, once the work
  that ran beside them is taken out (each job's progress carries its last epochs' times and the
  cores other work kept busy meanwhile: the runner's heartbeat writes both);
- its load: the threads other work keeps runnable now (LoadMeter), and the jobs that would train
  beside it. With `cores` cores, a job that keeps `need` threads busy beside `busy` others runs
  max(1, (busy + need) / cores) times slower, the kernel sharing the cores fairly;
- a job's time besides its epochs (starting, compiling, scoring and saving), as the latest jobs
  took it.
With no recent job it says so and uses the reference machine. A benchmark under load
(benchmarks/estimates.py) holds it to the truth: docs/figures.md#estimates.
"""

from __future__ import annotations

import math
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mnist_core.config import TrainConfig
from mnist_core.jobs.line import NEXT, JobQueue, QueuedJob, Status
from mnist_core.training.budget import estimated_seconds, seconds_per_epoch

RECENT_SECONDS = 86_400.0  # the jobs whose epochs tell the machine's speed (the load they met taken out)
RECENT_EPOCHS = 10  # of each job: its pace now, not its pace at the start
OVERHEAD_SECONDS = 3.0  # a job's time besides its epochs when no job has shown it yet: a started process (warm)
NEED_CORES = 2.0  # threads a training keeps busy (its loop and its scoring, or TensorFlow's pool)
LONG_SECONDS = 60.0  # a job longer than this (on the reference machine) is kept off a runner's last free slot
TOGETHER = 30  # jobs with the same settings trained as one at most


def training_slots() -> int:
    """Trainings at once that this machine's cores allow: each keeps NEED_CORES threads busy, so
    two at once on two cores only share them (docs/notes.md#the-line)."""
    return max(1, int(cores() // NEED_CORES))


def cores() -> int:
    """The cores this process may use (its affinity; a container's CPU quota, cgroup v2)."""
    n = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            n = min(n, max(1, round(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return n


class LoadMeter:
    """The threads other work keeps runnable on this machine (waiting for a core or on one),
    averaged over the last SPAN seconds: a thread of its own samples /proc/stat's procs_running
    twice a second, less itself and the runnable threads of the processes `ours()` names (the
    trainings here). Busy cores would say no more than "all of them" once the cores are full;
    the threads waiting say by how much a newcomer's share shrinks. In a container with fewer
    cores than its host it reads 0: the host's threads are not its own (the recent jobs' epochs
    then tell the load)."""

    SPAN, EVERY = 10.0, 0.5

    def __init__(self, ours: Callable[[], list[int]] = list) -> None:
        self.ours = ours
        self._value: float | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def demand(self) -> float:
        """Runnable threads of other work, averaged (0.0 until the first samples, or unknown)."""
        with self._lock:
            if self._thread is None and cores() == os.cpu_count():
                self._thread = threading.Thread(target=self._sample, name="load-meter", daemon=True)
                self._thread.start()
            return self._value or 0.0

    def _sample(self) -> None:
        weight = self.EVERY / self.SPAN
        while True:
            running = _procs_running()
            if running is not None:
                other = max(0.0, running - 1 - sum(map(_runnable_threads, self.ours())))
                with self._lock:
                    self._value = other if self._value is None else self._value + weight * (other - self._value)
            time.sleep(self.EVERY)


def _procs_running() -> int | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("procs_running "):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _runnable_threads(pid: int) -> int:
    """Threads of process `pid` on a core or waiting for one (0 when it is gone)."""
    found = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            found += stat.read_text().rsplit(")", 1)[1].split()[0] == "R"
        except (OSError, IndexError):
            continue
    return found


def slowdown(busy: float, need: float, n_cores: int) -> float:
    """How many times slower than alone a job that keeps `need` threads busy runs beside `busy`
    runnable threads of other work."""
    return max(1.0, (busy + need) / max(1, n_cores))


@dataclass(frozen=True)
class Seen:
    """What one recent job showed: its settings, its last epochs' times, the threads other work
    (other trainings too) kept runnable meanwhile, and its time besides its epochs (None while
    it trains)."""

    config: TrainConfig
    epoch_seconds: list[float]
    busy: float
    overhead: float | None = None


    @classmethod
    def of(cls, job: QueuedJob) -> Seen | None:
        """What a job's progress shows (runner.progress); None before its third epoch."""
        times = job.progress.get("seconds") or []
        if len(times) < 3:
            return None
        overhead = None
        if job.status in (Status.DONE, Status.STOPPED) and job.finished and job.started:
            overhead = max(0.0, job.finished - job.started - float(job.progress.get("fit") or 0.0))
        return cls(job.config, times, float(job.progress.get("busy") or 0.0), overhead)


@dataclass(frozen=True)
class Pace:
    machine: float  # an epoch here, alone, over the reference machine's (1.0: as fast)
    busy: float  # threads other work keeps runnable now (LoadMeter)
    n_cores: int
    overhead: float  # a job's seconds besides its epochs
    basis: str  # what it comes from, as a person reads it

    @classmethod
    def of(cls, seen: list[Seen], busy: float, n_cores: int) -> Pace:
        """The pace from the recent jobs' epochs (see the module's docstring)."""
        ratios = [statistics.median(s.epoch_seconds[-RECENT_EPOCHS:]) / seconds_per_epoch(s.config)
                  / slowdown(s.busy, NEED_CORES, n_cores) for s in seen if s.epoch_seconds]
        overheads = [s.overhead for s in seen if s.overhead is not None]
        overhead = statistics.median(overheads) if overheads else OVERHEAD_SECONDS
        if not ratios:
            return cls(1.0, busy, n_cores, overhead, "this project's measured fits (no job has trained here lately)")
        epochs = sum(min(len(s.epoch_seconds), RECENT_EPOCHS) for s in seen)
        jobs = f"{len(ratios)} recent job" + ("s" if len(ratios) > 1 else "")
        return cls(statistics.median(ratios), busy, n_cores, overhead,
                   f"this server's last {epochs} epochs ({jobs})" + (f", and {busy:.1f} threads of other work"
                                                                     if busy >= 0.3 else ""))

    def epoch(self, config: TrainConfig, beside: float = 0.0) -> float:
        """Seconds an epoch of `config` takes here now, with `beside` more cores wanted by jobs
        training at the same time."""
        return seconds_per_epoch(config) * self.machine * slowdown(self.busy + beside, NEED_CORES, self.n_cores)

    def seconds(self, config: TrainConfig, beside: float = 0.0, time_limit: float = math.inf) -> float:
        """A job of `config` started now, from its start to its saved run (its epochs held to
        `time_limit` seconds, as the runner holds them)."""
        load = slowdown(self.busy + beside, NEED_CORES, self.n_cores)
        return self.overhead * load + min(config.epochs * self.epoch(config, beside), time_limit)

    def left(self, job: QueuedJob, elapsed: float) -> float:
        """Seconds until a running job's run is saved: its epochs left at the pace of its last
        few, or, before its first epoch, what is left of the whole job."""
        times = job.progress.get("seconds") or []
        if not times:
            return max(0.5, self.seconds(job.config, time_limit=job.time_limit) - elapsed)
        per_epoch = statistics.median(times[-RECENT_EPOCHS:])
        epochs_left = min(job.config.epochs - job.epochs_done, max(0.0, job.time_limit - sum(times)) / per_epoch)
        return epochs_left * per_epoch + self.overhead / 2  # scoring and saving: about half a job's overhead


def measured(queue: JobQueue, busy: float | None = None, n_cores: int | None = None) -> Pace:
    """This server's pace now, from the latest jobs of the last RECENT_SECONDS; `busy`: the threads other
    work keeps runnable now where the jobs train (LoadMeter; None: as the running jobs'
    heartbeats last said)."""
    recent = queue.recent(RECENT_SECONDS)
    if busy is None:
        said = [float(j.progress.get("busy") or 0.0) for j in recent if j.status == Status.RUNNING and j.progress]
        busy = statistics.median(said) if said else 0.0
    return Pace.of([seen for seen in map(Seen.of, recent) if seen is not None], busy, n_cores or cores())


def unsubmitted(config: TrainConfig, preset: str, owner: str, time_limit: float) -> QueuedJob:
    """A job as it would wait if put in the line now (its id NEXT), for plan()."""
    return QueuedJob(NEXT, owner, preset, config, time_limit, Status.WAITING, created=0.0, started=None, finished=None,
                     heartbeat=None, server=None, stop_requested=False, epochs_done=0, run_id=None, message="",
                     attempts=0, runs_on="", progress={})


def is_long(config: TrainConfig, time_limit: float) -> bool:
    """A job a runner with two slots or more keeps off its last free one, so short jobs pass it
    (reference seconds: the same answer on every server)."""
    return min(estimated_seconds(config), time_limit) > LONG_SECONDS


def shared_key(job: QueuedJob) -> tuple | None:
    """What jobs trained together share (line.JobQueue.claim_together); None: trained alone."""
    return None if job.config.drawings else (job.preset, job.config, job.time_limit)


def plan(line: list[QueuedJob], pace: Pace, slots: int, now: float, next_job: QueuedJob | None = None,
         ) -> dict[str, tuple[float, float]]:
    """Job id -> (seconds until it starts, seconds until its run is saved), for the line as
    line.JobQueue.line() gives it, `slots` trainings at a time, the runners' rules followed:
    the oldest waiting job that fits first, a long one never on the last free slot, waiting jobs
    with the same settings trained together. `now`: the clock of the jobs' times (the
    database's); `next_job`: one not in the line yet (put in now: its id is NEXT)."""
    slots, found = max(1, slots), {}
    active: list[tuple[float, bool]] = []  # (when it ends, long) of each training
    trainings: dict[tuple, float] = {}  # running jobs trained together: one training
    for job in line:
        if job.status == Status.RUNNING:
            ends = pace.left(job, now - (job.started or now))
            found[job.id] = (0.0, ends)
            key = (job.server, job.started, shared_key(job))
            if key not in trainings:
                trainings[key] = ends
                active.append((ends, is_long(job.config, job.time_limit)))
    waiting = [j for j in line if j.status == Status.WAITING] + ([next_job] if next_job is not None else [])
    t = 0.0
    while waiting:
        active = [a for a in active if a[0] > t]
        longs = sum(long for _, long in active)
        kept = slots > 1 and longs >= slots - 1  # the last free slot is for a short job
        pick = next((j for j in waiting if not (kept and is_long(j.config, j.time_limit))), None) \
            if len(active) < slots else None
        if pick is None:
            t = min(end for end, _ in active)
            continue
        group = [j for j in waiting if shared_key(j) is not None and shared_key(j) == shared_key(pick)][:TOGETHER]
        group = group or [pick]
        ends = t + pace.seconds(pick.config, NEED_CORES * len(active), pick.time_limit)
        for j in group:
            found[j.id] = (t, ends)
        waiting = [j for j in waiting if j not in group]
        active.append((ends, is_long(pick.config, pick.time_limit)))
    return found
