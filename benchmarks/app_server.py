"""Start the app on a free localhost port for benchmarks, as `streamlit run` does for users."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]
CANVAS = "[data-testid=stBidiComponentIsolated] canvas.upper-canvas"
# the canvas's toolbar is built when the component is ready for strokes: before that, a drag is lost
CANVAS_READY = "[data-testid=stBidiComponentIsolated] .dc-toolbar"


@contextlib.contextmanager
def app_server(data_dir: Path, database_url: str | None = None, secrets: dict | None = None,
               script: str | Path = "streamlit_app.py", launcher: list[str] | None = None,
               root: Path = ROOT) -> Iterator[tuple[str, subprocess.Popen, float]]:
    """Yield (url, process, seconds until /_stcore/health answered); the app keeps its database
    at `database_url`, by default an SQLite file in `data_dir`.

    `secrets`: the server reads these (as st.secrets) and no secrets.toml file of the repo's or the
    user's: they are written as TOML to a temporary file, passed as `--secrets.files`. Streamlit
    puts the server's port in place of `{port}` in `[auth] redirect_uri` (tests/oidc.py's
    auth_secrets). `script`: what `streamlit run` serves, relative to the repo root. `launcher`:
    the Python command that runs `-m streamlit ...` (default: this interpreter). `root`: the
    checkout to serve (another commit's, for figures before a change)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MNIST_DATA_DIR": str(data_dir), "MNIST_RUNS_DIR": str(data_dir / "runs"),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("MNIST_DATABASE_URL", None)
    if database_url is not None:
        env["MNIST_DATABASE_URL"] = database_url
    options = ["--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1"]
    secrets_dir = None
    if secrets is not None:
        import tomli_w  # a test tool (requirements-dev.txt)

        secrets_dir = Path(tempfile.mkdtemp(prefix="app-secrets-"))  # mode 0700
        (secrets_dir / "secrets.toml").write_text(tomli_w.dumps(secrets))
        options += ["--secrets.files", str(secrets_dir / "secrets.toml")]
    log = open(os.environ.get("APP_LOG", os.devnull), "w")  # APP_LOG=path keeps the server's output
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*(launcher or [sys.executable]), "-m", "streamlit", "run", str(script), *options],
        cwd=root, env={**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))},
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            if time.perf_counter() - start > 60 or proc.poll() is not None:
                raise RuntimeError("the app did not start")
            time.sleep(0.05)
        yield url, proc, time.perf_counter() - start
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if secrets_dir is not None:
            shutil.rmtree(secrets_dir, ignore_errors=True)


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise SystemExit("chromium is not installed: apt-get install chromium")
    return path


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def draw_stroke(page, points: list[tuple[float, float]]) -> None:
    canvas = page.locator(CANVAS)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=6)
    page.mouse.up()


def cpu_seconds(match: str) -> float:
    """User + system CPU seconds of every live process whose command line contains `match`."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if match in cmdline:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue
    return total
