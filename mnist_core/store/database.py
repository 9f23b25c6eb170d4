"""The one store for what the app keeps: a SQL database through SQLAlchemy, by URL.

    db = Database.open(database_url())   # creates or upgrades the schema; StoreError if unusable
    with db.write() as conn: ...          # one transaction; writers queue, readers never wait
    db.revision()                         # changes with every write: cache listings against it

- No set-up: an SQLite file in the app's data folder (`$MNIST_DATA_DIR`, default `data/`).
- Shared: a Postgres URL in `$MNIST_DATABASE_URL` (the app also reads Streamlit's secrets), so
  that every app server and the command line see the same runs, and a wiped disk loses nothing.

Writes are transactions, so a run appears whole or not at all, whatever kills the process.
Every write transaction starts by bumping the `revision` row: that takes the write lock first
(Postgres: the row's lock; SQLite: `BEGIN IMMEDIATE`), so two writers queue instead of failing.

The schema is versioned in the `meta` table; `MIGRATIONS[i]` takes a database from version i to
i + 1, inside the same transaction as the version bump, so a database made by an older app opens
in a newer one. A small list and not Alembic: two dialects, a handful of tables, and the steps
must ship inside the package and run on the app's start with no command for anyone to type.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.compiler import compiles

from mnist_core.errors import UserError

log = logging.getLogger(__name__)
PROJECT_ROOT = Path(__file__).resolve().parents[2]
URL_VARIABLE = "MNIST_DATABASE_URL"


class StoreError(UserError):
    """The database cannot be reached or used. The message is one line for anyone (which action
    failed, never where the database is); `detail` adds the URL without its password and the
    driver's reason, for the operator and the server's log."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail or message


def data_dir() -> Path:
    """The app's data folder: `$MNIST_DATA_DIR`, or `data/` in the project."""
    return Path(os.environ.get("MNIST_DATA_DIR") or PROJECT_ROOT / "data")


def database_url(configured: str | None = None) -> str:
    """`configured` (the app's secret), else `$MNIST_DATABASE_URL`, else SQLite in data_dir()."""
    return configured or os.environ.get(URL_VARIABLE) or f"sqlite:///{data_dir() / 'mnist.db'}"


def safe_url(url: str) -> str:
    """The URL as it may be shown: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable database URL)"


class clock(sa.sql.functions.FunctionElement):
    """The database's clock in Unix seconds, in a query: `jobs.update().values(heartbeat=clock())`.
    Machines that share a database read one clock, so a lease never compares two machines' clocks."""

    type = sa.Float()
    inherit_cache = True


@compiles(clock, "postgresql")
def _postgres_clock(element: clock, compiler: sa.sql.compiler.SQLCompiler, **kw: object) -> str:
    return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)"  # now(): the transaction's start


@compiles(clock, "sqlite")
def _sqlite_clock(element: clock, compiler: sa.sql.compiler.SQLCompiler, **kw: object) -> str:
    return "((julianday('now') - 2440587.5) * 86400.0)"  # days since 4714 BC -> seconds since 1970, to the ms


