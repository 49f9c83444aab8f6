"""Database helpers shared by the use cases: idempotent inserts, the event log, the outbox rows of
notices, and the compare-and-set of an item's transition."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col

from models.bulk import Bulk
from models.db import rowcount, transaction
from models.tables import Deliverable, Event, Outbox, WorkItem, table_of
from schedules.notices import Notice
from schedules.plan import Plan
from schedules.step_names import ARCHIVE_MARK
from schedules.transitions import ItemEvent, sources
from schedules.vocabulary import NAGGING_KINDS, EventKind, ItemStatus, MailKind, OutboxStatus


def insert_missing(
    session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert rows whose unique key is not taken yet; return the ids of those inserted.

    Safe against a concurrent runner inserting the same key: the database decides (ON CONFLICT
    DO NOTHING), so retries, catch-up and two sweeps racing never make a duplicate. One
    statement per chunk of rows, not one per row.
    """
    insert = _dialect_insert(session)
    table = table_of(model)
    ids: list[int] = []
    for start in range(0, len(rows), _CHUNK):
        chunk = list(rows[start : start + _CHUNK])
        stmt = insert(table).values(chunk).on_conflict_do_nothing().returning(table.c.id)
        ids += session.execute(stmt).scalars().all()
    return ids


_CHUNK = 500


def insert_if_absent(session: Session, model: type[SQLModel], row: dict[str, Any]) -> None:
    """Insert `row` unless its primary key is taken (a concurrent runner's row stays)."""
    stmt = _dialect_insert(session)(table_of(model)).values(**row)
    session.execute(stmt.on_conflict_do_nothing())


def upsert(session: Session, model: type[SQLModel], row: dict[str, Any]) -> None:
    """Insert `row`, or update the row with the same primary key to its values."""
    table = table_of(model)
    keys = [c.name for c in table.primary_key.columns]
    stmt = _dialect_insert(session)(table).values(**row)
    changes = {k: v for k, v in row.items() if k not in keys}
    session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changes))


def _dialect_insert(session: Session):
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def log_events(session: Session, events: Sequence[dict[str, Any]]) -> None:
    """Append many events in one statement (rows of `Event`'s columns; `actor` defaults to the
    engine): what the sweep logs per batch. Through the driver (`models.bulk`)."""
    if events:
        rows = [{"actor": "engine", **e} for e in events]
        Bulk(session, table_of(Event)).insert(rows)


def log_event(
    session: Session,
    item_id: int | None,
    at: datetime,
    kind: EventKind,
    actor: str = "engine",
    **detail,
) -> None:
    session.add(Event(item_id=item_id, at=at, kind=kind, actor=actor, detail=detail))


def outbox_rows(item_id: int, notices: Sequence[Notice], at: datetime) -> list[dict[str, Any]]:
    """The outbox rows of `notices`: one per recipient, due at once; a notice's copy goes on its
    first mail only (one copy for the standing office, not one per leader). Each copy recipient
    has a row of its own (`addressed_to`: the mail's To), so its delivery is tracked like any
    recipient's; the mail itself goes out once, to its To and copies together."""
    rows = []

    def row(recipient: str, cc: list[str], addressed_to: str | None) -> dict[str, Any]:
        return dict(
            item_id=item_id,
            step=notice.step,
            kind=notice.kind,
            recipient=recipient,
            cc=cc,
            status=OutboxStatus.PENDING,
            created_at=at,
            send_after=at,
            attempts=0,
            addressed_to=addressed_to,
        )

    for notice in notices:
        for n, recipient in enumerate(notice.to):
            cc = [c for c in notice.cc if c != recipient] if n == 0 else []
            rows.append(row(recipient, cc, None))
            rows += [row(c, cc, recipient) for c in cc]
    return rows


