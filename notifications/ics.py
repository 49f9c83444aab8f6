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
    return ical_bytes(cal)


def ical_bytes(component) -> bytes:
    """`component.to_ical()`, byte for byte, its lines folded by `fold`: icalendar folds a line
    char by char, encoding each, which took most of the time a mail with Vietnamese text
    spent being built (issue 25)."""
    lines = component.content_lines()
    return b"\r\n".join(fold(line).encode("utf-8") for line in lines if line) + b"\r\n"


LIMIT = 75
"""RFC 5545 3.1: lines of at most 75 octets; icalendar folds before a line would reach it."""


def fold(line: str) -> str:
    """A content line folded as icalendar folds it (`icalendar.parser.string._foldline`): each
    piece as many whole characters as fit in 74 octets, a piece never ending in the `\\` or
    `^` that escapes the next character (unless it is the piece's only one), pieces joined by
    CRLF and a space. Cut by the UTF-8 bytes, not char by char."""
    data = line.encode("utf-8")
    if len(data) < LIMIT:
        return line
    pieces, start = [], 0
    while len(data) - start >= LIMIT:
        end = start + LIMIT - 1
        while data[end] & 0xC0 == 0x80:  # inside a character: cut before it
            end -= 1
        piece = data[start:end]
        if data[end - 1 : end] in (b"\\", b"^") and len(piece.decode("utf-8")) > 1:
            end -= 1  # the escape goes with the character it escapes
        pieces.append(data[start:end])
        start = end
    pieces.append(data[start:])
    return "\r\n ".join(p.decode("utf-8") for p in pieces)
