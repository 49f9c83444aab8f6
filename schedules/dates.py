"""Civil dates and instants: parsing at the edge, Vietnamese formatting, local times as UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

VN_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")


def vn_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def vn_weekday(day: date) -> str:
    return WEEKDAYS_VI[day.weekday()]


def vn_datetime(instant: datetime, zone: ZoneInfo = VN_ZONE) -> str:
    return instant.astimezone(zone).strftime("%d/%m/%Y %H:%M")


def parse_date(text: str) -> date:
    """`YYYY-MM-DD`, or ValueError with a message for users."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{text}' không phải ngày dạng YYYY-MM-DD") from None


def parse_instant(text: str, zone: ZoneInfo = VN_ZONE) -> datetime:
    """ISO 8601 instant as aware UTC; without an offset it is local time in `zone`."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"'{text}' không phải thời điểm dạng ISO 8601 (YYYY-MM-DDTHH:MM)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall time `at` on civil date `day` in `zone`."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The first instant after civil date `day` ends (midnight starting the next day)."""
    return local_instant(day + timedelta(days=1), time(0), zone)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()
