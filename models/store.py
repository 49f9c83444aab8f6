"""Small database helpers shared by the use cases: idempotent inserts and the event log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from models.tables import Event, Outbox

NAGGING_KINDS = ("opened", "reminder", "due", "overdue", "escalation")
"""Notification kinds that lose their point once an item is closed or waived."""


def insert_missing(
    session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert rows whose unique key is not taken yet; return the ids of those inserted.

    Safe against a concurrent runner inserting the same key: the database decides (ON CONFLICT
    DO NOTHING), so retries, catch-up and two sweeps racing never make a duplicate. One
    statement per chunk of rows, not one per row.
    """
    insert = _dialect_insert(session)
    table = model.__table__
    ids: list[int] = []
    for start in range(0, len(rows), _CHUNK):
        chunk = list(rows[start : start + _CHUNK])
        stmt = insert(table).values(chunk).on_conflict_do_nothing().returning(table.c.id)
        ids += session.execute(stmt).scalars().all()
    return ids


_CHUNK = 500


def upsert(session: Session, model: type[SQLModel], row: dict[str, Any]) -> None:
    """Insert `row`, or update the row with the same primary key to its values."""
    table = model.__table__
    keys = [c.name for c in table.primary_key.columns]
    stmt = _dialect_insert(session)(table).values(**row)
    changes = {k: v for k, v in row.items() if k not in keys}
    session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changes))


def _dialect_insert(session: Session):
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def log_event(
    session: Session, item_id: int | None, at: datetime, kind: str, actor: str = "engine", **detail
) -> None:
    session.add(Event(item_id=item_id, at=at, kind=kind, actor=actor, detail=detail))


def outbox_rows(
    item_id: int,
    step: str,
    kind: str,
    recipients: Sequence[str],
    at: datetime,
    cc: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """One outbox row per recipient of an item's step, due to be sent at once."""
    return [
        dict(
            item_id=item_id,
            step=step,
            kind=kind,
            recipient=r,
            cc=[c for c in cc if c != r],
            status="pending",
            created_at=at,
            send_after=at,
            attempts=0,
        )
        for r in recipients
    ]


def queue_notifications(
    session: Session,
    item_id: int,
    step: str,
    kind: str,
    recipients: Sequence[str],
    at: datetime,
    cc: Sequence[str] = (),
) -> int:
    """Queue one outbox row per recipient; a row already queued for the same step stays as is."""
    return len(
        insert_missing(session, Outbox, outbox_rows(item_id, step, kind, recipients, at, cc))
    )


def cancel_pending(session: Session, item_id: int, at: datetime) -> int:
    """A closed or waived item gets no further reminders, even those queued before."""
    result = session.execute(
        update(Outbox)
        .where(
            Outbox.item_id == item_id, Outbox.status == "pending", Outbox.kind.in_(NAGGING_KINDS)
        )
        .values(status="cancelled", last_error=f"item closed before sending ({at.isoformat()})")
    )
    return result.rowcount
