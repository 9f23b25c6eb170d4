"""Atomic writes: a file or a folder appears whole or not at all.

Everything the project saves (the data cache, models, run records) goes through here, so a
crash or a killed process never leaves a half-written file where a good one was:

    write_bytes(path, data)          # temp file in the same folder, fsync, os.replace
    with staging_dir(final) as tmp:  # fill tmp; it is renamed to `final` on success
        ...
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (same-folder temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; saved files are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 `text` to `path` atomically."""
    write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def staging_dir(final: Path) -> Iterator[Path]:
    """Yield an empty temp folder beside `final`; rename it to `final` if the block succeeds.

    `final` must not exist yet. On error the temp folder is removed and `final` is untouched.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        yield tmp
        _fsync_tree(tmp)
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700
        os.rename(tmp, final)  # atomic; fails rather than overwrite a non-empty folder
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _fsync_tree(folder: Path) -> None:
    for p in folder.iterdir():
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
