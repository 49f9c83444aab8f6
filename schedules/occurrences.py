"""When is what due: the occurrences of a schedule, with data window, opening and due dates.

Pure functions: the calendar and the range come in as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from typing import TYPE_CHECKING

from dateutil.rrule import rrulestr

from schedules.calendar import WorkingCalendar
from schedules.config_obligations import DueRule, PeriodKind, Schedule
from schedules.dates import local_date, vn_date
from schedules.periods import NAMED_SETS, ONCE_RULE, Period, clamp_day, period_of
from schedules.policy import ResolvedPolicy
from schedules.vocabulary import working_days

if TYPE_CHECKING:  # the plan asks this module; these read a plan's occurrences back
    from schedules.plan import Plan


@dataclass(frozen=True)
class CompiledSchedule:
    """A schedule as an RRULE with an explicit DTSTART, plus the period kind its anchors name."""

    rule: str
    dtstart: date
    period_kind: PeriodKind
    q3_window_from_june: bool = True
    window_from: date | None = None
    window_start_day: int | None = None

    def anchors(self, first: date, last: date) -> list[date]:
        """Anchor dates in [first, last]."""
        return list(_anchors(self, first, last))

    def period(self, anchor: date) -> Period:
        period = period_of(self.period_kind, anchor, q3_window_from_june=self.q3_window_from_june)
        if self.window_from is not None:
            return period.with_window(self.window_from, period.window_end)
        if self.window_start_day is not None:
            return period.window_from_day(self.window_start_day)
        return period


@lru_cache(maxsize=16384)
def _anchors(schedule: CompiledSchedule, first: date, last: date) -> tuple[date, ...]:
    """Pure, and shared by every commune whose plan compiles the same schedule (a city's
    communes extend one template): RRULE expansion is the costliest step of a city's plan."""
    rule = rrulestr(schedule.rule, dtstart=datetime.combine(schedule.dtstart, time()))
    lo, hi = datetime.combine(first, time()), datetime.combine(last, time())
    return tuple(d.date() for d in rule.between(lo, hi, inc=True))


def compile_schedule(schedule: Schedule, plan_start: date) -> CompiledSchedule:
    if schedule.once is not None:
        return CompiledSchedule(
            ONCE_RULE, schedule.once, "date", window_from=schedule.window_from or plan_start
        )
    if schedule.every is not None:
        rule, kind = NAMED_SETS[schedule.every]
    else:
        rule, kind = schedule.rrule or "", schedule.period or "date"
    # An explicit DTSTART at the plan's first day: without one, INTERVAL parity and COUNT would
    # count from whatever day the rule is evaluated.
    start = date(plan_start.year, 1, 1)
    return CompiledSchedule(
        rule, start, kind, schedule.q3_window_from_june, window_start_day=schedule.window_start_day
    )


@dataclass(frozen=True)
class DueDate:
    nominal: date
    due: date
    basis: str
    """How the due date was found, in Vietnamese, for `cchc plan` and the mails."""


def nominal_due(
    rule: DueRule, period: Period, anchor: date, calendar: WorkingCalendar
) -> tuple[date, str]:
    """The due date of `period` by `rule`, before any shift off a day off, and how it was found
    (in Vietnamese). `Plan.effective_due` makes it the due date in force."""
    year, month = period.last_month
    if rule.day_of_last_month is not None:
        nominal = clamp_day(year, month, rule.day_of_last_month)
        basis = f"ngày {rule.day_of_last_month} tháng cuối kỳ"
    elif rule.day_of_month_after is not None:
        after_year, after_month = (year + 1, 1) if month == 12 else (year, month + 1)
        nominal = clamp_day(after_year, after_month, rule.day_of_month_after)
        basis = f"ngày {rule.day_of_month_after} tháng sau kỳ"
    elif rule.working_days_after_window is not None:
        n = rule.working_days_after_window
        nominal = calendar.add_working_days(period.window_end, n)
        basis = f"{working_days(n)} sau ngày chốt số liệu {vn_date(period.window_end)}"
    elif rule.working_days_after_period_end is not None:
        n = rule.working_days_after_period_end
        nominal = calendar.add_working_days(period.end, n)
        basis = f"{working_days(n)} sau ngày cuối kỳ {vn_date(period.end)}"
    elif rule.on is not None:
        m, d = (int(x) for x in rule.on.split("-"))
        nominal = clamp_day(period.year + rule.year_offset, m, d)
        basis = f"ngày {d:02d}/{m:02d}" + (" năm trước kỳ" if rule.year_offset < 0 else "")
        if rule.year_offset > 0:
            basis += " năm sau kỳ"
    else:
        nominal = anchor
        basis = "ngày đến hạn theo lịch"
    return nominal, basis


@dataclass(frozen=True)
class Occurrence:
    obligation: str
    unit: str
    period: Period
    anchor: date
    opens: date
    due: DueDate


def opening_date(due: date, policy: ResolvedPolicy, calendar: WorkingCalendar) -> date:
    return calendar.add_working_days(due, -policy.open_before_due)


def latest_opening(plan: Plan, obligation: str, at: datetime) -> tuple[date | None, list[str]]:
    """The latest opening day of `obligation` on or before `at`'s date, in this commune's own
    calendar, and the periods that open on it, among occurrences the engine acts on."""
    today = local_date(at, plan.zone)
    found = plan.acted_on(plan.commune.plan_start, today, obligation=obligation, by="opens")
    if not found:
        return None, []
    latest = max(o.opens for o in found)
    return latest, list(dict.fromkeys(o.period.key for o in found if o.opens == latest))


def current_periods(plan: Plan, obligation: str, at: datetime) -> list[str]:
    """The periods of `obligation` whose opening day is the latest one on or before `at`'s date
    (an opening run's own day when it fires on schedule), among occurrences the engine acts on."""
    return latest_opening(plan, obligation, at)[1]
