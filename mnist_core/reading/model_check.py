"""A model file opened to be read: sized from what it declares before anything is allocated, and
the one place where whatever goes wrong while reading it becomes one ModelError line.

    with open_model(path) as model:     # model.plan (model_plan.Plan), model.weights (its HDF5, to read by it)
        ...                             # any error in here, the caller's included, leaves as ModelError
    check_model_file(path)              # the parameters it declares, or ModelError("... declares 636 million ...")
    parameter_limit()                   # what this process accepts now

Keras safe mode stops code, not size: a 39 KB `.keras` whose config declares a layer of
800,000 units, with HDF5 datasets declared but never written, loads as 636 million zeros; a
DEFLATE entry expands 1000:1; a 1 KB file whose datasets are stored in 1x1 chunks takes 28 s of
reads. So, from metadata alone, in this order:
- the zip (`.keras`): each entry's declared size and compression ratio (declared.zip_bomb);
- the config (`config.json`, or the `.h5`'s `model_config`), at most 1 MB: planned
  (model_plan.py), its parameters being what the reader will read, a weight that several layers
  name counted for each; the weights' entry at most WEIGHT_BYTES a planned parameter;
- the weights (HDF5): every dataset's declared elements, written or not, compressed or not,
  counted along each link that reaches it; at most MAX_H5_OBJECTS objects and MAX_CHUNKS chunks
  (each a read); a link to another file refused. Weights that cannot be walked are refused, never
  counted as none.
The limit is the smaller of MAX_PARAMETERS ($MNIST_MAX_PARAMETERS) and what the memory left
to this process (its cgroup's, else the machine's) can hold several copies of.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py

from mnist_core.declared import zip_bomb
from mnist_core.limits import MAX_PARAMETERS, available_memory
from mnist_core.reading.model_plan import ModelError, Plan, plan_model

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
MAX_CONFIG_BYTES = 1_000_000
COPIES = 6  # bytes per parameter, x4 for float32: weights, a traced graph, an optimizer's moments...
WEIGHT_BYTES = 24  # a .keras's weights entry, per planned parameter: float64 weights and an optimizer's two moments
WEIGHT_OVERHEAD = 8 * 2**20  # and HDF5's own records (the shipped best: 7.47 MB for 1.86 million float32)
MAX_H5_OBJECTS = 4096  # groups and datasets: 137 layers with an optimizer's variables make about 1,200
MAX_CHUNKS = 4096  # Keras stores each dataset whole (one read); h5py's automatic chunks: under 2,000 for 20 million


@dataclass(frozen=True)
class ModelFile:
    plan: Plan
    weights: h5py.Group  # a .keras's weights file, or a legacy .h5's `model_weights`
    legacy: bool  # an .h5 as Keras 2 (or Keras 3's model.save("x.h5")) wrote it
    name: str  # the file's name, for messages (never its path)
    parameters: int  # what it declares: its plan's, or its datasets' when they declare more


def parameter_limit() -> int:
    """The most parameters a model may declare here and now."""
    configured = int(os.environ.get("MNIST_MAX_PARAMETERS") or MAX_PARAMETERS)
    return min(configured, available_memory() // (4 * COPIES))


def check_model_file(path: Path) -> int:
    """The parameters the model file declares (its plan's, or its weights' when they declare
    more); ModelError (one line) when they are more than this app accepts, or it cannot be read."""
    with open_model(path) as model:
        return model.parameters


@contextlib.contextmanager
def open_model(path: Path) -> Iterator[ModelFile]:
    """The model file at `path`, sized and planned; its weights stay open for the `with` block.
    The one exception boundary of model reading: a hostile file can make any parser raise
    anything (RecursionError from json, AttributeError from a config of the wrong kinds), and
    whatever is raised here or in the block leaves as a ModelError line naming the file."""
    path = Path(path)
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelError(f"{path.name}: expected a .keras or .h5 model file")
    if not path.is_file():
        raise ModelError(f"{path.name}: no such model file")
    try:
        with contextlib.ExitStack() as stack:
            limit = parameter_limit()
            if path.suffix.lower() == ".keras":
                archive = stack.enter_context(zipfile.ZipFile(path))
                plan, weights = _keras_zip(archive, path.name, limit)
                f = stack.enter_context(h5py.File(io.BytesIO(weights), "r"))
            else:
                f = stack.enter_context(h5py.File(path, "r"))
                raw = f.attrs.get("model_config")
                if raw is None or "model_weights" not in f or len(raw) > MAX_CONFIG_BYTES:
                    raise ModelError(f"{path.name}: holds weights only, not a whole model")
                plan = _planned(json.loads(raw), path.name, limit)
            declared = max(plan.parameters, _declared(f, path.name))
            _refuse_over(declared, limit, path.name)
            legacy = path.suffix.lower() != ".keras"
            yield ModelFile(plan, f["model_weights"] if legacy else f, legacy, path.name, declared)
    except ModelError:
        raise
    except Exception as e:  # the boundary (see the docstring): every other error means "cannot be read"
        raise ModelError(f"{path.name}: cannot be read as a dense Keras model ({e.__class__.__name__})") from None


def _keras_zip(archive: zipfile.ZipFile, name: str, limit: int) -> tuple[Plan, bytes]:
    """The plan and the weights file of a .keras zip, each entry's declared size checked before it is read."""
    entries = {info.filename: info for info in archive.infolist()}
    for info in entries.values():
        if info.file_size > 4 * 3 * limit:  # float32 weights and an optimizer's two moments
            raise ModelError(f"{name}: {info.filename} declares {info.file_size / 1e6:,.0f} MB")
        if zip_bomb(info):
            raise ModelError(f"{name}: {info.filename} is compressed "
                             f"{info.file_size // max(info.compress_size, 1):,}:1, like a zip bomb")
    config = entries.get("config.json")
    if config is None or config.file_size > MAX_CONFIG_BYTES:
        raise ModelError(f"{name}: no readable config.json")
    plan = _planned(json.loads(archive.read(config)), name, limit)
    weights = entries.get("model.weights.h5")
    if weights is None:
        raise ModelError(f"{name}: holds no model.weights.h5")
    if weights.file_size > WEIGHT_BYTES * plan.parameters + WEIGHT_OVERHEAD:
        raise ModelError(f"{name}: its weights take {weights.file_size / 1e6:,.1f} MB for "
                         f"{plan.parameters:,} parameters")
    # Read whole (its size checked): h5py seeks back and forth, and a zip member seeks back by
    # decompressing again from its start (a walk of 2,000 layers' weights: 3.5 s of zlib).
    return plan, archive.read(weights)