metadata = sa.MetaData()
meta = sa.Table(
    "meta", metadata,
    sa.Column("name", sa.String(32), primary_key=True),  # "schema_version", "revision"
    sa.Column("value", sa.BigInteger, nullable=False),
)
runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.String(80), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("preset", sa.String(40), nullable=False),
    sa.Column("created", sa.String(32), nullable=False, index=True),  # ISO 8601 UTC: sorts as time
    sa.Column("config", sa.Text, nullable=False),  # TrainConfig as JSON
    sa.Column("epochs_done", sa.Integer, nullable=False),
    sa.Column("stopped", sa.Boolean, nullable=False),
    sa.Column("val_accuracy", sa.Float),
    sa.Column("test_accuracy", sa.Float),
    sa.Column("test_loss", sa.Float),
    sa.Column("fit_seconds", sa.Float, nullable=False),
    sa.Column("history", sa.Text, nullable=False),  # per-epoch metrics as JSON: read one run at a time
    sa.Column("owner", sa.String(200), nullable=False, server_default=""),  # "" is the operator's (v2)
    sa.Column("details", sa.Text, nullable=False, server_default="{}"),  # JSON: a fine-tune's report (v3)
)
run_files = sa.Table(
    "run_files", metadata,
    sa.Column("run_id", sa.String(80), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),  # model.keras, mnist_dense_model.h5
    sa.Column("data", sa.LargeBinary, nullable=False),
)
runners = sa.Table(  # workers that train the line's jobs, on this machine or others (v4)
    "runners", metadata,
    sa.Column("name", sa.String(80), primary_key=True),  # host:pid:random, as jobs.server
    sa.Column("runs_on", sa.String(120), nullable=False),  # "lab-3, GPU"
    sa.Column("slots", sa.Integer, nullable=False),  # jobs it trains at once
    sa.Column("seen", sa.Float, nullable=False),  # Unix time of its last heartbeat
)
secrets = sa.Table(  # the deployment's own secrets (v4): made once, shared by every server
    "secrets", metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.LargeBinary, nullable=False),
)
links = sa.Table(  # private links replaced by their owners (v5): none until the first
    "links", metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # the link's id (owners.Keys), its owner "link:<id>"
    sa.Column("version", sa.Integer, nullable=False),  # the current one; earlier versions act no more
)
legacy_imports = sa.Table(  # run folders already imported from runs/, so a deleted run stays deleted
    "legacy_imports", metadata,
    sa.Column("folder", sa.String(300), primary_key=True),
)
jobs = sa.Table(  # the training line (v2): one row a job, from waiting to its end
    "jobs", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False, index=True),
    sa.Column("preset", sa.String(40), nullable=False),
    sa.Column("config", sa.Text, nullable=False),  # TrainConfig as JSON
    sa.Column("time_limit", sa.Float, nullable=False),  # seconds of training allowed (the budget)
    sa.Column("status", sa.String(20), nullable=False, index=True),  # jobs.line.Status
    sa.Column("created", sa.Float, nullable=False),  # Unix times, seconds
    sa.Column("started", sa.Float),
    sa.Column("finished", sa.Float),
    sa.Column("heartbeat", sa.Float),  # the server running it is alive while this is fresh
    sa.Column("server", sa.String(80)),  # which server process runs it
    sa.Column("stop_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("epochs_done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("run_id", sa.String(80)),
    sa.Column("message", sa.Text, nullable=False, server_default=""),  # why it failed or stopped early
    sa.Column("address", sa.String(40), nullable=False, server_default=""),  # a keyed tag of the client's address (v4)
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),  # times it was claimed (v4)
    sa.Column("runs_on", sa.String(120), nullable=False, server_default=""),  # "lab-3, GPU": shown on the page (v4)
    sa.Column("progress", sa.Text, nullable=False, server_default="{}"),  # per-epoch history as JSON (v4)
)
drawings = sa.Table(  # drawings people labelled (v3): what the model saw, what they drew, what it was
    "drawings", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("created", sa.String(32), nullable=False, index=True),  # ISO 8601 UTC
    sa.Column("owner", sa.String(200), nullable=False, index=True),  # who labelled it (owners.py)
    sa.Column("label", sa.SmallInteger, nullable=False, index=True),  # the digit it is, 0-9
    sa.Column("predicted", sa.SmallInteger),  # what the model read; NULL when imported
    sa.Column("confidence", sa.Float),
    sa.Column("model", sa.String(200), nullable=False, server_default=""),  # which model read it
    sa.Column("source", sa.String(16), nullable=False),  # canvas, upload, import
    sa.Column("pixels", sa.LargeBinary, nullable=False),  # the 28x28 the model saw: 784 bytes, white on black
    sa.Column("image", sa.LargeBinary),  # PNG: the canvas as drawn, or the uploaded picture (bounded)
    sa.Column("strokes", sa.Text),  # the canvas's pen paths (its fabric.js JSON), as the canvas returned them
    # an import counts for everyone's fine-tunes and the scoreboard once an admin accepts it (v4)
    sa.Column("accepted", sa.Boolean, nullable=False, server_default=sa.true()),
    # how many stroke widths the ink spans (preprocessing.strokes_across): a filled blob is judged
    # on it, as the Draw page judged it (v6); NULL for drawings from before, and for imports
    sa.Column("strokes_across", sa.Float),
)


