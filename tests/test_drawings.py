"""Labelled drawings in the database (SQLite and a real Postgres), their files, and bad input."""

from __future__ import annotations

import gzip
import io
import zipfile

import numpy as np
import pytest

from mnist_core.data import _read_idx_folder
from mnist_core.drawing_files import IDX_NAMES, as_png, import_drawings, read_files, to_idx, to_npz, to_png_zip
from mnist_core.owners import OPERATOR, Keys, NotAllowed
from mnist_core.store import database
from mnist_core.store.database import Database
from mnist_core.store.drawings import DrawingError, DrawingStore, Filter, check_label
from tests.bombs import npy_header
from tests.helpers import ANN, BOB, idx_header, synthetic_digits


@pytest.fixture
def store(database_url) -> DrawingStore:
    return DrawingStore(Database.open(database_url))


def test_a_labelled_drawing_keeps_what_the_model_saw_the_canvas_and_the_strokes(store):
    x, _ = synthetic_digits(1)
    png = as_png(np.zeros((280, 280, 4), np.uint8))
    strokes = '{"objects": [{"type": "path", "path": [["M", 1, 2], ["L", 3, 4]]}]}'
    d = store.add(x[0] / 255.0, label=7, owner=ANN.owner, predicted=1, confidence=0.61, model="default",
                  image=png, strokes=strokes)
    got = store.get(d.id)
    assert got.label == 7 and got.predicted == 1 and got.wrong and got.owner == ANN.owner and got.model == "default"
    assert np.array_equal(got.pixels, x[0]) and got.pixels.dtype == np.uint8  # the 28x28, exactly
    assert store.image(d.id) == png and store.strokes(d.id) == strokes
    assert store.page() == [got] and store.count() == 1 and store.counts()[7] == 1


def test_relabel_and_delete_are_the_owners_or_an_admins(store):
    d = store.add(np.zeros((28, 28)), 3, ANN.owner, predicted=3)
    with pytest.raises(NotAllowed):
        store.relabel(d.id, 5, BOB)
    with pytest.raises(NotAllowed):
        store.delete(d.id, BOB)
    assert store.relabel(d.id, 5, ANN).label == 5 and store.get(d.id).wrong
    store.delete(d.id, OPERATOR)
    with pytest.raises(DrawingError, match="it was deleted, or never kept"):  # e.g. labelled again from another tab
        store.relabel(d.id, 4, ANN)
    assert store.count() == 0


@pytest.mark.parametrize("label", [10, -1, "x", "12", "", None, True, 3.5])
def test_a_label_outside_0_9_is_one_line(store, label):
    with pytest.raises(DrawingError, match="a label is one digit from 0 to 9") as e:
        store.add(np.zeros((28, 28)), label, ANN.owner)
    assert "\n" not in str(e.value) and store.count() == 0
    assert check_label("7") == 7 and check_label(0) == 0


def test_filters_pages_and_counts(store):
    x, y = synthetic_digits(30, seed=3)
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        store.add(image, int(label), (ANN if i % 3 else BOB).owner, predicted=int(label) if i % 4 else (label + 1) % 10)
    assert store.counts() == np.bincount(y, minlength=10).tolist()
    assert store.count(Filter(owner=BOB.owner)) == 10
    wrong = store.page(Filter(wrong=True), limit=100)
    assert len(wrong) == 8 and all(d.wrong for d in wrong)
    sevens = store.page(Filter(label=7), limit=100)
    assert all(d.label == 7 for d in sevens) and len(sevens) == int((y == 7).sum())
    first, second = store.page(limit=12), store.page(limit=12, offset=12)
    assert len(first) == 12 and not {d.id for d in first} & {d.id for d in second}
    assert [d.created for d in first] == sorted((d.created for d in first), reverse=True)  # newest first
    assert dict(store.owners()) == {ANN.owner: 20, BOB.owner: 10}
    c = store.collection(Filter(owner=ANN.owner))
    assert len(c) == 20 and c.x.shape == (20, 28, 28) and set(c.owners) == {ANN.owner}


def test_exports_round_trip_through_every_format(store, tmp_path):
    x, y = synthetic_digits(25, seed=4)
    store.add_many(x, y, ANN.owner)
    store.add(x[0], int(y[0]), BOB.owner, predicted=2, image=as_png(np.full((280, 280, 4), 255, np.uint8)))
    c = store.collection()
    images, labels = to_idx(c)
    keys = Keys(b"test secret")
    npz, zipped = to_npz(c, keys.pseudonym), to_png_zip(c, store.image)
    for files in ([(IDX_NAMES[0], images), (IDX_NAMES[1], labels)], [(IDX_NAMES[1], labels), (IDX_NAMES[0], images)],
                  [("drawings.npz", npz)], [("drawings-png.zip", zipped)]):
        rx, ry = read_files(files)
        assert np.array_equal(rx, c.x) and np.array_equal(ry, c.y)
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        names = archive.namelist()
    assert sum(n.startswith("28x28/") for n in names) == 26 and sum(n.startswith("drawn/") for n in names) == 1
    with np.load(io.BytesIO(npz)) as f:  # pseudonyms, never the owners' private links
        assert set(f["person"]) == {keys.pseudonym(ANN.owner), keys.pseudonym(BOB.owner)}
        assert not any("token" in p for p in f["person"])
    (tmp_path / "mnist").mkdir()  # MNIST's own file names: this project's MNIST loader reads the export
    for name, data in (("t10k-images-idx3-ubyte.gz", images), ("t10k-labels-idx1-ubyte.gz", labels),
                       ("train-images-idx3-ubyte.gz", images), ("train-labels-idx1-ubyte.gz", labels)):
        (tmp_path / "mnist" / name).write_bytes(data)
    assert np.array_equal(_read_idx_folder(tmp_path / "mnist")["x_test"], c.x)  # the MNIST loader's reader


