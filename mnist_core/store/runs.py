"""Saved training runs: records and model files in the database, listed, renamed, exported.

    store = RunStore(Database.open(database_url()))
    run = store.save(result, preset="seed")         # record + both model files, one transaction
    for run in store.list(): print(run.id, run.name, run.test_accuracy)
    store.model_path(run.id)                        # a local file Keras can open
    store.export(run.id, Path("out"))               # model.keras, mnist_dense_model.h5, run.json

A run is a `Run` record (config, metrics, timings) plus two model files: `model.keras` (with
the optimizer that trained it, so it can go on training, its calibration, and a fine-tune's own
"not a digit" statistics) and `mnist_dense_model.h5` (the seed's
file name and format, weights and architecture only: Keras 3 cannot restore an optimizer from
HDF5); a run trained by the app or the command line also keeps its film (watching.film: its
first layer's weights at a few dozen epochs). Run folders from older versions of the app
(`runs/`) are imported once, never deleted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import re
import secrets
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mnist_core import atomic
from mnist_core.config import METRICS, History, TrainConfig
from mnist_core.errors import UserError
from mnist_core.owners import Actor
from mnist_core.reading.classifier import CALIBRATION, NOVELTY, SHIPPED_MODELS
from mnist_core.reading.novelty import NoveltyStats
from mnist_core.store.database import PROJECT_ROOT, Database, data_dir, legacy_imports, run_files, runs

MODEL_FILE, H5_FILE, RECORD_FILE = "model.keras", "mnist_dense_model.h5", "run.json"


Hold = Callable[[sa.Connection, str], None]  # (the save's transaction, the new run's id): a job's check


class RunError(UserError):
    """A run cannot be found, saved, renamed or deleted; the message is one line for the user."""


@dataclass(frozen=True)
class Scores:
    """A model on the held-out drawings and on MNIST's test set."""

    held_out: float | None  # accuracy on the held-out drawings (None: no drawings held out)
    mnist_test: float | None


@dataclass(frozen=True)
class FineTune:
    """What a run trained on beyond MNIST, and how it fared: its record's `details`."""

    base_model: str  # what it started from: "default", "seed", a run's id; "" for a new network
    trained_on: tuple[str, ...]  # the ids of the drawings it learned from
    held_out: tuple[str, ...]  # the ids it never saw, scored before and after
    people_held_out: int  # how many people's drawings were held out (0: a random share of one person's)
    before: Scores
    after: Scores

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "trained_on": list(self.trained_on), "held_out": list(self.held_out)}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> FineTune | None:
        if not record:
            return None
        return cls(base_model=str(record.get("base_model", "")), trained_on=tuple(record.get("trained_on", ())),
                   held_out=tuple(record.get("held_out", ())), people_held_out=int(record.get("people_held_out", 0)),
                   before=Scores(**record.get("before", {"held_out": None, "mnist_test": None})),
                   after=Scores(**record.get("after", {"held_out": None, "mnist_test": None})))



@dataclass(frozen=True)
class Run:
    """One saved run's record, as listings show it (its per-epoch history is read on demand)."""

    id: str
    name: str
    preset: str
    config: TrainConfig
    created: str  # ISO 8601, UTC
    epochs_done: int
    stopped: bool  # True when stopped before its last epoch
    val_accuracy: float | None
    test_accuracy: float | None
    test_loss: float | None
    fit_seconds: float  # the epochs only
    owner: str = ""  # who may rename or delete it (owners.py); "" is the operator's

    def to_json(self, history: History | None = None, finetune: FineTune | None = None) -> dict[str, Any]:
        """The record as run.json holds it (with `history` and `finetune` when given). Never its
        owner: a private link's id, or an email, is nobody else's business."""
        record = {**dataclasses.asdict(self), "config": self.config.to_dict()}
        del record["owner"]
        if finetune is not None:
            record["finetune"] = finetune.to_json()
        return record if history is None else {**record, "history": history}

    @classmethod
    def from_json(cls, record: dict[str, Any], run_id: str) -> Run:
        """Read a run.json (older ones lack some fields); ValueError or TypeError if malformed."""
        history = record.get("history") or {}
        return cls(
            id=run_id,
            name=str(record.get("name") or run_id),
            preset=str(record.get("preset") or "custom"),
            config=TrainConfig.from_dict(record.get("config") or {}),
            created=str(record.get("created") or ""),
            epochs_done=int(record.get("epochs_done") or len(history.get("loss", []))),
            stopped=bool(record.get("stopped")),
            val_accuracy=_float_or_none(record.get("val_accuracy")),
            test_accuracy=_float_or_none(record.get("test_accuracy")),
            test_loss=_float_or_none(record.get("test_loss")),
            fit_seconds=float(record.get("fit_seconds") or 0.0),
        )


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


