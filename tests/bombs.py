"""Hostile files made on the fly: each is small on disk and declares something huge.

    keras_unwritten(path)    # a .keras: Dense(800000) in its config, HDF5 datasets never written
    keras_deflated(path)     # a .keras whose weights are zeros compressed ~1000:1
    h5_gzip(path)            # a legacy .h5: Dense(800000), gzip-filtered datasets never written
    keras_member_declaring(path, size)   # a .keras whose zip directory says a member is `size` bytes
    idx_billion(folder)      # IDX files whose header declares a billion images, gzipped
    npz_huge(path)           # an .npz whose x_train header declares (10**9, 28, 28)
    npy_header(shape)        # the header of an .npy of uint8 that declares `shape`, no data after it
"""

from __future__ import annotations

import gzip
import io
import json
import struct
import zipfile
from pathlib import Path

import h5py
import numpy as np

from tests.helpers import idx_header

UNITS = 800_000  # 784 x 800,000 + 800,000 x 10: 636 million parameters


def _config(units: int) -> dict:
    dense = lambda name, n, activation: {  # noqa: E731
        "module": "keras.layers", "class_name": "Dense", "registered_name": None,
        "config": {"name": name, "trainable": True, "dtype": "float32", "units": n, "activation": activation,
                   "use_bias": True}}
    return {"module": "keras", "class_name": "Sequential", "registered_name": None, "config": {
        "name": "mnist_dense", "trainable": True, "dtype": "float32", "layers": [
            {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
             "config": {"batch_shape": [None, 784], "dtype": "float32", "name": "pixels"}},
            dense("dense", units, "relu"), dense("dense_1", 10, "softmax")]}}


def _weights(units: int, write: bool, **dataset_options) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for name, shapes in (("dense", [(784, units), (units,)]), ("dense_1", [(units, 10), (10,)])):
            for i, shape in enumerate(shapes):
                data = f.create_dataset(f"layers/{name}/vars/{i}", shape, "float32", chunks=True, **dataset_options)
                if write:
                    for start in range(0, shape[0], 256):  # zeros, a slice at a time
                        data[start:start + 256] = 0
    return buffer.getvalue()


def _keras(path: Path, config: dict, weights: bytes, compression: int) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.15.1", "date_saved": "2026-11-25"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", weights)
    return path


def keras_unwritten(path: Path) -> Path:
    return _keras(path, _config(UNITS), _weights(UNITS, write=False), zipfile.ZIP_STORED)


def keras_deflated(path: Path, units: int = 2000) -> Path:
    return _keras(path, _config(units), _weights(units, write=True), zipfile.ZIP_DEFLATED)


def h5_gzip(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(_config(UNITS))
        f.attrs["keras_version"] = "3.15.1"
        for name, shapes in (("dense", [(784, UNITS), (UNITS,)]), ("dense_1", [(UNITS, 10), (10,)])):
            for i, shape in enumerate(shapes):
                f.create_dataset(f"model_weights/{name}/{name}/var{i}", shape, "float32", chunks=True,
                                 compression="gzip")
    return path


def keras_member_declaring(path: Path, size: int) -> Path:
    """A seed-sized .keras whose zip directory declares model.weights.h5 to be `size` bytes (the
    entry itself is as small as before): what a reader believes before it reads a byte of it."""
    _keras(path, _config(10), _weights(10, write=True), zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    entry = data.index(b"PK\x01\x02")  # the zip's central directory: its first entry
    while True:  # the directory entry of model.weights.h5: its uncompressed size is at offset 24
        name_length = struct.unpack_from("<H", data, entry + 28)[0]
        if data[entry + 46:entry + 46 + name_length] == b"model.weights.h5":
            break
        extra, comment = struct.unpack_from("<HH", data, entry + 30)
        entry += 46 + name_length + extra + comment
    struct.pack_into("<I", data, entry + 24, size)
    path.write_bytes(bytes(data))
    return path


def idx_billion(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    images = idx_header((10**9, 28, 28))  # 16 bytes: a billion 28x28 images
    labels = idx_header((10**9,))
    for stem, head in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels),
                       ("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        (folder / f"{stem}.gz").write_bytes(gzip.compress(head + b"\0" * 4096))
    return folder


def npz_huge(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x_train.npy", npy_header((10**9, 28, 28)) + b"\0" * 4096)
    return path


def npy_header(shape: tuple[int, ...]) -> bytes:
    """The magic string and header of an .npy of uint8 that declares `shape`; nothing after it."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return header.getvalue()
