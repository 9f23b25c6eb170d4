"""Labelled drawings as files: MNIST's own IDX format, NumPy's .npz, a zip of PNGs; and back.

    images_gz, labels_gz = to_idx(collection)      # drawings-images-idx3-ubyte.gz, -labels-idx1-ubyte.gz
    data = to_npz(collection, keys.pseudonym)      # x (n, 28, 28) uint8, y (n,), person, predicted, created, id
    data = to_png_zip(collection, store.image)     # 28x28/<digit>/<id>.png, drawn/<digit>/<id>.png
    x, y = read_files([("drawings.npz", data)])    # any of the above, checked before it is read
    added = import_drawings(store, files, owner, per_day=2000)   # the budget checked before any decoding

The IDX files are byte for byte what MNIST's `train-images-idx3-ubyte.gz` format is (magic
0x00000803, n, 28, 28, then the pixels; labels 0x00000801, n, then the labels), so anything
that reads MNIST reads them, this project's MNIST loader included. An export never holds an
owner (a login's email, a private link's id): people appear by their keyed pseudonym only.

Reading is defensive, as everywhere an outsider's file comes in: the declared sizes (IDX and
.npy headers, zip entries, pictures' headers) are checked before anything is read, at most
MAX_DRAWINGS images a file and MAX_IMPORT_PIXELS of pictures to decode, labels must be digits,
and every PNG goes through the Draw page's image reader and preprocessing. An import asks the
person's budget with the count the files declare before a picture is decoded (2,000 pictures of
16 megapixels took 279 s of a core to be refused by it afterwards). Anything wrong is one
DrawingError line, and nothing is stored.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from mnist_core.declared import idx_header, npy_member_header, read_idx, read_npy, zip_bomb
from mnist_core.reading.image_file import EXTENSIONS, MAX_BYTES, declared_pixels
from mnist_core.store.drawings import Collection, DrawingError, DrawingStore, check_label

MAX_DRAWINGS = 60_000  # a file's drawings at most: as many as MNIST's training set
MAX_ZIP_ENTRY = MAX_BYTES  # bytes of one PNG in a zip: as many as an uploaded picture
MAX_FILE_BYTES = MAX_DRAWINGS * 784 * 8 + 2**20  # the largest export there can be, with room for PNGs' headers
# pixels of pictures one import may decode: 2.5 s of a core at about 80 a microsecond; an export's
# 60,000 28x28s are 47 million, 2,500 drawn canvases of 280x280 196 million
MAX_IMPORT_PIXELS = 200_000_000
IDX_NAMES = ("drawings-images-idx3-ubyte.gz", "drawings-labels-idx1-ubyte.gz")


KEPT_SIDE = 560  # px: an uploaded picture is kept at most this large (a phone photo is 4000)


def as_png(image: object) -> bytes:
    """A picture as the PNG a drawing keeps: a PIL image or an (H, W[, C]) uint8 array, at most
    KEPT_SIDE px on its longer side."""
    from PIL import Image

    img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    if max(img.size) > KEPT_SIDE:
        img = img.copy()
        img.thumbnail((KEPT_SIDE, KEPT_SIDE))
    if img.mode not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("RGBA")
    buffer = io.BytesIO()
    img.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def to_idx(c: Collection) -> tuple[bytes, bytes]:
    """(images, labels) as gzipped IDX files, MNIST's own format."""
    n = len(c)
    images = b"\x00\x00\x08\x03" + np.array([n, 28, 28], ">u4").tobytes() + c.x.astype(np.uint8).tobytes()
    labels = b"\x00\x00\x08\x01" + np.array([n], ">u4").tobytes() + c.y.astype(np.uint8).tobytes()
    return gzip.compress(images, mtime=0), gzip.compress(labels, mtime=0)


def to_npz(c: Collection, pseudonym: Callable[[str], str]) -> bytes:
    """The drawings as an .npz; `pseudonym` names each owner as others may see them."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x=c.x, y=c.y, person=np.array([pseudonym(o) for o in c.owners], dtype=str),
                        predicted=c.predicted, created=c.created, id=c.ids)
    return buffer.getvalue()


def to_png_zip(c: Collection, drawn: Callable[[str], bytes | None]) -> bytes:
    """Every drawing's 28x28 as a PNG, and as drawn (its canvas PNG) when kept, by digit."""
    from PIL import Image

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # PNGs do not compress further
        for drawing_id, x, y in zip(c.ids, c.x, c.y, strict=True):
            png = io.BytesIO()
            Image.fromarray(x).save(png, "PNG")
            archive.writestr(f"28x28/{y}/{drawing_id}.png", png.getvalue())
            original = drawn(str(drawing_id))
            if original is not None:
                archive.writestr(f"drawn/{y}/{drawing_id}.png", original)
    return buffer.getvalue()


