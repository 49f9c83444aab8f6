"""The quarterly overview's calendar, pure: which quarter an overview covers, and when it goes.

The commune's consolidated report (`kind: consolidated_report`, due a few working days after
each CCHC data window closes: 14/03, 14/06, 14/09, 14/12) is what the standing office sends up
every quarter. `overview_after` working days after it is due (default 3), the Chủ tịch and the
leader in charge get one page on the quarter (`usecases.overview`). The quarter is the one the
report's data window closes in (14/03/2027: quý I/2027); the items it counts are those whose
first due date in force lies after the previous consolidated report's due date and on or before
this one's ("nhiệm vụ có hạn từ 19/12/2026 đến 18/03/2027"): the units' own reports for the quarter
are in it, every item is counted in exactly one overview, and all of them are past due when it
goes. A quarter without a consolidated report in the config (the command line asks for any
quarter) is the calendar quarter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from dateutil.relativedelta import relativedelta

from schedules.vocabulary import ObligationKind

if TYPE_CHECKING:
    from schedules.occurrences import Occurrence
    from schedules.plan import Plan

ROMAN = ("I", "II", "III", "IV")
_QUARTER = re.compile(r"^(?P<year>\d{4})-?Q(?P<q>[1-4])$", re.IGNORECASE)
_REACH = timedelta(days=70)
"""How far before a day its overview's report may be due (a few working days, plus Tết)."""


@dataclass(frozen=True)
class Cycle:
    """One quarter's overview: the span it counts and the report it follows."""

    year: int
    quarter: int
    first: date
    """The first due date counted: the day after the previous consolidated report's due date
    (three months before `last` for the first report), or the commune's `start` if later."""
    last: date
    """The last one: the consolidated report's due date (the calendar quarter's end without
    one)."""
    send_on: date | None = None
    """The day the sweep queues the overview (None: no consolidated report in the config)."""
    obligation: str | None = None
    """The consolidated report it follows, its lead unit and period: the item the outbox rows
    hang on."""
    unit: str | None = None
    period: str | None = None
    report_due: date | None = None
    partial: bool = False
    """The engine tracked less than half of the quarter (the commune's `start` falls late in
    it): `first` is the start, and the sweep sends no overview of it (its figures would say
    little); the command line still shows it."""

    @property
    def key(self) -> str:
        """ "2027Q1", as `--quarter` takes it."""
        return f"{self.year}Q{self.quarter}"

    @property
    def label(self) -> str:
        """ "quý I/2027"."""
        return f"quý {ROMAN[self.quarter - 1]}/{self.year}"


def parse_quarter(text: str) -> tuple[int, int]:
    """ "2027Q1" (or "2027-Q1", "2027q1") → (2027, 1); ValueError otherwise."""
    found = _QUARTER.match(text.strip())
    if found is None:
        raise ValueError(f"not a quarter: {text!r} (expected e.g. 2027Q1)")
    return int(found["year"]), int(found["q"])


def _consolidated(plan: Plan) -> list[str]:
    return [
        oid
        for oid, ob in plan.obligations.items()
        if ob.kind == ObligationKind.CONSOLIDATED_REPORT and oid in plan.schedules
    ]


def report_cycles(plan: Plan, first: date, last: date, acted_on: bool = True) -> list[Cycle]:
    """The overviews whose sending day lies in [first, last], by sending day: one per quarter
    (the first consolidated report of the config that closes a window in it). `acted_on`: only
    reports the engine acts on (due on or after the commune's `start`)."""
    find = plan.acted_on if acted_on else plan.occurrences
    after = plan.commune.overview_after
    found: dict[tuple[int, int], Cycle] = {}
    for oid in _consolidated(plan):
        for occ in find(first - _REACH, last, obligation=oid, by="due"):
            end = occ.period.window_end
            quarter = (end.year, (end.month - 1) // 3 + 1)
            send_on = plan.calendar.add_working_days(occ.due.due, after) if after else occ.due.due
            if quarter in found or not first <= send_on <= last:
                continue
            found[quarter] = _cycle(plan, quarter, occ, send_on)
    return sorted(found.values(), key=lambda c: (c.send_on or c.last, c.key))


def _cycle(plan: Plan, quarter: tuple[int, int], occ: Occurrence, send_on: date) -> Cycle:
    """The overview that follows the consolidated report `occ`."""
    due = occ.due.due
    earlier = plan.occurrences(
        due - relativedelta(months=6), due - timedelta(days=1), obligation=occ.obligation
    )
    previous = max((o.due.due for o in earlier if o.unit == occ.unit), default=None)
    whole = previous + timedelta(days=1) if previous else due - relativedelta(months=3)
    first = max(whole, plan.commune.start)
    return Cycle(
        year=quarter[0],
        quarter=quarter[1],
        first=first,
        partial=(due - first) * 2 < (due - whole),
        last=due,
        send_on=send_on,
        obligation=occ.obligation,
        unit=occ.unit,
        period=occ.period.key,
        report_due=due,
    )


def quarter_cycle(plan: Plan, year: int, quarter: int) -> Cycle:
    """The overview of a quarter: the consolidated report's that closes a window in it, else
    the calendar quarter."""
    start = date(year, 3 * quarter - 2, 1)
    end = start + relativedelta(months=3) - timedelta(days=1)
    for oid in _consolidated(plan):
        for occ in plan.occurrences(start, end + _REACH, obligation=oid, by="due"):
            if start <= occ.period.window_end <= end:
                after = plan.commune.overview_after
                due = occ.due.due
                send_on = plan.calendar.add_working_days(due, after) if after else due
                return _cycle(plan, (year, quarter), occ, send_on)
    return Cycle(year=year, quarter=quarter, first=start, last=end)


def latest_cycle(plan: Plan, today: date) -> Cycle:
    """The overview the sweep would have sent by `today`: the last whose sending day has come
    (a year back at most), else the calendar quarter before today's."""
    sent = report_cycles(plan, today - timedelta(days=366), today, acted_on=False)
    if sent:
        return sent[-1]
    previous = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1) - timedelta(days=1)
    return quarter_cycle(plan, previous.year, (previous.month - 1) // 3 + 1)
