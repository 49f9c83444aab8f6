"""Counts, sizes, spans and titles as the mails and pages word them, in Vietnamese.

The phrases every surface shares: a title cut short ("…"), a file's size ("12,1 KB"), a
one-off task's span ("2026 – tháng 02/2027") and the working days left or late ("còn 5 ngày
làm việc", "đã quá hạn 2 ngày làm việc").
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date

from schedules.dates import vn_date
from schedules.item_standing import days_late
from schedules.plan import Plan
from schedules.vocabulary import working_days

SHORT_TITLE = 90


def _month_or_day(day: date, first: bool) -> str:
    """One end of a span as the plan writes it: "2026" (a whole year), "tháng 02/2027" (a whole
    month), else the day."""
    whole_year = (day.month, day.day) == ((1, 1) if first else (12, 31))
    if whole_year:
        return str(day.year)
    if day.day == (1 if first else monthrange(day.year, day.month)[1]):
        return f"tháng {day.month:02d}/{day.year}"
    return vn_date(day)


def span_label(start: date, end: date) -> str:
    """A one-off task's time as the plan writes it: 01/01/2026 – 28/02/2027 → "2026 – tháng
    02/2027" (not the day its period key names, which a day off may have moved)."""
    return f"{_month_or_day(start, True)} – {_month_or_day(end, False)}"


def countdown(plan: Plan, due: date, today: date) -> tuple[int, int, str]:
    """(working days left, working days late, the phrase) as of `today`."""
    if today > due:
        late = days_late(due, today, plan.calendar)
        if late:
            return 0, late, f"đã quá hạn {working_days(late)}"
        return 0, 0, f"đã quá hạn (hạn là ngày {vn_date(due)})"
    left = plan.calendar.working_days_between(today, due)
    if today == due:
        return 0, 0, "hạn là hôm nay"
    if left == 0:
        return 0, 0, f"hạn là ngày {vn_date(due)}"
    return left, 0, f"còn {working_days(left)}"


def shorten(text: str, limit: int = SHORT_TITLE) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


SIZE_UNITS = ("KB", "MB", "GB")


def file_size(n: int) -> str:
    """A file's size as every page, refusal and mail shows it, in Vietnamese style.

    Under 1024 bytes: "123 byte". Else binary units (1 KB = 1024 byte) with one decimal
    rounded half up and a decimal comma, the ",0" dropped: "12,1 KB", "1,5 MB", "20 MB",
    "2 KB". A size that rounds to 1024 of a unit moves to the next one ("1 MB", not "1024 KB").
    """
    if n < 1024:
        return f"{n} byte"
    value = n / 1024
    for unit in SIZE_UNITS:
        tenths = int(value * 10 + 0.5)
        if tenths < 1024 * 10 or unit == SIZE_UNITS[-1]:
            break
        value /= 1024
    whole, tenth = divmod(tenths, 10)
    return f"{whole},{tenth} {unit}" if tenth else f"{whole} {unit}"
