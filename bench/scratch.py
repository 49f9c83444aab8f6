"""A scratch database for a benchmark run: a SQLite file in a temp dir, or a PostgreSQL database
created for the run and dropped after it."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url

from models.db import normalise_url


@contextmanager
def scratch_database(url: str | None) -> Iterator[str]:
    """A new empty database: a SQLite file in a temp dir, or a PostgreSQL database created next
    to the one `url` names (which is only used to create and drop it)."""
    if url is None:
        with tempfile.TemporaryDirectory(prefix="cchc-bench-") as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    import psycopg

    admin = make_url(normalise_url(url))
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"cchc_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
