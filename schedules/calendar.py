"""Vietnamese working-day calendar: public holidays from `holidays`, plus the admin's overrides.

Every count of working days in cchc (reminder lead times, escalation delays, the civil-code shift of
a deadline that falls on a day off) goes through one `WorkingCalendar`.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache, cached_property
from typing import Any


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
        return dict(vietnam_holidays()(years=years, language="vi"))

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


@cache
def vietnam_holidays() -> Any:
    """The `holidays` package's Vietnam class, loaded alone.

    `import holidays` (and `holidays.countries.vietnam`, through its package) imports all of the
    package's ~250 countries and looks its own version up in the installed metadata: about
    0.1 s of every command's start. Vietnam's module is loaded here under bare stand-ins of its
    two parent packages, and every `holidays` module loaded on the way is taken out of
    `sys.modules` again, so that a later `import holidays` elsewhere loads the package whole, as
    usual. The dates and names are those of `holidays.country_holidays("VN", ...)`
    (tests/test_schedules.py compares them)."""
    if "holidays.countries.vietnam" in sys.modules:
        return sys.modules["holidays.countries.vietnam"].Vietnam
    before = {name for name in sys.modules if name == "holidays" or name.startswith("holidays.")}
    spec = importlib.util.find_spec("holidays") if "holidays" not in before else None
    stubs: dict[str, types.ModuleType] = {}
    if spec is not None and spec.submodule_search_locations:
        roots = list(spec.submodule_search_locations)
        for name, paths in (
            ("holidays", roots),
            ("holidays.countries", [f"{root}/countries" for root in roots]),
        ):
            stub = types.ModuleType(name)
            stub.__path__ = paths
            stub.__package__ = name
            sys.modules[name] = stubs[name] = stub
    try:
        return importlib.import_module("holidays.countries.vietnam").Vietnam
    except ImportError:  # another layout of the package: load it whole, as it documents
        if not stubs:
            raise
    finally:
        if stubs:
            for name in [n for n in sys.modules if n == "holidays" or n.startswith("holidays.")]:
                if name not in before:
                    del sys.modules[name]
    import holidays

    return holidays.country_holidays("VN").__class__
