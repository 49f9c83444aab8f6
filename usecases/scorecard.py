"""The yearly on-time scorecard per unit: evidence for the PAR INDEX self-scoring.

`build_scorecard` reads the database once into a `Scorecard`, plain data; its workbook, chart
and Markdown are `notifications.documents.scorecard`'s. The year's numbers are
`usecases.reporting.tally`'s, the very numbers `cchc report --format json` prints; a quarter is
that of an item's due date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlmodel import col

from models.db import transaction
from models.tables import Directive, WorkItem
from schedules.dates import local_date
from schedules.documents import document_reference
from schedules.item_standing import standing
from schedules.plan import Plan
from schedules.timeliness import timeliness_label
from schedules.vocabulary import ObligationKind
from usecases.reporting import COUNTS, UnitYear, items_due_in, tally

QUARTERS = ("Q1", "Q2", "Q3", "Q4")
FIELDS = ("unit", "name", *COUNTS)
"""The keys of `cchc report --format json`, in its order (then `on_time_rate`)."""
TOTAL = "Toàn xã"


@dataclass(frozen=True)
class DirectiveTask:
    """One item of a directive (văn bản chỉ đạo) due in the year, as the scorecard lists it:
    the document's number beside the task, and how the unit did."""

    number: str
    """Số, ký hiệu: "125/SNV-CCHC"."""
    reference: str
    """ "Công văn số 125/SNV-CCHC ngày 18/03/2027 của Sở Nội vụ"."""
    task: str
    unit: str
    unit_name: str
    due: date
    original_due: date
    result: str
    """ "đúng hạn", "đúng hạn (được gia hạn)", "quá hạn", ... or where it stands while open."""


@dataclass
class Scorecard:
    plan_name: str
    commune: str
    year: int
    at: datetime
    zone: ZoneInfo
    units: list[UnitYear]
    quarters: dict[str, dict[str, UnitYear]] = field(default_factory=dict)
    """unit code → quarter (Q1..Q4) → the same counts for the items due in that quarter."""
    directives: list[DirectiveTask] = field(default_factory=list)
    """The directives' items of the year, by directive then unit."""
    total_label: str = TOTAL
    """The commune as a whole: "Toàn xã", "Toàn phường", "Toàn đặc khu" (its kind)."""

    def total(self) -> UnitYear:
        """The commune as a whole."""
        return UnitYear.summed(self.units, self.total_label)

    def total_quarters(self) -> dict[str, UnitYear]:
        return {
            q: UnitYear.summed([per[q] for per in self.quarters.values()], self.total_label)
            for q in QUARTERS
        }

    def with_total(self) -> list[tuple[UnitYear, dict[str, UnitYear]]]:
        """(year, quarters) for each unit, then for the commune as a whole."""
        rows = [(row, self.quarters.get(row.unit, {})) for row in self.units]
        return rows + [(self.total(), self.total_quarters())]

    def rows(self) -> list[dict]:
        """Per unit, as `cchc report --format json` prints them."""
        return [row.as_dict() for row in self.units]


def quarter_of(day: date) -> str:
    return QUARTERS[(day.month - 1) // 3]


def build_scorecard(plan: Plan, engine: Engine, year: int, at: datetime) -> Scorecard:
    """The year's counts per unit (as `cchc report` prints them) and per quarter of the first
    due date in force."""
    items = items_due_in(plan, engine, year)
    today = local_date(at, plan.zone)
    units = tally(plan, items, today)
    quarters = {row.unit: {q: UnitYear(row.unit, row.name) for q in QUARTERS} for row in units}
    for item in items:
        quarters[item.unit][quarter_of(item.original_due or item.due)].count(item, today)
    return Scorecard(
        plan.commune.plan_short,
        plan.commune.name,
        year,
        at,
        plan.zone,
        units,
        quarters,
        directive_tasks(plan, engine, items, today),
        f"Toàn {plan.kind_label}",
    )


def directive_tasks(
    plan: Plan, engine: Engine, items: list[WorkItem], today: date
) -> list[DirectiveTask]:
    """The items of `items` that act on a directive, with its number, as of `today`."""
    ids = {i.directive_id for i in items if i.directive_id is not None}
    if not ids:
        return []
    with transaction(engine) as session:
        query = select(Directive).where(col(Directive.id).in_(ids))
        found = {d.id: d for d in session.execute(query).scalars()}
    tasks = []
    for item in items:
        directive = found.get(item.directive_id)
        if directive is None:
            continue
        unit = plan.units.get(item.unit)
        result = timeliness_label(item, today) or standing(item, today, plan.calendar).label
        task = DirectiveTask(
            number=directive.number,
            reference=document_reference(directive.number, directive.issued_on, directive.issuer),
            task=item.title,
            unit=item.unit,
            unit_name=unit.name if unit else item.unit,
            due=item.due,
            original_due=item.original_due or item.due,
            result=result,
        )
        tasks.append(((directive.issued_on, directive.id, item.unit), task))
    return [task for _, task in sorted(tasks, key=lambda pair: pair[0])]


def self_scoring_year(plan: Plan, obligation: str, period: str) -> int | None:
    """The year a self-scoring item scores (its period's year), or None for other items."""
    ob = plan.obligations.get(obligation)
    if ob is None or ob.kind != ObligationKind.SELF_SCORING or not period[:4].isdigit():
        return None
    return int(period[:4])
