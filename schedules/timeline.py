"""The life of one work item as a list of timed steps: reminders, due day, overdue, escalations.

A sweep at instant t finds the latest step whose instant has passed (`current_step`); the item's
stored step says how far it already went (`state_at` gives the item's columns at a step), and the
next step's instant is its `next_action_at`. `Plan.timeline` builds an item's steps from its
obligation's policy; nothing else does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from schedules.calendar import WorkingCalendar
from schedules.dates import end_of_day, local_date, local_instant
from schedules.policy import ResolvedPolicy
from schedules.step_names import format_step
from schedules.vocabulary import ItemStatus, StepKind


@dataclass(frozen=True)
class Step:
    name: str
    """Unique within the item: opened, reminder-5, due, overdue, escalation-1, ..."""
    kind: StepKind
    at: datetime
    level: int = 0
    """Escalation level (1-based) for escalation steps; 0 otherwise."""
    to: tuple[str, ...] = ()
    """Escalation targets (head, leadership, standing_office or unit codes)."""
    asks_inputs: bool = False
    """The reminder that also reminds the coordinating units: the last one before their
    inputs are due (`inputs_due`)."""

    @property
    def status(self) -> ItemStatus:
        """The item's status once it reached this step."""
        if self.kind == StepKind.ESCALATION:
            return ItemStatus.ESCALATED
        return ItemStatus.OVERDUE if self.kind == StepKind.OVERDUE else ItemStatus.OPEN


def inputs_due(due: date, policy: ResolvedPolicy, calendar: WorkingCalendar) -> date:
    """When coordinating units owe the lead their inputs: `inputs_before_due` working days
    before the lead's due date."""
    return calendar.add_working_days(due, -policy.inputs_before_due)


def catch_up_deadline(
    due: date,
    opened_at: datetime,
    policy: ResolvedPolicy,
    calendar: WorkingCalendar,
    zone: ZoneInfo,
) -> date | None:
    """For an item opened after its due date had ended (a late first run, catch-up after
    downtime): the new "at the latest" date its opening mail gives, `catch_up_grace` working
    days after the day it opened. None for an item opened in time."""
    if opened_at < end_of_day(due, zone):
        return None
    return calendar.add_working_days(local_date(opened_at, zone), policy.catch_up_grace)


def notice_deadline(
    due: date,
    opened_at: datetime,
    opens_on: date,
    policy: ResolvedPolicy,
    calendar: WorkingCalendar,
    zone: ZoneInfo,
) -> date | None:
    """For an item opened late (after its opening day `opens_on`: a commune's first run, a
    catch-up), on or before its due date but fewer than `min_notice` working days before it:
    its due date in force, `min_notice` working days after the day it opened (the unit is never
    told "due today" of a task it hears of for the first time). None for an item opened in
    time, or after its due date (`catch_up_deadline`)."""
    opened_on = local_date(opened_at, zone)
    if opened_on <= opens_on or opened_on > due:
        return None
    if calendar.working_days_between(opened_on, due) >= policy.min_notice:
        return None
    return calendar.add_working_days(opened_on, policy.min_notice)


def reminder_gap(policy: ResolvedPolicy) -> int:
    """Working days that must lie between an item's opening mail and a reminder: `min_notice`,
    but never more than an item opened on time has before its first reminder
    (`open_before_due` minus the earliest reminder), so an on-time item keeps every reminder
    its policy sets. An item opened late (a first run, a grace, a re-opened held item) has
    fewer days: the reminders that would follow its opening mail too closely are skipped; its
    due-day notice still comes."""
    first_reminder = max(policy.reminders, default=0)
    return max(0, min(policy.min_notice, policy.open_before_due - first_reminder))


