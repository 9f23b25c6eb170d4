"""Drawings people labelled: what the model saw, what they drew, what it really was.

    store = DrawingStore(Database.open(database_url()))
    d = store.add(x28, label=7, owner=visitor.owner, predicted=1, confidence=0.62, model="default",
                  image=png, strokes=canvas_json, strokes_across=span)   # one row, one transaction
    store.relabel(d.id, 4, visitor)                       # its owner or an admin
    store.page(Filter(label=7, wrong=True), limit=48)     # newest first, without the PNGs
    store.counts()                                        # drawings of each digit
    store.collection()                                    # every drawing's 28x28, as arrays

Every prediction on the Draw page can be labelled: "right", or "it was a 4". Each labelled
drawing keeps the (28, 28) the model saw (784 bytes, white on black, as MNIST), the canvas as a
PNG, the pen strokes as the canvas returned them, how many stroke widths its ink spans (a filled
blob is judged on that, which the 28x28 has lost: preprocessing.strokes_across), the label,
what the model read and which model, when and who. Listings read the small columns only, so
10,000 drawings page and count in milliseconds (benchmarks/store_speed.py). They live in the
same database as the runs (SQLite by default, Postgres when shared), and every write is one
transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa

from mnist_core.errors import UserError
from mnist_core.owners import Actor, NotAllowed
from mnist_core.store.database import Database, drawings

SOURCES = CANVAS, UPLOAD, IMPORT = ("canvas", "upload", "import")  # where a labelled drawing came from
MAX_IMAGE_BYTES = 2 * 2**20  # a drawing's PNG: a 280x280 canvas is 5-20 KB, an upload is shrunk first
MAX_STROKES_BYTES = 1 * 2**20  # the canvas's path JSON: a digit's few strokes are 5-50 KB
IMPORT_BATCH = 1_000  # rows an insert
ROW_BYTES = 1_000  # a drawing's row without its PNG and strokes: 784 pixels, ids, dates, indexes


class DrawingError(UserError, ValueError):
    """A drawing cannot be labelled, found or changed; the message is one line for the user."""


def check_label(value: object) -> int:
    """A label is one digit, 0 to 9 (an int, or a string of one digit)."""
    text = str(value).strip()
    if isinstance(value, bool) or len(text) != 1 or not text.isdigit():
        raise DrawingError(f"a label is one digit from 0 to 9, not {text[:20]!r}")
    return int(text)


@dataclass(frozen=True)
class Drawing:
    """One labelled drawing, as listings show it (its PNG and strokes are read on demand)."""

    id: str
    created: str  # ISO 8601, UTC
    owner: str
    label: int
    predicted: int | None  # None when it came in through an import
    confidence: float | None
    model: str  # the model that read it: "default", "seed" or a run's id
    source: str  # canvas, upload or import
    pixels: np.ndarray = field(compare=False, repr=False)  # (28, 28) uint8, white on black
    accepted: bool = True  # False: an import that counts for others only once an admin accepts it
    strokes_across: float | None = None  # its ink's span in stroke widths; None: not known (older, imported)

    @property
    def wrong(self) -> bool:
        return self.predicted is not None and self.predicted != self.label


@dataclass(frozen=True)
class Filter:
    """Which drawings: one digit (None for all), only those the model got wrong, one owner;
    `trusted`: only those that count for everyone (drawn here, or imports an admin accepted),
    and `trusted_for`'s own imports too (what a fine-tune that person starts may learn from)."""

    label: int | None = None
    wrong: bool = False
    owner: str | None = None
    trusted: bool = False
    trusted_for: str | None = None

    def where(self) -> list[sa.ColumnElement]:
        clauses = []
        if self.trusted or self.trusted_for is not None:
            clauses.append(sa.or_(drawings.c.accepted, drawings.c.owner == (self.trusted_for or "")))
        if self.label is not None:
            clauses.append(drawings.c.label == check_label(self.label))
        if self.wrong:
            clauses.append(sa.and_(drawings.c.predicted.is_not(None), drawings.c.predicted != drawings.c.label))
        if self.owner is not None:
            clauses.append(drawings.c.owner == self.owner)
        return clauses


