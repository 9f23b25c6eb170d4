"""Saved training runs: one folder each, written atomically, listed, renamed, deleted.

    folder = save_run(result, runs_dir())     # runs/20261124-071502-seed/
    for run in list_runs(runs_dir()): print(run.name, run.test_accuracy)

A run folder holds `model.keras`, `mnist_dense_model.h5` (the seed's file name, which
`keras.models.load_model` opens) and `run.json` (config, history, metrics, timings, date).
The folder is built under a temporary name and renamed when complete, so a crash never
leaves a half-saved run; a folder that cannot be read is listed as broken, never raised.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_core import atomic
from mnist_core.config import TrainConfig

MODEL_FILE, H5_FILE, RECORD_FILE = "model.keras", "mnist_dense_model.h5", "run.json"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class RunError(Exception):
    """A run cannot be found, renamed or deleted; the message is one line for the user."""


@dataclass(frozen=True)
class Run:
    path: Path
    record: dict[str, Any]  # run.json's content; empty when broken
    broken: str = ""  # why the folder cannot be used; "" when it can

    @property
    def name(self) -> str:
        return str(self.record.get("name") or self.path.name)

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def test_accuracy(self) -> float | None:
        return self.record.get("test_accuracy")

    @property
    def config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.record.get("config", {}))


def runs_dir() -> Path:
    """Where runs are saved: `$MNIST_RUNS_DIR`, or `runs/` in the project."""
    return Path(os.environ.get("MNIST_RUNS_DIR") or PROJECT_ROOT / "runs")


def save_run(result: Any, root: Path, preset: str = "custom", extra: dict[str, Any] | None = None) -> Path:
    """Save a TrainResult as a new run folder under `root`; return the folder."""
    created = dt.datetime.now(dt.UTC)
    stem = f"{created:%Y%m%d-%H%M%S}-{_slug(preset)}"
    folder = root / stem
    n = 1
    while folder.exists():
        n += 1
        folder = root / f"{stem}-{n}"
    record = {
        "name": f"{preset} {created:%Y-%m-%d %H:%M}",
        "preset": preset,
        "config": result.config.to_dict(),
        "history": result.history,
        "epochs_done": result.epochs_done,
        "stopped": result.stopped,
        "val_accuracy": result.history["val_accuracy"][-1] if result.history["val_accuracy"] else None,
        "test_accuracy": result.test_accuracy,
        "test_loss": result.test_loss,
        "fit_seconds": round(result.fit_seconds, 3),
        "created": created.isoformat(timespec="seconds"),
        **(extra or {}),
    }
    with atomic.staging_dir(folder) as tmp:
        result.model.save(tmp / MODEL_FILE)
        result.model.save(tmp / H5_FILE)
        (tmp / RECORD_FILE).write_text(json.dumps(record, indent=1))
    return folder


def list_runs(root: Path) -> list[Run]:
    """Every run folder under `root`, newest first; unreadable ones marked broken."""
    if not root.is_dir():
        return []
    runs = [read_run(p) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(runs, key=lambda r: (str(r.record.get("created", "")), r.path.name), reverse=True)


def runs_stamp(root: Path) -> tuple[tuple[str, int], ...]:
    """A cheap fingerprint of the runs folder (one stat per run): it changes when a run is
    added, deleted or renamed, so listings can be cached against it."""
    if not root.is_dir():
        return ()
    stamp = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            stamp.append((folder.name, (folder / RECORD_FILE).stat().st_mtime_ns))
        except OSError:
            stamp.append((folder.name, 0))
    return tuple(stamp)


def read_run(folder: Path) -> Run:
    """One run folder; broken (with the reason) when its files are missing or unreadable."""
    try:
        record = json.loads((folder / RECORD_FILE).read_text())
        if not isinstance(record, dict):
            raise ValueError("run.json is not an object")
        TrainConfig.from_dict(record.get("config", {}))
    except (OSError, ValueError) as e:
        return Run(folder, {}, broken=f"unreadable run.json ({e.__class__.__name__})")
    if not (folder / MODEL_FILE).is_file():
        return Run(folder, record, broken="model.keras is missing")
    return Run(folder, record)


def rename_run(folder: Path, name: str) -> None:
    """Change a run's display name (its folder keeps its path)."""
    name = " ".join(name.split())[:80]
    if not name:
        raise RunError("a run name cannot be empty")
    run = read_run(folder)
    if not run.record:
        raise RunError(f"{folder.name} is broken: {run.broken}")
    atomic.write_text(folder / RECORD_FILE, json.dumps({**run.record, "name": name}, indent=1))


def delete_run(folder: Path, root: Path) -> None:
    """Remove a run folder; it disappears at once (renamed away first), then is deleted."""
    folder = folder.resolve()
    if folder.parent != root.resolve() or not folder.is_dir():
        raise RunError(f"{folder.name} is not a run in {root}")
    trash = folder.with_name(f".deleted-{folder.name}")
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "run"
