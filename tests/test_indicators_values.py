"""Indicator values on a real database: refused values store nothing, a jump needs a
confirmation, values freeze when the office accepts the report and change again only through a
return; the commune's aggregate, the verdicts and the reporting rates."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support import find_item

from models.db import transaction
from models.tables import Event, IndicatorValue
from schedules.dates import parse_instant
from usecases.errors import UserError
from usecases.indicator_report import indicator_rows
from usecases.indicator_values import NeedsConfirmation, enter_values, owed_values
from usecases.review import accept_version, attach, return_version
from usecases.sweep import sweep

REPORT = "bao-cao-cchc-dinh-ky"


def t(text: str) -> datetime:
    return parse_instant(text)


def counts(engine) -> tuple[int, int]:
    with transaction(engine) as s:
        values = s.execute(select(func.count()).select_from(IndicatorValue)).scalar()
        events = s.execute(
            select(func.count()).select_from(Event).where(Event.kind == "indicators")
        ).scalar()
    return values, events


@pytest.fixture
def opened(plan, engine):
    sweep(plan, engine, t("2026-12-10T07:30"))
    sweep(plan, engine, t("2027-03-02T07:30"))
    return engine


def row(rows, iid: str, unit: str, period: str = "2027-Q1"):
    return next(r for r in rows if (r.id, r.unit, r.period) == (iid, unit, period))


def test_bad_values_are_refused_in_vietnamese_and_nothing_is_stored(plan, opened):
    item = find_item(opened, REPORT, "TTPVHCC", "2027-Q1")
    for texts, words in [
        ({"ho-so-truc-tuyen": "210/200"}, "lớn hơn mẫu số"),
        ({"ho-so-truc-tuyen": "abc/200"}, "phải là một số"),
        ({"ho-so-truc-tuyen": "170/0"}, "phải lớn hơn 0"),
        ({"ho-so-truc-tuyen": "170/200", "khong-co": "1"}, "không thuộc báo cáo này"),
        ({"ho-so-truc-tuyen": "170/200", "cong-khai-muc-do-hai-long": "2"}, "1 (có) hoặc 0"),
        ({"xac-thuc-dinh-danh-dien-tu": "5/10"}, "không thuộc báo cáo này"),  # the police's
    ]:
        with pytest.raises(UserError, match="chưa lưu gì") as refused:
            enter_values(plan, opened, item.id, texts, t("2027-03-10T09:00"), "TTPVHCC")
        assert words in str(refused.value)
    assert counts(opened) == (0, 0)
    with pytest.raises(UserError, match="không phải của đơn vị CA"):
        enter_values(
            plan, opened, item.id, {"ho-so-truc-tuyen": "1/2"}, t("2027-03-10T09:00"), "CA",
            unit="CA",
        )  # fmt: skip
    assert counts(opened) == (0, 0)


def test_a_jump_from_the_last_period_needs_a_confirmation(plan, opened):
    q4 = find_item(opened, REPORT, "TTPVHCC", "2026")
    q1 = find_item(opened, REPORT, "TTPVHCC", "2027-Q1")
    enter_values(plan, opened, q4.id, {"ho-so-truc-tuyen": "40/100"}, t("2026-12-15T09:00"), "x")
    owed = {o.indicator.id: o for o in owed_values(plan, opened, q1.id)}
    assert owed["ho-so-truc-tuyen"].previous.value == 40.0
    assert owed["ho-so-truc-tuyen"].previous_period == "2026"
    assert owed["ho-so-truc-tuyen"].current is None
    with pytest.raises(NeedsConfirmation, match="kỳ trước \\(40 %"):
        enter_values(
            plan, opened, q1.id, {"ho-so-truc-tuyen": "170/200"}, t("2027-03-10T09:00"), "x"
        )
    assert counts(opened) == (1, 1)
    enter_values(
        plan, opened, q1.id, {"ho-so-truc-tuyen": "170/200"}, t("2027-03-10T09:00"), "TTPVHCC",
        confirm=True,
    )  # fmt: skip
    with transaction(opened) as s:
        stored = s.scalars(select(IndicatorValue).order_by(IndicatorValue.id)).all()[-1]
    assert (stored.numerator, stored.denominator, stored.actor) == (170, 200, "TTPVHCC")
    assert stored.confirmed and "40 %" in stored.confirmed
    # An unchanged value is not written again.
    enter_values(plan, opened, q1.id, {"ho-so-truc-tuyen": "170/200"}, t("2027-03-11T09:00"), "x")
    assert counts(opened) == (2, 2)


def test_values_freeze_on_acceptance_and_change_through_a_return(plan, opened, tmp_path: Path):
    item = find_item(opened, REPORT, "TTPVHCC", "2027-Q1")
    enter_values(plan, opened, item.id, {"ho-so-truc-tuyen": "60/100"}, t("2027-03-10T09:00"), "u")
    pdf = tmp_path / "bao-cao.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    attach(plan, opened, tmp_path / "data", item.id, pdf, t("2027-03-11T09:00"), file_type="pdf")
    return_version(
        plan, opened, item.id, 1, "Số liệu hồ sơ trực tuyến chưa khớp", t("2027-03-20").date(),
        t("2027-03-12T09:00"),
    )  # fmt: skip
    enter_values(plan, opened, item.id, {"ho-so-truc-tuyen": "70/100"}, t("2027-03-13T09:00"), "u")
    pdf.write_bytes(b"%PDF-1.4\n2 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    attach(plan, opened, tmp_path / "data", item.id, pdf, t("2027-03-13T10:00"), file_type="pdf")
    accept_version(plan, opened, item.id, 2, t("2027-03-14T09:00"))
    before = counts(opened)
    with pytest.raises(UserError, match="đã chốt khi văn phòng chấp nhận"):
        enter_values(
            plan, opened, item.id, {"ho-so-truc-tuyen": "90/100"}, t("2027-03-15T09:00"), "u"
        )
    assert counts(opened) == before
    with transaction(opened) as s:
        rows = indicator_rows(plan, s, 2027)
    assert row(rows, "ho-so-truc-tuyen", "TTPVHCC").value == 70.0


def test_the_commune_sums_numerators_over_denominators(plan, opened):
    at = t("2027-03-12T09:00")
    entered = {"VP": "9/10", "KT": "1/1", "CA": "45/90"}
    for unit, text in entered.items():
        item = find_item(opened, REPORT, unit, "2027-Q1")
        enter_values(plan, opened, item.id, {"can-bo-ky-nang-so": text}, at, unit)
    late = find_item(opened, REPORT, "TTVHTTTT", "2027-Q1")
    enter_values(plan, opened, late.id, {"can-bo-ky-nang-so": "5/5"}, t("2027-03-17T09:00"), "x")
    with transaction(opened) as s:
        rows = indicator_rows(plan, s, 2027)
    commune = row(rows, "can-bo-ky-nang-so", "ALL")
    assert (commune.numerator, commune.denominator) == (60, 106)
    assert commune.value == round(100 * 60 / 106, 2)
    assert commune.verdict == f"chưa đạt (còn thiếu {100 - 100 * 60 / 106:.1f} điểm %)".replace(
        ".", ","
    )
    assert (commune.expected, commune.reported, commune.reported_on_time) == (5, 4, 3)
    assert row(rows, "can-bo-ky-nang-so", "KT").verdict == "đạt"
    assert row(rows, "can-bo-ky-nang-so", "TTPVHCC").verdict == "chưa có số liệu"
    online = row(rows, "ho-so-truc-tuyen", "ALL")
    assert (online.value, online.verdict, online.expected) == (None, "chưa có số liệu", 1)
