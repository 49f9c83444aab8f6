"""The quarterly overview for the Chủ tịch and the leader in charge: per unit, the items due in
the quarter, done on time, done late, still open, extended; the directives still open.

`build_overview` reads the database into an `Overview`, plain data; its mail is
`notifications/templates/overview.*.j2`, its workbook `notifications.documents.overview`. The
counts are `usecases.reporting.tally`'s (the rule of `cchc report` and the scorecard), over the
items whose first due date in force lies in the quarter (`schedules.overview.Cycle`).

`queue_overviews` is the sweep's part: level-triggered, it queues each quarter's overview once
(outbox key: the consolidated report's item, step `overview`, the leader), whatever the number
of sweeps, catch-up runs or runners racing.

Indicators (issue 24: the PAR INDEX / SIPAS figures) are to come as `Overview.indicators`: a
list of (label, value) lines the mail and the workbook print under the units' table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from models.db import transaction
from models.store import queue_notices
from models.tables import Directive, Extension, WorkItem
from schedules.dates import local_date, local_instant
from schedules.documents import document_reference, subject_phrase
from schedules.notices import overview_notices
from schedules.overview import Cycle, quarter_cycle, report_cycles
from schedules.plan import Plan
from schedules.vocabulary import OPEN_STATUSES, ExtensionStatus, ItemStatus
from usecases.reporting import UnitYear, first_due, tally

STALE_AFTER = timedelta(days=30)
"""An overview not queued within this many days of its sending day is left out (the engine was
down a month: the next quarter's comes in its time)."""
TOTAL = "Toàn xã"


@dataclass
class UnitQuarter:
    """One unit's quarter, as the overview's table reads it."""

    unit: str
    name: str
    total: int = 0
    """Items due in the quarter (by their first due date), waived ones left out."""
    on_time: int = 0
    """Done on time, within an extension included."""
    late: int = 0
    """Done after the due date."""
    open: int = 0
    """Not done yet."""
    overdue_open: int = 0
    """Of `open`: past the due date in force."""
    extended: int = 0
    """Items whose due date the office extended (granted at least once)."""
    waived: int = 0

    @classmethod
    def of(cls, counts: UnitYear, extended: int) -> UnitQuarter:
        return cls(
            unit=counts.unit,
            name=counts.name,
            total=counts.due + counts.pending,
            on_time=counts.on_time + counts.on_time_extended,
            late=counts.late,
            open=counts.overdue_open + counts.pending,
            overdue_open=counts.overdue_open,
            extended=extended,
            waived=counts.waived,
        )

    def add(self, other: UnitQuarter) -> None:
        for key in ("total", "on_time", "late", "open", "overdue_open", "extended", "waived"):
            setattr(self, key, getattr(self, key) + getattr(other, key))

    def as_dict(self) -> dict:
        return {
            "unit": self.unit,
            "name": self.name,
            "due": self.total,
            "on_time": self.on_time,
            "late": self.late,
            "open": self.open,
            "overdue_open": self.overdue_open,
            "extended": self.extended,
            "waived": self.waived,
        }


@dataclass(frozen=True)
class OpenDirective:
    """A directive (văn bản chỉ đạo) with items still open: who still owes, by when."""

    number: str
    reference: str
    """ "Công văn số 125/SNV-CCHC ngày 18/03/2027 của Sở Nội vụ"."""
    subject: str
    """ "về việc …": the subject (trích yếu) as it follows the reference."""
    due: date
    """The earliest due date in force of its open items."""
    units: tuple[str, ...]
    """Names of the units still owing, in the config's order."""
    overdue: int
    """Of its open items, those past their due date."""

    def as_dict(self) -> dict:
        return {
            "number": self.number,
            "reference": self.reference,
            "subject": self.subject,
            "due": self.due.isoformat(),
            "units": list(self.units),
            "overdue": self.overdue,
        }


@dataclass
class Overview:
    commune: str
    """The commune's name ("Ủy ban nhân dân xã Mao Điền")."""
    plan_short: str
    cycle: Cycle
    at: datetime
    zone: ZoneInfo
    units: list[UnitQuarter]
    directives: list[OpenDirective] = field(default_factory=list)
    indicators: list[tuple[str, str]] = field(default_factory=list)
    """(label, value) lines for the quarter's indicators (issue 24); empty until they exist."""
    total_label: str = TOTAL
    """The commune as a whole: "Toàn xã", "Toàn phường", "Toàn đặc khu" (its kind)."""

    @property
    def today(self) -> date:
        return local_date(self.at, self.zone)

    def total(self) -> UnitQuarter:
        whole = UnitQuarter(self.total_label, self.total_label)
        for row in self.units:
            whole.add(row)
        return whole

    def late_units(self) -> list[UnitQuarter]:
        """Units with items done late or still overdue, most behind first."""
        behind = [u for u in self.units if u.late or u.overdue_open]
        return sorted(behind, key=lambda u: (-u.overdue_open, -u.late, u.unit))

    def as_dict(self) -> dict:
        """`cchc overview --format json`."""
        return {
            "quarter": self.cycle.key,
            "first": self.cycle.first.isoformat(),
            "last": self.cycle.last.isoformat(),
            "report": self.cycle.obligation,
            "report_due": self.cycle.report_due.isoformat() if self.cycle.report_due else None,
            "send_on": self.cycle.send_on.isoformat() if self.cycle.send_on else None,
            "at": self.at.isoformat(),
            "units": [row.as_dict() for row in self.units],
            "total": self.total().as_dict(),
            "directives": [d.as_dict() for d in self.directives],
            "indicators": [{"label": k, "value": v} for k, v in self.indicators],
        }


def build_overview(plan: Plan, engine: Engine, cycle: Cycle, at: datetime) -> Overview:
    """The quarter `cycle` as of `at`: each unit of the config (then any unit no longer in it,
    with items in the quarter), the commune's directives with items still open."""
    today = local_date(at, plan.zone)
    code = plan.commune.code
    with transaction(engine) as session:
        items = list(
            session.scalars(
                select(WorkItem).where(
                    col(WorkItem.commune) == code,
                    first_due() >= cycle.first,
                    first_due() <= cycle.last,
                )
            )
        )
        extended = _extended(session, [i.id for i in items if i.id is not None])
        directives = _open_directives(plan, session, today)
    per_unit: dict[str, int] = defaultdict(int)
    for item in items:
        if item.id in extended:
            per_unit[item.unit] += 1
    counted = tally(plan, items, today)
    rows = [
        UnitQuarter.of(c, per_unit[c.unit])
        for c in counted
        if c.unit in plan.units or c.due + c.pending + c.waived
    ]
    return Overview(
        commune=plan.commune.name,
        plan_short=plan.commune.plan_short,
        cycle=cycle,
        at=at,
        zone=plan.zone,
        units=rows,
        directives=directives,
        total_label=f"Toàn {plan.kind_label}",
    )


def _extended(session: Session, ids: list[int]) -> set[int]:
    """Of `ids`, the items with an extension granted."""
    if not ids:
        return set()
    query = select(col(Extension.item_id)).where(
        col(Extension.item_id).in_(ids), col(Extension.status) == ExtensionStatus.GRANTED
    )
    return set(session.scalars(query.distinct()))


def _open_directives(plan: Plan, session: Session, today: date) -> list[OpenDirective]:
    query = (
        select(Directive, WorkItem)
        .join(WorkItem, col(WorkItem.directive_id) == col(Directive.id))
        .where(
            col(Directive.commune) == plan.commune.code,
            col(WorkItem.status).in_(OPEN_STATUSES),
        )
        .order_by(col(Directive.issued_on), col(Directive.id))
    )
    grouped: dict[int, tuple[Directive, list[WorkItem]]] = {}
    for directive, item in session.execute(query).all():
        grouped.setdefault(directive.id, (directive, []))[1].append(item)
    order = {u: n for n, u in enumerate(plan.units)}
    found = []
    for directive, items in grouped.values():
        codes = sorted({i.unit for i in items}, key=lambda u: (order.get(u, len(order)), u))
        found.append(
            OpenDirective(
                number=directive.number,
                reference=document_reference(
                    directive.number, directive.issued_on, directive.issuer
                ),
                subject=subject_phrase(directive.subject),
                due=min(i.due for i in items),
                units=tuple(plan.units[u].name if u in plan.units else u for u in codes),
                overdue=sum(ItemStatus(i.status).late_on(i.due, today) for i in items),
            )
        )
    return found


def due_cycles(plan: Plan, today: date) -> list[Cycle]:
    """The overviews whose sending day has come by `today` (and not long ago), of quarters the
    engine tracked at least half of (`Cycle.partial`)."""
    return [c for c in report_cycles(plan, today - STALE_AFTER, today) if not c.partial]


def queue_overviews(plan: Plan, engine: Engine, at: datetime) -> dict[int, int]:
    """Queue the overviews due by `at` that are not queued yet; returns the rows queued, by
    the consolidated report's item they hang on.

    Only for a quarter the engine followed: its consolidated report's item was opened by the
    overview's day. A first run after that day (a late go-live: everything of the quarter
    opens at once, past due, for the office to sort out) or an engine down since before the
    report opened sends no overview of that quarter; neither does a city office's plan (its
    reports sum up the communes': not yet an overview)."""
    if plan.communes is not None:  # a city office's plan: its reports are not a commune's
        return {}
    cycles = due_cycles(plan, local_date(at, plan.zone))
    notices = overview_notices(plan)
    if not cycles or not notices:
        return {}
    queued: dict[int, int] = {}
    with transaction(engine) as session:
        for cycle in cycles:
            assert cycle.send_on is not None, "a report's cycle has its sending day"
            sending = local_instant(cycle.send_on + timedelta(days=1), time(0), plan.zone)
            item_id = session.scalar(
                select(func.min(WorkItem.id)).where(
                    col(WorkItem.commune) == plan.commune.code,
                    col(WorkItem.obligation) == cycle.obligation,
                    col(WorkItem.unit) == cycle.unit,
                    col(WorkItem.period) == cycle.period,
                    col(WorkItem.opened_at) < sending,
                )
            )
            if item_id is not None:
                rows = queue_notices(session, item_id, notices, at)
                if rows:
                    queued[item_id] = rows
    return queued


def cycle_of_item(plan: Plan, item: WorkItem) -> Cycle:
    """The overview an outbox row on `item` (a consolidated report's) speaks of: the quarter
    its data window closes in."""
    end = item.window_end or item.due
    return quarter_cycle(plan, end.year, (end.month - 1) // 3 + 1)
