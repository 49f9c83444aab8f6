"""The quarterly overview for the Chủ tịch and the leader in charge: per unit, the items due in
the quarter, done on time, done late, still open, extended; the directives still open.

`build_overview` reads the database into an `Overview`, plain data; its mail is
`notifications/templates/overview.*.j2`, its workbook `notifications.documents.overview`. The
counts are `usecases.reporting.tally`'s (the rule of `cchc report` and the scorecard), over the
items whose first due date in force lies in the quarter (`schedules.overview.Cycle`).

`queue_overviews` is the sweep's part: level-triggered, it queues each quarter's overview once
(outbox key: the consolidated report's item, step `overview`, the leader), whatever the number
of sweeps, catch-up runs or runners racing.

The indicators (issue 24) are the commune's rows of `usecases.indicator_report` for the
consolidated report's period (`Cycle.period`): each against its target, with its verdict and how
many units reported it (on time); the mail and the workbook print them under the units' table.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from models.db import transaction
from models.store import queue_notices
from models.tables import Directive, Extension, WorkItem
from schedules.config_units import ALL_UNITS
from schedules.dates import local_date, local_instant
from schedules.documents import document_reference, subject_phrase
from schedules.notices import overview_notices
from schedules.overview import Cycle, quarter_cycle, report_cycles
from schedules.plan import Plan
from schedules.vocabulary import OPEN_STATUSES, ExtensionStatus, ItemStatus
from usecases.indicator_report import IndicatorRow, indicator_rows
from usecases.overview_data import IndicatorLine, OpenDirective, Overview, UnitQuarter
from usecases.reporting import first_due, tally

STALE_AFTER = timedelta(days=30)
"""An overview not queued within this many days of its sending day is left out (the engine was
down a month: the next quarter's comes in its time)."""


def build_overview(plan: Plan, engine: Engine, cycle: Cycle, at: datetime) -> Overview:
    """The quarter `cycle` as of `at`: each unit of the config (then any unit no longer in it,
    with items in the quarter), the commune's directives with items still open. A city
    office's plan: the Sở's overview (`usecases.city_overview`)."""
    if plan.communes is not None:
        from usecases.city_overview import build_city_overview

        return build_city_overview(plan, engine, cycle, at)
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
        indicators = indicator_lines(plan, session, cycle)
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
        indicators=indicators,
        total_label=f"Toàn {plan.kind_label}",
    )


def indicator_lines(plan: Plan, session: Session, cycle: Cycle) -> list[IndicatorLine]:
    """The commune's indicators for the quarter's consolidated report period, in the config's
    order (none without a consolidated report or indicators)."""
    if cycle.period is None or not plan.indicators:
        return []
    rows = indicator_rows(plan, session, None, [cycle.period])
    return [line_of(row) for row in rows if row.unit == ALL_UNITS]


def line_of(row: IndicatorRow) -> IndicatorLine:
    """An indicator row (unit ALL: a commune's or a city's) as the overview prints it."""
    return IndicatorLine(
        id=row.id,
        ref=row.ref,
        name=row.name,
        period=row.period,
        value=row.shown,
        target=row.target_text,
        verdict=row.verdict,
        expected=row.expected,
        reported=row.reported,
        reported_on_time=row.reported_on_time,
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
    report opened sends no overview of that quarter. A city office's plan: the Sở's overview
    to its leaders, on the city's consolidated report (`usecases.city_overview`)."""
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