_SUMMARY = [c for c in runs.c if c.name not in ("history", "details")]


class RunStore:
    """The runs in one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, result: Any, preset: str = "custom", name: str | None = None, owner: str = "",
             finetune: FineTune | None = None, hold: Hold | None = None,
             temperature: float | None = None, novelty: NoveltyStats | None = None,
             files: dict[str, bytes] | None = None) -> Run:
        """Save a TrainResult as a new run: record and model files commit together or not at all;
        `temperature` and `novelty` go into its model.keras (model_files).
        For a job of the line, `hold(conn, run_id)` runs first in the same transaction
        (jobs.line.hold: only while the job's runner still holds it, and the job names the run):
        a job is saved once, whatever its runners do (RunError when the lease was lost). Its name,
        unless given: a person's "seed #2" (their second run of the preset; pages put who it is
        in front), the operator's "seed 2026-12-07 13:56". `files`: the run's files made already
        (model_files(result.model, temperature, novelty), and any beside them, such as its film),
        made once for several runs of one model and read back by name (`file`)."""
        created = dt.datetime.now(dt.UTC)
        run = Run(
            id=f"{created:%Y%m%d-%H%M%S}-{_slug(preset)}-{secrets.token_hex(3)}",
            name=_clean_name(name or f"{preset} {created:%Y-%m-%d %H:%M}"),
            preset=preset,
            config=result.config,
            created=created.isoformat(timespec="seconds"),
            epochs_done=result.epochs_done,
            stopped=result.stopped,
            val_accuracy=result.history["val_accuracy"][-1] if result.history["val_accuracy"] else None,
            test_accuracy=result.test_accuracy,
            test_loss=result.test_loss,
            fit_seconds=round(result.fit_seconds, 3),
            owner=owner,
        )
        # serialized before the transaction: it stays short
        files = files or model_files(result.model, temperature, novelty)
        with self.db.write() as conn:
            if hold is not None:
                hold(conn, run.id)
            if name is None and owner:
                run = dataclasses.replace(run, name=f"{preset} #{_last_number(conn, owner, preset) + 1}")
            _insert_rows(conn, run, result.history, files, finetune)
        return run

    def list(self) -> list[Run]:
        """Every run, newest first (no histories, no model files: fast with thousands)."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(*_SUMMARY).order_by(runs.c.created.desc(), runs.c.id.desc())).mappings()
            return [_run(row) for row in rows]

    def get(self, ref: str) -> Run:
        """A run by id, or by name when exactly one run has it; RunError otherwise."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(*_SUMMARY).where(runs.c.id == ref)).mappings().all()
            if not rows:
                rows = conn.execute(sa.select(*_SUMMARY).where(runs.c.name == ref)).mappings().all()
        if len(rows) > 1:
            raise RunError(_ambiguous(ref, len(rows)))
        if not rows:
            raise RunError(_unknown(ref))
        return _run(rows[0])

    def history(self, run_id: str) -> History:
        with self.db.read() as conn:
            text = conn.execute(sa.select(runs.c.history).where(runs.c.id == run_id)).scalar()
        if text is None:
            raise RunError(f"no run has the id {run_id!r}")
        return json.loads(text)

    def finetune(self, run_id: str) -> FineTune | None:
        """What a run learned from beyond MNIST (drawings, a base model), before and after; None
        for a run trained on MNIST alone."""
        with self.db.read() as conn:
            text = conn.execute(sa.select(runs.c.details).where(runs.c.id == run_id)).scalar()
        if text is None:
            raise RunError(f"no run has the id {run_id!r}")
        return FineTune.from_json(json.loads(text))

    def file(self, run_id: str, name: str = MODEL_FILE) -> bytes:
        """One of a run's model files, as bytes."""
        with self.db.read() as conn:
            data = conn.execute(sa.select(run_files.c.data).where(
                run_files.c.run_id == run_id, run_files.c.name == name)).scalar()
        if data is None:
            raise RunError(f"run {run_id} has no {name}")
        return bytes(data)

    def model_path(self, run_id: str) -> Path:
        """The run's model.keras as a local file, written once per machine (a cache: removed
        when the run is deleted, here or, at the next `sweep_model_files`, by another server)."""
        path = self._cached_file(run_id)
        if not path.is_file():
            atomic.write_bytes(path, self.file(run_id))
        return path

    def _cached_file(self, run_id: str) -> Path:
        database = hashlib.sha256(self.db.url.encode()).hexdigest()[:8]
        return data_dir() / "model-cache" / f"{database}-{hashlib.sha256(run_id.encode()).hexdigest()[:16]}.keras"

    def sweep_model_files(self, runs: list[Run]) -> None:
        """Remove this database's cached model files of runs that are gone (deleted elsewhere)."""
        kept = {self._cached_file(run.id) for run in runs}
        prefix = self._cached_file("")
        for path in prefix.parent.glob(f"{prefix.name[:9]}*.keras"):
            if path not in kept:
                path.unlink(missing_ok=True)

    def rename(self, run_id: str, name: str, actor: Actor) -> None:
        """Rename a run: its owner or an admin only (NotAllowed otherwise)."""
        name = _clean_name(name)
        if not name:
            raise RunError("a run name cannot be empty")
        with self.db.write() as conn:
            actor.require(self._owner(conn, run_id), "rename this run")
            conn.execute(runs.update().where(runs.c.id == run_id).values(name=name))

    def delete(self, run_id: str, actor: Actor) -> None:
        """Remove a run and its model files (one transaction): its owner or an admin only."""
        with self.db.write() as conn:
            actor.require(self._owner(conn, run_id), "delete this run")
            delete_runs(conn, [run_id])
        self._cached_file(run_id).unlink(missing_ok=True)

    @staticmethod
    def _owner(conn: sa.Connection, run_id: str) -> str:
        owner = conn.execute(sa.select(runs.c.owner).where(runs.c.id == run_id)).scalar()
        if owner is None:
            raise RunError(f"no run has the id {run_id!r}")
        return owner

    def record(self, run_id: str) -> bytes:
        """The run's run.json, as it is downloaded and exported: with its history and details."""
        run = self.get(run_id)
        return json.dumps(run.to_json(self.history(run.id), self.finetune(run.id)), indent=1).encode()

    def export(self, ref: str, folder: Path) -> list[Path]:
        """Write a run's model.keras, mnist_dense_model.h5 and run.json into `folder`."""
        run = self.get(ref)
        written = []
        for name, data in ((MODEL_FILE, self.file(run.id, MODEL_FILE)), (H5_FILE, self.file(run.id, H5_FILE)),
                           (RECORD_FILE, self.record(run.id))):
            atomic.write_bytes(folder / name, data)
            written.append(folder / name)
        return written

    def import_folders(self, root: Path) -> int:
        """Import the run folders of older versions (run.json + model files) once; return how
        many were new. Folders are never changed; unreadable ones are skipped."""
        if not root.is_dir():
            return 0
        with self.db.read() as conn:
            done = set(conn.execute(sa.select(legacy_imports.c.folder)).scalars())
        added = 0
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            key = str(folder.resolve())
            if key in done:
                continue
            try:
                record = json.loads((folder / RECORD_FILE).read_text())
                run = Run.from_json(record, folder.name[:80])
                files = {name: (folder / name).read_bytes() for name in (MODEL_FILE, H5_FILE)}
                history = {k: [float(v) for v in record.get("history", {}).get(k, [])] for k in METRICS}
            except (OSError, ValueError, TypeError, AttributeError):
                continue  # not a usable run folder: left as it is, tried again next time
            with self.db.write() as conn:  # another server may be importing the same folders
                if conn.execute(sa.select(legacy_imports.c.folder).where(legacy_imports.c.folder == key)).first():
                    continue
                conn.execute(legacy_imports.insert().values(folder=key))
                if conn.execute(sa.select(runs.c.id).where(runs.c.id == run.id)).first() is None:
                    _insert_rows(conn, run, history, files)
                    added += 1
        return added


