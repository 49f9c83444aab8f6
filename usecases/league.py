"""The city office's league table: every commune's on-time record for a year, ranked.

The city office (Sở Nội vụ) ranks its communes every year on how they keep their CCHC
deadlines. `league` reads the items due in the year of every commune in ONE grouped query (its
cost does not grow with one query per commune) and counts each group with the per-unit report's
rule, `usecases.reporting.UnitYear.count` (waived items left out, on time as decided when the
item closed, overdue while open past its due date); a quarter is that of the due date
(`usecases.scorecard.quarter_of`), as in the scorecard. So a commune's figures here are the
sums of its units' figures in `cchc report` and in its scorecard.

A `League` is plain data; its table, chart and workbook are `notifications.documents.league`'s
(and the city's Prefect page, `notifications.city_pages`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy import Engine, case, exists, func, select

from models.db import transaction
from models.tables import Event, WorkItem, table_of
from schedules.city import City, short_name
from schedules.commune_kinds import commune_kinds_phrase, communes_count
from schedules.config_units import ALL_UNITS
from schedules.dates import local_date
from schedules.vocabulary import EventKind
from usecases.indicator_report import IndicatorRow, rows_of
from usecases.reporting import COUNTS, UnitYear
from usecases.scorecard import QUARTERS, quarter_of

RATE_KEYS = {q: f"{q.lower()}_rate" for q in QUARTERS}
"""Q1 → q1_rate, ..."""
TOTAL = "Toàn thành phố"
INDICATOR_KEYS = (
    "indicator_expected",
    "indicator_reported",
    "indicator_on_time",
    "indicator_reporting_rate",
    "indicator_on_time_rate",
    "indicators_met",
    "indicators_with_data",
    "indicator_gap",
)
"""The indicator columns of a commune's row (`IndicatorTally`)."""


@dataclass
class IndicatorTally:
    """A commune's indicators over the year (DHIS2's reporting rate): values expected (one per
    unit, indicator and period), reported, reported by the report's due date; and of its own
    figures (the commune's value of each indicator and period), how many have data and how
    many meet their target."""

    expected: int = 0
    reported: int = 0
    on_time: int = 0
    met: int = 0
    with_data: int = 0
    gaps: float = 0.0
    """The sum of the points of % its figures (ratios, yes/no) fall short of their targets."""
    rated: int = 0

    def add(self, row: IndicatorRow) -> None:
        if row.unit == ALL_UNITS:
            self.met += int(row.met is True)
            self.with_data += int(row.value is not None)
            if row.gap is not None and row.measure != "count":
                self.gaps += row.gap
                self.rated += 1
            return
        self.expected += row.expected
        self.reported += row.reported
        self.on_time += row.reported_on_time

    def as_dict(self) -> dict:
        def rate(n: int) -> float | None:
            return n / self.expected if self.expected else None

        return dict(
            zip(
                INDICATOR_KEYS,
                (
                    self.expected,
                    self.reported,
                    self.on_time,
                    rate(self.reported),
                    rate(self.on_time),
                    self.met,
                    self.with_data,
                    round(self.gaps / self.rated, 1) if self.rated else None,
                ),
                strict=True,
            )
        )


@dataclass
class CommuneYear:
    code: str
    name: str
    year: UnitYear
    """The year's counts (`unit` holds the commune's code)."""
    quarters: dict[str, UnitYear]
    """Q1..Q4 (by due date) → the same counts for the items due in that quarter."""
    escalated: int = 0
    """Items counted in `due` that were escalated at least once (an `escalation` event in the
    log: an item later returned and reopened still counts, as does one that skipped levels)."""
    rank: int | None = None
    """1 = best; communes with the same rate share a rank (1, 1, 3); None: nothing to rate."""
    indicators: IndicatorTally = field(default_factory=IndicatorTally)

    @property
    def on_time_rate(self) -> float | None:
        return self.year.on_time_rate

    def as_dict(self) -> dict:
        counts = {key: getattr(self.year, key) for key in COUNTS}
        rates = {RATE_KEYS[q]: self.quarters[q].on_time_rate for q in QUARTERS}
        return {
            "rank": self.rank,
            "commune": self.code,
            "name": self.name,
            **counts,
            "escalated": self.escalated,
            "on_time_rate": self.on_time_rate,
            **rates,
            **self.indicators.as_dict(),
        }


