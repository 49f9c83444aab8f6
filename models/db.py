"""The database: engine set-up (SQLite by default, PostgreSQL at scale) and schema migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import CursorResult, Engine, Result, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from models.timeouts import Timeouts

if TYPE_CHECKING:
    from sqlmodel import Session

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (SQLAlchemy would pick psycopg2)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def make_engine(url: str, timeouts: Timeouts | None = None) -> Engine:
    """The engine of a database URL; PostgreSQL's commands are bounded by `timeouts` (default:
    from the environment, `Timeouts.from_env`)."""
    url = normalise_url(url)
    path = sqlite_path(url)
    if make_url(url).get_backend_name() != "sqlite":
        args = (timeouts or Timeouts.from_env()).postgresql()
        given = make_url(url).query  # what the URL sets itself wins
        args = {name: value for name, value in args.items() if name not in given}
        return create_engine(url, pool_pre_ping=True, connect_args=args)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        # Engine, intake server and CLI share the file: WAL and a busy timeout on every
        # connection, or concurrent writers fail with "database is locked".
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" below opens transactions
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin_immediate(conn):
        # Take the write lock when the transaction starts, not at its first write: a reader that
        # later writes would otherwise fail at once instead of waiting for the busy timeout.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


STORAGE_SQLSTATES = ("53", "25006")
"""PostgreSQL's answers for want of room (class 53: disk full, out of memory) or a read-only
database."""
STORAGE_WORDS = ("disk is full", "readonly database", "read-only", "disk i/o error")
"""SQLite's answers when its file cannot be written (full, read-only, a file-size limit)."""


def storage_refused(exc: DBAPIError) -> bool:
    """The database refused a write for want of room or of a writable disk (not a bug, not
    the server being down)."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or ""
    text = str(orig).lower()
    return sqlstate.startswith(STORAGE_SQLSTATES) or any(w in text for w in STORAGE_WORDS)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A unit of work: commits when the block ends, rolls back if it raises."""
    from sqlmodel import Session  # here: `cchc items` reads with Core, without the ORM

    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE matched: sqlmodel types `Session.execute` as returning a `Result`,
    a DML statement's is a `CursorResult`."""
    assert isinstance(result, CursorResult), "only a DML statement's result has a row count"
    return result.rowcount


def _alembic_config(engine: Engine | None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()
    assert head is not None, f"no migration under {MIGRATIONS}"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (creating it on an empty database)."""
    from alembic import command

    command.upgrade(_alembic_config(engine), "head")


def ensure_schema(engine: Engine) -> None:
    """Upgrade only when needed: one cheap query on the common path."""
    if current_revision(engine) != head_revision():
        upgrade(engine)