def _v1(conn: Connection) -> None:
    # the tables as version 1 made them: `runs` without its owner (later steps change tables)
    conn.exec_driver_sql("""CREATE TABLE runs (id VARCHAR(80) PRIMARY KEY, name VARCHAR(200) NOT NULL,
        preset VARCHAR(40) NOT NULL, created VARCHAR(32) NOT NULL, config TEXT NOT NULL,
        epochs_done INTEGER NOT NULL, stopped BOOLEAN NOT NULL, val_accuracy FLOAT, test_accuracy FLOAT,
        test_loss FLOAT, fit_seconds FLOAT NOT NULL, history TEXT NOT NULL)""")
    conn.exec_driver_sql("CREATE INDEX ix_runs_created ON runs (created)")
    for table in (run_files, legacy_imports):
        table.create(conn)  # unchanged since
    conn.execute(meta.insert().values(name="revision", value=0))


def _create_without(conn: Connection, table: sa.Table, later: set[str]) -> None:
    """Create `table` as an earlier version made it: without the columns later steps add."""
    sa.Table(table.name, sa.MetaData(), *(c.copy() for c in table.columns if c.name not in later)).create(conn)


V4_JOBS, V4_DRAWINGS = {"address", "attempts", "runs_on", "progress"}, {"accepted"}
V6_DRAWINGS = {"strokes_across"}


def _v2(conn: Connection) -> None:
    # owners: whoever starts a job owns its run; runs from before, and from the command line,
    # are the operator's (""); and the training queue
    conn.execute(sa.text("ALTER TABLE runs ADD COLUMN owner VARCHAR(200) NOT NULL DEFAULT ''"))
    _create_without(conn, jobs, V4_JOBS)


def _v3(conn: Connection) -> None:
    # labelled drawings; and a run's details (a fine-tune's base, its drawings, before and after)
    _create_without(conn, drawings, V4_DRAWINGS | V6_DRAWINGS)
    conn.execute(sa.text("ALTER TABLE runs ADD COLUMN details TEXT NOT NULL DEFAULT '{}'"))


def _v4(conn: Connection) -> None:
    # the deployment's secret (signed private links, pseudonyms); the line's limits per address,
    # its jobs on workers (claims, where, per-epoch progress); imports that await an admin
    secrets.create(conn)
    runners.create(conn)
    true = "TRUE" if conn.dialect.name == "postgresql" else "1"
    for column in ("address VARCHAR(40) NOT NULL DEFAULT ''", "attempts INTEGER NOT NULL DEFAULT 0",
                   "runs_on VARCHAR(120) NOT NULL DEFAULT ''", "progress TEXT NOT NULL DEFAULT '{}'"):
        conn.execute(sa.text(f"ALTER TABLE jobs ADD COLUMN {column}"))
    conn.execute(sa.text(f"ALTER TABLE drawings ADD COLUMN accepted BOOLEAN NOT NULL DEFAULT {true}"))


def _v5(conn: Connection) -> None:
    # private links their owners replaced (owners.Links)
    links.create(conn)


def _v6(conn: Connection) -> None:
    # a labelled drawing's span in stroke widths, so the scoreboard judges blobs as the Draw page did
    conn.execute(sa.text("ALTER TABLE drawings ADD COLUMN strokes_across FLOAT"))


def _v7(conn: Connection) -> None:
    # a job's status has one word everywhere (jobs.line.Status): a job in the line is "waiting"
    conn.execute(jobs.update().where(jobs.c.status == "queued").values(status="waiting"))


MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7]


