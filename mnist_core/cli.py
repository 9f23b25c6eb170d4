"""The command line: `python -m mnist_core
{train,jobs,evaluate,predict,runs,export,worker,serve,data,drawings,people,scoreboard} --help`.

Errors are one line on stderr and a non-zero exit status, never a traceback. Runs live in the
database at `--database`, else `$MNIST_DATABASE_URL`, else the SQLite file the app uses too.
The train command's flags are derived from TrainConfig's fields (config.settings()).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mnist_core.config import PRESET_NOTES, PRESETS, ConfigError, TrainConfig, parse_hidden, settings
from mnist_core.errors import USER_ERRORS
from mnist_core.training.tensorflow_env import prepare


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as e:  # the edge: the user's errors become one line (the operator's: with detail)
        print(f"error: {getattr(e, 'detail', None) or e}", file=sys.stderr)
        return 1


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with the process's stderr muted: its C++ start-up prints INFO lines
    that no log level silences, and the command line promises one-line errors. Only the
    commands that train or export import it; the others read models with numpy."""
    prepare()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mnist_core", description="Dense networks on MNIST.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--database", metavar="URL",
                       help="where runs are kept (default: $MNIST_DATABASE_URL, else the app's SQLite file)")
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data", help="an mnist.npz or a folder of IDX files (default: $MNIST_PATH, cache, download)")

    t = sub.add_parser("train", parents=[store, data], help="train a model and save it as a run",
                       description="Train a dense network; each run is saved in the database.",
                       epilog="presets: " + "; ".join(f"{k}: {v}" for k, v in PRESET_NOTES.items()))
    t.add_argument("--preset", choices=PRESETS, default="seed", help="starting settings (default: seed)")
    for name, setting in settings():  # every TrainConfig field, as the sidebar shows it
        kind = type(getattr(PRESETS["seed"], name))
        t.add_argument(f"--{name.replace('_', '-')}", type=_hidden if kind is tuple else kind,
                       choices=setting.choices or None, help=_flag_help(setting))
    t.add_argument("--json", action="store_true", help="end stdout with one JSON object of results")
    t.add_argument("--queue", action="store_true", help="put the job in the line (for a worker, or the app's server) "
                                                        "instead of training here; prints its id")
    t.add_argument("--sweep", nargs="+", action="append", metavar=("SETTING", "VALUE"),
                   help="with --queue: a job for each value (repeat for several settings: every combination), e.g. "
                        "--sweep learning-rate 0.01 0.1 --sweep hidden 128 256,256")
    t.set_defaults(run=_train)

    j = sub.add_parser("jobs", help="the training line: list it, stop or cancel a job",
                       description="The line in the database: running jobs, then the waiting ones in order.")
    j.add_argument("action", nargs="?", choices=("list", "stop", "cancel"), default="list")
    j.add_argument("job", nargs="?", help="the job's id (stop: a running job; cancel: a waiting one)")
    j.add_argument("--json", action="store_true", help="one JSON object per job per line")
    j.add_argument("--database", metavar="URL", help="where the line is (default: as for runs)")
    j.set_defaults(run=_jobs)

    e = sub.add_parser("evaluate", parents=[store, data], help="test accuracy of a model")
    e.add_argument("model", nargs="?", help="a .keras or .h5 file, a run's id or name, or default or seed "
                                            "(default: the shipped model)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(run=_evaluate)

    p = sub.add_parser("predict", parents=[store], help="read digits from image files")
    p.add_argument("images", nargs="+", type=Path)
    p.add_argument("--model", help="a .keras or .h5 file, a run's id or name, or default or seed")
    p.add_argument("--json", action="store_true", help="one JSON object per line per image")
    p.add_argument("--explain", action="store_true",
                   help="write why beside each image: IMAGE.why.png (red: pixels that pushed toward the reading, blue: "
                        "toward the runner-up) and IMAGE.units.png (the hidden units it switched on most)")
    p.set_defaults(run=_predict)

    r = sub.add_parser("runs", parents=[store], help="list the saved runs, newest first")
    r.add_argument("--json", action="store_true", help="one JSON object per run per line")
    r.set_defaults(run=_runs)

    x = sub.add_parser("export", parents=[store], help="write a run's model files out of the database",
                       description="all: model.keras, mnist_dense_model.h5 and run.json into FOLDER; keras or h5: "
                                   "that file alone; saved_model: a TensorFlow SavedModel (what TensorFlow Serving "
                                   "loads) in FOLDER, with a serving_default signature: images (n, 28, 28) in [0, 1] "
                                   "-> probabilities (n, 10).")
    x.add_argument("run_ref", metavar="RUN", help="the run's id or name, as `runs` lists it (or default or seed)")
    x.add_argument("folder", type=Path)
    x.add_argument("--format", choices=EXPORT_FORMATS, default="all")
    x.set_defaults(run=_export)

    k = sub.add_parser("worker", parents=[store, data], help="train the line's jobs on this machine, until Ctrl-C",
                       description="Take waiting jobs from the line in the database (the app's, or any that app "
                                   "servers share: --database postgresql://...), train each through the same pipeline "
                                   "as the app, and save its run for whoever queued it; then the next. Ctrl-C stops "
                                   "the jobs in training (each saves what it trained) and exits.")
    k.add_argument("--jobs", type=int, default=1, metavar="N", help="jobs trained at once (default: 1)")
    k.add_argument("--name", help="how the app shows this machine (default: its host name, and GPU when it has one)")
    k.set_defaults(run=_worker)

    s = sub.add_parser("serve", parents=[store], help="answer POST /predict over HTTP (the seed's service, done right)",
                       description="The app's HTTP API alone: POST /predict (multipart `file`, or JSON 28x28 arrays; "
                                   "?model= a shipped model or a run), GET /health. Stateless: run as many as needed.")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 for all)")
    s.add_argument("--port", type=int, default=5000, help="default: 5000, as the seed's service")
    s.add_argument("--workers", type=int, default=1, metavar="N",
                   help="processes sharing the port (default: 1; one per core answers the most)")
    s.set_defaults(run=_serve)

    d = sub.add_parser("data", parents=[data], help="fetch and verify MNIST, print where it is")
    d.set_defaults(run=_data)

    w = sub.add_parser("drawings", help="the drawings people labelled: list, label, export, import, delete",
                       description="The drawings people labelled (on the Draw page, or here), in the runs' database.")
    actions = w.add_subparsers(required=True, metavar="ACTION")
    wl = actions.add_parser("list", parents=[store], help="how many of each digit, and who drew them")
    wl.add_argument("--json", action="store_true")
    wl.set_defaults(run=_drawings_list)
    wa = actions.add_parser("add", parents=[store], help="label pictures of digits as a person does on the Draw page")
    wa.add_argument("images", nargs="+", type=Path)
    wa.add_argument("--label", required=True, help="the digit they are, 0-9")
    wa.add_argument("--model", help="the model that reads them first (default: the shipped one)")
    wa.set_defaults(run=_drawings_add)
    wx = actions.add_parser("export", parents=[store], help="write them as MNIST IDX files, an .npz, or PNGs in a zip")
    wx.add_argument("folder", type=Path)
    wx.add_argument("--format", choices=("all", "idx", "npz", "png"), default="all")
    wx.set_defaults(run=_drawings_export)
    wi = actions.add_parser("import", parents=[store],
                            help="add the drawings of an export (.npz, .zip, or both IDX files)")
    wi.add_argument("files", nargs="+", type=Path)
    wi.set_defaults(run=_drawings_import)
    wd = actions.add_parser("delete", parents=[store], help="remove a drawing by its id")
    wd.add_argument("drawing_id")
    wd.set_defaults(run=_drawings_delete)

    h = sub.add_parser("people", help="everyone who made runs, drawings or jobs (by pseudonym); remove one's things",
                       description="Everyone who has made something here, as the pages name them (pseudonyms).")
    who = h.add_subparsers(required=True, metavar="ACTION")
    hl = who.add_parser("list", parents=[store], help="pseudonyms, with how many runs, drawings and jobs each")
    hl.add_argument("--json", action="store_true")
    hl.set_defaults(run=_people_list)
    hr = who.add_parser("remove", parents=[store], help="delete everything one person made: runs, drawings, jobs")
    hr.add_argument("name", help="their pseudonym, as `people list` and the pages show it")
    hr.add_argument("--yes", action="store_true", help="do it (without it: say what would be removed)")
    hr.set_defaults(run=_people_remove)

    b = sub.add_parser("scoreboard", parents=[store], help="every model on the labelled drawings, beside MNIST test")
    b.add_argument("--json", action="store_true")
    b.set_defaults(run=_scoreboard)
    return parser


