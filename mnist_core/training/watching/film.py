"""The frames a run keeps of its training, at a few dozen epochs, for a slider to scrub through.

    film = Film.from_bytes(store.file(run.id, FILM_FILE))   # saved with the run (store.runs)
    film.epochs                      # (0, 1, 2, ..., 10, 13, 17, ..., 179, 200): which it kept
    film.at(48).pictures             # the first layer's pictures after 48 epochs

Which epochs (`kept`): the first ten, when the pictures change fastest, then one every 30% or so
more epochs, and the last: 24 frames for the book's 200 epochs, 49 for 10,000. Each frame keeps
its pictures (signed bytes, frame.quantize) and confusion matrix on the sample, not its
mistakes: for the book's network 24 frames are about 190 KB (frame.py; the figure with its
command is in docs/figures.md).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import numpy as np

from mnist_core.training.watching.frame import Frame, dequantize, quantize

FILM_FILE = "film.npz"  # the run file that holds it (store.runs: a run's files)
EVERY_EPOCH = 10  # the first epochs, all kept
GROWTH = 1.3  # then an epoch kept every 30% more epochs


def kept(epochs_done: int, epochs: int) -> bool:
    """Whether the frame after `epochs_done` of `epochs` epochs is one a run keeps."""
    if epochs_done <= EVERY_EPOCH or epochs_done == epochs:
        return True
    return epochs_done in _growing(epochs)


def _growing(epochs: int) -> set[int]:
    kept, e = set(), float(EVERY_EPOCH)
    while e < epochs:
        e *= GROWTH
        kept.add(round(e))
    return kept


@dataclass(frozen=True)
class Film:
    frames: tuple[Frame, ...]  # in epoch order, without their mistakes

    @property
    def epochs(self) -> tuple[int, ...]:
        return tuple(f.epoch for f in self.frames)

    def at(self, epoch: int) -> Frame:
        """The frame kept at `epoch`, or the last one before it."""
        before = [f for f in self.frames if f.epoch <= epoch]
        return before[-1] if before else self.frames[0]

    def to_bytes(self) -> bytes:
        first = self.frames[0]
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, epochs=np.array(self.epochs, np.int32), units=np.array(first.units, np.int32),
            layer_units=np.int32(first.layer_units), outputs=np.bool_(first.outputs),
            pictures=np.stack([quantize(f.pictures) for f in self.frames]),
            confusion=np.stack([f.confusion for f in self.frames]).astype(np.int32))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Film:
        """A film as saved; ValueError (one line) when the bytes are not one."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as f:
                epochs, units, pictures, confusion = f["epochs"], f["units"], f["pictures"], f["confusion"]
                layer_units, outputs = int(f["layer_units"]), bool(f["outputs"])
        except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as e:
            raise ValueError(f"not a film of a training: {e}") from None
        m, k = len(epochs), len(units)
        if m == 0 or pictures.shape != (m, k, 28, 28) or confusion.shape != (m, 10, 10):
            raise ValueError("not a film of a training: its arrays' shapes disagree")
        return cls(tuple(Frame(int(e), tuple(int(u) for u in units), layer_units, outputs, dequantize(p),
                               c.astype(np.int64)) for e, p, c in zip(epochs, pictures, confusion, strict=True)))
