"""Periods: the stable key, data window and last month of the period an occurrence belongs to.

A schedule's RRULE yields *anchors* (one date per period, its end or cut-off); `period_of` turns an
anchor into the period it names. Keys have exactly these forms: `2027` (year), `2027-H1` (six
months), `2027-Q1` (quarter), `2027-02` (month), `2027-02-15` (a one-off date).
"""

from __future__ import annotations

import calendar as _cal
from dataclasses import dataclass
from datetime import date

from schedules.config_obligations import NamedSet, PeriodKind
from schedules.dates import vn_date
from schedules.documents import is_directive_period

NAMED_SETS: dict[NamedSet, tuple[str, PeriodKind]] = {
    # In CCHC practice the Q2 report IS the 6-month report and the Q4 report IS the annual one:
    # four reports a year, anchored on the day their data window closes (the 14th).
    "quarterly-cchc": ("FREQ=YEARLY;BYMONTH=3,6,9,12;BYMONTHDAY=14", "cchc"),
    "annual": ("FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=31", "year"),
    "semiannual": ("FREQ=YEARLY;BYMONTH=6,12;BYMONTHDAY=-1", "half"),
    "quarterly": ("FREQ=YEARLY;BYMONTH=3,6,9,12;BYMONTHDAY=-1", "quarter"),
    "monthly": ("FREQ=MONTHLY;BYMONTHDAY=-1", "month"),
}
ONCE_RULE = "FREQ=DAILY;COUNT=1"


@dataclass(frozen=True)
class Period:
    key: str
    window_start: date
    window_end: date
    """The data window ("thời gian chốt số liệu"); the calendar period unless offset."""
    last_month: tuple[int, int]
    """(year, month) of the period's last month, for "day N of the period's last month"."""
    end: date
    """The period's last day (a one-off: its date), for "N working days after the period"."""

    @property
    def year(self) -> int:
        return self.last_month[0]

    def with_window(self, start: date, end: date) -> Period:
        return Period(self.key, start, end, self.last_month, self.end)

    def window_from_day(self, day: int) -> Period:
        """The data window offset to day `day`: from day `day` of the month before the period's
        first month to day `day - 1` of its last month (Nghị định 09/2019's 15th-to-14th)."""
        first = self.window_start
        before = (
            date(first.year - 1, 12, day)
            if first.month == 1
            else first.replace(month=first.month - 1, day=day)
        )
        year, month = self.last_month
        return self.with_window(before, date(year, month, day - 1))


def clamp_day(year: int, month: int, day: int) -> date:
    """Day `day` of the month, or its last day when the month is shorter."""
    return date(year, month, min(day, _cal.monthrange(year, month)[1]))


def _month_end(year: int, month: int) -> date:
    return clamp_day(year, month, 31)


def _calendar_period(key: str, first: date, year: int, last_month: int) -> Period:
    end = _month_end(year, last_month)
    return Period(key, first, end, (year, last_month), end)


def period_of(kind: PeriodKind, anchor: date, *, q3_window_from_june: bool = True) -> Period:
    """The period named by `anchor` (raises ValueError when `anchor` cannot name one)."""
    y, m = anchor.year, anchor.month
    if kind == "year":
        return _calendar_period(f"{y}", date(y, 1, 1), y, 12)
    if kind == "half":
        half = 1 if m <= 6 else 2
        first = 1 if half == 1 else 7
        return _calendar_period(f"{y}-H{half}", date(y, first, 1), y, first + 5)
    if kind == "quarter":
        q = (m - 1) // 3 + 1
        first = 3 * q - 2
        return _calendar_period(f"{y}-Q{q}", date(y, first, 1), y, first + 2)
    if kind == "month":
        return _calendar_period(f"{y}-{m:02d}", date(y, m, 1), y, m)
    if kind == "date":
        return Period(anchor.isoformat(), anchor, anchor, (y, m), anchor)
    if kind == "cchc":
        return _cchc_period(anchor, q3_window_from_june)
    raise ValueError(f"unknown period kind {kind!r}")


def _cchc_period(anchor: date, q3_window_from_june: bool) -> Period:
    """CCHC report periods (ND 09/2019/NĐ-CP): data windows open on 15/12 of the previous year
    and close on the 14th of the period's last month."""
    y, m = anchor.year, anchor.month
    year_open = date(y - 1, 12, 15)
    keys = {3: f"{y}-Q1", 6: f"{y}-H1", 9: f"{y}-Q3", 12: f"{y}"}
    if m not in keys:
        raise ValueError(
            f"a CCHC report period ends in March, June, September or December, not {m}"
        )
    start = date(y, 6, 15) if m == 9 and q3_window_from_june else year_open
    return Period(keys[m], start, date(y, m, 14), (y, m), _month_end(y, m))


ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


def period_label(key: str) -> str:
    """ "2027-Q1" → "quý I năm 2027", "2027-H1" → "6 tháng đầu năm 2027", "2027" → "năm 2027";
    a directive's item: "theo văn bản chỉ đạo"."""
    if is_directive_period(key):
        return "theo văn bản chỉ đạo"
    parts = key.split("-")
    year = parts[0]
    if len(parts) == 1:
        return f"năm {year}"
    if len(parts) == 3:
        return f"đợt ngày {vn_date(date.fromisoformat(key))}"
    part = parts[1]
    if part.startswith("Q") and part[1:].isdigit():
        return f"quý {ROMAN.get(int(part[1:]), part[1:])} năm {year}"
    if part == "H1":
        return f"6 tháng đầu năm {year}"
    if part == "H2":
        return f"6 tháng cuối năm {year}"
    return f"tháng {part}/{year}"
