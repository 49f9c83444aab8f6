"""Keeping the data dir to what the database records: the stored files of a hand-in that was not
recorded (refused, or failed on a full disk) are removed at once (`discard_unrecorded`), and what
a killed process left behind (temporary files, `cchc attach`'s copies, half-written outbox mails,
stored files nothing records) at the intake's start and by `cchc clean` (`clean_data_dir`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, inspect, select, union
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from models.blobs import (
    StoredBlob,
    discard_blob,
    remove_orphan_blobs,
    remove_stale_temp,
)
from models.db import transaction
from models.tables import Contribution, Deliverable

log = logging.getLogger("cchc.blobs")


@dataclass
class Cleanup:
    """What `clean_data_dir` removed."""

    temporary: list[Path] = field(default_factory=list)
    unrecorded: list[Path] = field(default_factory=list)
    skipped: str | None = None
    """Why the stored files were not looked at (the database is not there yet, say)."""


def recorded_sha256s(engine: Engine) -> set[str]:
    """The sha256 of every stored file a row names (a version's part, a contribution)."""
    query = union(select(col(Deliverable.sha256)), select(col(Contribution.sha256)))
    with transaction(engine) as session:
        return {sha for (sha,) in session.execute(query) if sha}


def is_recorded(engine: Engine, sha256: str) -> bool:
    """A row names the stored file `sha256`."""
    with transaction(engine) as session:
        return any(
            session.execute(
                select(col(table.id)).where(col(table.sha256) == sha256).limit(1)
            ).first()
            for table in (Deliverable, Contribution)
        )


def discard_unrecorded(engine: Engine, blobs: Iterable[StoredBlob]) -> list[Path]:
    """Remove the files a hand-in stored when it was then not recorded, but those that another
    hand-in of the same bytes records (`models.blobs.discard_blob`); never raises (a file left
    is removed by the next `clean_data_dir`). Returns those removed."""
    removed = []
    for blob in blobs:
        try:
            if discard_blob(blob, lambda sha: is_recorded(engine, sha)):
                removed.append(blob.path)
        except (OSError, SQLAlchemyError) as exc:
            log.warning("cannot remove unrecorded file %s: %s", blob.path, exc)
    return removed


def clean_data_dir(engine: Engine, data_dir: Path, older_than: float | None = None) -> Cleanup:
    """Remove what interrupted writes left under `data_dir` (`models.blobs.LEFTOVERS`) and the
    stored files no row records, each once older than its kind's age (or `older_than`
    seconds); logged. The stored files are left alone while the database has no tables yet."""
    done = Cleanup(temporary=remove_stale_temp(data_dir, older_than))
    try:
        tables = inspect(engine).get_table_names()
        if not {Deliverable.__tablename__, Contribution.__tablename__} <= set(tables):
            done.skipped = "the database has no tables yet"
            return done
        recorded = recorded_sha256s(engine)
    except SQLAlchemyError as exc:
        done.skipped = f"the database cannot be read: {exc.__class__.__name__}"
        log.warning("stored files not checked: %s", done.skipped)
        return done
    root = Path(data_dir) / "deliverables"
    if older_than is None:
        done.unrecorded = remove_orphan_blobs(root, recorded)
    else:
        done.unrecorded = remove_orphan_blobs(root, recorded, older_than)
    return done