@dataclass(frozen=True)
class Collection:
    """Drawings as arrays, oldest first: what exports, scoring and fine-tuning take."""

    ids: np.ndarray  # (n,) str
    x: np.ndarray  # (n, 28, 28) uint8
    y: np.ndarray  # (n,) uint8
    owners: np.ndarray  # (n,) str
    predicted: np.ndarray  # (n,) int16, -1 where nothing read it
    created: np.ndarray  # (n,) str
    strokes_across: np.ndarray | None = None  # (n,) float64, NaN where not known; None: none known

    def __len__(self) -> int:
        return len(self.ids)

    def spans(self, mask: np.ndarray | None = None) -> list[float | None]:
        """Each (masked) drawing's strokes_across, None where not known: as Classifier.judge takes them."""
        known = self.strokes_across if self.strokes_across is not None else np.full(len(self), np.nan)
        return [None if np.isnan(s) else float(s) for s in (known if mask is None else known[mask])]


_LISTED = [c for c in drawings.c if c.name not in ("image", "strokes")]


class DrawingStore:
    """The labelled drawings in one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, pixels: np.ndarray, label: object, owner: str, predicted: int | None = None,
            confidence: float | None = None, model: str = "", source: str = CANVAS, image: bytes | None = None,
            strokes: str | None = None, strokes_across: float | None = None) -> Drawing:
        """Keep one labelled drawing; DrawingError for a label that is not a digit. `strokes_across`:
        the picture's preprocessing.strokes_across, as the reading used it."""
        created = dt.datetime.now(dt.UTC)
        drawing = Drawing(
            id=_new_id(created), created=_iso(created), owner=owner, label=check_label(label),
            predicted=None if predicted is None else int(predicted),
            confidence=None if confidence is None else float(confidence), model=model[:200], source=source,
            pixels=_pixels(pixels), strokes_across=_finite(strokes_across),
        )
        if source not in SOURCES:
            raise DrawingError(f"a drawing comes from one of {', '.join(SOURCES)}, not {source!r}")
        if image is not None and len(image) > MAX_IMAGE_BYTES:
            raise DrawingError(f"the drawing's image is over {MAX_IMAGE_BYTES // 2**20} MB")
        if strokes is not None and len(strokes) > MAX_STROKES_BYTES:
            strokes = None  # a scribble of thousands of strokes: the image and the 28x28 are kept
        with self.db.write() as conn:
            conn.execute(drawings.insert().values(**_row(drawing), image=image, strokes=strokes))
        return drawing

    def add_many(self, x: np.ndarray, y: Sequence[int], owner: str, accepted: bool = True,
                 per_day: int | None = None, max_bytes: int | None = None) -> int:
        """Keep many drawings at once (an import): all in one transaction, or none. `accepted`:
        whether they count for everyone's fine-tunes and the scoreboard now (a visitor's import
        waits for an admin); at most `per_day` imported by one owner in 24 hours, and the
        drawings' table at most `max_bytes` in all (DrawingError says which)."""
        labels = [check_label(v) for v in y]
        if len(labels) != len(x):
            raise DrawingError(f"{len(x)} images but {len(labels)} labels")
        now = dt.datetime.now(dt.UTC)
        rows = []
        for i, (image, label) in enumerate(zip(x, labels, strict=True)):
            created = now + dt.timedelta(microseconds=i)  # the file's order, kept as time order
            rows.append({"id": _new_id(created), "created": _iso(created), "owner": owner, "label": label,
                         "predicted": None, "confidence": None, "model": "", "source": IMPORT,
                         "pixels": _pixels(image).tobytes(), "accepted": accepted})
        with self.db.write() as conn:
            self._check_import(conn, owner, len(rows), per_day, max_bytes)
            for i in range(0, len(rows), IMPORT_BATCH):
                conn.execute(drawings.insert(), rows[i:i + IMPORT_BATCH])
        return len(rows)

    def check_import(self, owner: str, n: int, per_day: int | None = None, max_bytes: int | None = None) -> None:
        """Whether `n` more imported drawings of `owner`'s fit add_many's limits (DrawingError
        if not): asked before an import's files are read, so a refused one costs no decoding."""
        with self.db.read() as conn:
            self._check_import(conn, owner, n, per_day, max_bytes)

    def _check_import(self, conn: sa.Connection, owner: str, n: int, per_day: int | None,
                      max_bytes: int | None) -> None:
        if per_day is not None:
            since = _iso(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
            today = conn.execute(sa.select(sa.func.count()).select_from(drawings).where(
                drawings.c.owner == owner, drawings.c.source == IMPORT, drawings.c.created > since)).scalar_one()
            if today + n > per_day:
                raise DrawingError(f"you have imported {today:,} drawings today; this server allows {per_day:,} "
                                   f"a day, so these {n:,} are too many")
        if max_bytes is not None and self._bytes(conn) + n * ROW_BYTES > max_bytes:
            raise DrawingError(f"the drawings would take over the {max_bytes // 2**20:,} MB this server keeps "
                               "for them: an admin may remove some first")

    @staticmethod
    def _bytes(conn: sa.Connection) -> int:
        """The drawings' database space, about: their pixels, PNGs and strokes, and each row's own."""
        sizes = [sa.func.coalesce(sa.func.sum(sa.func.length(c)), 0) for c in (drawings.c.image, drawings.c.strokes)]
        n, images, strokes = conn.execute(sa.select(sa.func.count(), *sizes).select_from(drawings)).one()
        return int(n) * ROW_BYTES + int(images) + int(strokes)

    def accept(self, owner: str, actor: Actor) -> int:
        """An admin accepts `owner`'s imports for everyone's fine-tunes and the scoreboard."""
        if not actor.admin:
            raise NotAllowed("only an admin may accept someone's imported drawings")
        with self.db.write() as conn:
            return conn.execute(drawings.update().where(drawings.c.owner == owner, ~drawings.c.accepted).values(
                accepted=True)).rowcount

    def get(self, drawing_id: str) -> Drawing:
        with self.db.read() as conn:
            row = conn.execute(sa.select(*_LISTED).where(drawings.c.id == drawing_id)).mappings().first()
        if row is None:
            raise DrawingError(_gone(drawing_id))
        return _drawing(row)

    def image(self, drawing_id: str) -> bytes | None:
        """The drawing as it was drawn (PNG), or None when only its 28x28 is known."""
        with self.db.read() as conn:
            data = conn.execute(sa.select(drawings.c.image).where(drawings.c.id == drawing_id)).scalar()
        return None if data is None else bytes(data)

    def strokes(self, drawing_id: str) -> str | None:
        """The canvas's pen paths (fabric.js JSON), as the canvas returned them."""
        with self.db.read() as conn:
            return conn.execute(sa.select(drawings.c.strokes).where(drawings.c.id == drawing_id)).scalar()

    def relabel(self, drawing_id: str, label: object, actor: Actor) -> Drawing:
        """Say again what a drawing is: its owner or an admin; DrawingError if it is gone."""
        label = check_label(label)
        with self.db.write() as conn:
            actor.require(self._owner(conn, drawing_id), "relabel this drawing")
            conn.execute(drawings.update().where(drawings.c.id == drawing_id).values(label=label))
        return self.get(drawing_id)

    def delete(self, drawing_id: str, actor: Actor) -> None:
        """Remove a drawing: its owner or an admin (NotAllowed otherwise)."""
        with self.db.write() as conn:
            actor.require(self._owner(conn, drawing_id), "delete this drawing")
            conn.execute(drawings.delete().where(drawings.c.id == drawing_id))

    def delete_all(self, owner: str, actor: Actor) -> int:
        """Remove every drawing of `owner`'s: they, or an admin; how many went."""
        actor.require(owner, "delete these drawings")
        with self.db.write() as conn:
            return conn.execute(drawings.delete().where(drawings.c.owner == owner)).rowcount

    @staticmethod
    def _owner(conn: sa.Connection, drawing_id: str) -> str:
        owner = conn.execute(sa.select(drawings.c.owner).where(drawings.c.id == drawing_id)).scalar()
        if owner is None:
            raise DrawingError(_gone(drawing_id))
        return owner

    def page(self, where: Filter = Filter(), limit: int = 48, offset: int = 0) -> list[Drawing]:
        """Drawings that match, newest first, `limit` from `offset` (without PNGs or strokes)."""
        query = sa.select(*_LISTED).where(*where.where()).order_by(drawings.c.created.desc(), drawings.c.id.desc())
        with self.db.read() as conn:
            return [_drawing(row) for row in conn.execute(query.limit(limit).offset(offset)).mappings()]

    def count(self, where: Filter = Filter()) -> int:
        with self.db.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(drawings).where(*where.where())).scalar())

    def counts(self, where: Filter = Filter()) -> list[int]:
        """How many drawings of each digit, 0 to 9."""
        query = sa.select(drawings.c.label, sa.func.count()).where(*where.where()).group_by(drawings.c.label)
        with self.db.read() as conn:
            found = dict(conn.execute(query).all())
        return [int(found.get(d, 0)) for d in range(10)]

    def owners(self) -> list[tuple[str, int]]:
        """Everyone who labelled drawings, with how many, most first."""
        query = sa.select(drawings.c.owner, sa.func.count()).group_by(drawings.c.owner)
        with self.db.read() as conn:
            return sorted(((o, int(n)) for o, n in conn.execute(query).all()), key=lambda t: (-t[1], t[0]))

    def collection(self, where: Filter = Filter()) -> Collection:
        """The drawings that match, as arrays, oldest first."""
        columns = [drawings.c[k] for k in ("id", "pixels", "label", "owner", "predicted", "created", "strokes_across")]
        query = sa.select(*columns).where(*where.where()).order_by(drawings.c.created, drawings.c.id)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return Collection(
            ids=np.array([r[0] for r in rows], dtype=str),
            x=np.frombuffer(b"".join(bytes(r[1]) for r in rows), np.uint8).reshape(-1, 28, 28).copy(),
            y=np.array([r[2] for r in rows], np.uint8),
            owners=np.array([r[3] for r in rows], dtype=str),
            predicted=np.array([-1 if r[4] is None else r[4] for r in rows], np.int16),
            created=np.array([r[5] for r in rows], dtype=str),
            strokes_across=np.array([np.nan if r[6] is None else r[6] for r in rows], np.float64),
        )


