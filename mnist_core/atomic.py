"""Atomic writes: a file appears whole or not at all.

Every file the project writes (the MNIST cache, cached model files, exports, uploads kept,
explanations) goes through here, so a crash or a killed process never leaves a half-written
file where a good one was; runs and drawings are written to the database, in transactions:

    write_bytes(path, data)          # temp file in the same folder, fsync, os.replace
"""

from __future__ import annotations

import contextlib
import os
import tempfile
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
