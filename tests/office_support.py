"""Helpers of the tests of the office's daily work (directives, extensions, returns): instants,
items and outbox rows read back from a real database. Holds no tests of its own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from models.db import transaction
from models.tables import Event, Outbox, WorkItem
from schedules.dates import parse_instant

OFFICE = "vhxh@maodien.example"
CA = "congan@maodien.example"
KT = "kinhte@maodien.example"
VP = "vanphong@maodien.example"
TTPVHCC = "ttpvhcc@maodien.example"


def t(text: str) -> datetime:
    return parse_instant(text)


def reload(engine, item_id: int) -> WorkItem:
    with transaction(engine) as s:
        return s.get(WorkItem, item_id)


def outbox(engine, item_id: int, copies: bool = False) -> list[Outbox]:
    """The item's outbox rows in order; the rows of copies (Cc) only with `copies`."""
    with transaction(engine) as s:
        rows = s.exec(select(Outbox).where(Outbox.item_id == item_id).order_by(Outbox.id))
        return [o for o in rows.scalars() if copies or not o.addressed_to]


def steps(engine, item_id: int) -> list[tuple[str, str]]:
    """(step, recipient) of the item's own outbox rows (not the copies')."""
    return [(o.step, o.recipient) for o in outbox(engine, item_id)]


def events(engine, item_id: int, kind: str | None = None) -> list[Event]:
    with transaction(engine) as s:
        query = select(Event).where(Event.item_id == item_id)
        if kind is not None:
            query = query.where(Event.kind == kind)
        return list(s.exec(query.order_by(Event.id)).scalars())
