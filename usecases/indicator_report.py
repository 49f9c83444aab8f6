"""The indicators against their targets: per unit and for the commune (the sum of the units'
numerators over the sum of their denominators), per period, with how complete the reporting is
(DHIS2's reporting rate and reporting rate on time: units expected, units that reported, units
that reported by their report's due date).

Read by `cchc indicators`, the consolidated report's mail and page, the Prefect artifact and
the league table. A commune's row has `unit` ALL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from models.db import transaction
from models.tables import IndicatorValue, WorkItem
from schedules.config_indicators import Indicator
from schedules.config_units import ALL_UNITS
from schedules.indicators import (
    Figure,
    percent,
    period_year,
    reporters,
    target_for,
    target_words,
    verdict,
    vn_number,
)
from schedules.indicators import gap as gap_to
from schedules.plan import Plan
from schedules.vocabulary import ItemStatus
from usecases.indicator_values import figure_of, newest_values


@dataclass
class IndicatorRow:
    """One indicator for one period, for one unit or (unit ALL) the commune."""

    commune: str
    id: str
    ref: str
    name: str
    measure: str
    period: str
    unit: str
    numerator: float | None
    denominator: float | None
    value: float | None
    target: float
    target_text: str
    verdict: str
    gap: float | None
    """How far the value is from the target, in the target's unit (points of % for a ratio):
    positive when short of it, 0 when met; None without data. A city's communes furthest from
    target have the largest."""
    expected: int
    reported: int
    reported_on_time: int

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def shown(self) -> str:
        """The value as people read it ("85,5 %")."""
        return shown_value(self)

    @property
    def met(self) -> bool | None:
        return None if self.value is None else self.verdict == "đạt"


def shown_value(row: IndicatorRow) -> str:
    """ "85,5 %" (a ratio or a yes/no), "12" (a count), "—" without data."""
    if row.value is None:
        return "—"
    return vn_number(row.value) if row.measure == "count" else f"{vn_number(row.value)} %"


def carried_items(
    session: Session,
    plans: Sequence[Plan],
    year: int | None,
    periods: Iterable[str] | None = None,
) -> list[WorkItem]:
    """The items of `plans` that carry indicators (their reports' items), of `year` or of
    `periods`, oldest period first: one query for every commune."""
    carriers = {i.reported_in for plan in plans for i in plan.indicators.values()}
    if not carriers:
        return []
    query = select(WorkItem).where(
        col(WorkItem.commune).in_([plan.commune.code for plan in plans]),
        col(WorkItem.obligation).in_(sorted(carriers)),
        col(WorkItem.adhoc).is_(False),
    )
    if year is not None:
        query = query.where(col(WorkItem.period).like(f"{year}%"))
    if periods is not None:
        query = query.where(col(WorkItem.period).in_(list(periods)))
    return list(session.scalars(query.order_by(col(WorkItem.window_end), col(WorkItem.unit))))


def _first_entries(session: Session, item_ids: list[int]) -> dict[tuple[int, str], datetime]:
    """When each (item, indicator) first got a value: on time or late is judged by it."""
    if not item_ids:
        return {}
    rows = session.execute(
        select(col(IndicatorValue.item_id), col(IndicatorValue.indicator), col(IndicatorValue.at))
        .where(
            col(IndicatorValue.item_id).in_(item_ids), col(IndicatorValue.numerator).is_not(None)
        )
        .order_by(col(IndicatorValue.id))
    )
    first: dict[tuple[int, str], datetime] = {}
    for item_id, indicator, at in rows:
        first.setdefault((item_id, indicator), at)
    return first


def indicator_rows(
    plan: Plan,
    session: Session,
    year: int | None = None,
    periods: Iterable[str] | None = None,
) -> list[IndicatorRow]:
    """Every indicator of the plan for each period its reports were opened: one row per unit
    that reports it, then the commune's row (unit ALL)."""
    return rows_of([plan], session, year, periods)


def rows_of(
    plans: Sequence[Plan],
    session: Session,
    year: int | None = None,
    periods: Iterable[str] | None = None,
) -> list[IndicatorRow]:
    """`indicator_rows` of every plan of `plans`, read in three queries whatever their number
    (the league table of a city of 114 communes)."""
    items = carried_items(session, plans, year, periods)
    ids = [i.id for i in items if i.id is not None]
    values = newest_values(session, ids)
    first = _first_entries(session, ids)
    by_period: dict[tuple[str, str], list[WorkItem]] = defaultdict(list)
    for item in items:
        by_period[(item.commune, item.period)].append(item)
    plan_of = {plan.commune.code: plan for plan in plans}
    rows: list[IndicatorRow] = []
    for (commune, period), period_items in by_period.items():
        plan = plan_of[commune]
        for indicator in plan.indicators.values():
            units = reporters(plan, indicator)
            owing = [
                i
                for i in period_items
                if i.obligation == indicator.reported_in
                and i.unit in units
                and i.status != ItemStatus.WAIVED
            ]
            if not owing:
                continue
            unit_rows = [_unit_row(plan, indicator, item, values, first) for item in owing]
            rows += unit_rows
            rows.append(_summed_row(plan, indicator, period, unit_rows))
    return rows


def _row(
    plan: Plan,
    indicator: Indicator,
    period: str,
    unit: str,
    figure: Figure | None,
    counts: tuple[int, int, int],
) -> IndicatorRow:
    year = period_year(period)
    value = None if figure is None else round(figure.value, 2)
    return IndicatorRow(
        commune=plan.commune.code,
        id=indicator.id,
        ref=indicator.ref,
        name=indicator.name,
        measure=indicator.measure,
        period=period,
        unit=unit,
        numerator=None if figure is None else figure.numerator,
        denominator=None if figure is None else figure.denominator,
        value=value,
        target=target_for(indicator, year),
        target_text=target_words(indicator, year),
        verdict=verdict(indicator, value, year),
        gap=None if value is None else round(max(0.0, gap_to(indicator, value, year)), 2),
        expected=counts[0],
        reported=counts[1],
        reported_on_time=counts[2],
    )


def _unit_row(
    plan: Plan,
    indicator: Indicator,
    item: WorkItem,
    values: dict[tuple[int, str], IndicatorValue],
    first: dict[tuple[int, str], datetime],
) -> IndicatorRow:
    key = (item.id or 0, indicator.id)
    figure = figure_of(values.get(key))
    entered = first.get(key)
    on_time = entered is not None and plan.received_on_time(item.judged_due or item.due, entered)
    counts = (1, int(figure is not None), int(figure is not None and on_time))
    return _row(plan, indicator, item.period, item.unit, figure, counts)


def aggregate(indicator: Indicator, figures: Sequence[Figure]) -> Figure | None:
    """The sum of the numerators over the sum of the denominators (a count: the sum)."""
    if not figures:
        return None
    top = sum(f.numerator for f in figures)
    if not percent(indicator):
        return Figure(top, None)
    return Figure(top, sum(f.denominator or 0 for f in figures))


def _summed_row(
    plan: Plan, indicator: Indicator, period: str, parts: list[IndicatorRow]
) -> IndicatorRow:
    """The row (unit ALL) summing `parts`: a commune's of its units' rows, a city's of its
    communes' (`aggregate`, the counts added up)."""
    figures = [Figure(r.numerator, r.denominator) for r in parts if r.numerator is not None]
    counts = (
        sum(r.expected for r in parts),
        sum(r.reported for r in parts),
        sum(r.reported_on_time for r in parts),
    )
    return _row(plan, indicator, period, ALL_UNITS, aggregate(indicator, figures), counts)


def city_rows(plans: Sequence[Plan], rows: list[IndicatorRow], code: str) -> list[IndicatorRow]:
    """A city's aggregate of its communes' rows (commune `code`, unit ALL), per indicator
    and period."""
    grouped: dict[tuple[str, str], list[IndicatorRow]] = defaultdict(list)
    for row in rows:
        if row.unit == ALL_UNITS:
            grouped[(row.id, row.period)].append(row)
    found = []
    for (iid, period), communes in grouped.items():
        plan = next(p for p in plans if iid in p.indicators)
        row = _summed_row(plan, plan.indicators[iid], period, communes)
        row.commune = code
        found.append(row)
    return found


def read_rows(plans: Sequence[Plan], engine: Engine, year: int | None = None) -> list[IndicatorRow]:
    """Every commune's rows of `plans` for `year`."""
    with transaction(engine) as session:
        return rows_of(plans, session, year)