def import_drawings(store: DrawingStore, files: Sequence[tuple[str, bytes]], owner: str, accepted: bool = True,
                    per_day: int | None = None, max_bytes: int | None = None) -> int:
    """Keep the drawings of `files` (read_files) as `owner`'s (DrawingStore.add_many), the
    limits asked with the count the files declare before a picture is decoded."""
    store.check_import(owner, declared_drawings(files), per_day, max_bytes)
    x, y = read_files(files)
    return store.add_many(x, y, owner, accepted=accepted, per_day=per_day, max_bytes=max_bytes)


def declared_drawings(files: Sequence[tuple[str, bytes]]) -> int:
    """How many drawings `files` hold, from their headers alone (nothing decoded); DrawingError
    for over MAX_DRAWINGS, or pictures declaring over MAX_IMPORT_PIXELS together."""
    return _by_kind(files, _npz_count, _png_zip_count, _idx_count)


def read_files(files: Sequence[tuple[str, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    """Drawings from files as exported: one .npz, one zip of PNGs, or the two IDX files (images
    and labels, gzipped or not). (n, 28, 28) uint8 and (n,) labels; DrawingError if unusable."""
    return _by_kind(files, _npz, _png_zip, _idx_pair)


def _by_kind(files: Sequence[tuple[str, bytes]], npz: Callable, png_zip: Callable, idx_pair: Callable) -> Any:
    """The reader for what `files` are, called; its failures as one DrawingError line naming them."""
    if not files:
        raise DrawingError("no file given")
    names = ", ".join(name for name, _ in files)[:120]
    try:
        if len(files) == 2:
            return idx_pair(files)
        if len(files) == 1:
            name, data = files[0]
            if data[:4] == b"PK\x03\x04" and name.lower().endswith(".npz"):
                return npz(data)
            if data[:4] == b"PK\x03\x04":
                return png_zip(data)
            raise DrawingError("expected an .npz or a .zip of PNGs (or the two IDX files of an export, together)")
        raise DrawingError("give one .npz or .zip, or the two IDX files of an export")
    except DrawingError as e:
        raise DrawingError(f"{names}: {e}") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else e.__class__.__name__
        raise DrawingError(f"{names}: cannot be read as drawings ({reason})") from None


def _checked(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise DrawingError(f"the images are {tuple(x.shape)}, not (n, 28, 28)")
    if y.shape != (len(x),):
        raise DrawingError(f"{len(x)} images but labels of shape {tuple(y.shape)}")
    if len(x) == 0:
        raise DrawingError("it holds no drawings")
    if y.dtype.kind not in "ui":
        raise DrawingError(f"the labels are {y.dtype} values, not whole digits from 0 to 9")
    if y.min() < 0 or y.max() > 9:
        raise DrawingError(f"a label is one digit from 0 to 9, not {y[(y < 0) | (y > 9)][0].item()!r}")
    if x.dtype != np.uint8:
        if x.dtype.kind not in "uif" or not np.isfinite(x).all() or x.min() < 0 or x.max() > 255:
            raise DrawingError("the pixels must be numbers from 0 to 255 (or 0 to 1)")
        x = np.round(x * 255 if x.max() <= 1 else x).astype(np.uint8)
    return np.ascontiguousarray(x), y.astype(np.uint8)


def _npz(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """x and y of an .npz, both headers checked before either array is read (_npz_header); so a
    file of zeros that declares 376 MB allocates nothing."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        _npz_header(archive)
        x = read_npy(archive, "x", MAX_DRAWINGS * 784, f"{MAX_DRAWINGS:,} drawings")
        y = read_npy(archive, "y", MAX_DRAWINGS, f"{MAX_DRAWINGS:,} drawings")
    return _checked(x, y)


def _npz_count(data: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return _npz_header(archive)


def _npz_header(archive: zipfile.ZipFile) -> int:
    """The drawings an .npz declares: x (n, 28, 28) uint8, y (n,) one byte a drawing, n at most
    MAX_DRAWINGS (DrawingError otherwise)."""
    headers = {key: npy_member_header(archive, key) for key in ("x", "y")}
    for key, header in headers.items():
        if header is None:
            raise DrawingError(f"no {key!r} array (an export holds x, the 28x28 images, and y, the labels)")
    (x_shape, x_type), (y_shape, y_type) = headers["x"], headers["y"]
    if len(x_shape) != 3 or x_shape[1:] != (28, 28) or x_type.str != "|u1":
        raise DrawingError(f"x is {x_shape} {x_type.str}; an export's x is (n, 28, 28) uint8")
    if y_shape != x_shape[:1] or y_type.str not in ("|u1", "|i1"):
        raise DrawingError(f"y is {y_shape} {y_type.str}; it must be one byte for each of the {x_shape[0]:,} "
                           "images")
    if x_shape[0] > MAX_DRAWINGS:
        raise DrawingError(f"{x_shape[0]:,} drawings: over {MAX_DRAWINGS:,} a file")
    return x_shape[0]


def _idx_streams(files: Sequence[tuple[str, bytes]]) -> list[io.BufferedIOBase]:
    return [gzip.GzipFile(fileobj=io.BytesIO(d)) if d[:2] == b"\x1f\x8b" else io.BytesIO(d) for _, d in files]


def _idx_count(files: Sequence[tuple[str, bytes]]) -> int:
    images = [shape for shape in map(idx_header, _idx_streams(files)) if len(shape) == 3]
    if len(images) != 1:
        raise DrawingError("expected an images file (idx3) and a labels file (idx1)")
    if images[0][0] > MAX_DRAWINGS:
        raise DrawingError(f"{images[0][0]:,} drawings: over {MAX_DRAWINGS:,} a file")
    return images[0][0]


def _idx_pair(files: Sequence[tuple[str, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    # gzipped or not; read_idx reads only what the header declares, once it is checked
    arrays = [read_idx(stream, MAX_DRAWINGS * 784) for stream in _idx_streams(files)]
    images = [a for a in arrays if a.ndim == 3]
    labels = [a for a in arrays if a.ndim == 1]
    if len(images) != 1 or len(labels) != 1:
        raise DrawingError("expected an images file (idx3) and a labels file (idx1)")
    return _checked(images[0], labels[0])


def _png_zip(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """PNGs whose folder is their digit (`7/a.png`); the exact 28x28s (`28x28/7/a.png`) when the
    zip has them, else every picture read as an upload is (image_file, then preprocess)."""
    from mnist_core.preprocessing import NotADigit, preprocess
    from mnist_core.reading.image_file import ImageError, read_image

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries, exact = _png_entries(archive)
        x, y = [], []
        for info in entries:
            label = check_label(PurePosixPath(info.filename).parent.name)
            try:
                image = read_image(archive.read(info))
                pixels = np.asarray(image.convert("L")) if exact else preprocess(image)
            except (ImageError, NotADigit) as e:
                raise DrawingError(f"{info.filename}: {e}") from None
            if pixels is None or pixels.shape != (28, 28):
                raise DrawingError(f"{info.filename}: " + ("no digit in it" if pixels is None else "not 28x28"))
            x.append(pixels if pixels.dtype == np.uint8 else np.round(pixels * 255).astype(np.uint8))
            y.append(label)
    return np.stack(x), np.array(y, np.uint8)


def _png_zip_count(data: bytes) -> int:
    """The pictures a zip holds, their pixels read from their headers: at most MAX_IMPORT_PIXELS."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries, _ = _png_entries(archive)
        pixels = 0
        for info in entries:
            with archive.open(info) as entry:
                pixels += declared_pixels(entry)  # a picture's header: a few hundred bytes inflated
            if pixels > MAX_IMPORT_PIXELS:
                raise DrawingError(f"the pictures declare over {MAX_IMPORT_PIXELS // 10**6} megapixels together "
                                   f"(by {info.filename}); an import may decode at most that")
    return len(entries)


def _png_entries(archive: zipfile.ZipFile) -> tuple[list[zipfile.ZipInfo], bool]:
    """The pictures of a zip to read, and whether they are an export's exact 28x28s (then only
    those); DrawingError for none, over MAX_DRAWINGS, or an entry that declares a zip bomb."""
    entries = [i for i in archive.infolist() if not i.is_dir() and PurePosixPath(i.filename).suffix.lower()
               .lstrip(".") in EXTENSIONS]
    exact = [i for i in entries if i.filename.startswith("28x28/")]
    entries = exact or entries
    if len(entries) > MAX_DRAWINGS:
        raise DrawingError(f"{len(entries):,} pictures: over {MAX_DRAWINGS:,} drawings")
    if not entries:
        raise DrawingError("no pictures in the zip (an export holds 28x28/<digit>/<id>.png)")
    for info in entries:
        if info.file_size > MAX_ZIP_ENTRY or zip_bomb(info):
            raise DrawingError(f"{info.filename}: declares {info.file_size:,} bytes, like a zip bomb")
    return entries, bool(exact)
