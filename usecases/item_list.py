"""The item list of `cchc items`: the commune's items, their failed mails and their directives'
numbers, read with SQLAlchemy Core (`models.core`), no ORM: a read-only command loads no more
than it needs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import ColumnElement, Engine, Row, and_, func, or_, select

from models.core import directive, outbox, work_item
from schedules.plan import Plan
from schedules.vocabulary import LATE, ItemStatus, OutboxStatus


def list_items(
    plan: Plan,
    engine: Engine,
    status: str | None = None,
    unit: str | None = None,
    today: date | None = None,
) -> Sequence[Row]:
    """The commune's items by due date, of `status` (an `ItemStatus`, or `LATE` as of `today`)
    and `unit` when given; each row has the columns of `models.core.work_item` as attributes."""
    item = work_item.c
    query = select(work_item).where(item.commune == plan.commune.code)
    if status == LATE:
        query = query.where(late_on(today or date.today()))
    elif status is not None:
        query = query.where(item.status == status)
    if unit is not None:
        query = query.where(item.unit == unit)
    with engine.connect() as connection:
        return connection.execute(query.order_by(item.due, item.id)).all()


def late_on(today: date) -> ColumnElement[bool]:
    """`ItemStatus.late_on` as a condition on the items' columns."""
    item = work_item.c
    overdue = [ItemStatus.OVERDUE, ItemStatus.ESCALATED]
    return or_(
        item.status.in_(overdue),
        and_(item.status == ItemStatus.OPEN, item.due < today),
    )


def failed_counts(plan: Plan, engine: Engine) -> dict[int, int]:
    """Failed outbox rows per item."""
    query = (
        select(outbox.c.item_id, func.count())
        .join(work_item, work_item.c.id == outbox.c.item_id)
        .where(work_item.c.commune == plan.commune.code, outbox.c.status == OutboxStatus.FAILED)
        .group_by(outbox.c.item_id)
    )
    with engine.connect() as connection:
        return {item_id: n for item_id, n in connection.execute(query).all()}


def directive_numbers(engine: Engine, item_ids: Iterable[int]) -> dict[int, str]:
    """The directive's number and symbol of each item that acts on one (`cchc items --format
    json`: `directive`); items of the plan are absent."""
    ids = list(item_ids)
    if not ids:
        return {}
    query = (
        select(work_item.c.id, directive.c.number)
        .join(directive, directive.c.id == work_item.c.directive_id)
        .where(work_item.c.id.in_(ids))
    )
    with engine.connect() as connection:
        return {item_id: number for item_id, number in connection.execute(query).all()}
