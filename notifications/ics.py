"""The iCalendar (.ics) attachment of an assignment mail: the due date as an all-day event, with
an alarm at the item's first reminder, so the deadline lands in the unit's own calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

PRODID = "-//cchc//Nhac viec CCHC//VI"


@dataclass(frozen=True)
class CalendarEntry:
    uid: str
    """Stable per item: a re-sent mail, or a return's new due date, updates the same event."""
    due: date
    summary: str
    description: str
    alarm_at: datetime | None
    """Aware instant of the first reminder; None when no reminder is left before the due date."""
    alarm_text: str = ""
    sequence: int = 0
    """RFC 5545 SEQUENCE: the return round, so a calendar replaces the earlier due date."""


def calendar_bytes(entries: list[CalendarEntry], stamp: datetime) -> bytes:
    """One VCALENDAR holding an all-day VEVENT per entry (several in a digest)."""
    from icalendar import Alarm, Calendar, Event  # only when a mail carries one: not for check

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    for entry in entries:
        event = Event()
        event.add("uid", entry.uid)
        event.add("sequence", entry.sequence)
        event.add("dtstamp", stamp)
        event.add("dtstart", entry.due)
        event.add("dtend", entry.due + timedelta(days=1))
        event.add("summary", entry.summary)
        event.add("description", entry.description)
        event.add("transp", "TRANSPARENT")
        if entry.alarm_at is not None:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", entry.alarm_text or entry.summary)
            # RFC 5545 3.8.6.3: an absolute trigger must say VALUE=DATE-TIME.
            alarm.add("trigger", entry.alarm_at, parameters={"VALUE": "DATE-TIME"})
            event.add_component(alarm)
        cal.add_component(event)
    return cal.to_ical()
