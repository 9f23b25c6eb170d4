"""Hostile files made on the fly: each is small on disk and declares something huge.

    keras_unwritten(path)    # a .keras: Dense(800000) in its config, HDF5 datasets never written
    keras_deflated(path)     # a .keras whose weights are zeros compressed ~1000:1
    h5_gzip(path)            # a legacy .h5: Dense(800000), gzip-filtered datasets never written
    keras_member_declaring(path, size)   # a .keras whose zip directory says a member is `size` bytes
    keras_reshape_shared(path, units, layers)   # Reshape(-1) before each Dense, their kernels one dataset
    keras_chunked(path, units)   # weights stored in 1x1 chunks: a read per number, in a 1 KB file
    keras_many_layers(path, n)   # n Dense(10) layers, each with its own weights
    keras_average_tower(path, depth)   # Average layers each averaging two paths to the one below
    BAD_MODELS               # every bad model file above and more, by file name: name -> maker(path)
    damaged(source, path, case)   # bytes flipped in a model's zip or weights, or a config value replaced
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
from collections.abc import Callable
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


def _dense(name: str, units: int, activation: str = "relu") -> dict:
    return {"class_name": "Dense", "config": {"name": name, "units": units, "activation": activation}}


def _sequential(*layers: dict, inputs: list | None = None) -> dict:
    first = {"class_name": "InputLayer", "config": {"batch_shape": inputs or [None, 784], "name": "pixels"}}
    return {"class_name": "Sequential", "config": {"name": "model", "layers": [first, *layers]}}


def _h5(datasets: dict[str, tuple[int, ...] | str]) -> bytes:
    """An HDF5 file of unwritten float32 datasets by path; a str value hard-links the dataset at that path."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for name, shape in datasets.items():
            if isinstance(shape, str):
                f[name] = f[shape]  # a second hard link to the same dataset
            else:
                f.create_dataset(name, shape, "float32")
    return buffer.getvalue()


def keras_reshape_shared(path: Path, units: int = 2048, layers: int = 8) -> Path:
    """Reshape([-1]) before each Dense(units): a check that keeps the -1 counts the next layer's
    kernel as -units + units = 0 parameters. The (units, units) kernels are one dataset, hard-linked
    from every layer, so a count of the file's datasets sees it once (5.8 million parameters); a
    reader reads it once a layer: this 3 KB file reads as 125 MB (20 layers of 4096 units: 1.3 GB)."""
    flat = {"class_name": "Reshape", "config": {"name": "flat", "target_shape": [-1]}}
    config = _sequential(*[item for i in range(layers) for item in
                           ({**flat, "config": {**flat["config"], "name": f"flat_{i}"}}, _dense(f"dense_{i}", units))],
                         _dense("out", 10, "softmax"))
    datasets: dict[str, tuple[int, ...] | str] = {"layers/dense/vars/0": (784, units), "layers/dense/vars/1": (units,)}
    for i in range(1, layers):
        datasets |= {f"layers/dense_{i}/vars/0": "layers/dense_1/vars/0" if i > 1 else (units, units),
                     f"layers/dense_{i}/vars/1": "layers/dense/vars/1"}
    datasets |= {f"layers/dense_{layers}/vars/0": (units, 10), f"layers/dense_{layers}/vars/1": (10,)}
    return _keras(path, config, _h5(datasets), zipfile.ZIP_DEFLATED)


