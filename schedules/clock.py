"""The clock: *when* each flow of cchc runs, as RFC 5545 rule text (pure; no scheduler here).

One place decides every instant: `city_schedules` turns the communes' plans into
`ClockSchedule`s (plain data: a slug, the flow to run, its parameters and the rule text in the
communes' zone). The embedded engine (`cchc run`) wraps each in a `flows.trigger.RRuleTrigger`;
`cchc deploy` hands the same text to the Prefect server as an RRule schedule. Both read the text
the same way: every DTSTART, RDATE, EXDATE and UNTIL is a *floating* local wall time in the
schedule's zone (Prefect relabels floating values with the schedule's timezone; a value written
in UTC would be shifted by 7 hours).

A city's communes share the schedules: one sweep on every day that is a working day in any of
them (one schedule per sweep time in use), one opening schedule per obligation listing every
commune's opening instants. Their number follows the obligations, not the communes; each run
then asks each commune's own calendar what is due (`flows.prefect_flows`). Every commune of a
city is in one zone (the first plan's is used).
"""

from __future__ import annotations

from collections.abc import Sequence
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
    """The obligation id, or `sweep` (`sweep-HHMM` for a second sweep time): the engine's job
    id and the schedule's slug on the server."""
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
    """One commune's opening instants of `obligation` (see `openings_schedule`)."""
    return openings_schedule([plan], obligation)


def openings_schedule(plans: Sequence[Plan], obligation: str) -> ClockSchedule | None:
    """The opening instants of one obligation in every commune of `plans` that has it, as one
    explicit list (RDATEs): each commune's opening days at its sweep time.

    Why a list and not the obligation's own RRULE shifted: an item opens `open_before_due`
    *working* days before a due date that itself moves off days off (BLDS), over a calendar with
    lunar holidays (Tết), per-year swaps an admin adds late and, in a city, communes' own days
    off. No RRULE BY-part expresses that, so each plan computes its days and the rule lists
    them all (communes sharing a calendar share their instants: the list grows with the
    calendars, not the communes). The list covers the whole plan (not "from now"), so the text
    only changes when a plan does and `cchc deploy` stays idempotent. None when nothing of the
    obligation opens (no schedule, or all of it before the start dates).
    """
    having = [
        p
        for p in plans
        if obligation in p.schedules and p.obligations[obligation].schedule is not None
    ]
    kinds = sorted({p.obligations[obligation].kind for p in having})
    if len(kinds) > 1:
        raise ValueError(
            f"{obligation}: one id with several kinds ({', '.join(kinds)}) in different communes: "
            "give each its own id (một mã nhiệm vụ chỉ có một loại)"
        )
    instants = sorted(
        {
            datetime.combine(d, p.commune.sweep_time)
            for p in having
            for d in opening_days(p, obligation)
        }
    )
    if not instants:
        return None
    stamps = [i.strftime(_STAMP) for i in instants]
    rule = f"DTSTART:{stamps[0]}\nRDATE:{','.join(stamps)}"
    if len(rule) > MAX_RULE_LENGTH:
        raise ValueError(
            f"{obligation}: {len(instants)} opening instants make a rule of {len(rule)} "
            f"characters (at most {MAX_RULE_LENGTH})"
        )
    return ClockSchedule(
        obligation, kinds[0], rule, having[0].commune.timezone, {"obligation": obligation}
    )


def sweep_schedule(plan: Plan) -> ClockSchedule:
    """One commune's working-day sweep (see `sweep_schedules`)."""
    return sweep_schedules([plan])[0]


def sweep_times(plan: Plan) -> list[time]:
    """When a commune is swept on a working day: its morning sweep, and each later time its
    escalations go out at (`escalation_time`: the sweep then escalates what is due, level-
    triggered; the morning's sweep sent the reminders)."""
    times = {plan.commune.sweep_time}
    times |= {
        at for oid in plan.obligations if (at := plan.policy(oid).escalation_time) is not None
    }
    return sorted(times)


def sweep_schedules(plans: Sequence[Plan]) -> list[ClockSchedule]:
    """Every working day of the communes, one schedule per sweep time in use (`sweep_times`:
    the mornings, and the escalation times; the earliest is `sweep`, any other `sweep-HHMM`):
    a sweep acts on every commune, and a day that is a working day in any commune is swept (a
    commune's own day off gets nothing on it: its items' steps fall on its working days)."""
    by_time: dict[time, list[Plan]] = {}
    for plan in plans:
        for at in sweep_times(plan):
            by_time.setdefault(at, []).append(plan)
    return [
        ClockSchedule(
            SWEEP if i == 0 else f"{SWEEP}-{at:%H%M}",
            SWEEP,
            _sweep_rule(group, at),
            group[0].commune.timezone,
        )
        for i, (at, group) in enumerate(sorted(by_time.items()))
    ]


def _sweep_rule(plans: Sequence[Plan], at: time) -> str:
    """At `at` on the working days of any of `plans`, from the earliest plan's first day (items
    due after the start date may open before it, and their reminders must go out) until a while
    after the last plan ends: Monday to Friday, less the weekdays off everywhere (EXDATE: public
    holidays, swapped Mondays), plus the Saturdays worked somewhere (RDATE). Working days come
    from each plan's one `WorkingCalendar`. UNTIL is written as local wall time, which is how
    Prefect reads it."""
    first = min(p.commune.plan_start for p in plans)
    last = max(p.commune.plan_end for p in plans) + AFTER_PLAN
    exdates, rdates = [], []
    day = first
    while day <= last:
        weekday = day.weekday() < 5
        working = any(p.calendar.is_working_day(day) for p in plans)
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
    return "\n".join(lines)


def plan_schedules(plan: Plan) -> list[ClockSchedule]:
    """One commune's schedules (see `city_schedules`)."""
    return city_schedules([plan])


def city_schedules(plans: Sequence[Plan]) -> list[ClockSchedule]:
    """The sweep's schedules, then one opening schedule per obligation that opens somewhere
    (in the order the plans list them)."""
    found = sweep_schedules(plans)
    for oid in dict.fromkeys(oid for plan in plans for oid in plan.schedules):
        schedule = openings_schedule(plans, oid)
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
