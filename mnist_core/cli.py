"""The command line: `python -m mnist_core {train,evaluate,predict,data} --help`.

Errors are one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mnist_core.config import PRESET_NOTES, PRESETS, ConfigError, TrainConfig, parse_hidden
from mnist_core.errors import USER_ERRORS


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _import_tensorflow_quietly()
        return args.run(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as e:  # the edge: the user's errors become one line
        print(f"error: {e}", file=sys.stderr)
        return 1


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with the process's stderr muted: its C++ start-up prints INFO lines
    that no log level silences, and the command line promises one-line errors."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
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

    t = sub.add_parser("train", help="train a model and save it as a run",
                       description="Train a dense network; each run is saved in its own folder.",
                       epilog="presets: " + "; ".join(f"{k}: {v}" for k, v in PRESET_NOTES.items()))
    t.add_argument("--preset", choices=PRESETS, default="seed", help="starting settings (default: seed)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--optimizer", choices=("sgd", "rmsprop", "adam"))
    t.add_argument("--hidden", type=_hidden, help="hidden layer sizes, e.g. 128,128 (0 for none)")
    t.add_argument("--dropout", type=float)
    t.add_argument("--validation-split", type=float)
    t.add_argument("--seed", type=int)
    t.add_argument("--out", type=Path, help="folder that holds the run folders (default: runs/)")
    t.add_argument("--data", help="an mnist.npz or a folder of IDX files (default: $MNIST_PATH, cache, download)")
    t.add_argument("--json", action="store_true", help="end stdout with one JSON object of results")
    t.set_defaults(run=_train)

    e = sub.add_parser("evaluate", help="test accuracy of a model file")
    e.add_argument("model", nargs="?", type=Path, help=".keras or .h5 file (default: the shipped model)")
    e.add_argument("--data", help="an mnist.npz or a folder of IDX files")
    e.add_argument("--json", action="store_true")
    e.set_defaults(run=_evaluate)

    p = sub.add_parser("predict", help="read digits from image files")
    p.add_argument("images", nargs="+", type=Path)
    p.add_argument("--model", type=Path, help=".keras or .h5 file (default: the shipped model)")
    p.add_argument("--json", action="store_true", help="one JSON object per line per image")
    p.set_defaults(run=_predict)

    d = sub.add_parser("data", help="fetch and verify MNIST, print where it is")
    d.add_argument("--data", help="an mnist.npz or a folder of IDX files")
    d.set_defaults(run=_data)
    return parser


def _hidden(text: str) -> tuple[int, ...]:
    try:
        return parse_hidden(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _config(args: argparse.Namespace) -> TrainConfig:
    names = ("epochs", "batch_size", "learning_rate", "optimizer", "hidden", "dropout", "validation_split", "seed")
    changes = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    return PRESETS[args.preset].replace(**changes)


def _load_data(args: argparse.Namespace):
    from mnist_core.data import load_mnist

    def progress(message: str, fraction: float | None) -> None:
        print(message, file=sys.stderr)

    return load_mnist(args.data, progress=progress)


def _train(args: argparse.Namespace) -> int:
    config = _config(args)  # checked before the slow imports
    from mnist_core.runs import runs_dir, save_run
    from mnist_core.train import train, use_threads_for

    use_threads_for(config)
    data = _load_data(args)
    bar = _ProgressBar(config.epochs, sys.stderr)
    result = train(config, data, on_epoch_end=bar.update)
    bar.close()
    folder = save_run(result, args.out or runs_dir(), preset=args.preset)
    summary = {
        "preset": args.preset,
        "epochs_done": result.epochs_done,
        "val_accuracy": round(result.history["val_accuracy"][-1], 5),
        "test_accuracy": round(result.test_accuracy, 5),
        "fit_seconds": round(result.fit_seconds, 2),
        "model_path": str(folder / "model.keras"),
        "h5_path": str(folder / "mnist_dense_model.h5"),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"test accuracy {result.test_accuracy:.4f}, validation {summary['val_accuracy']:.4f}, "
              f"{result.fit_seconds:.1f} s; saved {folder}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from mnist_core.classifier import load_classifier

    clf = load_classifier(args.model)
    data = _load_data(args)
    probabilities = clf.predict_proba(data.x_test.astype(np.float32) / 255.0)
    accuracy = float((probabilities.argmax(axis=1) == data.y_test).mean())
    print(json.dumps({"test_accuracy": accuracy}) if args.json else f"test accuracy {accuracy:.4f} ({clf.path})")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from mnist_core.classifier import load_classifier
    from mnist_core.image_file import ImageError, read_image
    from mnist_core.preprocess import preprocess

    clf = load_classifier(args.model)
    failed = 0
    for path in args.images:
        try:
            x = preprocess(read_image(_read_bytes(path)))
        except (ImageError, OSError, ValueError) as e:
            failed += 1
            message = str(e) if not isinstance(e, OSError) else (e.strerror or str(e))
            if args.json:
                print(json.dumps({"file": str(path), "error": message}))
            else:
                print(f"{path}: error: {message}", file=sys.stderr)
            continue
        p = None if x is None else clf.predict_proba(x)
        digit = None if p is None else int(p.argmax())
        if args.json:
            print(json.dumps({"file": str(path), "digit": digit,
                              "probabilities": None if p is None else [round(float(v), 6) for v in p]}))
        else:
            print(f"{path}: " + ("blank" if p is None else f"{digit} ({p[digit]:.1%})"))
    return 1 if failed else 0


def _read_bytes(path: Path) -> bytes:
    from mnist_core.image_file import MAX_BYTES, ImageError

    if path.is_file() and path.stat().st_size > MAX_BYTES:
        raise ImageError(f"the file is over the {MAX_BYTES // 2**20} MB limit")
    return path.read_bytes()


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
        if self.tty:
            print(file=self.stream)
