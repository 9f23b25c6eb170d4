"""Where the suite's time goes: each test's worker, start and end, then each module's span.

    SUITE_TIMELINE=/tmp/tl PYTEST_ADDOPTS="-p benchmarks.suite_timeline" make test   # record
    python benchmarks/suite_timeline.py /tmp/tl                                        # report

As a pytest plugin (`-p benchmarks.suite_timeline`) it appends one line a test to
`$SUITE_TIMELINE/<worker>.tsv` (xdist's gw0, gw1..., and "main"). Run as a script, it prints for
each worker when its modules started and ended, in seconds from its start, the modules over
`--over` seconds, and how long the worker was busy: the figures in docs/figures.md#tests.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def _record(kind: str, nodeid: str, mode: str = "a") -> None:
    folder = Path(os.environ.get("SUITE_TIMELINE") or "/tmp/suite-timeline")
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.tsv", mode) as f:
        f.write(f"{kind}\t{time.time():.2f}\t{nodeid}\n")


def pytest_sessionstart(session) -> None:
    _record("session", "-", "w")  # a run's file starts afresh


def pytest_runtest_logstart(nodeid, location) -> None:
    _record("start", nodeid)


def pytest_runtest_logfinish(nodeid, location) -> None:
    _record("end", nodeid)


def spans(path: Path) -> tuple[dict[str, tuple[float, float]], float, float]:
    """A worker's file -> (module -> (first start, last end) in s from its session's start), busy s, last end."""
    rows = [line.rstrip("\n").split("\t") for line in path.read_text().splitlines()]
    origin = float(rows[0][1])
    started: dict[str, float] = {}
    modules: dict[str, tuple[float, float]] = {}
    busy = 0.0
    for kind, at, nodeid in rows:
        t = float(at) - origin
        if kind == "start":
            started[nodeid] = t
        elif kind == "end" and nodeid in started:
            busy += t - started[nodeid]
            module = nodeid.split("::")[0]
            first, _ = modules.get(module, (started[nodeid], t))
            modules[module] = (min(first, started[nodeid]), t)
    return modules, busy, max((end for _, end in modules.values()), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--over", type=float, default=8.0, help="list the modules that took over this many s")
    args = parser.parse_args()
    paths = sorted(args.folder.glob("*.tsv"))
    workers = [p for p in paths if p.stem.startswith("gw")]  # xdist's controller sees every test again: left out
    for path in workers or paths:
        modules, busy, last = spans(path)
        print(f"{path.stem}: last test ended at {last:.0f} s, busy {busy:.0f} s")
        for module, (first, end) in modules.items():
            if end - first > args.over:
                print(f"  {first:6.0f} {end:6.0f} {end - first:5.0f} s  {module}")


if __name__ == "__main__":
    main()