def timeline(
    due: date,
    opened_at: datetime,
    policy: ResolvedPolicy,
    calendar: WorkingCalendar,
    zone: ZoneInfo,
    morning: time,
    consolidated_due: date | None = None,
) -> list[Step]:
    """Every step of an item due on `due` and opened at `opened_at`, in order of their instants
    (but for `opened`, always first: an item opened late is overdue at once).

    1. `opened` at the opening instant;
    2. a reminder each configured number of working days before `due` (the sweep's morning),
       dropped when it would fall before the item was opened, or sooner after the opening mail
       than `reminder_gap` allows (an item opened late, re-opened or given a grace is not
       reminded a few days after it was told); the last one before the coordinating units'
       inputs are due reminds them too (`asks_inputs`);
    3. `due` on the due date's morning, when the policy wants a due-day notice;
    4. `overdue` when the due date has ended (midnight, local time): "on time" means by the end
       of the due date;
    5. an escalation per level, its delay counted in working days after `due`, at the policy's
       `escalation_time` (later than the sweep: the morning's documents are recorded before
       heads and leaders are told; unset: the sweep's morning); a level with
       `before: consolidated_due` comes on `consolidated_due` at the latest (the report that
       sums this one up must not wait for the ladder).

    An item opened after its due date had ended is told once, on opening, with a fresh deadline
    (`catch_up_deadline`); when that deadline has ended too, the unit is told it is overdue
    (`overdue-1`), and its escalations count from that deadline instead of `due`, so a late
    first run does not escalate at once and the unit hears "quá hạn" before its head does.
    """
    rules = _ItemRules(policy, calendar, zone, morning)
    caught_up = catch_up_deadline(due, opened_at, policy, calendar, zone)
    lapsed = (
        [Step(format_step(StepKind.OVERDUE, 1), StepKind.OVERDUE, end_of_day(caught_up, zone))]
        if caught_up
        else []
    )
    return [
        Step(StepKind.OPENED, StepKind.OPENED, opened_at),
        *rules.before_due(due, opened_at),
        Step(StepKind.OVERDUE, StepKind.OVERDUE, end_of_day(due, zone)),
        *lapsed,
        *rules.escalations(due, opened_at, consolidated_due),
    ]


@dataclass(frozen=True)
class _ItemRules:
    """What places an item's steps besides its own dates: its obligation's policy, the
    commune's calendar and zone, and the sweep's morning."""

    policy: ResolvedPolicy
    calendar: WorkingCalendar
    zone: ZoneInfo
    morning: time

    def at_morning(self, day: date) -> datetime:
        return local_instant(day, self.morning, self.zone)

    def at_escalation_time(self, day: date) -> datetime:
        return local_instant(day, self.policy.escalation_time or self.morning, self.zone)

    def before_due(self, due: date, opened_at: datetime) -> list[Step]:
        """The reminders and the due-day notice that fall after the opening; the last reminder
        before the inputs are due asks for them too."""
        steps = [
            Step(
                format_step(StepKind.REMINDER, n),
                StepKind.REMINDER,
                self.at_morning(self.calendar.add_working_days(due, -n)),
            )
            for n in self.policy.reminders
        ]
        if self.policy.due_day_notice:
            steps.append(Step(StepKind.DUE, StepKind.DUE, self.at_morning(due)))
        opened_on = local_date(opened_at, self.zone)
        gap = reminder_gap(self.policy)
        steps = [
            s
            for s in steps
            if s.at > opened_at
            and (
                s.kind != StepKind.REMINDER
                or self.calendar.working_days_between(opened_on, local_date(s.at, self.zone)) >= gap
            )
        ]
        inputs_day = inputs_due(due, self.policy, self.calendar)
        asking = [
            s
            for s in steps
            if s.kind == StepKind.REMINDER and local_date(s.at, self.zone) < inputs_day
        ]
        if asking:
            steps[steps.index(asking[-1])] = replace(asking[-1], asks_inputs=True)
        return steps

    def escalations(
        self, due: date, opened_at: datetime, consolidated_due: date | None
    ) -> list[Step]:
        """One step per escalation level, counted from `due` (or from the catch-up deadline of
        an item opened late); a level `before` the consolidated report comes no later than its
        due date."""
        caught_up = catch_up_deadline(due, opened_at, self.policy, self.calendar, self.zone)
        base = caught_up or due
        steps = []
        for i, level in enumerate(self.policy.escalation, start=1):
            day = self.calendar.add_working_days(base, level.after)
            if level.before and consolidated_due and not caught_up:
                day = max(min(day, consolidated_due), self.calendar.add_working_days(due, 1))
            steps.append(
                Step(
                    format_step(StepKind.ESCALATION, i),
                    StepKind.ESCALATION,
                    self.at_escalation_time(day),
                    level=i,
                    to=tuple(level.to),
                )
            )
        return steps


def current_step(steps: list[Step], at: datetime) -> int:
    """Index of the latest step whose instant is not after `at` (0, `opened`, at the least)."""
    index = 0
    for i, step in enumerate(steps):
        if step.at <= at:
            index = i
    return index


def step_index(steps: list[Step], name: str) -> int:
    for i, step in enumerate(steps):
        if step.name == name:
            return i
    return 0


def state_at(steps: list[Step], index: int) -> dict[str, Any]:
    """The item's columns once it reached `steps[index]`: status, step, escalation level, and
    the instant of its next action (None after the last step)."""
    step = steps[index]
    following = steps[index + 1] if index + 1 < len(steps) else None
    return dict(
        status=step.status,
        step=step.name,
        escalation_level=step.level,
        next_action_at=following.at if following else None,
    )
