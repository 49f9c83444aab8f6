"""The clock: *when* each flow of cchc runs, as RFC 5545 rule text (pure; no scheduler here).

One place decides every instant: `plan_schedules` turns the plan into `ClockSchedule`s (plain
data: a slug, the flow to run, its parameters and the rule text in the commune's zone). The
embedded engine (`cchc run`) wraps each in a `flows.trigger.RRuleTrigger`; `cchc deploy` hands
the same text to the Prefect server as an RRule schedule. Both read the text the same way: every
DTSTART, RDATE, EXDATE and UNTIL is a *floating* local wall time in the schedule's zone (Prefect
relabels floating values with the schedule's timezone; a value written in UTC would be shifted by
7 hours).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from schedules.plan import Plan

SWEEP = "sweep"
"""Slug and flow of the working-day sweep."""

AFTER_PLAN = timedelta(days=92)
"""The sweep keeps running this long after the plan ends: the last items escalate in January."""

MAX_RULE_LENGTH = 6500
"""Prefect refuses longer rule strings."""

_STAMP = "%Y%m%dT%H%M%S"


@dataclass(frozen=True)
class ClockSchedule:
    """What runs (`flow`, with `parameters`) and when (`rule`, read in `timezone`)."""

    slug: str
    """The obligation id, or `sweep`: job id in the engine, deployment name on the server."""
    flow: str
    """`sweep`, or the obligation's kind (which opening flow runs)."""
    rule: str
    timezone: str
    parameters: dict[str, str] = field(default_factory=dict)

    def instants(self, first: datetime, last: datetime) -> list[datetime]:
        """The aware instants of the rule in [first, last]."""
        zone = ZoneInfo(self.timezone)
        rule = rrulestr(self.rule, forceset=True)
        lo, hi = wall_time(first, zone), wall_time(last, zone)
        return [d.replace(tzinfo=zone) for d in rule.between(lo, hi, inc=True)]


def opening_days(plan: Plan, obligation: str) -> list[date]:
    """The days an obligation's items open: `Occurrence.opens` of every occurrence the engine
    acts on (`Plan.acted_on`), each once."""
    commune = plan.commune
    found = plan.acted_on(commune.plan_start, commune.plan_end, obligation=obligation, by="opens")
    return sorted({o.opens for o in found})


def opening_schedule(plan: Plan, obligation: str) -> ClockSchedule | None:
    """The opening instants of one obligation as an explicit list (RDATEs), at the sweep time.

    Why a list and not the obligation's own RRULE shifted: an item opens `open_before_due`
    *working* days before a due date that itself moves off days off (BLDS), over a calendar with
    lunar holidays (Tết) and per-year swaps an admin adds late. No RRULE BY-part expresses that,
    so the plan computes the days and the rule lists them. The list covers the whole plan (not
    "from now"), so the text only changes when the plan does and `cchc deploy` stays idempotent.
    None when nothing of the obligation opens (no schedule, or all of it before the start date).
    """
    ob = plan.obligations[obligation]
    if obligation not in plan.schedules or ob.schedule is None:
        return None
    days = opening_days(plan, obligation)
    if not days:
        return None
    at = plan.commune.sweep_time
    stamps = [datetime.combine(d, at).strftime(_STAMP) for d in days]
    rule = f"DTSTART:{stamps[0]}\nRDATE:{','.join(stamps)}"
    if len(rule) > MAX_RULE_LENGTH:
        raise ValueError(
            f"{obligation}: {len(days)} opening days make a rule of {len(rule)} characters "
            f"(at most {MAX_RULE_LENGTH})"
        )
    return ClockSchedule(
        obligation, ob.kind, rule, plan.commune.timezone, {"obligation": obligation}
    )


def sweep_schedule(plan: Plan) -> ClockSchedule:
    """Every working-day morning at `commune.sweep_time`, from the plan's first day (items due
    after the start date may open before it, and their reminders must go out) until a while
    after the plan ends: Monday to Friday, less the weekdays off (EXDATE: public holidays,
    swapped Mondays), plus the worked Saturdays (RDATE). Working days come from the plan's one
    `WorkingCalendar`. UNTIL is written as local wall time, which is how Prefect reads it."""
    commune = plan.commune
    first, last = commune.plan_start, commune.plan_end + AFTER_PLAN
    at = commune.sweep_time
    exdates, rdates = [], []
    day = first
    while day <= last:
        weekday, working = day.weekday() < 5, plan.calendar.is_working_day(day)
        if weekday and not working:
            exdates.append(day)
        elif working and not weekday:
            rdates.append(day)
        day += timedelta(days=1)
    start = datetime.combine(first, at)
    until = datetime.combine(last, time(23, 59, 59))
    lines = [
        f"DTSTART:{start.strftime(_STAMP)}",
        f"RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;UNTIL={until.strftime(_STAMP)}",
    ]
    if exdates:
        lines.append("EXDATE:" + ",".join(_stamp(d, at) for d in exdates))
    if rdates:
        lines.append("RDATE:" + ",".join(_stamp(d, at) for d in rdates))
    return ClockSchedule(SWEEP, SWEEP, "\n".join(lines), commune.timezone)


def plan_schedules(plan: Plan) -> list[ClockSchedule]:
    """The sweep's schedule, then one opening schedule per obligation that has openings."""
    found = [sweep_schedule(plan)]
    for oid in plan.schedules:
        schedule = opening_schedule(plan, oid)
        if schedule is not None:
            found.append(schedule)
    return found


def _stamp(day: date, at: time) -> str:
    return datetime.combine(day, at).strftime(_STAMP)


def wall_time(instant: datetime, zone: ZoneInfo) -> datetime:
    """Naive wall time of `instant` in `zone` (naive input is taken as already local)."""
    if instant.tzinfo is None:
        return instant
    return instant.astimezone(zone).replace(tzinfo=None)
