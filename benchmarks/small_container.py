"""Community Cloud's smallest container, for real: the app server in a memory cgroup of 690 MB
(no swap), a visitor draws, then presses Start on the Train page's default (the book's seed fit).

    sudo python benchmarks/small_container.py [--mb 690] [--preset seed]

As root: a cgroup (v2: /sys/fs/cgroup/<name>; v1: /sys/fs/cgroup/memory/<name>) with the limit,
the app server started in it (its training child inherits it), one websocket visitor (as
benchmarks/ws_session.py speaks Streamlit's protocol) that draws and presses Start. Prints
whether the job ended done, the peak the kernel counted for the group, and how many processes it
killed (memory.events `oom_kill` on v2, memory.oom_control on v1). A job that cannot fit is refused
before it starts (the page's admission reads the group's limit: limits.container_memory).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.app_server import app_server  # noqa: E402
from benchmarks.ws_session import AppError, DrawSession, digit_png  # noqa: E402
from mnist_core.jobs.line import JobQueue, Status  # noqa: E402
from mnist_core.store.database import Database  # noqa: E402
from mnist_core.store.runs import RunStore  # noqa: E402

CGROUP = Path("/sys/fs/cgroup")


@contextlib.contextmanager
def memory_group(name: str, limit: int) -> Iterator[tuple[Path, bool]]:
    """A memory cgroup with `limit` bytes and no swap: (its folder, whether it is v2)."""
    v2 = (CGROUP / "cgroup.controllers").is_file()
    folder = CGROUP / name if v2 else CGROUP / "memory" / name
    folder.mkdir(exist_ok=True)
    try:
        if v2:
            (folder / "memory.max").write_text(str(limit))
            with contextlib.suppress(OSError):
                (folder / "memory.swap.max").write_text("0")
        else:
            (folder / "memory.limit_in_bytes").write_text(str(limit))
            with contextlib.suppress(OSError):  # only where swap accounting is on
                (folder / "memory.memsw.limit_in_bytes").write_text(str(limit))
        yield folder, v2
    finally:
        for _ in range(50):  # empty once its processes have ended
            try:
                folder.rmdir()
                break
            except OSError:
                time.sleep(0.2)


def kills(folder: Path, v2: bool) -> int:
    text = (folder / ("memory.events" if v2 else "memory.oom_control")).read_text()
    return int(dict(line.split() for line in text.splitlines()).get("oom_kill", 0))


def peak_mb(folder: Path, v2: bool) -> float:
    name = "memory.peak" if v2 else "memory.max_usage_in_bytes"
    with contextlib.suppress(OSError, ValueError):
        return int((folder / name).read_text()) / 2**20
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=690, help="the container's memory (default: 690, Cloud's smallest)")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--warm", action="store_true",
                        help="keep the machine's page cache (default: drop it first, so that the libraries' pages "
                             "are read again and counted to the group, as in a fresh container)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: it makes a cgroup")
    if not args.warm:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3")
    with tempfile.TemporaryDirectory() as tmp, memory_group(f"mnist-{args.mb}", args.mb * 2**20) as (group, v2):
        # the app server is started from a shell already in the group: everything it starts is in it too
        procs = group / "cgroup.procs"
        wrapper = [sys.executable, "-c", f"import os, sys; open({str(procs)!r}, 'w').write(str(os.getpid())); "
                   "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"]
        with app_server(Path(tmp), launcher=wrapper) as (url, server, started):
            print(f"{args.mb} MB container ({'v2' if v2 else 'v1'}): the app answered in {started:.1f} s")

            async def visitor() -> tuple[float, str]:
                session = await DrawSession.open(url)
                seconds = await session.draw(digit_png(random.Random(0)))
                try:
                    await session.start_training()
                    refused = ""
                except AppError as e:
                    refused = str(e)
                await session.close()
                return seconds, refused

            drawn, refused = asyncio.run(visitor())
            print(f"a drawing read in {drawn:.2f} s" + (f"; Start refused: {refused}" if refused else ""))
            queue, start = JobQueue(Database.open(f"sqlite:///{tmp}/mnist.db")), time.perf_counter()
            while queue.line() and time.perf_counter() - start < args.timeout:
                time.sleep(1)
            finished = _all_jobs(queue)
            alive = server.poll() is None
            runs = RunStore(queue.db)
            for j in finished:
                run = runs.get(j.run_id) if j.run_id else None
                print(f"job {j.preset}, {j.config.epochs} epochs: {j.status} after {j.epochs_done} epochs"
                      + (f", test accuracy {run.test_accuracy:.2%}, {run.fit_seconds:.1f} s of fit" if run else "")
                      + (f" ({j.message})" if j.message else ""))
        print(f"the app server {'still running' if alive else 'ended'}; peak counted for the group "
              f"{peak_mb(group, v2):.0f} MB; processes killed for memory: {kills(group, v2)}")
        ok = alive and not kills(group, v2) and (refused or all(j.status == Status.DONE for j in finished))
    print("all checks passed" if ok else "CHECKS FAILED")
    return 0 if ok else 1


def _all_jobs(queue: JobQueue) -> list:
    import sqlalchemy as sa

    from mnist_core.store.database import jobs

    with queue.db.read() as conn:
        ids = list(conn.execute(sa.select(jobs.c.id)).scalars())
    return [queue.get(i) for i in ids]


if __name__ == "__main__":
    sys.exit(main())