class Database:
    """An open database: an engine for reads, one for writes, the schema at the latest version."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url  # as configured (messages mask its password)
        self._writer = engine.execution_options(write=True)  # SQLite: BEGIN IMMEDIATE

    @classmethod
    def open(cls, url: str, migrate_to: int | None = None) -> Database:
        """Connect, then create or upgrade the schema (to `migrate_to`, default the latest)."""
        db = cls(_engine(url), url)
        with db.errors("open"):
            db._migrate(len(MIGRATIONS) if migrate_to is None else migrate_to)
        return db

    @contextlib.contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Turn the driver's errors into one-line StoreErrors naming the database, not the password."""
        try:
            yield
        except SQLAlchemyError as e:
            reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0][:200]
            detail = f"database {safe_url(self.url)}: cannot {doing} ({reason})"
            log.warning(detail)
            raise StoreError(f"the database is unavailable: cannot {doing}", detail) from e

    @contextlib.contextmanager
    def write(self, bump: bool = True) -> Iterator[Connection]:
        """One write transaction, committed when the block ends, rolled back on any error.
        `bump=False` for writes no listing depends on (a job's heartbeat, its epoch count)."""
        with self.errors("write"), self._writer.begin() as conn:
            if bump:
                conn.execute(meta.update().where(meta.c.name == "revision").values(value=meta.c.value + 1))
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.errors("read"), self.engine.connect() as conn:
            yield conn

    def now(self) -> float:
        """The database's clock (Unix seconds): the one every machine sharing it agrees on."""
        with self.read() as conn:
            return float(conn.execute(sa.select(clock())).scalar_one())

    def revision(self) -> int:
        """A number that changes with every committed write (one indexed row: well under 1 ms)."""
        with self.read() as conn:
            return int(conn.execute(sa.select(meta.c.value).where(meta.c.name == "revision")).scalar_one())

    def secret(self, name: str) -> bytes:
        """A random 32-byte secret kept in the database, made by whichever server asks first."""
        with self.read() as conn:
            value = conn.execute(sa.select(secrets.c.value).where(secrets.c.name == name)).scalar()
        if value is None:
            # two servers at once: the revision row's lock orders them (on Postgres a write
            # without it takes no lock, and both inserted: IntegrityError at start)
            with self.write() as conn:
                value = conn.execute(sa.select(secrets.c.value).where(secrets.c.name == name)).scalar()
                if value is None:
                    value = os.urandom(32)
                    conn.execute(secrets.insert().values(name=name, value=value))
        return bytes(value)

    def link_version(self, link_id: str) -> int:
        """A private link's current version (owners.Links): 0 until its owner replaces it."""
        with self.read() as conn:
            return int(conn.execute(sa.select(links.c.version).where(links.c.id == link_id)).scalar() or 0)

    def replace_link_version(self, link_id: str, version: int) -> bool:
        """Keep `version` + 1 as the link's current version, if `version` still is (else False)."""
        with self.write(bump=False) as conn:
            if version == 0:  # no row yet: the primary key lets one of two servers at once insert it
                with contextlib.suppress(IntegrityError), conn.begin_nested():
                    conn.execute(links.insert().values(id=link_id, version=1))
                    return True
                return False
            return conn.execute(links.update().where(links.c.id == link_id, links.c.version == version).values(
                version=version + 1)).rowcount == 1

    def schema_version(self) -> int:
        with self.read() as conn:
            return _version(conn)

    def _migrate(self, target: int) -> None:
        with self._writer.begin() as conn:
            if conn.dialect.name == "postgresql":  # two servers starting at once: one migrates
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(1671)"))
            meta.create(conn, checkfirst=True)
            version = _version(conn)
            if version > len(MIGRATIONS):
                raise StoreError("the database was made by a newer version of this app: update the app",
                                 f"database {safe_url(self.url)} has schema version {version}, newer than "
                                 f"this app's {len(MIGRATIONS)}: update the app")
            for step in MIGRATIONS[version:target]:
                step(conn)
            if target > version:
                conn.execute(meta.delete().where(meta.c.name == "schema_version"))
                conn.execute(meta.insert().values(name="schema_version", value=target))


def _version(conn: Connection) -> int:
    value = conn.execute(sa.select(meta.c.value).where(meta.c.name == "schema_version")).scalar()
    return int(value or 0)


def _engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError("the database URL is not usable",
                         f"{safe_url(url)}: not a database URL (expected sqlite:///FILE or postgresql://...)") from None
    if parsed.drivername in ("postgres", "postgresql"):  # the URL hosts hand out; psycopg 3 is the driver
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.get_backend_name() != "postgresql":
        raise StoreError("the database URL is not usable",
                         f"{safe_url(url)}: only SQLite and Postgres databases are supported")
    try:
        return sa.create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    except (ArgumentError, ImportError) as e:
        raise StoreError("the database URL is not usable", f"{safe_url(url)}: cannot use this URL ({e})") from None


def _sqlite_engine(url: sa.URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 60})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # noqa: ANN001 (the driver's own types)
        dbapi_connection.isolation_level = None  # SQLAlchemy's BEGIN below, not the driver's guess
        dbapi_connection.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

    return engine