@dataclass
class League:
    city: str
    """The city's name (or the single commune's)."""
    year: int
    at: datetime
    communes: list[CommuneYear] = field(default_factory=list)
    """Best first (see `rank_communes`)."""
    kinds: dict[str, str] = field(default_factory=dict)
    """Each commune's kind (`CommuneKind`) by code: how the table names them."""

    @property
    def kinds_phrase(self) -> str:
        """ "xã, phường": the kinds of the city's communes, as its headings name them."""
        return commune_kinds_phrase(self.kinds.values())

    @property
    def count_text(self) -> str:
        """ "67 xã, 45 phường, 2 đặc khu": the communes listed, by kind."""
        return communes_count(self.kinds.get(c.code, "xa") for c in self.communes)

    whole: League | None = None
    """A table narrowed to some communes (`only`): the whole city's, for its total."""

    def only(self, code: str) -> League:
        """The table narrowed to one commune's row: its rank among all, the city's total."""
        return replace(self, communes=[c for c in self.communes if c.code == code], whole=self)

    def rows(self) -> list[dict]:
        """One dict per commune, best first, keys as `CommuneYear.as_dict` orders them (rates as
        fractions, None where nothing was due)."""
        return [c.as_dict() for c in self.communes]

    def total(self) -> UnitYear:
        """The city as a whole."""
        return UnitYear.summed([c.year for c in (self.whole or self).communes], TOTAL)

    def total_escalated(self) -> int:
        return sum(c.escalated for c in (self.whole or self).communes)

    def total_indicators(self) -> IndicatorTally:
        """The city's indicator counts, as `total` (the whole city's, in a narrowed table)."""
        total = IndicatorTally()
        for c in (self.whole or self).communes:
            for key in ("expected", "reported", "on_time", "met", "with_data", "gaps", "rated"):
                setattr(total, key, getattr(total, key) + getattr(c.indicators, key))
        return total


def league(city: City, engine: Engine, year: int, at: datetime) -> League:
    """Every commune of `city` (those with no items too), its items due in `year` counted as
    of `at`, ranked.

    1. one query, grouped by (commune, status, on_time and the due dates): how many items, and
       how many of them have an escalation event (EXISTS on the event log's item index);
    2. each group is counted once with `UnitYear.count` (the report's rule, the commune's own
       "today") and added `n` times, to the year and to the due date's quarter;
    3. `rank_communes`;
    4. the indicators of the year (`usecases.indicator_report.rows_of`, three queries): how
       complete each commune's reporting is, how many of its figures meet their target.
    """
    item = table_of(WorkItem).c
    event = table_of(Event).c
    escalated = exists().where(event.item_id == item.id, event.kind == EventKind.ESCALATION)
    first_due = func.coalesce(item.original_due, item.due)
    verdict = (item.status, item.on_time, item.due, item.original_due, item.judged_due)
    query = (
        select(
            item.commune,
            *verdict,
            func.count().label("n"),
            func.sum(case((escalated, 1), else_=0)).label("escalated"),
        )
        .where(
            item.commune.in_(list(city.plans)),
            first_due >= date(year, 1, 1),
            first_due <= date(year, 12, 31),
        )
        .group_by(item.commune, *verdict)
    )
    with transaction(engine) as session:
        groups = session.execute(query).all()
    communes = {
        code: CommuneYear(
            code,
            short_name(plan.commune.name),
            UnitYear(code, plan.commune.name),
            {q: UnitYear(code, plan.commune.name) for q in QUARTERS},
        )
        for code, plan in city.plans.items()
    }
    for group in groups:  # a row with the columns `UnitYear.count` reads (`verdict`)
        row = communes[group.commune]
        one = UnitYear(row.code, row.name)
        one.count(group, local_date(at, city.plans[group.commune].zone))
        row.year.add(one, group.n)
        row.quarters[quarter_of(group.original_due or group.due)].add(one, group.n)
        if one.due:  # escalations of the items that count (a waived one does not)
            row.escalated += group.escalated
    kinds = {code: str(plan.commune.kind) for code, plan in city.plans.items()}
    with transaction(engine) as session:
        for indicator_row in rows_of(list(city.plans.values()), session, year):
            communes[indicator_row.commune].indicators.add(indicator_row)
    return League(_city_name(city), year, at, rank_communes(list(communes.values())), kinds)


def rank_communes(communes: list[CommuneYear]) -> list[CommuneYear]:
    """Best on-time rate first, equal rates in code order sharing a rank (1, 1, 3); then the
    communes with nothing due yet to rate, unranked, in code order."""
    rated = sorted(
        (c for c in communes if c.on_time_rate is not None),
        key=lambda c: (-(c.on_time_rate or 0.0), c.code),
    )
    previous: CommuneYear | None = None
    for position, row in enumerate(rated, start=1):
        if previous is not None and previous.on_time_rate == row.on_time_rate:
            row.rank = previous.rank  # tied
        else:
            row.rank = position
        previous = row
    unrated = sorted((c for c in communes if c.on_time_rate is None), key=lambda c: c.code)
    for row in unrated:
        row.rank = None
    return rated + unrated


def _city_name(city: City) -> str:
    if city.info is not None:
        return city.info.name
    return short_name(next(iter(city.plans.values())).commune.name)