def keras_chunked(path: Path, units: int = 1024) -> Path:
    """A Dense(units) network whose datasets are stored in 1x1 chunks, never written: a 1 KB file
    whose reading looks up 800,000 chunks (28 s for 1024 units)."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for name, shapes in (("dense", [(784, units), (units,)]), ("dense_1", [(units, 10), (10,)])):
            for i, shape in enumerate(shapes):
                f.create_dataset(f"layers/{name}/vars/{i}", shape, "float32", chunks=(1,) * len(shape))
    return _keras(path, _config(units), buffer.getvalue(), zipfile.ZIP_DEFLATED)


def keras_many_layers(path: Path, n: int = 2000) -> Path:
    """n Dense(10) layers in a row, each with its weights: 15 s to read 2,000 of them."""
    config = _sequential(*[_dense(f"d{i}", 10) for i in range(n)])
    datasets: dict[str, tuple[int, ...] | str] = {}
    for i in range(n):
        key = f"dense_{i}" if i else "dense"
        datasets |= {f"layers/{key}/vars/0": (10 if i else 784, 10), f"layers/{key}/vars/1": (10,)}
    return _keras(path, config, _h5(datasets), zipfile.ZIP_DEFLATED)


def keras_average_tower(path: Path, depth: int = 40) -> Path:
    """A Functional model where each Average layer averages two layers that both take the Average
    below: 2**depth paths from the input to the output for 3 * depth layers."""
    def layer(kind: str, name: str, sources: list[str], **config) -> dict:
        return {"class_name": kind, "name": name, "config": {"name": name, **config},
                "inbound_nodes": [[[source, 0, 0, {}] for source in sources]] if sources else []}

    layers = [layer("InputLayer", "pixels", [], batch_shape=[None, 784]),
              layer("Dense", "dense", ["pixels"], units=10, activation="softmax")]
    below = "dense"
    for i in range(depth):
        left, right = (layer("Activation", f"{side}_{i}", [below], activation="linear") for side in "ab")
        layers += [left, right, layer("Average", f"average_{i}", [left["name"], right["name"]])]
        below = f"average_{i}"
    config = {"class_name": "Functional", "config": {"name": "tower", "layers": layers,
                                                     "input_layers": [["pixels", 0, 0]],
                                                     "output_layers": [[below, 0, 0]]}}
    return _keras(path, config, _h5({"layers/dense/vars/0": (784, 10), "layers/dense/vars/1": (10,)}),
                  zipfile.ZIP_DEFLATED)


def _seed_like(path: Path, config: object = None, weights: bytes | None = None,
               raw_config: bytes | None = None) -> Path:
    """A one-layer softmax model in a .keras, with this config (or these config bytes) and weights."""
    config = _sequential(_dense("dense", 10, "softmax")) if config is None else config
    weights = _h5({"layers/dense/vars/0": (784, 10), "layers/dense/vars/1": (10,)}) if weights is None else weights
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", raw_config if raw_config is not None else json.dumps(config))
        z.writestr("model.weights.h5", weights)
    return path


def _without(path: Path, member: str) -> Path:
    _seed_like(path)
    with zipfile.ZipFile(path) as z:
        kept = {name: z.read(name) for name in z.namelist() if name != member}
    with zipfile.ZipFile(path, "w") as z:
        for name, data in kept.items():
            z.writestr(name, data)
    return path


def _nested(depth: int) -> dict:
    model = _sequential(_dense("dense", 10, "softmax"))
    for _ in range(depth):
        model = _sequential(model)
    return model


def _h5_legacy(path: Path, config: object | None, weights: bool = True) -> Path:
    with h5py.File(path, "w") as f:
        if config is not None:
            f.attrs["model_config"] = json.dumps(config)
        if weights:
            group = f.create_group("model_weights/dense")
            group.attrs["weight_names"] = [b"dense/kernel", b"dense/bias"]
            group.create_dataset("dense/kernel", (784, 10), "float32")
            group.create_dataset("dense/bias", (10,), "float32")
    return path


# Every bad model file the suite makes, by the file name it is uploaded as: each must be refused in
# one line wherever a model comes in (tests/test_bad_models.py), never read, never a traceback.
BAD_MODELS: dict[str, Callable[[Path], Path]] = {
    "unwritten.keras": keras_unwritten,
    "deflated.keras": keras_deflated,
    "gzip.h5": h5_gzip,
    "member-declaring-4gb.keras": lambda path: keras_member_declaring(path, 4_000_000_000),
    "reshape-shared.keras": keras_reshape_shared,
    "chunked.keras": keras_chunked,
    "many-layers.keras": keras_many_layers,
    "average-tower.keras": keras_average_tower,
    "layer-config-a-list.keras": lambda path: _seed_like(path, _sequential(
        {"class_name": "Dense", "config": [{"units": 10}]})),
    "config-nested-100000-deep.keras": lambda path: _seed_like(path, raw_config=b"[" * 100_000),
    "config-a-list.keras": lambda path: _seed_like(path, []),
    "config-not-json.keras": lambda path: _seed_like(path, raw_config=b"\xff{"),
    "config-over-1mb.keras": lambda path: _seed_like(path, raw_config=b" " * 1_000_001),
    "no-config.keras": lambda path: _without(path, "config.json"),
    "no-weights.keras": lambda path: _without(path, "model.weights.h5"),
    "weights-not-hdf5.keras": lambda path: _seed_like(path, weights=b"\x89HDF\r\n\x1a\n" + b"\0" * 100),
    "layers-not-a-list.keras": lambda path: _seed_like(path, {"class_name": "Sequential", "config": {"layers": 7}}),
    "class-name-a-list.keras": lambda path: _seed_like(path, _sequential({"class_name": [1], "config": {}})),
    "units-negative.keras": lambda path: _seed_like(path, _sequential(_dense("dense", -10, "softmax"))),
    "units-huge.keras": lambda path: _seed_like(path, _sequential(_dense("dense", 10**30, "softmax"))),
    "input-negative.keras": lambda path: _seed_like(path, _sequential(_dense("dense", 10, "softmax"),
                                                                      inputs=[None, -784])),
    "reshape-does-not-divide.keras": lambda path: _seed_like(path, _sequential(
        {"class_name": "Reshape", "config": {"name": "r", "target_shape": [-1, 3]}}, _dense("dense", 10, "softmax"))),
    "no-input-shape.keras": lambda path: _seed_like(path, {"class_name": "Sequential", "config": {
        "name": "model", "layers": [_dense("dense", 10, "softmax")]}}),
    "embedding.keras": lambda path: _seed_like(path, _sequential(
        {"class_name": "Embedding", "config": {"name": "e", "input_dim": 10**4, "output_dim": 8}},
        {"class_name": "Flatten", "config": {"name": "f"}}, _dense("dense", 10, "softmax"))),
    "conv.keras": lambda path: _seed_like(path, _sequential(
        {"class_name": "Conv2D", "config": {"name": "c", "filters": 4, "kernel_size": [3, 3]}},
        {"class_name": "Flatten", "config": {"name": "f"}}, _dense("dense", 10, "softmax"), inputs=[None, 28, 28, 1])),
    "nested-3-deep.keras": lambda path: _seed_like(path, _nested(3)),
    "not-a-zip.keras": lambda path: (path.write_bytes(b"not a zip"), path)[1],
    "empty.keras": lambda path: (path.write_bytes(b""), path)[1],
    "not-hdf5.h5": lambda path: (path.write_bytes(b"\0" * 100), path)[1],
    "weights-only.h5": lambda path: _h5_legacy(path, None),
    "legacy-config-a-list.h5": lambda path: _h5_legacy(path, _sequential(
        {"class_name": "Dense", "config": [{"units": 10}]})),
    "legacy-no-weights.h5": lambda path: _h5_legacy(path, _sequential(_dense("dense", 10, "softmax")), weights=False),
}


def damaged(source: Path, path: Path, case: int) -> Path:
    """A copy of the .keras at `source`, damaged one of three ways by `case` (seeded by it): bytes
    of the zip flipped; bytes of the weights' HDF5 metadata flipped, the zip intact; or a value of
    a layer's config replaced by one of another kind."""
    rng = np.random.default_rng(case)
    with zipfile.ZipFile(source) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    if case % 3 == 0:
        data = bytearray(source.read_bytes())
        for at in rng.integers(0, len(data), 1 + case % 6):
            data[at] = rng.integers(0, 256)
        path.write_bytes(bytes(data))
        return path
    if case % 3 == 1:
        h5 = bytearray(entries["model.weights.h5"])
        for at in rng.integers(0, 4096, 1 + case % 6):
            h5[at] = rng.integers(0, 256)
        entries["model.weights.h5"] = bytes(h5)
    else:
        config = json.loads(entries["config.json"])
        layer = config["config"]["layers"][rng.integers(0, len(config["config"]["layers"]))]["config"]
        layer[list(layer)[rng.integers(0, len(layer))]] = [None, -1, 0, 10**9, "x", [784], {}, 1.5][case % 8]
        entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, member in entries.items():
            archive.writestr(name, member)
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
