"""The .ics attachment's lines are folded by `notifications.ics.fold` (cut by UTF-8 bytes), which
must give icalendar's own output byte for byte."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

from icalendar import Calendar
from icalendar.parser.string import _foldline

from notifications.ics import CalendarEntry, calendar_bytes, fold


def test_fold_is_icalendars_fold_for_any_line():
    rng = random.Random(25)
    alphabet = list("ab z\\^;,:ẩệọướ€𝄞ĐđÁáÀàẢảÃãẠạ")
    for _ in range(5000):
        line = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 320)))
        assert fold(line) == _foldline(line), line


def test_a_calendar_is_what_icalendar_writes():
    entry = CalendarEntry(
        uid="item-12@cchc",
        due=date(2027, 3, 16),
        summary="Hạn nộp: Báo cáo công tác cải cách hành chính định kỳ quý I năm 2027 — "
        "Phòng Văn hóa - Xã hội",
        description="Đơn vị nộp sản phẩm qua đường dẫn trong thư; hạn nộp 16/03/2027. "
        "Ghi chú: \\ dấu gạch chéo ngược; dấu chấm phẩy ; và dấu phẩy , giữ nguyên. " * 3,
        alarm_at=datetime(2027, 3, 11, 1, 0, tzinfo=UTC),
        alarm_text="Nhắc hạn nộp báo cáo",
        sequence=2,
    )
    written = calendar_bytes([entry, entry], datetime(2027, 3, 2, 1, 0, tzinfo=UTC))
    assert written == Calendar.from_ical(written).to_ical()
    assert max(len(line) for line in written.split(b"\r\n")) <= 75