def _flag_help(setting) -> str:
    allowed = "" if setting.choices or setting.low is None else f"; {setting.describe_range()}"
    return f"{setting.label}: {setting.help}{allowed}".replace("%", "%%")  # argparse formats help with %


def _hidden(text: str) -> tuple[int, ...]:
    try:
        return parse_hidden(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _config(args: argparse.Namespace) -> TrainConfig:
    changes = {name: getattr(args, name) for name, _ in settings() if getattr(args, name) is not None}
    return PRESETS[args.preset].replace(**changes)


def _database(args: argparse.Namespace) -> str:
    from mnist_core.store.database import database_url

    return database_url(args.database)


def _store(args: argparse.Namespace):
    """The runs in the database, with any old run folders imported first."""
    from mnist_core.store.database import Database
    from mnist_core.store.runs import RunStore, legacy_runs_dir

    store = RunStore(Database.open(_database(args)))
    store.import_folders(legacy_runs_dir())
    return store


def _model_path(ref: str | None, args: argparse.Namespace) -> Path:
    """A model file given on the command line, else a shipped model's or a run's, by id or name."""
    from mnist_core.reading.classifier import MODEL_SUFFIXES, SHIPPED_MODELS
    from mnist_core.store.runs import resolve_model

    if ref is not None and Path(ref).suffix.lower() in MODEL_SUFFIXES:
        return Path(ref)
    return resolve_model(ref, None if ref in (None, *SHIPPED_MODELS) else _store(args))


def _keys(db):
    """The deployment's keys as the app's pages have them: `[identity] secret` of the app's
    .streamlit/secrets.toml when it sets one (else $MNIST_IDENTITY_SECRET, else the database's)."""
    import tomllib

    from mnist_core.deployment import Deployment
    from mnist_core.owners import Keys
    from mnist_core.store.database import PROJECT_ROOT

    try:
        secrets = tomllib.loads((PROJECT_ROOT / ".streamlit" / "secrets.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        secrets = {}
    return Keys.of(db, Deployment.from_secrets(secrets).identity_secret or None)


def _classifier(ref: str | None, args: argparse.Namespace):
    """The model `ref` names, to read digits with (numpy: no TensorFlow)."""
    from mnist_core.reading.classifier import load_classifier

    return load_classifier(_model_path(ref, args))


def _load_data(args: argparse.Namespace):
    from mnist_core.data import load_mnist

    return load_mnist(args.data, progress=lambda message, fraction: print(message, file=sys.stderr))


def _train(args: argparse.Namespace) -> int:
    config = _config(args)  # checked before the slow imports
    if args.sweep and not args.queue:
        raise ConfigError("--sweep queues its jobs: add --queue")
    if args.queue:
        return _queue(args, _sweep(config, args.sweep or []))
    _import_tensorflow_quietly()
    from mnist_core.training.pipeline import Event, train_and_save

    bar = _ProgressBar(config.epochs, sys.stderr)

    def on_event(kind: Event, payload) -> None:
        if kind == Event.DATA:
            print(payload, file=sys.stderr)
        elif kind == Event.EPOCH:
            bar.update(*payload)
        elif kind == Event.CHECK:  # a fine-tune on drawings, after its epochs
            bar.close()
            print(f"its own not-a-digit check: {payload}", file=sys.stderr)

    _store(args)  # the database is reachable (and old run folders imported) before training
    from mnist_core.data import load_mnist

    outcome = train_and_save(config, args.preset, _database(args),
                             lambda progress: load_mnist(args.data, progress=progress), on_event)
    bar.close()
    run, result = outcome.run, outcome.result
    summary = {"run": run.id, "name": run.name, "preset": run.preset, "epochs_done": run.epochs_done,
               "val_accuracy": round(run.val_accuracy, 5), "test_accuracy": round(run.test_accuracy, 5),
               "fit_seconds": round(result.fit_seconds, 2)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"test accuracy {run.test_accuracy:.4f}, validation {run.val_accuracy:.4f}, "
              f"{result.fit_seconds:.1f} s; saved as run {run.id}")
    return 0


def _sweep(config: TrainConfig, sweeps: list[list[str]]) -> list[TrainConfig]:
    """`config` with every combination of the swept settings' values (in the order given)."""
    flags = {name.replace("_", "-"): name for name, _ in settings()}
    configs = [config]
    for flag, *values in sweeps:
        name = flags.get(flag.removeprefix("--").replace("_", "-"))
        if name is None:
            raise ConfigError(f"--sweep {flag[:40]}: not a setting (`train --help` lists them)")
        if not values:
            raise ConfigError(f"--sweep {flag}: give it one value or more")
        kind = type(getattr(config, name))
        parse = _hidden if kind is tuple else (lambda v, kind=kind: kind(v))
        try:
            parsed = [parse(v) for v in values]
        except (ValueError, argparse.ArgumentTypeError):
            raise ConfigError(f"--sweep {flag}: {' '.join(values)[:60]!r} are not values of it") from None
        configs = [c.replace(**{name: v}) for c in configs for v in parsed]
    return configs


def _queue(args: argparse.Namespace, configs: list[TrainConfig]) -> int:
    """Put the jobs in the line, as the Train page does, as the operator (who may have several
    waiting: a sweep); print each one's id. The line's limits hold: a refusal ends the sweep."""
    from mnist_core.jobs.line import JobQueue, QueueError, admit
    from mnist_core.owners import OPERATOR
    from mnist_core.training.budget import Budget

    queue = JobQueue(_store(args).db)
    for i, config in enumerate(configs):
        try:
            job = admit(queue, config, args.preset, OPERATOR, Budget(), here=False)
        except QueueError as e:
            raise QueueError(f"{i} of {len(configs)} jobs queued, then: {e}") from None
        print(json.dumps({"job": job.id, "preset": job.preset, "epochs": job.config.epochs}) if args.json else job.id)
    return 0


def _jobs(args: argparse.Namespace) -> int:
    from mnist_core.jobs.line import JobQueue, QueueError, Status
    from mnist_core.jobs.pace import measured, plan
    from mnist_core.owners import OPERATOR

    queue = JobQueue(_store(args).db)
    if args.action != "list":
        if not args.job:
            raise QueueError(f"jobs {args.action} needs a job's id (`python -m mnist_core jobs` lists them)")
        job = queue.get(args.job)
        wanted = Status.RUNNING if args.action == "stop" else Status.WAITING
        if job.status != wanted:
            raise QueueError(f"{job.id} is {job.status}: only a {wanted} job can be {args.action}"
                             + ("ped" if args.action == "stop" else "led"))
        queue.cancel(job.id, OPERATOR)
        print(f"{job.id}: " + ("stopping; what it trained will be saved" if args.action == "stop" else "cancelled"))
        return 0
    line, pseudonym = queue.line(), _keys(queue.db).pseudonym
    times = plan(line, measured(queue), max(1, sum(slots for _, slots in queue.runners())), queue.now())
    for place, job in enumerate(line):
        where = job.runs_on if job.status == Status.RUNNING else f"starts in about {times[job.id][0]:.0f} s"
        row = {"job": job.id, "place": place + 1, "status": str(job.status), "owner": pseudonym(job.owner),
               "preset": job.preset, "epochs": job.config.epochs, "epochs_done": job.epochs_done, "where": where}
        print(json.dumps(row) if args.json else
              f"{row['place']:>3}  {job.id}  {job.status:<8} {row['owner']:<28} {job.preset:<9} "
              f"{job.epochs_done:>5}/{job.config.epochs:<5} {where}")
    if not line and not args.json:
        print("the line is empty", file=sys.stderr)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from mnist_core.evaluation import evaluate

    clf = _classifier(args.model, args)
    report = evaluate(clf, _load_data(args), mistakes=0)
    if args.json:
        print(json.dumps({"test_accuracy": report.accuracy, "confusion": report.confusion.tolist()}))
    else:
        print(f"test accuracy {report.accuracy:.4f} ({args.model or 'default'})")
    return 0


def _runs(args: argparse.Namespace) -> int:
    store = _store(args)
    runs, pseudonym = store.list(), _keys(store.db).pseudonym
    for run in runs:
        if args.json:
            print(json.dumps({**run.to_json(), "by": pseudonym(run.owner)}))
        else:
            accuracy = "-" if run.test_accuracy is None else f"{run.test_accuracy:.2%}"
            print(f"{run.id}  {accuracy:>7}  {run.epochs_done:>5} ep  {run.name}")
    if not runs and not args.json:
        print("no runs yet: python -m mnist_core train", file=sys.stderr)
    return 0


EXPORT_FORMATS = ("all", "keras", "h5", "saved_model")


def _export(args: argparse.Namespace) -> int:
    from mnist_core.reading.classifier import SHIPPED_MODELS

    shipped = args.run_ref in SHIPPED_MODELS
    if args.format == "saved_model":
        from mnist_core.reading.classifier import load_keras
        from mnist_core.training.saved_model import export_saved_model

        _import_tensorflow_quietly()
        export_saved_model(load_keras(_model_path(args.run_ref, args)), args.folder)
        print(args.folder)
        return 0
    if shipped:
        from mnist_core.store.runs import RunError

        raise RunError(f"{args.run_ref} is a shipped model: its file is models/{args.run_ref}.keras; "
                       "use --format saved_model to export it for TensorFlow Serving")
    store = _store(args)
    if args.format == "all":
        written = store.export(args.run_ref, args.folder)
    else:
        from mnist_core import atomic
        from mnist_core.store.runs import H5_FILE, MODEL_FILE

        name = MODEL_FILE if args.format == "keras" else H5_FILE
        atomic.write_bytes(args.folder / name, store.file(store.get(args.run_ref).id, name))
        written = [args.folder / name]
    for path in written:
        print(path)
    return 0


def _worker(args: argparse.Namespace) -> int:
    import signal
    import socket
    import threading

    from mnist_core.data import load_mnist
    from mnist_core.jobs.runner import Runner
    from mnist_core.store.database import safe_url

    if args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    _store(args)  # the database is reachable (and at this version) before anything waits on it
    if args.data:
        os.environ["MNIST_PATH"] = args.data  # the training processes load MNIST from there
    _import_tensorflow_quietly()
    runs_on = args.name or f"{socket.gethostname()}, {'GPU' if _has_gpu() else 'CPU'}"
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"worker on {runs_on}: {args.jobs} at a time from {safe_url(_database(args))}; Ctrl-C to stop",
          file=sys.stderr)
    Runner(_database(args), load_mnist, slots=args.jobs, runs_on=runs_on, spare=True).serve(stop)
    print("stopped: the jobs in training saved what they trained", file=sys.stderr)
    return 0


def _has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def _serve(args: argparse.Namespace) -> int:
    from mnist_core.http_api import serve

    if args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    _store(args)  # the database is reachable (and at this version) before anyone asks
    print(f"serving POST /predict and GET /health on http://{args.host}:{args.port}", file=sys.stderr)
    serve(_database(args), args.host, args.port, args.workers)
    return 0


def _predict(args: argparse.Namespace) -> int:
    import numpy as np

    from mnist_core.preprocessing import preprocess_and_span
    from mnist_core.reading.image_file import ImageError, read_image
    from mnist_core.reading.interpretation import answer, rounded

    clf = _classifier(args.model, args)
    failed = 0
    for path in args.images:
        try:
            x, span = preprocess_and_span(read_image(_read_bytes(path)))
        except (ImageError, OSError, ValueError) as e:
            failed += 1
            message = str(e) if not isinstance(e, OSError) else (e.strerror or str(e))
            if args.json:
                print(json.dumps({"file": str(path), "error": message}))
            else:
                print(f"{path}: error: {message}", file=sys.stderr)
            continue
        judged = None if x is None else clf.judge(x, [span])  # the Draw page's reading
        p = None if judged is None else judged.probabilities[0]
        digit = None if p is None else int(p.argmax())  # the reading, kept when it is no digit: the closest one
        not_a_digit = judged is not None and bool(judged.not_a_digit[0])
        if args.explain and p is not None:
            from mnist_core.reading.explain import explain, save_pictures

            for written in save_pictures(explain(clf, x, digit, int(np.argsort(-p)[1])), path):
                print(written, file=sys.stderr)
        if args.json:
            blank = {"digit": None, "probabilities": None}
            print(json.dumps({"file": str(path), **(blank if p is None else answer(
                rounded(p), judged.looks_like[0] if not_a_digit else None))}))
        elif p is None:
            print(f"{path}: blank")
        else:
            print(f"{path}: " + (f"not a digit: it looks like {judged.looks_like[0]} (if a digit, {digit}: "
                                 f"{p[digit]:.1%})" if not_a_digit else f"{digit} ({p[digit]:.1%})"))
    return 1 if failed else 0


def _read_bytes(path: Path) -> bytes:
    from mnist_core.reading.image_file import MAX_BYTES, ImageError

    if path.is_file() and path.stat().st_size > MAX_BYTES:
        raise ImageError(f"the file is over the {MAX_BYTES // 2**20} MB limit")
    return path.read_bytes()


def _drawings(args: argparse.Namespace):
    from mnist_core.store.drawings import DrawingStore

    return DrawingStore(_store(args).db)


def _drawings_list(args: argparse.Namespace) -> int:
    drawings = _drawings(args)
    counts, owners, pseudonym = drawings.counts(), drawings.owners(), _keys(drawings.db).pseudonym
    if args.json:
        print(json.dumps({"total": sum(counts), "per_digit": counts, "people": {pseudonym(o): n for o, n in owners}}))
        return 0
    print(f"{sum(counts)} drawings; of each digit: " + ", ".join(f"{d}: {n}" for d, n in enumerate(counts)))
    for owner, n in owners:
        print(f"  {pseudonym(owner)}: {n}")
    return 0


def _drawings_add(args: argparse.Namespace) -> int:
    from mnist_core.drawing_files import as_png
    from mnist_core.preprocessing import NotADigit, preprocess_and_span
    from mnist_core.reading.image_file import read_image
    from mnist_core.store.drawings import UPLOAD, DrawingError, check_label

    label = check_label(args.label)  # before any model loads
    clf = _classifier(args.model, args)
    drawings = _drawings(args)
    for path in args.images:
        image = read_image(_read_bytes(path))
        try:
            x, span = preprocess_and_span(image)
        except NotADigit as e:
            raise DrawingError(f"{path}: {e}") from None
        if x is None:
            raise DrawingError(f"{path}: no digit in it (blank)")
        p = clf.judge(x, [span]).probabilities[0]  # the Draw page's reading
        d = drawings.add(x, label, owner="", predicted=int(p.argmax()), confidence=float(p.max()),
                         model=args.model or "default", source=UPLOAD, image=as_png(image), strokes_across=span)
        print(f"{d.id}  {path}: labelled {label}, the model read {d.predicted} ({p.max():.1%})")
    return 0


def _drawings_export(args: argparse.Namespace) -> int:
    from mnist_core import atomic
    from mnist_core.drawing_files import IDX_NAMES, to_idx, to_npz, to_png_zip

    drawings = _drawings(args)
    c = drawings.collection()
    written = {}
    if args.format in ("all", "idx"):
        written.update(zip(IDX_NAMES, to_idx(c), strict=True))
    if args.format in ("all", "npz"):
            written["drawings.npz"] = to_npz(c, _keys(drawings.db).pseudonym)
    if args.format in ("all", "png"):
        written["drawings-png.zip"] = to_png_zip(c, drawings.image)
    for name, data in written.items():
        atomic.write_bytes(args.folder / name, data)
        print(args.folder / name)
    print(f"{len(c)} drawings", file=sys.stderr)
    return 0


def _drawings_import(args: argparse.Namespace) -> int:
    from mnist_core.drawing_files import import_drawings

    added = import_drawings(_drawings(args), [(p.name, _read_import(p)) for p in args.files], owner="")
    print(f"imported {added} drawings")
    return 0


def _read_import(path: Path) -> bytes:
    from mnist_core.drawing_files import MAX_FILE_BYTES
    from mnist_core.store.drawings import DrawingError

    if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
        raise DrawingError(f"{path}: over {MAX_FILE_BYTES // 2**20} MB")
    return path.read_bytes()


def _drawings_delete(args: argparse.Namespace) -> int:
    from mnist_core.owners import OPERATOR

    _drawings(args).delete(args.drawing_id, OPERATOR)
    print(f"deleted {args.drawing_id}")
    return 0


def _people_list(args: argparse.Namespace) -> int:
    from mnist_core.people import people

    db = _store(args).db
    for p in people(db, _keys(db)):
        if args.json:
            print(json.dumps({"name": p.name, "runs": p.runs, "drawings": p.drawings, "jobs": p.jobs}))
        else:
            print(f"{p.name:<32} {p.runs:>5} runs {p.drawings:>7} drawings {p.jobs:>3} jobs")
    return 0


def _people_remove(args: argparse.Namespace) -> int:
    from mnist_core.owners import OPERATOR
    from mnist_core.people import find, remove_person

    db = _store(args).db
    person = find(db, _keys(db), args.name)
    if not args.yes:
        print(f"{person.name}: {person.runs} runs, {person.drawings} drawings, {person.jobs} jobs in the line; "
              "add --yes to remove them all")
        return 0
    print(f"{person.name}: {remove_person(db, person.owner, OPERATOR)}")
    return 0


def _scoreboard(args: argparse.Namespace) -> int:
    from mnist_core.reading.classifier import load_classifier
    from mnist_core.scoreboard import scoreboard
    from mnist_core.store.drawings import DrawingStore, Filter

    store = _store(args)
    drawn = DrawingStore(store.db).collection(Filter(trusted=True))
    rows = scoreboard(store, drawn, load_classifier)
    for r in rows:
        if args.json:
            print(json.dumps({"name": r.name, "model": r.ref, "mnist_test": r.mnist_test, "drawings": r.drawings,
                              "refused": r.refused, "n": r.n, "per_class": r.per_class}))
        else:
            mnist, drawings, refused = ("-" if v is None else f"{v:.2%}" for v in (r.mnist_test, r.drawings, r.refused))
            print(f"{drawings:>7} on {r.n:>5} drawings, {refused:>7} refused  {mnist:>7} MNIST test  {r.name}")
    if not len(drawn) and not args.json:
        print("no labelled drawings yet: label some on the Draw page, or `drawings add`", file=sys.stderr)
    return 0


def _data(args: argparse.Namespace) -> int:
    data = _load_data(args)
    print(f"MNIST verified: {len(data.x_train)} training and {len(data.x_test)} test images, from {data.source}")
    return 0


class _ProgressBar:
    """One line per epoch on a terminal, redrawn in place: bar, epoch x of N, metrics, ETA."""

    def __init__(self, total: int, stream) -> None:
        self.total, self.stream, self.start = total, stream, time.perf_counter()
        self.tty = stream.isatty()

    def update(self, epoch: int, logs: dict) -> None:
        done = epoch + 1
        elapsed = time.perf_counter() - self.start
        left = elapsed / done * (self.total - done)
        filled = int(30 * done / self.total)
        line = (f"[{'#' * filled}{'.' * (30 - filled)}] epoch {done}/{self.total} "
                f"loss {logs['loss']:.4f} acc {logs['accuracy']:.4f} val_acc {logs['val_accuracy']:.4f} "
                f"{elapsed:.0f}s, {left:.0f}s left")
        if self.tty:
            print("\r" + line, end="", file=self.stream, flush=True)
        elif done == self.total or done % max(1, self.total // 10) == 0:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        """End the bar's line (once)."""
        if self.tty:
            print(file=self.stream)
            self.tty = False
