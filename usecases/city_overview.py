"""The Sở's overview after each period (issue 23): for the city office's leaders, each commune's
report to the city of the period (on time, late, missing), the city's indicators (the sum of
its communes' numerators over the sum of their denominators) against their targets, and the
communes furthest from them.

The same `Overview` as a commune's quarterly overview, with `communes` set; the sweep queues it
as it queues a commune's (`usecases.overview.queue_overviews`: the city's consolidated report's
item, step `overview`, each leader), `overview_after` working days after the city's own report
is due; `cchc overview --commune CITY` shows it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from models.db import transaction
from models.tables import WorkItem
from schedules.city import short_name
from schedules.config_units import ALL_UNITS
from schedules.dates import local_date
from schedules.overview import Cycle
from schedules.plan import Plan
from schedules.vocabulary import ItemStatus
from usecases.indicator_report import IndicatorRow, city_rows, rows_of
from usecases.overview import line_of
from usecases.overview_data import (
    LATE,
    MISSING,
    ON_TIME,
    CommuneReport,
    FarCommune,
    IndicatorLine,
    Overview,
)

FURTHEST = 5
"""How many communes the overview names as furthest from the targets."""


def build_city_overview(office: Plan, engine: Engine, cycle: Cycle, at: datetime) -> Overview:
    """The Sở's overview of the period of `cycle` (the city's consolidated report's) as of
    `at`."""
    assert office.communes is not None, "the city office's plan names its communes"
    plans = list((office.lower or {}).values())
    with transaction(engine) as session:
        communes = _reports(office, session, cycle)
        rows = rows_of(plans, session, None, [cycle.period]) if cycle.period and plans else []
    city = city_rows(plans, rows, office.commune.code) if rows else []
    order = list(dict.fromkeys(r.id for r in rows))
    city.sort(key=lambda r: order.index(r.id))
    indicators: list[IndicatorLine] = [line_of(r) for r in city]
    names = {code: short_name(name) for code, name in office.communes.items()}
    return Overview(
        commune=office.units[office.commune.standing_office].name,
        plan_short=office.commune.plan_short,
        cycle=cycle,
        at=at,
        zone=office.zone,
        units=[],
        indicators=indicators,
        total_label="Toàn thành phố",
        communes=communes,
        furthest=_furthest(rows, names),
        kinds=office.kinds_phrase,
    )


def _reports(office: Plan, session: Session, cycle: Cycle) -> list[CommuneReport]:
    """Each commune's report of the period that the city's report sums up, in code order."""
    assert office.communes is not None
    obligation = office.obligations[cycle.obligation].consolidates if cycle.obligation else None
    items: dict[str, WorkItem] = {}
    if obligation and cycle.period:
        query = select(WorkItem).where(
            col(WorkItem.commune).in_(list(office.communes)),
            col(WorkItem.obligation) == obligation,
            col(WorkItem.period) == cycle.period,
            col(WorkItem.adhoc).is_(False),
        )
        for found_item in session.scalars(query.order_by(col(WorkItem.id))):
            items.setdefault(found_item.commune, found_item)
    found = []
    for code, name in office.communes.items():
        item = items.get(code)
        state, received = MISSING, None
        if item is not None and item.status == ItemStatus.CLOSED and item.closed_at is not None:
            received = local_date(item.closed_at, office.zone)
            state = ON_TIME if item.on_time else LATE
        found.append(
            CommuneReport(
                code=code,
                name=short_name(name),
                state=state,
                due=(item.original_due or item.due) if item is not None else None,
                received=received,
            )
        )
    return found


def _furthest(rows: list[IndicatorRow], names: dict[str, str]) -> list[FarCommune]:
    """The communes whose figures (ratios, yes/no) fall furthest short of their targets on
    average, furthest first; those meeting every target left out."""
    mine: dict[str, list[IndicatorRow]] = defaultdict(list)
    for row in rows:
        if row.unit == ALL_UNITS:
            mine[row.commune].append(row)
    found = []
    for code, own in mine.items():
        gaps = [r.gap for r in own if r.gap is not None and r.measure != "count"]
        if not gaps or sum(gaps) <= 0:
            continue
        found.append(
            FarCommune(
                code=code,
                name=names.get(code, code),
                gap=round(sum(gaps) / len(gaps), 1),
                met=sum(1 for r in own if r.met),
                with_data=sum(1 for r in own if r.value is not None),
                expected=len(own),
            )
        )
    return sorted(found, key=lambda c: (-c.gap, c.code))[:FURTHEST]