def _planned(config: dict, name: str, limit: int) -> Plan:
    plan = plan_model(config, name)
    _refuse_over(plan.parameters, limit, name)
    return plan


def _declared(f: h5py.File, name: str) -> int:
    """Elements of every dataset the HDF5 file declares (written or not, compressed or not), x2
    for float64, counted along every hard link that reaches it; ModelError past MAX_H5_OBJECTS
    objects or MAX_CHUNKS chunks, or for a link to another file. A soft link is not followed
    (the reader reads only what the plan names, and the plan counts it)."""
    total = objects = chunks = 0
    groups = [f]
    while groups:
        group = groups.pop()
        for key in group:
            objects += 1
            if objects > MAX_H5_OBJECTS:
                raise ModelError(f"{name}: its weights hold over {MAX_H5_OBJECTS:,} objects")
            link = group.get(key, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise ModelError(f"{name}: its weights link to another file")
            if not isinstance(link, h5py.HardLink):
                continue
            item = group[key]
            if isinstance(item, h5py.Group):
                groups.append(item)  # a group linked twice is walked twice: a cycle ends at the bound
            elif isinstance(item, h5py.Dataset) and item.shape:
                total += math.prod(item.shape) * max(1, item.dtype.itemsize // 4)
                if item.chunks:
                    chunks += math.prod(-(-size // chunk) for size, chunk in zip(item.shape, item.chunks, strict=True))
                    if chunks > MAX_CHUNKS:
                        raise ModelError(f"{name}: stores its weights in over {MAX_CHUNKS:,} chunks; "
                                         f"this app reads at most {MAX_CHUNKS:,}")
    return total


def _refuse_over(declared: int, limit: int, name: str) -> None:
    if declared > limit:
        raise ModelError(f"{name} declares {_millions(declared)} parameters; this app accepts up to {_millions(limit)}")


def _millions(n: int) -> str:
    return f"{(n + 500_000) // 10**6:,} million" if n >= 10**6 else f"{n:,}"