def test_imported_drawings_belong_to_the_importer_and_keep_the_files_order(store):
    x, y = synthetic_digits(12, seed=5)
    assert store.add_many(x, y, BOB.owner) == 12
    c = store.collection()
    assert np.array_equal(c.x, x) and np.array_equal(c.y, y) and set(c.owners) == {BOB.owner}
    assert (c.predicted == -1).all() and not store.count(Filter(wrong=True))  # nothing read them: never "wrong"


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _idx(header: bytes, body: bytes = b"") -> bytes:
    """An IDX file, gzipped as MNIST's are."""
    return gzip.compress(header + body)


def _zip(entries: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def to_idx_pair(x, y):
    from mnist_core.store.drawings import Collection

    n = len(x)
    return to_idx(Collection(np.arange(n).astype(str), x, y, np.array([""] * n), np.full(n, -1), np.array([""] * n)))


x3, y3 = synthetic_digits(3)
BAD_FILES = {
    "not a file we know": ([("notes.txt", b"hello")], "expected an .npz or a .zip"),
    "truncated npz": ([("d.npz", _npz(x=x3, y=y3)[:200])], "cannot be read|does not hold"),
    "npz without labels": ([("d.npz", _npz(x=x3))], "no 'y' array"),
    "npz with a label 12": ([("d.npz", _npz(x=x3, y=np.array([1, 12, 3], np.uint8)))], "not 12"),
    "npz with float labels": ([("d.npz", _npz(x=x3, y=np.array([1.5, 2.0, 3.0])))], "must be one byte"),
    "npz with 8-byte labels": ([("d.npz", _npz(x=x3, y=np.array([1, 2, 3])))], "y is \\(3,\\) <i8"),
    "npz of float images": ([("d.npz", _npz(x=x3.astype(np.float32), y=y3))], "x is \\(3, 28, 28\\) <f4"),
    "npz of 3x3 images": ([("d.npz", _npz(x=np.zeros((2, 3, 3), np.uint8), y=np.array([1, 2], np.uint8)))],
                          "an export's x is \\(n, 28, 28\\) uint8"),
    "npz of objects": ([("d.npz", _npz(x=np.array([None, 1], dtype=object), y=np.array([1, 2])))],
                       "expected a C-order array of numbers"),
    "npz declaring a billion images": ([("d.npz", _zip({"x.npy": npy_header((10**9, 28, 28)),
                                                        "y.npy": npy_header((10**9,))}))],
                                       "over 60,000 a file"),
    "npz whose labels do not match": ([("d.npz", _npz(x=x3, y=y3[:2]))], "one byte for each of the 3 images"),
    "idx declaring a billion images": ([("a.gz", _idx(idx_header((10**9, 28, 28)))),
                                        ("b.gz", _idx(idx_header((3,)), bytes(3)))],
                                       "over the|over 60,000"),
    "idx labels that do not match": ([("a.gz", to_idx_pair(x3, y3)[0]),
                                      ("b.gz", _idx(idx_header((2,)), bytes(2)))],
                                     "3 images but labels"),
    "two image files": ([("a.gz", to_idx_pair(x3, y3)[0]), ("b.gz", to_idx_pair(x3, y3)[0])],
                        "an images file \\(idx3\\) and a labels file"),
    "a zip bomb of a png": ([("d.zip", _zip({"7/a.png": bytes(20 * 2**20)}, zipfile.ZIP_DEFLATED))],
                            "like a zip bomb"),
    "png in a folder that is no digit": ([("d.zip", _zip({"seven/a.png": as_png(np.zeros((28, 28), np.uint8))}))],
                                         "a label is one digit"),
    "a zip of no pictures": ([("d.zip", _zip({"readme.txt": b"hi"}))], "no pictures"),
    "a broken png": ([("d.zip", _zip({"7/a.png": b"\x89PNG\r\n\x1a\nbroken"}))], "7/a.png"),
    "nothing": ([], "no file given"),
}



@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_corrupt_import_file_is_one_line_and_stores_nothing(store, case):
    files, message = BAD_FILES[case]
    with pytest.raises(DrawingError, match=message) as e:
        store.add_many(*read_files(files), ANN.owner)
    assert "\n" not in str(e.value) and store.count() == 0


def test_a_version_2_database_gains_drawings_and_keeps_its_runs(database_url):
    old = Database.open(database_url, migrate_to=2)
    with old.write() as conn:
        assert "drawings" not in conn.dialect.get_table_names(conn)
    new = Database.open(database_url)
    assert new.schema_version() == len(database.MIGRATIONS)
    assert DrawingStore(new).add(np.zeros((28, 28)), 1, ANN.owner).label == 1


def test_a_drawing_keeps_its_span_and_one_from_before_it_was_kept_has_none(database_url):
    """Version 6 keeps how many stroke widths a drawing's ink spans (the blob rule's number),
    which its 28x28 has lost; drawings from before, and imports of bare 28x28s, have none."""
    import sqlalchemy as sa

    x, y = synthetic_digits(3)
    old = Database.open(database_url, migrate_to=5)
    with old.write() as conn:  # as version 5 kept a drawing: no span
        conn.execute(sa.text("INSERT INTO drawings (id, created, owner, label, source, pixels) "
                             "VALUES ('before', '2026-12-01T00:00:00', '', 3, 'canvas', :pixels)"),
                     {"pixels": x[0].tobytes()})
    store = DrawingStore(Database.open(database_url))
    assert store.db.schema_version() == len(database.MIGRATIONS)
    drawn = store.add(x[1], 4, ANN.owner, strokes_across=2.06)
    store.add(x[2], 5, ANN.owner, strokes_across=float("inf"))  # no measurable stroke: never a blob
    store.add_many(x[:1], y[:1], ANN.owner)
    assert store.get(drawn.id).strokes_across == 2.06 and store.get("before").strokes_across is None
    assert store.collection().spans() == [None, 2.06, None, None]


def test_imports_are_capped_a_day_and_in_space_and_count_for_others_once_accepted(store):
    x, y = synthetic_digits(30)
    store.add_many(x[:20], y[:20], BOB.owner, accepted=False, per_day=25)
    with pytest.raises(DrawingError, match="you have imported 20 drawings today; this server allows 25 a day"):
        store.add_many(x[20:], y[20:], BOB.owner, accepted=False, per_day=25)
    store.add_many(x[20:], y[20:], ANN.owner, accepted=False, per_day=25)  # per person
    with pytest.raises(DrawingError, match="over the 0 MB this server keeps"):
        store.add_many(x[:1], y[:1], ANN.owner, max_bytes=30 * 1000)
    assert store.count() == 30
    drawn = store.add(x[0], 3, ANN.owner)  # drawn on the page: counts for everyone at once
    assert store.count(Filter(trusted=True)) == 1
    assert store.count(Filter(trusted_for=BOB.owner)) == 21  # Bob's fine-tunes learn from his own imports
    with pytest.raises(NotAllowed):
        store.accept(BOB.owner, ANN)
    assert store.accept(BOB.owner, OPERATOR) == 20
    assert store.count(Filter(trusted=True)) == 21 and store.count(Filter(trusted_for=ANN.owner)) == 31
    with pytest.raises(NotAllowed):
        store.delete_all(BOB.owner, ANN)
    assert store.delete_all(ANN.owner, ANN) == 11 and store.count() == 20 and drawn.owner == ANN.owner


def png_zip(pictures: list[bytes]) -> bytes:
    """A zip of pictures as people make them: one folder a digit."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i, picture in enumerate(pictures):
            archive.writestr(f"{i % 10}/{i}.png", picture)
    return buffer.getvalue()


@pytest.fixture
def decoded(monkeypatch) -> list[int]:
    """Every picture decoded from now on (image_file.read_image's calls)."""
    from mnist_core.reading import image_file

    calls, read = [], image_file.read_image
    monkeypatch.setattr(image_file, "read_image", lambda data: calls.append(len(data)) or read(data))
    return calls


def test_an_import_over_the_days_budget_is_refused_before_a_picture_is_decoded(sqlite_url, decoded):
    from PIL import Image

    store = DrawingStore(Database.open(sqlite_url))
    one = as_png(Image.new("L", (280, 280)))
    with pytest.raises(DrawingError, match="this server allows 10 a day, so these 20 are too many"):
        import_drawings(store, [("mine.zip", png_zip([one] * 20))], ANN.owner, per_day=10)
    assert decoded == [] and store.count() == 0


def test_an_import_of_pictures_declaring_over_200_megapixels_is_refused_from_their_headers(sqlite_url, decoded):
    """2,000 small PNGs of 16 megapixels each took 279 s of a core to decode, then were refused
    by the day's budget: now their headers refuse them at the 13th."""
    from PIL import Image

    store = DrawingStore(Database.open(sqlite_url))
    huge = io.BytesIO()
    Image.new("1", (4000, 4000)).save(huge, "PNG")  # 16 megapixels in 2 KB
    with pytest.raises(DrawingError, match="over 200 megapixels together"):
        import_drawings(store, [("bomb.zip", png_zip([huge.getvalue()] * 2000))], ANN.owner, per_day=2000)
    assert decoded == [] and store.count() == 0
