"""Vietnamese working-day calendar: public holidays from `holidays`, plus the admin's overrides.

Every count of working days in cchc (reminder lead times, escalation delays, the civil-code shift of
a deadline that falls on a day off) goes through one `WorkingCalendar`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

import holidays


@dataclass(frozen=True)
class YearOverride:
    """Days the government swaps late in the year ("ngày làm bù"), set by an admin."""

    days_off: frozenset[date] = frozenset()
    working_days: frozenset[date] = frozenset()


@dataclass(frozen=True)
class WorkingCalendar:
    first_year: int
    last_year: int
    overrides: Mapping[int, YearOverride] = field(default_factory=dict)

    @cached_property
    def public_holidays(self) -> Mapping[date, str]:
        years = range(self.first_year - 1, self.last_year + 2)
        return dict(holidays.country_holidays("VN", years=years, language="vi"))

    @cached_property
    def _days_off(self) -> frozenset[date]:
        extra = (d for o in self.overrides.values() for d in o.days_off)
        return frozenset(self.public_holidays) | frozenset(extra)

    @cached_property
    def _working_days(self) -> frozenset[date]:
        return frozenset(d for o in self.overrides.values() for d in o.working_days)

    def holiday_name(self, day: date) -> str | None:
        return self.public_holidays.get(day)

    def is_working_day(self, day: date) -> bool:
        if day in self._working_days:
            return True
        return day.weekday() < 5 and day not in self._days_off

    def next_working_day(self, day: date) -> date:
        """`day` if it is a working day, else the first working day after it (BLDS rule)."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def previous_working_day(self, day: date) -> date:
        """`day` if it is a working day, else the last working day before it (a deadline "within
        the month" ends on the month's last working day)."""
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day

    def add_working_days(self, day: date, count: int) -> date:
        """The working day `count` working days after `day` (before it when `count` is negative).

        `count == 0` gives `day` moved forward to a working day.
        """
        key = (day, count)
        found = self._counted.get(key)
        if found is None:
            found = self._counted[key] = self._add_working_days(day, count)
        return found

    @cached_property
    def _counted(self) -> dict[tuple[date, int], date]:
        """Answers already counted: a sweep asks the same few dozen questions of every item."""
        return {}

    def _add_working_days(self, day: date, count: int) -> date:
        if count == 0:
            return self.next_working_day(day)
        step = timedelta(days=1 if count > 0 else -1)
        remaining = abs(count)
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when end is before start."""
        if end < start:
            return -self.working_days_between(end, start)
        return sum(
            1
            for n in range(1, (end - start).days + 1)
            if self.is_working_day(start + timedelta(days=n))
        )