def queue_rows(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert outbox rows (`outbox_rows`) whose key (item, step, recipient) is not taken, in one
    statement through the driver (`models.bulk`; no RETURNING: the statement's row count is
    the rows inserted); returns how many were inserted."""
    return Bulk(session, table_of(Outbox)).insert(rows, skip_conflicts=OUTBOX_KEY)


OUTBOX_KEY = ("item_id", "step", "recipient")
"""The outbox's unique key (`uq_outbox_key`): one row per item, step and recipient."""


def queue_notices(session: Session, item_id: int, notices: Sequence[Notice], at: datetime) -> int:
    """Queue the outbox rows of `notices`; a row already queued (same item, step and recipient)
    stays as it is. Returns the number of rows queued."""
    return queue_rows(session, outbox_rows(item_id, notices, at))


def latest_version(session: Session, item_id: int) -> list[Deliverable]:
    """The rows (parts) of the item's newest version handed in, in order; [] when none."""
    newest = session.execute(
        select(func.max(Deliverable.version)).where(col(Deliverable.item_id) == item_id)
    ).scalar()
    if newest is None:
        return []
    query = select(Deliverable).where(
        col(Deliverable.item_id) == item_id, col(Deliverable.version) == newest
    )
    return list(session.execute(query.order_by(col(Deliverable.part))).scalars())


def consolidated_sources(session: Session, plan: Plan, item: WorkItem) -> list[WorkItem]:
    """The reports a consolidated report's item sums up, for its period: its units' items of
    the obligation it consolidates, by unit; for the city office's report, every commune's,
    by commune. Empty for any other item."""
    ob = plan.obligations.get(item.obligation)
    if ob is None or not ob.consolidates:
        return []
    query = select(WorkItem).where(
        col(WorkItem.obligation) == ob.consolidates, col(WorkItem.period) == item.period
    )
    if plan.communes is None:
        query = query.where(col(WorkItem.commune) == item.commune)
    else:
        query = query.where(col(WorkItem.commune).in_(list(plan.communes)))
    order = (col(WorkItem.commune), col(WorkItem.unit))
    return list(session.execute(query.order_by(*order)).scalars())


def returns_so_far(session: Session, item_id: int) -> int:
    """How many times the standing office returned the item's deliverable (its return round)."""
    query = select(func.count()).where(
        col(Event.item_id) == item_id, col(Event.kind) == EventKind.RETURNED
    )
    return session.execute(query).scalar_one()


ROUND_EVENTS = ("returned", "extension_granted")
"""Events that start an item's new round of mails (its due date moved): the outbox rows so far
are archived (`STEP#N`, N the new round) and the Message-IDs name the round."""


def rounds_so_far(session: Session, item_id: int) -> int:
    """How many rounds the item has had after its first: returns and extensions granted."""
    query = select(func.count()).where(
        col(Event.item_id) == item_id, col(Event.kind).in_(ROUND_EVENTS)
    )
    return session.execute(query).scalar_one()


def rounds_by_item(session: Session, item_ids: Iterable[int]) -> dict[int, int]:
    """`rounds_so_far` of many items at once (items with none are absent)."""
    ids = set(item_ids)
    if not ids:
        return {}
    query = (
        select(col(Event.item_id), func.count())
        .where(col(Event.item_id).in_(ids), col(Event.kind).in_(ROUND_EVENTS))
        .group_by(col(Event.item_id))
    )
    return {item_id: n for item_id, n in session.execute(query).all()}


def escalations_sent_to(session: Session, item_id: int) -> list[str]:
    """The addresses the item's escalations of its current round were sent to (their copies
    included), in the order sent."""
    query = (
        select(col(Outbox.recipient))
        .where(
            col(Outbox.item_id) == item_id,
            col(Outbox.kind) == MailKind.ESCALATION,
            col(Outbox.status) == OutboxStatus.SENT,
            col(Outbox.step).not_like(f"%{ARCHIVE_MARK}%"),
        )
        .order_by(col(Outbox.sent_at), col(Outbox.id))
    )
    return list(dict.fromkeys(session.execute(query).scalars()))


def cancel_pending(
    session: Session,
    item_id: int,
    at: datetime,
    kinds: Collection[str] = NAGGING_KINDS,
    why: str = "item closed before sending",
) -> int:
    """A closed or waived item gets no further reminders, even those queued before (`kinds`:
    the mails that lost their point)."""
    result = session.execute(
        update(Outbox)
        .where(
            col(Outbox.item_id) == item_id,
            col(Outbox.status) == OutboxStatus.PENDING,
            col(Outbox.kind).in_(list(kinds)),
        )
        .values(status=OutboxStatus.CANCELLED, last_error=f"{why} ({at.isoformat()})")
    )
    return rowcount(result)


def transition_many(
    session: Session, event: ItemEvent, moves: Sequence[tuple[int, str, dict[str, Any]]]
) -> set[int]:
    """`transition` for many items at once: (item id, its step now, new values with `status`)
    each, one statement per target status (`models.bulk`), each row guarded by its step and
    the statuses the table allows. Returns the ids this call moved: all of them unless
    another runner changed some first."""
    moved: set[int] = set()
    bulk = Bulk(session, table_of(WorkItem))
    by_status: dict[ItemStatus, list[tuple[int, str, dict[str, Any]]]] = {}
    for move in moves:
        by_status.setdefault(move[2]["status"], []).append(move)
    for status, group in by_status.items():
        columns = sorted(group[0][2])
        allowed = ", ".join(f"'{ItemStatus(s).value}'" for s in sources(event, status))
        rows = [{"id": i, "guard_step": step, **values} for i, step, values in group]
        moved |= bulk.update("id", ["step"], columns, rows, where=f"{{t}}status IN ({allowed})")
    return moved


def transition(
    session: Session,
    item_id: int,
    event: ItemEvent,
    *,
    at_step: str | None = None,
    **values: Any,
) -> bool:
    """Compare-and-set on the item's status: apply `values` (with the new `status`) if the item
    is still in a status from which `event` leads there (`schedules.transitions`), and, with
    `at_step`, still at that step. False when another request or runner changed it first."""
    guard = [
        col(WorkItem.id) == item_id,
        col(WorkItem.status).in_(sources(event, values["status"])),
    ]
    if at_step is not None:
        guard.append(col(WorkItem.step) == at_step)
    result = session.execute(
        update(WorkItem).where(*guard).values(**values).execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def communes_of(engine: Engine, items: Collection[int]) -> dict[str, list[int]]:
    """The given items by commune (those that exist)."""
    found: dict[str, list[int]] = {}
    query = select(col(WorkItem.id), col(WorkItem.commune)).where(col(WorkItem.id).in_(list(items)))
    with transaction(engine) as session:
        for item_id, commune in session.execute(query):
            found.setdefault(commune, []).append(item_id)
    return found


def waiting_mail(
    engine: Engine, queued_before: datetime, communes: Collection[str]
) -> dict[str, list[tuple[int, str, str]]]:
    """The outbox rows of `communes` queued at or before `queued_before` that were tried and
    still wait (pending: not built, or not taken by the server), by their item's commune:
    (outbox id, recipient, last error) each, oldest first."""
    query = (
        select(col(Outbox.id), col(Outbox.recipient), col(Outbox.last_error), col(WorkItem.commune))
        .join(WorkItem, col(WorkItem.id) == col(Outbox.item_id))
        .where(
            col(Outbox.status) == OutboxStatus.PENDING,
            col(Outbox.attempts) > 0,
            col(Outbox.created_at) <= queued_before,
            col(WorkItem.commune).in_(list(communes)),
        )
        .order_by(col(Outbox.id))
    )
    found: dict[str, list[tuple[int, str, str]]] = {}
    with transaction(engine) as session:
        for row_id, recipient, error, commune in session.execute(query):
            found.setdefault(commune, []).append((row_id, recipient, error or ""))
    return found
