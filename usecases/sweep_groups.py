"""A city's sweep in groups of communes (`flows.sweep_run`: one sub-run per group, which the
work pool's workers share): how the communes are grouped, and what the groups' runs changed as
of the sweep's instant, read back from the event log and the outbox for the city's summary."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Engine, Select, func, select
from sqlmodel import col

from models.db import transaction
from models.tables import Event, Outbox, WorkItem
from schedules.vocabulary import EventKind, StepKind


def commune_groups(codes: list[str], size: int) -> list[list[str]]:
    """`codes` in groups of at most `size`, in order (the same groups each morning)."""
    ordered = sorted(codes)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


ADVANCING = [
    str(k) for k in (StepKind.REMINDER, StepKind.DUE, StepKind.OVERDUE, StepKind.ESCALATION)
]


def _items_with_event(at: datetime, kinds: list[str]) -> Select:
    """By commune: how many items have an event of one of `kinds` at `at`."""
    return (
        select(col(WorkItem.commune), func.count(func.distinct(col(Event.item_id))))
        .select_from(Event)
        .join(WorkItem, col(WorkItem.id) == col(Event.item_id))
        .where(col(Event.at) == at, col(Event.kind).in_(kinds))
        .group_by(col(WorkItem.commune))
    )


def sweep_changes(engine: Engine, at: datetime) -> dict[str, Counter]:
    """What the sweeps as of `at` did, by commune: items "opened", items "advanced" (a
    reminder, due, overdue or escalation step), mails "queued" (outbox rows created at `at`).
    The changes of a fanned-out sweep, whose groups ran in other processes."""
    opened = _items_with_event(at, [str(EventKind.OPENED)])
    advanced = _items_with_event(at, ADVANCING)
    queued = (
        select(col(WorkItem.commune), func.count())
        .select_from(Outbox)
        .join(WorkItem, col(WorkItem.id) == col(Outbox.item_id))
        .where(col(Outbox.created_at) == at)
        .group_by(col(WorkItem.commune))
    )
    with transaction(engine) as session:
        return {
            name: Counter(dict(session.execute(query).all()))
            for name, query in (("opened", opened), ("advanced", advanced), ("queued", queued))
        }
