"""The reads of work items a flow run makes besides the use cases': items by id (what a run
opened, moved or changed), by commune, and a commune's open items as plain rows for its status
tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from sqlalchemy import Engine, select
from sqlmodel import col

from models.db import transaction
from models.tables import Directive, WorkItem, saved_id, table_of
from notifications.status_pages import ItemLike
from schedules.plan import Plan
from schedules.vocabulary import OPEN_STATUSES

CHUNK = 500
"""Ids per `IN (...)` of one query: far below every database's limit on bound parameters."""


def chunks(ids: list[int]) -> Iterator[list[int]]:
    """`ids` in slices of `CHUNK`, one query each."""
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def read_items(engine: Engine, ids: list[int]) -> list[WorkItem]:
    """The items of `ids` that exist, in the order of `ids`."""
    found: list[WorkItem] = []
    for chunk in chunks(ids):
        with transaction(engine) as session:
            found += session.scalars(select(WorkItem).where(col(WorkItem.id).in_(chunk))).all()
    order = {item_id: i for i, item_id in enumerate(ids)}
    return sorted(found, key=lambda i: order[saved_id(i)])


def by_commune(items: list[WorkItem]) -> dict[str, list[WorkItem]]:
    found: dict[str, list[WorkItem]] = defaultdict(list)
    for item in items:
        found[item.commune].append(item)
    return found


def open_items_now(plan: Plan, engine: Engine) -> list[ItemLike]:
    """The commune's open items, as plain rows (the tables read their columns only: no ORM
    objects, a fifth of the cost for a commune's thousands), each with the number of the
    directive it acts on (`directive`, None for the plan's items)."""
    table = table_of(WorkItem)
    directives = table_of(Directive)
    item = table.c
    query = (
        select(table, directives.c.number.label("directive"))
        .outerjoin(directives, directives.c.id == item.directive_id)
        .where(item.commune == plan.commune.code, item.status.in_(OPEN_STATUSES))
        .order_by(item.unit, item.due, item.id)
    )
    with transaction(engine) as session:
        return list(session.execute(query).all())