@dataclass(frozen=True)
class RunIndex:
    """The runs as listed at one moment, found by id or name as `RunStore.get` finds them."""

    runs: list[Run]

    def find(self, ref: str) -> Run:
        by_id = [r for r in self.runs if r.id == ref]
        found = by_id or [r for r in self.runs if r.name == ref]
        if len(found) > 1:
            raise RunError(_ambiguous(ref, len(found)))
        if not found:
            raise RunError(_unknown(ref))
        return found[0]


def _ambiguous(ref: str, n: int) -> str:
    return f"{n} runs are named {ref[:80]!r}: use the run's id (`python -m mnist_core runs`)"


def _unknown(ref: str) -> str:
    return f"no run has the id or name {ref[:80]!r} (`python -m mnist_core runs` lists them)"


def legacy_runs_dir() -> Path:
    """Where older versions saved run folders: `$MNIST_RUNS_DIR`, or `runs/` in the project."""
    return Path(os.environ.get("MNIST_RUNS_DIR") or PROJECT_ROOT / "runs")


def model_files(model: Any, temperature: float | None = None, novelty: NoveltyStats | None = None) -> dict[str, bytes]:
    """A Keras model as the bytes of model.keras (with its optimizer, its calibration's
    `temperature` as classifier.CALIBRATION and a fine-tune's own "not a digit" statistics as
    classifier.NOVELTY, which Keras passes over) and mnist_dense_model.h5."""
    absl = logging.getLogger("absl")  # Keras warns that HDF5 is legacy on every save: we know
    level = absl.level
    with tempfile.TemporaryDirectory(prefix="mnist-save-") as tmp:
        model.save(Path(tmp) / MODEL_FILE)
        absl.setLevel(logging.ERROR)
        try:
            model.save(Path(tmp) / H5_FILE, include_optimizer=False)
        finally:
            absl.setLevel(level)
        with zipfile.ZipFile(Path(tmp) / MODEL_FILE, "a") as archive:
            if temperature is not None:
                archive.writestr(CALIBRATION, json.dumps({"temperature": round(float(temperature), 6)}))
            if novelty is not None:
                archive.writestr(NOVELTY, novelty.to_bytes())
        return {name: (Path(tmp) / name).read_bytes() for name in (MODEL_FILE, H5_FILE)}


