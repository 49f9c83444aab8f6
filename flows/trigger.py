"""The APScheduler trigger of the embedded engine: fires at the instants of a `ClockSchedule`'s
RFC 5545 text, read as wall time in its zone (see schedules.clock)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from dateutil.rrule import rruleset, rrulestr

from schedules.clock import ClockSchedule, wall_time


class RRuleTrigger(BaseTrigger):
    """Fires at the instants of an RFC 5545 rule text (DTSTART/RRULE/RDATE/EXDATE lines) read as
    wall time in `timezone`. Its state is the two strings, so a job store can persist it."""

    __slots__ = ("rule", "timezone", "_parsed")

    def __init__(self, rule: str, timezone: str):
        self.rule, self.timezone = rule, timezone
        self._parsed: rruleset | None = None
        self._rules()  # refuse a bad rule now, not at the first fire

    @classmethod
    def of(cls, schedule: ClockSchedule) -> RRuleTrigger:
        return cls(schedule.rule, schedule.timezone)

    def _rules(self):
        if self._parsed is None:
            self._parsed = rrulestr(self.rule, forceset=True)
        return self._parsed

    def get_next_fire_time(self, previous_fire_time, now):
        zone = ZoneInfo(self.timezone)
        if previous_fire_time is not None:
            found = self._rules().after(wall_time(previous_fire_time, zone), inc=False)
        else:
            found = self._rules().after(wall_time(now, zone), inc=True)
        return found.replace(tzinfo=zone) if found is not None else None

    def __getstate__(self):
        return {"version": 1, "rule": self.rule, "timezone": self.timezone}

    def __setstate__(self, state):
        if state.get("version", 1) > 1:
            raise ValueError(f"RRuleTrigger state version {state['version']} is not supported")
        self.rule, self.timezone, self._parsed = state["rule"], state["timezone"], None

    def __eq__(self, other):
        return isinstance(other, RRuleTrigger) and self.__getstate__() == other.__getstate__()

    def __hash__(self):
        return hash((self.rule, self.timezone))

    def __str__(self) -> str:
        first = self.rule.splitlines()[0].removeprefix("DTSTART:")
        return f"rrule from {first} ({self.timezone})"

    def __repr__(self) -> str:
        return f"<RRuleTrigger rule={self.rule!r} timezone={self.timezone!r}>"
