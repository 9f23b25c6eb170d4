"""A throwaway Postgres server for the storage tests: Debian's `postgresql` binaries, a cluster
in a temporary folder, listening on 127.0.0.1 only, on a free port; stopped and removed after.

    with postgres_server() as admin_url:   # postgresql://postgres@127.0.0.1:PORT/postgres
        url = create_database(admin_url, "test_1")
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import free_port


class NoPostgres(Exception):
    """Postgres is not installed here; the message says how to install it."""


def _bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise NoPostgres(f"{name} not found: install Debian's postgresql package (make test does)")
    return found


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    root = Path(tempfile.mkdtemp(prefix="mnist-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # Postgres refuses to run as root: its own user runs it
        shutil.chown(root, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    run = lambda *args: subprocess.run([*as_postgres, *args], check=True, capture_output=True, timeout=120)  # noqa: E731
    run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
    for attempt in range(3):  # a port found free can be taken before the server binds it: another one
        port = free_port()
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off"
        try:
            run(pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start")
            break
        except subprocess.CalledProcessError:
            if attempt == 2:
                shutil.rmtree(root, ignore_errors=True)
                raise
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def create_database(admin_url: str, name: str) -> str:
    """A new empty database on the server; its URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"
