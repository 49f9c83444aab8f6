"""The dates of a plan checked: its calendar's extra working days, each obligation's schedule
(compiled into `plan.schedules` once it holds) and its due dates against its data windows, a
consolidated report's due dates against those of the reports it sums up."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from dateutil.rrule import rrulestr

from schedules.calendar import WorkingCalendar
from schedules.config_obligations import Obligation
from schedules.dates import vn_date
from schedules.occurrences import CompiledSchedule, compile_schedule, nominal_due
from schedules.plan import Plan
from schedules.plan_merge import Merged, Parsed, Where
from schedules.vocabulary import REPORT_KINDS


def check_calendar(merged: Merged, parsed: Parsed, plan: Plan) -> None:
    bare = WorkingCalendar(plan.calendar.first_year, plan.calendar.last_year)
    for source, cfg in parsed:
        for year, cal in (cfg.calendar or {}).items():
            for i, day in enumerate(cal.working_days):
                if bare.is_working_day(day):
                    merged.fail(
                        (source, ("calendar", year, "working_days", i)),
                        f"{vn_date(day)} is already a working day (đã là ngày làm việc)",
                    )


def compile_checked(merged: Merged, plan: Plan, oid: str, ob: Obligation, where: Where) -> None:
    """Compile the obligation's schedule into `plan.schedules`, once it fires and names
    its periods; check its reminders and its data windows."""
    source, loc = where
    assert ob.schedule is not None, f"{oid}: only a scheduled obligation is compiled"
    compiled = compile_schedule(ob.schedule, plan.commune.plan_start)
    anchors = _anchors(merged, plan, compiled, where)
    if anchors is None:
        return
    policy = plan.policy(oid)
    own = ob.policy.reminders is not None or ob.policy.open_before_due is not None
    if own and policy.reminders and policy.reminders[0] > policy.open_before_due:
        merged.fail(
            (source, loc + ("policy",)),
            f"a reminder {policy.reminders[0]} working days before the due date comes "
            f"before the item opens ({policy.open_before_due} working days before) "
            "(nhắc việc trước ngày mở nhiệm vụ)",
        )
    if ob.kind in REPORT_KINDS or ob.schedule.window_start_day is not None:
        _check_after_window(merged, plan, oid, ob, compiled, anchors, where)
    plan.schedules[oid] = compiled


def _anchors(
    merged: Merged, plan: Plan, compiled: CompiledSchedule, where: Where
) -> list[date] | None:
    """The schedule's anchors within the plan; None (and the problem said) when its RRULE
    is bad, it never fires, or an anchor names no period."""
    source, loc = where
    start, end = plan.commune.plan_start, plan.commune.plan_end
    try:
        rrulestr(compiled.rule)
        anchors = compiled.anchors(start, end)
    except (ValueError, TypeError) as exc:
        merged.fail((source, loc + ("schedule", "rrule")), f"bad RRULE '{compiled.rule}': {exc}")
        return None
    if not anchors:
        merged.fail(
            (source, loc + ("schedule",)),
            f"the schedule never fires between {vn_date(start)} and {vn_date(end)} "
            "(lịch không bao giờ đến hạn)",
        )
        return None
    try:
        for anchor in anchors:
            compiled.period(anchor)
    except ValueError as exc:
        merged.fail((source, loc + ("schedule",)), str(exc))
        return None
    return anchors


def _check_after_window(
    merged: Merged,
    plan: Plan,
    oid: str,
    ob: Obligation,
    compiled: CompiledSchedule,
    anchors: Iterable[date],
    where: Where,
) -> None:
    """A report falls due after its data window closes (at least one working day between,
    Nghị định 09/2019): a due date on or before the cut-off is a mistake of the rule."""
    source, loc = where
    assert ob.schedule is not None, f"{oid}: compiled, so it has a schedule"
    for anchor in anchors:
        period = compiled.period(anchor)
        nominal, _ = nominal_due(ob.schedule.due, period, anchor, plan.calendar)
        due = plan.effective_due(oid, nominal).due
        if due <= period.window_end:
            merged.fail(
                (source, loc + ("schedule", "due")),
                f"period {period.key}: due {vn_date(due)} is not after its data window "
                f"closes on {vn_date(period.window_end)} (hạn nộp phải sau ngày chốt số "
                "liệu); use a due rule after the window, e.g. day_of_month_after or "
                "working_days_after_window",
            )
            return


def check_consolidation(merged: Merged, plan: Plan, oid: str) -> None:
    """A consolidated report must fall due after every report it sums up, period by period."""
    target = plan.obligations[oid].consolidates
    if not target or oid not in plan.schedules or target not in plan.schedules:
        return
    span = (plan.commune.plan_start, plan.commune.plan_end)
    own = {o.period.key: o.due.due for o in plan.occurrences(*span, obligation=oid)}
    for occ in plan.occurrences(*span, obligation=target):
        mine = own.get(occ.period.key)
        if mine is not None and mine <= occ.due.due:
            merged.fail(
                merged.obligation_at[oid],
                f"period {occ.period.key}: due {vn_date(mine)} is not after the "
                f"units' due date {vn_date(occ.due.due)} of '{target}'",
            )
            return
