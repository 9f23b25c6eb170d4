"""Files that declare their own size, read only after the declaration is checked.

    shape, dtype = npy_header(stream)       # an .npy's header; the stream is left at its data
    shape, dtype = npy_member_header(archive, "y")   # an .npz member's header, nothing more
    x = read_npy(archive, "x", max_bytes, "the 200 MB limit")   # an .npz member, header checked first
    arrays = read_arrays(data, {"x": "u", "y": "iu"}, max_bytes, "the file's size")   # an .npz's bytes, all or nothing
    x = read_idx(stream, max_bytes)         # an MNIST-format IDX array, at most max_bytes
    shape = idx_header(stream)              # its shape alone, nothing more read
    zip_bomb(info)                          # a zip entry declaring 1000 times its compressed size

A 16-byte IDX header can declare a billion images in a tiny gzip, and an .npy header any shape:
numpy allocates what a header declares before it reads. Here the declaration is checked against
a limit first, and then exactly the declared bytes are read, so a lie ends in an error, not in
an allocation. A zip entry declares its size too, and deflates up to 1000:1.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Mapping
from typing import BinaryIO

import numpy as np

NPY_HEADER_BYTES = 1024  # a plain array's header is under 128 bytes
ZIP_BOMB_RATIO = 50  # an entry's size over its compressed size: float weights and PNGs compress ~1.1:1
ZIP_BOMB_BYTES = 1_000_000  # smaller entries are never bombs (a model's config.json compresses ~10:1)
_NPY_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def npy_header(stream: BinaryIO, kinds: str = "uif") -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of a C-order .npy of plain numbers (or of another of numpy's `kinds`, "U"
    for text); ValueError for anything else."""
    try:
        version = np.lib.format.read_magic(stream)
        if version not in _NPY_READERS:
            raise ValueError(f"version {version} of the format")
        shape, fortran, dtype = _NPY_READERS[version](stream, max_header_size=NPY_HEADER_BYTES)
    except (ValueError, SyntaxError, EOFError) as e:  # numpy parses the header as a Python literal
        raise ValueError(f"not a NumPy .npy file ({str(e).splitlines()[0][:120]})") from None
    except Exception as e:  # tokenize.TokenError and kin, from a broken header literal
        raise ValueError(f"not a NumPy .npy file ({e.__class__.__name__})") from None
    if fortran or dtype.hasobject or dtype.kind not in kinds:
        raise ValueError(f"expected a C-order array of numbers{' or text' if 'U' in kinds else ''}, not {dtype.str}")
    return tuple(int(n) for n in shape), dtype


def declared_bytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return int(np.prod(shape, dtype=np.float64)) * dtype.itemsize


def npy_member_header(archive: zipfile.ZipFile, key: str) -> tuple[tuple[int, ...], np.dtype] | None:
    """(shape, dtype) that `key`.npy of an .npz declares (None when it has none); nothing else read."""
    if f"{key}.npy" not in archive.namelist():
        return None
    with archive.open(f"{key}.npy") as member:
        return npy_header(member)


def read_npy(archive: zipfile.ZipFile, key: str, max_bytes: int, limit: str, kinds: str = "uif") -> np.ndarray | None:
    """The array `key`.npy of an .npz (None when it has none): its header checked against
    `max_bytes` (`limit` says it in words), then exactly the declared bytes read. `kinds`: as
    npy_header takes them."""
    if f"{key}.npy" not in archive.namelist():
        return None
    with archive.open(f"{key}.npy") as member:
        shape, dtype = npy_header(member, kinds)
        size = declared_bytes(shape, dtype)
        if size > max_bytes:
            raise ValueError(f"{key} declares {shape} {dtype.str}: over {limit}")
        data = member.read(size + 1)
    if len(data) != size:
        raise ValueError(f"{key} does not hold the {shape} it declares")
    return np.frombuffer(data, dtype).reshape(shape)


def read_arrays(data: bytes, kinds: Mapping[str, str], max_bytes: int, limit: str) -> dict[str, np.ndarray]:
    """The arrays `kinds` names (name -> the kinds npy_header takes) of an .npz given as bytes, each
    read as read_npy reads it; ValueError in one line for one that is missing, or any damage (a
    broken zip, a damaged member, another compression, a password)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            found = {key: read_npy(archive, key, max_bytes, limit, k) for key, k in kinds.items()}
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as e:
        raise ValueError(f"{e.__class__.__name__}: {e}") from e
    missing = [key for key, array in found.items() if array is None]
    if missing:
        raise ValueError(f"{missing[0]} is missing")
    return found


def idx_header(stream: BinaryIO) -> tuple[int, ...]:
    """The shape an IDX file declares: 2 zero bytes, type 0x08 (uint8), ndim, then ndim
    big-endian uint32 sizes; the stream is left at its data."""
    head = stream.read(4)
    if len(head) < 4 or head[:3] != b"\x00\x00\x08":
        raise ValueError("bad magic number")
    sizes = stream.read(4 * head[3])
    if len(sizes) != 4 * head[3]:
        raise ValueError("a truncated header")
    return tuple(int(s) for s in np.frombuffer(sizes, ">u4"))


def read_idx(stream: BinaryIO, max_bytes: int) -> np.ndarray:
    """An IDX array: its sizes (idx_header) checked before the data is read, and only that
    many bytes read."""
    shape = idx_header(stream)
    declared = int(np.prod(shape, dtype=np.float64))
    if declared > max_bytes:
        raise ValueError(f"it declares {shape}: over the {max_bytes // 10**6} MB limit")
    data = stream.read(declared)
    if len(data) != declared or stream.read(1):
        raise ValueError(f"its data does not match the {shape} it declares")
    return np.frombuffer(data, np.uint8).reshape(shape)


def zip_bomb(info: zipfile.ZipInfo) -> bool:
    """Whether a zip entry declares over ZIP_BOMB_BYTES at over ZIP_BOMB_RATIO:1: the one rule for
    model files and drawings."""
    return info.file_size > ZIP_BOMB_BYTES and info.file_size > ZIP_BOMB_RATIO * max(info.compress_size, 1)
