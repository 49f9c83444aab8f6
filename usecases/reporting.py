"""Read-only views: the item list and the yearly timeliness report per unit."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import Engine, func, select
from sqlmodel import col

from models.db import transaction
from models.tables import WorkItem, table_of
from schedules.dates import local_date
from schedules.plan import Plan
from schedules.timeliness import Judged, Verdict, verdict
from schedules.vocabulary import OPEN_STATUSES, ItemStatus


def open_counts(plan: Plan, engine: Engine) -> dict[str, Counter]:
    """Open items per unit and status (one GROUP BY on the index (commune, unit, status)): the
    counts of the status pages, read without loading the items. Units in the config's order,
    then any unit no longer in it."""
    return open_counts_by_commune([plan], engine)[plan.commune.code]


def open_counts_by_commune(plans: Sequence[Plan], engine: Engine) -> dict[str, dict[str, Counter]]:
    """`open_counts` of every commune of `plans`, in one GROUP BY (a city's sweep: one query,
    not one per commune)."""
    item = table_of(WorkItem).c
    codes = [plan.commune.code for plan in plans]
    query = (
        select(item.commune, item.unit, item.status, func.count())
        .where(item.commune.in_(codes), item.status.in_(OPEN_STATUSES))
        .group_by(item.commune, item.unit, item.status)
    )
    found: dict[str, dict[str, Counter]] = {code: defaultdict(Counter) for code in codes}
    with transaction(engine) as session:
        for commune, unit, status, n in session.execute(query).all():
            found[commune][unit][status] = n
    result = {}
    for plan in plans:
        order = {code: i for i, code in enumerate(plan.units)}
        counts = found[plan.commune.code]
        result[plan.commune.code] = dict(
            sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
        )
    return result


class Counted(Protocol):
    """What `UnitYear.count` reads of an item: a `WorkItem`, or a row of these columns."""

    @property
    def status(self) -> str: ...
    @property
    def on_time(self) -> bool | None: ...
    @property
    def due(self) -> date: ...


COUNTS = ("due", "on_time", "on_time_extended", "late", "overdue_open", "pending", "waived")
"""The counters of `UnitYear`, in the order the reports print them."""


@dataclass
class UnitYear:
    unit: str
    name: str
    due: int = 0
    """Items of the year (by their first due date) whose due date in force has come by the
    day counted, or handed in already: every item with a verdict or overdue (`on_time` +
    `on_time_extended` + `late` + `overdue_open`); pending and waived ones are counted apart
    (an item held at go-live counts as pending: the unit is not late for what it was never
    told, until the office re-opens it)."""
    on_time: int = 0
    """Done on time against the first due date in force (`schedules.timeliness`)."""
    on_time_extended: int = 0
    """Done on time only thanks to an extension ("đúng hạn (được gia hạn)")."""
    late: int = 0
    overdue_open: int = 0
    pending: int = 0
    """Open and not yet due."""
    waived: int = 0

    def add(self, other: UnitYear, times: int = 1) -> None:
        """Add `other`'s counts, `times` over (a group of like items counted once)."""
        for key in COUNTS:
            setattr(self, key, getattr(self, key) + times * getattr(other, key))

    @classmethod
    def summed(cls, rows: Iterable[UnitYear], label: str) -> UnitYear:
        """The counts of `rows` added up, under `label` (a total row)."""
        total = cls(label, label)
        for row in rows:
            total.add(row)
        return total

    @property
    def on_time_rate(self) -> float | None:
        """On-time share (within an extension included) of the items whose due date has passed
        (None when there are none)."""
        settled = self.on_time + self.on_time_extended + self.late + self.overdue_open
        done = self.on_time + self.on_time_extended
        return round(done / settled, 4) if settled else None

    def count(self, item: Judged, today: date) -> None:
        """Count one item: the single rule of timeliness that every report uses. An item with
        a verdict (its first version arrived) counts by it, even when returned and open again;
        an open item without one is overdue past its due date in force, else pending."""
        if item.status == ItemStatus.WAIVED:
            self.waived += 1
            return
        found = verdict(item)
        if found is None and not ItemStatus(item.status).late_on(item.due, today):
            self.pending += 1  # not handed in, not due yet: not "đến hạn"
            return
        self.due += 1
        if found == Verdict.ON_TIME:
            self.on_time += 1
        elif found == Verdict.ON_TIME_EXTENDED:
            self.on_time_extended += 1
        elif found == Verdict.LATE:
            self.late += 1
        else:
            self.overdue_open += 1

    def as_dict(self) -> dict:
        return asdict(self) | {"on_time_rate": self.on_time_rate}


def first_due():
    """The column a year or a quarter is counted by: the first due date in force (an extension
    or a return moves `due`, not the year the item counts in)."""
    return func.coalesce(WorkItem.original_due, WorkItem.due)


def items_due_in(plan: Plan, engine: Engine, year: int) -> list[WorkItem]:
    query = select(WorkItem).where(
        col(WorkItem.commune) == plan.commune.code,
        first_due() >= date(year, 1, 1),
        first_due() <= date(year, 12, 31),
    )
    with transaction(engine) as session:
        return list(session.scalars(query))


def tally(plan: Plan, items: list[WorkItem], today: date) -> list[UnitYear]:
    """Per unit of the config (then any unit no longer in it), the counts of `items`."""
    rows = {code: UnitYear(code, unit.name) for code, unit in plan.units.items()}
    for item in items:
        rows.setdefault(item.unit, UnitYear(item.unit, item.unit)).count(item, today)
    return list(rows.values())


def year_report(plan: Plan, engine: Engine, year: int, at: datetime) -> list[UnitYear]:
    return tally(plan, items_due_in(plan, engine, year), local_date(at, plan.zone))