def _new_id(when: dt.datetime) -> str:
    return f"{when:%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"


def _iso(when: dt.datetime) -> str:
    return when.isoformat(timespec="microseconds")


def _gone(drawing_id: str) -> str:
    return f"no drawing has the id {drawing_id[:60]!r}: it was deleted, or never kept"


def _finite(value: float | None) -> float | None:
    """A number as a column keeps it: None for none, or for one that is not finite (ink with no
    measurable stroke: never a blob)."""
    return None if value is None or not np.isfinite(value) else float(value)


def _pixels(pixels: np.ndarray) -> np.ndarray:
    """(28, 28) floats in [0, 1] or uint8 0-255 -> uint8."""
    a = np.asarray(pixels)
    if a.shape not in ((28, 28), (784,)):
        raise DrawingError(f"a drawing is kept as 28x28 pixels, not {a.shape}")
    if a.dtype != np.uint8:
        a = np.round(np.clip(np.nan_to_num(a.astype(np.float32)), 0, 1) * 255).astype(np.uint8)
    return a.reshape(28, 28)


def _row(d: Drawing) -> dict:
    return {**{f.name: getattr(d, f.name) for f in dataclasses.fields(d)}, "pixels": d.pixels.tobytes()}


def _drawing(row: sa.RowMapping) -> Drawing:
    return Drawing(**{**row, "pixels": np.frombuffer(bytes(row["pixels"]), np.uint8).reshape(28, 28)})
