"""A trained model, opened safely, that turns 28x28 digits into ten probabilities, computed
with numpy from the file's weights (forward.py): TensorFlow is imported only where a model is
trained or exported (load_keras).

    from mnist_core import load_classifier
    clf = load_classifier()                 # the project's shipped default model
    clf.judge(x28s)                         # the reading shown: calibrated, and which are no digit
    clf.predict_proba_tta(x28)              # its probabilities: (28, 28) -> (10,), averaged over 7 views
    clf.predict_proba(x)                    # one view each: (n, 28, 28) -> (n, 10)
    cache = ClassifierCache(max_bytes=200 * 2**20); cache.get(path)   # shared, bounded by bytes
    cache.get(store_upload(data, name, folder), untrusted=True)         # a visitor's file: loaded once

A picture gets one reading wherever it comes in (the Draw page, HTTP, the command line, the
scoreboard): the mean over the picture and six small shifts and turns of it (`tta_views`), +0.3
points on the drawing benchmark's held-out styles for 0.4 ms more. MNIST's test figures are
single views, as the book's are. Before a byte of weights is read, the file's declared size is
checked (model_check.py); a model whose input is not 784 values or a 28x28 image, or whose
output is not 10 classes, is refused with ModelError. A file a visitor uploaded is opened in a
short-lived process of its own, with a time limit (`untrusted`): a damaged HDF5 file can send
the HDF5 library into a loop no Python code can interrupt. It is kept under its content's hash,
so the cache loads it once however many strokes follow, and remembers a file that failed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import multiprocessing
import threading
import zipfile
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from mnist_core import atomic
from mnist_core.config import PRESET_RESULTS
from mnist_core.reading.forward import DenseNet
from mnist_core.reading.model_check import MODEL_SUFFIXES, ModelError, check_model_file
from mnist_core.reading.novelty import BLOB, NoveltyStats, calibrated, is_blob, stats_bytes

if TYPE_CHECKING:  # Keras (TensorFlow) loads only to train or export
    import keras

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_MODEL = MODELS_DIR / "default.keras"  # the best dense model, trained with augmentation
SEED_MODEL = MODELS_DIR / "seed.keras"  # the seed notebook's fit, reproduced by this project
SHIPPED_MODELS = {"default": DEFAULT_MODEL, "seed": SEED_MODEL}  # what users call them
# Their MNIST test accuracy: the `best` and `seed` presets' (tests/test_runs_and_models.py checks it)
SHIPPED_TEST_ACCURACY = {"default": PRESET_RESULTS["best"], "seed": PRESET_RESULTS["seed"]}
UNTRUSTED_SECONDS = 20.0  # an uploaded file's opening, in its own process, at most
# One BLAS thread: a reading's products are small, and with two threads on two cores a busy
# server's readings took 6x longer (benchmarks/forward_speed.py); the other core serves another
# request meanwhile.
threadpool_limits(1, user_api="blas")


@dataclass(frozen=True)
class Judged:
    """Readings as shown: calibrated probabilities, and which images are no digit at all and
    what they look like instead. The likeliest digit is always there: for a drawing that is no
    digit, it is the closest one."""

    probabilities: np.ndarray  # (n, 10): the seven views' average, its confidence calibrated
    not_a_digit: np.ndarray  # (n,) bool: "That doesn't look like a digit"
    looks_like: tuple[str | None, ...]  # what each no-digit looks like instead ("a letter or a sign"); None: a digit


@dataclass(frozen=True)
class Classifier:
    net: DenseNet
    path: Path
    temperature: float = 1.0  # divides the reading's log-probabilities: calibrated confidence (novelty.py)
    novelty: NoveltyStats | None = None  # the model's own "not a digit" head and threshold, when it has them

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """One view: (28, 28) -> (10,); (n, 28, 28) or (n, 784) -> (n, 10). Pixels in [0, 1]."""
        x = np.asarray(images, dtype=np.float32)
        single = x.shape in ((28, 28), (784,))
        p = self.net.predict_proba(x.reshape(-1, 784))
        return p[0] if single else p

    def predict_proba_tta(self, images: np.ndarray) -> np.ndarray:
        """The reading: predict_proba averaged over each image and six small shifts and turns of
        it (test-time augmentation), in one model call for all the views."""
        x = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28)
        p = self.predict_proba(tta_views(x).reshape(-1, 28, 28)).reshape(len(x), -1, 10).mean(axis=1)
        return p[0] if np.ndim(images) in (1, 2) else p

    def judge(self, images: np.ndarray, strokes_across: list[float | None] | None = None) -> Judged:
        """The reading every way in shows: (n, 28, 28) (or one (28, 28)) -> Judged. Its confidence
        is calibrated (a temperature fitted on the validation split, saved with the model); "not
        a digit" comes from the model's own head and MNIST's pixel subspace when it has them
        (novelty.NoveltyStats: the shipped models); a model without them (a run trained here, an
        upload) borrows the shipped default's, which judge the drawing, not the model that reads
        it (one more forward pass of the default network, about 1.5 ms a reading); and
        for a canvas or a picture, `strokes_across` (preprocessing.strokes_across of each) judges
        filled blobs, which preprocessing thins into bars."""
        x = np.asarray(images, np.float32).reshape(-1, 28, 28)
        views = tta_views(x).reshape(-1, 784)
        if self.novelty is not None:
            p, refused, looks_like = self._read_and_refuse(views, len(x))
        else:
            p = self.net.predict_proba(views)
            refused, looks_like = _default_classifier()._read_and_refuse(views, len(x))[1:]
        p = p.reshape(len(x), -1, 10).mean(axis=1)
        blobs = [is_blob(s) for s in strokes_across] if strokes_across is not None else [False] * len(x)
        looks_like = [BLOB if blob else seen for blob, seen in zip(blobs, looks_like, strict=True)]
        return Judged(calibrated(p, self.temperature).astype(np.float32), refused | np.array(blobs, bool),
                      tuple(looks_like))

    def _read_and_refuse(self, views: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
        """(n * 7, 784) views -> their probabilities, (n,) whether the model's head refuses each
        drawing, and what each refused one looks like instead."""
        p, hidden = self.net.read(views)
        blocks = [block.reshape(n, -1, block.shape[1]) for block in (views, *hidden)]  # (n, 7, d_i)
        refused = self.novelty.score(blocks) > self.novelty.threshold
        looks_like: list[str | None] = [None] * n
        if refused.any():
            for i, seen in zip(np.nonzero(refused)[0], self.novelty.looks_like([b[refused] for b in blocks]),
                               strict=True):
                looks_like[i] = seen
        return p, refused, looks_like

    def shape(self) -> dict:
        """The TrainConfig fields that describe this network: hidden widths, dropout, committee size."""
        return self.net.shape_of()


TTA_SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))  # (rows, columns), pixels
TTA_ANGLES = (-8.0, 8.0)  # degrees


def tta_views(x: np.ndarray) -> np.ndarray:
    """(n, 28, 28) -> (n, 7, 28, 28): each image, shifted one pixel four ways, and turned both ways."""
    from PIL import Image

    shifted = [np.roll(x, shift, axis=(1, 2)) for shift in TTA_SHIFTS]
    turned = [np.stack([np.asarray(Image.fromarray(im, "F").rotate(a, Image.BILINEAR)) for im in x])
              for a in TTA_ANGLES]
    return np.stack([x, *shifted, *turned], axis=1)


def load_classifier(path: str | Path | None = None, untrusted: bool = False) -> Classifier:
    """Open a `.keras` or `.h5` model; the default model when `path` is None. `untrusted` (a
    visitor's upload): in a process of its own, ended after UNTRUSTED_SECONDS. Its calibration
    comes with it: the `.novelty.npz` beside a shipped model, or what a run's `.keras` carries
    (runs.model_files): a fine-tune's own statistics (NOVELTY), else its temperature; none for
    other files (a temperature of 1, and the default's "not a digit" head)."""
    path = _model_path(path)
    net = _open_isolated(path) if untrusted else DenseNet.load(path)
    stats_file = path.with_name(path.stem + ".novelty.npz")
    if untrusted:
        novelty = None
    elif stats_file.is_file():
        novelty = NoveltyStats.load(stats_file)
    else:
        novelty = _carried_novelty(path, net)
    temperature = novelty.temperature if novelty is not None else _carried_temperature(path)
    return Classifier(net, path, temperature, novelty)


CALIBRATION = "calibration.json"  # a member of a run's .keras: {"temperature": T}, fitted when it was trained
NOVELTY = "novelty.npz"  # a member of a fine-tune's .keras: its own NoveltyStats (finetune.own_head)


def _carried_temperature(path: Path) -> float:
    """The temperature a `.keras` carries (runs.model_files adds it), else 1: no calibration."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(CALIBRATION)
            if info.file_size > 1000:
                return 1.0
            temperature = float(json.loads(archive.read(info)).get("temperature", 1.0))
    except (KeyError, OSError, ValueError, AttributeError, zipfile.BadZipFile):
        return 1.0
    return temperature if 0.01 <= temperature <= 100 else 1.0  # fit_temperature searches 0.05-20


def _carried_novelty(path: Path, net: DenseNet) -> NoveltyStats | None:
    """The NoveltyStats a fine-tune's `.keras` carries (NOVELTY), for this network's head; None
    when it has none, or when they are damaged, larger than such statistics are, or not this
    network's: the default's head judges its drawings then."""
    features = 784 + sum(net.shape_of()["hidden"])  # the pixels and the first network's hidden layers
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(NOVELTY)
            if info.file_size > 2 * stats_bytes(features):  # declared, before a byte is decompressed
                return None
            data = archive.read(info)
        return NoveltyStats.from_bytes(data, features)
    except (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None


@functools.cache
def _default_classifier() -> Classifier:
    """The shipped default model, whose "not a digit" head judges drawings for models without one."""
    return load_classifier(DEFAULT_MODEL)


def judged_by(classifier: Classifier) -> Classifier:
    """The model whose "not a digit" head judges `classifier`'s drawings: its own, or the default's."""
    return classifier if classifier.novelty is not None else _default_classifier()


def _model_path(path: str | Path | None) -> Path:
    path = Path(path) if path is not None else DEFAULT_MODEL
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelError(f"{path.name}: expected a .keras or .h5 model file")
    if not path.is_file():
        raise ModelError(f"{path.name}: no such model file")
    return path


def _open_isolated(path: Path) -> DenseNet:
    """DenseNet.load in a fresh process, killed when it takes over UNTRUSTED_SECONDS; a child that
    dies (the kernel's OOM killer) is told at once, not after the limit."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_load_into, args=(path, send), daemon=True)
    child.start()
    send.close()  # the child's end: when it dies without a word, recv() sees the pipe closed
    try:
        if not receive.poll(UNTRUSTED_SECONDS):
            raise ModelError(f"{path.name}: reading it took over {UNTRUSTED_SECONDS:.0f} s (a damaged file?)")
        net, problem = receive.recv()
    except EOFError:
        raise ModelError(f"{path.name}: reading it ended the process that read it (a damaged file?)") from None
    finally:
        child.kill()
        child.join()
        receive.close()
    if problem is not None:
        raise ModelError(problem)
    return net


def _load_into(path: Path, connection: Connection) -> None:
    """In the child: the network, or the one line that says why not (read_network's boundary)."""
    try:
        connection.send((DenseNet.load(path), None))
    except ModelError as e:
        connection.send((None, str(e)))


def load_keras(path: Path, compile: bool = False, flat_input: bool = False) -> keras.Model:
    """The Keras model itself, for what only Keras does: go on training it (`compile`: with the
    optimizer saved with it, its state included, when the file has one; a fine-tune's base) and
    export it as a SavedModel. Checked first as load_classifier checks; `flat_input`: its input
    must be 784 values, as training feeds it."""
    path = _model_path(path)
    check_model_file(path)  # before Keras allocates what the file declares
    import keras

    try:
        model = keras.models.load_model(path, compile=compile, safe_mode=True)
    except Exception as e:  # Keras raises many types for bad files; all mean "cannot open"
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else e.__class__.__name__
        raise ModelError(f"{path.name}: cannot be opened as a Keras model ({reason})") from e
    if flat_input and tuple(model.inputs[0].shape[1:]) != (784,):
        raise ModelError(f"{path.name}: takes 28x28 images; only models on 784 values can be fine-tuned here")
    return model


MODEL_CACHE_BYTES = 200 * 2**20  # weights (and statistics) kept loaded per process: 22 of the shipped best model
UPLOADS_KEPT, UPLOAD_BYTES_KEPT = 16, 100 * 2**20  # uploaded model files kept, the oldest removed first
FAILURES_KEPT = 64  # files remembered as unusable, by content (uploads) or by modification time


def store_upload(data: bytes, filename: str, folder: Path) -> Path:
    """Keep an uploaded model file under a name made from its content (never the user's), in a
    folder bounded in count and bytes: the files used longest ago are removed first."""
    suffix = Path(filename).suffix.lower()
    path = folder / f"{hashlib.sha256(data).hexdigest()[:32]}{suffix if suffix in MODEL_SUFFIXES else '.keras'}"
    if not path.exists():
        atomic.write_bytes(path, data)
    path.touch()  # used now
    kept = []
    for file in folder.iterdir():
        if file.suffix in MODEL_SUFFIXES:  # not another upload's atomic temp file (.NAME.XXXX.tmp)
            with contextlib.suppress(FileNotFoundError):  # removed meanwhile by another process's upload
                kept.append((file.stat(), file))
    kept.sort(key=lambda stat_file: stat_file[0].st_mtime, reverse=True)
    total = 0
    for i, (stat, old) in enumerate(kept):
        total += stat.st_size
        if old != path and (i >= UPLOADS_KEPT or total > UPLOAD_BYTES_KEPT):
            old.unlink(missing_ok=True)
    return path


class ClassifierCache:
    """Loaded models shared by every session and request, bounded by the bytes of their weights
    (not by a count: a few wide models weigh more than many small ones); the least recently used
    go first. Thread-safe; a model is loaded once even when many ask for it at the same time, and
    its loading holds no lock that others need: a stroke on another model never waits for it.
    A file that could not be used is remembered (FAILURES_KEPT of them): asked again, the same
    one line comes back without a second try."""

    def __init__(self, max_bytes: int = MODEL_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._models: OrderedDict[tuple[Path, int], Classifier] = OrderedDict()
        self._loading: dict[tuple[Path, int], Future[Classifier]] = {}
        self._failed: OrderedDict[tuple[Path, int], str] = OrderedDict()  # key -> the ModelError's line
        self._lock = threading.Lock()  # held for lookups and bookkeeping only

    def get(self, path: Path, untrusted: bool = False) -> Classifier:
        """The model at `path`, loaded once (again if the file changes); ModelError if unusable.
        `untrusted`: a visitor's upload, kept by store_upload under its content's hash: its name
        is its content, so it is found without a look at the file (load_classifier opens it in a
        process of its own)."""
        try:
            key = (path, 0 if untrusted else path.stat().st_mtime_ns)
        except OSError:
            raise ModelError(f"{path.name}: no such model file") from None
        with self._lock:
            if key in self._models:  # every stroke comes here
                self._models.move_to_end(key)
                return self._models[key]
            if key in self._failed:
                self._failed.move_to_end(key)
                raise ModelError(self._failed[key])  # a new one each time: a raised one grows its traceback
            loading = self._loading.get(key)
            first = loading is None
            if first:
                loading = self._loading[key] = Future()
        if not first:
            return loading.result()  # another thread is loading it: wait for that one load
        try:
            model = load_classifier(path, untrusted)
        except BaseException as e:
            with self._lock:
                if isinstance(e, ModelError) and path.is_file():  # its content judged, not its absence
                    self._failed[key] = str(e)
                    while len(self._failed) > FAILURES_KEPT:
                        self._failed.popitem(last=False)
                self._loading.pop(key, None)
            loading.set_exception(e)
            raise
        with self._lock:
            self._loading.pop(key, None)
            self._models[key] = model
            while self.bytes() > self.max_bytes and len(self._models) > 1:
                self._models.popitem(last=False)
        loading.set_result(model)
        return model

    def bytes(self) -> int:
        """float32 bytes of the weights of every model held, and of their "not a digit" statistics."""
        return sum(c.net.nbytes + (c.novelty.nbytes if c.novelty is not None else 0) for c in self._models.values())