def _insert_rows(conn: sa.Connection, run: Run, history: History, files: dict[str, bytes],
                 finetune: FineTune | None = None) -> None:
    """A run's record and its files, inside the caller's transaction."""
    row = {**dataclasses.asdict(run), "config": json.dumps(run.config.to_dict()), "history": json.dumps(history),
           "details": json.dumps(finetune.to_json() if finetune else {})}
    conn.execute(runs.insert().values(**row))
    conn.execute(run_files.insert(), [{"run_id": run.id, "name": k, "data": v} for k, v in files.items()])


def _last_number(conn: sa.Connection, owner: str, preset: str) -> int:
    """The highest n of the owner's runs named "<preset> #n" (0: none), inside the caller's transaction."""
    names = conn.execute(sa.select(runs.c.name).where(runs.c.owner == owner, runs.c.preset == preset)).scalars()
    return max((int(m[1]) for m in (re.fullmatch(rf"{re.escape(preset)} #(\d+)", n) for n in names) if m), default=0)


def _run(row: Any) -> Run:
    return Run(**{**row, "config": TrainConfig.from_dict(json.loads(row["config"]))})


def _clean_name(name: str) -> str:
    return " ".join(name.split())[:80]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "run"


def resolve_model(ref: str | None, store: RunStore | None) -> Path:
    """The model file that `ref` names: None, "default" or "seed" (the shipped models), else a
    run's id or name in `store`. Never a path from `ref` itself: what users type stays a name."""
    ref = ref or "default"
    if ref in SHIPPED_MODELS:
        return SHIPPED_MODELS[ref]
    if store is None:
        raise RunError(f"no model is named {ref[:80]!r}: the shipped ones are {', '.join(SHIPPED_MODELS)}")
    return store.model_path(store.get(ref).id)


def delete_runs(conn: sa.Connection, run_ids: list[str]) -> None:
    """Remove runs and their model files, in the caller's write transaction (whoever checked that
    the actor may); the local copies of their files go at the next listing (RunStore.sweep_model_files)."""
    conn.execute(run_files.delete().where(run_files.c.run_id.in_(run_ids)))
    conn.execute(runs.delete().where(runs.c.id.in_(run_ids)))
