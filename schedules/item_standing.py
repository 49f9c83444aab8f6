"""Where an item stands on a day: its status, whether and how late, in the words every page,
table, mail and artifact shows (`standing`; the status alone: `ItemStatus.label`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from schedules.vocabulary import ItemStatus

DUE_TODAY = "đến hạn hôm nay"
CLOSED_ON_TIME = {True: "đã nộp, đúng hạn", False: "đã nộp, sau hạn"}
"""A closed item's words by its `on_time` (unknown: `ItemStatus.CLOSED.label`)."""


class WorkingDays(Protocol):
    """The working-day calendar (`schedules.calendar`), as `standing` needs it."""

    def working_days_between(self, start: date, end: date) -> int: ...


class ItemFacts(Protocol):
    """What `standing` reads of an item (a `models.tables.WorkItem`)."""

    @property
    def status(self) -> str: ...

    @property
    def due(self) -> date: ...

    @property
    def escalation_level(self) -> int: ...

    @property
    def on_time(self) -> bool | None: ...


@dataclass(frozen=True)
class Standing:
    """Where an item stands on a day: its status, whether and how late, in the words every
    surface shows (`label`)."""

    status: ItemStatus
    late: bool
    """`ItemStatus.late_on`: overdue, escalated, or open past its due date."""
    days_late: int
    """Working days past the due date while late (0 otherwise, and on a day off right after
    the due date)."""
    due_today: bool
    """Still owed, due today."""
    escalation_level: int = 0
    on_time: bool | None = None

    @classmethod
    def at(
        cls,
        status: str,
        due: date,
        today: date,
        calendar: WorkingDays,
        escalation_level: int = 0,
        on_time: bool | None = None,
    ) -> Standing:
        """Where an item in `status`, due `due`, stands on `today` (`standing` of its fields:
        for a row that is not a `WorkItem`)."""
        known = ItemStatus(status)
        late = known.late_on(due, today)
        return cls(
            status=known,
            late=late,
            days_late=days_late(due, today, calendar) if late else 0,
            due_today=known.is_open and not late and today == due,
            escalation_level=escalation_level,
            on_time=on_time,
        )

    @property
    def label(self) -> str:
        """ "trong hạn", "đến hạn hôm nay", "quá hạn" (overdue, or open past its due date),
        "quá hạn, đã báo cáo cấp trên (lần 2)", "đã nộp, đúng hạn", "đã nộp, sau hạn",
        "được miễn"."""
        if self.status == ItemStatus.ESCALATED:
            level = self.escalation_level
            return f"{self.status.label} (lần {level})" if level else self.status.label
        if self.late:
            return ItemStatus.OVERDUE.label
        if self.due_today:
            return DUE_TODAY
        if self.status == ItemStatus.CLOSED and self.on_time is not None:
            return CLOSED_ON_TIME[self.on_time]
        return self.status.label


def days_late(due: date, today: date, calendar: WorkingDays) -> int:
    """Working days from `due` to `today` (0 when `today` is not after `due`)."""
    return max(calendar.working_days_between(due, today), 0)


def standing(item: ItemFacts, today: date, calendar: WorkingDays) -> Standing:
    """Where `item` stands on `today` (a day of its commune's zone), on its `calendar`."""
    return Standing.at(item.status, item.due, today, calendar, item.escalation_level, item.on_time)
