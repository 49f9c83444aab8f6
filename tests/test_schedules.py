"""Rules of *when*: working days, periods and due dates (pure, no database)."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from support import with_shift

from schedules.calendar import WorkingCalendar
from schedules.config_obligations import DueRule
from schedules.occurrences import nominal_due
from schedules.periods import period_of


def test_vietnamese_holidays_and_swapped_days(plan):
    cal = plan.calendar
    assert not cal.is_working_day(date(2027, 2, 8))  # Tết 2027
    assert not cal.is_working_day(date(2026, 4, 30))
    assert not cal.is_working_day(date(2026, 5, 1))
    assert not cal.is_working_day(date(2026, 9, 2))
    assert not cal.is_working_day(date(2026, 11, 24))  # Ngày Văn hóa Việt Nam, from 2026
    assert not cal.is_working_day(date(2026, 8, 31))  # Monday off, swapped ...
    assert cal.is_working_day(date(2026, 8, 22))  # ... for Saturday 22/8/2026 worked
    assert cal.is_working_day(date(2026, 12, 1))
    assert not cal.is_working_day(date(2026, 12, 5))  # a plain Saturday


def test_working_day_arithmetic():
    cal = WorkingCalendar(2026, 2027)
    assert cal.add_working_days(date(2027, 2, 3), 1) == date(2027, 2, 11)  # across Tết 2027
    assert cal.add_working_days(date(2027, 2, 11), -1) == date(2027, 2, 3)
    assert cal.next_working_day(date(2026, 12, 5)) == date(2026, 12, 7)
    assert cal.working_days_between(date(2026, 12, 4), date(2026, 12, 7)) == 1


@pytest.mark.parametrize(
    ("anchor", "key", "start", "end"),
    [
        (date(2027, 3, 14), "2027-Q1", date(2026, 12, 15), date(2027, 3, 14)),
        (date(2027, 6, 14), "2027-H1", date(2026, 12, 15), date(2027, 6, 14)),
        (date(2027, 9, 14), "2027-Q3", date(2027, 6, 15), date(2027, 9, 14)),
        (date(2027, 12, 14), "2027", date(2026, 12, 15), date(2027, 12, 14)),
    ],
)
def test_cchc_periods_q2_is_six_months_and_q4_is_annual(anchor, key, start, end):
    period = period_of("cchc", anchor)
    assert (period.key, period.window_start, period.window_end) == (key, start, end)


@pytest.mark.parametrize(
    ("kind", "anchor", "key"),
    [
        ("year", date(2027, 12, 31), "2027"),
        ("half", date(2027, 6, 30), "2027-H1"),
        ("quarter", date(2027, 3, 31), "2027-Q1"),
        ("quarter", date(2027, 9, 30), "2027-Q3"),
        ("month", date(2027, 2, 28), "2027-02"),
        ("date", date(2027, 2, 15), "2027-02-15"),
    ],
)
def test_period_key_forms(kind, anchor, key):
    assert period_of(kind, anchor).key == key


def test_cchc_q3_window_from_december_option():
    assert period_of("cchc", date(2027, 9, 14), q3_window_from_june=False).window_start == date(
        2026, 12, 15
    )


def test_four_periodic_reports_a_year_per_unit(plan):
    occ = plan.occurrences(date(2027, 1, 1), date(2027, 12, 31), obligation="bao-cao-cchc-dinh-ky")
    per_unit = Counter(o.unit for o in occ)
    assert set(per_unit.values()) == {4}
    assert set(per_unit) == set(plan.lead_units("bao-cao-cchc-dinh-ky"))
    assert {o.period.key for o in occ} == {"2027-Q1", "2027-H1", "2027-Q3", "2027"}


def test_every_due_date_2026_2030_is_a_working_day(plan):
    occurrences = plan.occurrences(date(2026, 1, 1), date(2030, 12, 31))
    assert len(occurrences) > 100
    for occ in occurrences:
        assert plan.calendar.is_working_day(occ.due.due), occ
        assert occ.opens <= occ.due.due
        assert (
            occ.period.window_end < occ.due.due
            or occ.period.key.count("-") == 2
            or plan.obligations[occ.obligation].kind
            not in ("periodic_report", "consolidated_report")
        )


def test_data_window_closes_at_least_one_working_day_before_the_report(plan):
    for oid in ("bao-cao-cchc-dinh-ky", "bao-cao-cchc-tong-hop"):
        for occ in plan.occurrences(date(2026, 1, 1), date(2030, 12, 31), obligation=oid):
            gap = plan.calendar.working_days_between(occ.period.window_end, occ.due.due)
            assert gap >= 1, occ


def test_consolidated_report_falls_after_the_units_reports(plan):
    span = (date(2026, 1, 1), date(2030, 12, 31))
    units = {
        o.period.key: o.due.due for o in plan.occurrences(*span, obligation="bao-cao-cchc-dinh-ky")
    }
    for occ in plan.occurrences(*span, obligation="bao-cao-cchc-tong-hop"):
        assert occ.due.due > units[occ.period.key]


def test_due_on_a_day_off_moves_to_the_next_working_day_unless_switched_off(plan):
    period = period_of("year", date(2027, 12, 31))
    nominal, basis = nominal_due(DueRule(on="01-31"), period, date(2027, 12, 31), plan.calendar)
    assert (nominal, basis) == (date(2027, 1, 31), "ngày 31/01")  # a Sunday
    shifted = plan.effective_due("bao-cao-cchc-dinh-ky", nominal, basis)
    kept = with_shift(plan, "none").effective_due("bao-cao-cchc-dinh-ky", nominal, basis)
    assert (shifted.nominal, shifted.due) == (date(2027, 1, 31), date(2027, 2, 1))
    assert (kept.due, kept.basis) == (date(2027, 1, 31), "ngày 31/01")
    assert shifted.basis == (
        "ngày 31/01; 31/01/2027 là ngày nghỉ (Chủ nhật), chuyển sang ngày làm việc tiếp theo"
    )


def test_day_of_last_month_is_clamped_to_the_month():
    cal = WorkingCalendar(2027, 2027)
    period = period_of("month", date(2027, 2, 28))
    nominal, _ = nominal_due(DueRule(day_of_last_month=31), period, date(2027, 2, 28), cal)
    assert nominal == date(2027, 2, 28)


def test_one_off_and_final_summary(plan):
    occ = plan.occurrences(
        date(2027, 1, 1), date(2027, 12, 31), obligation="ra-soat-vbqppl-chinh-quyen-2-cap"
    )
    assert [(o.period.key, o.due.due) for o in occ] == [
        ("2027-02-28", date(2027, 2, 26))
    ]  # within 02/2027: its last working day
    final = plan.occurrences(
        date(2026, 1, 1), date(2030, 12, 31), obligation="tong-ket-ke-hoach-2030"
    )
    assert [o.period.key for o in final] == ["2030-11-30"]


@pytest.mark.parametrize(
    ("month_day", "year", "due"),
    [
        ("02-06", 2027, date(2027, 2, 11)),  # Tết 2027: 04/02-10/02
        ("02-17", 2026, date(2026, 2, 23)),  # Tết 2026: 16/02-20/02, then the weekend
        ("04-30", 2027, date(2027, 5, 4)),  # 30/4, 1/5, weekend, 3/5 nghỉ bù
        ("09-02", 2026, date(2026, 9, 3)),  # Quốc khánh 1/9-2/9/2026
        ("08-31", 2026, date(2026, 9, 3)),  # the swapped Monday, then 1/9-2/9
        ("08-22", 2026, date(2026, 8, 22)),  # the Saturday worked in exchange stays
    ],
)
def test_due_dates_move_past_holidays_and_swapped_days(plan, month_day, year, due):
    period = period_of("year", date(year, 12, 31))
    nominal, _ = nominal_due(DueRule(on=month_day), period, date(year, 12, 31), plan.calendar)
    assert plan.effective_due("bao-cao-cchc-dinh-ky", nominal).due == due
