"""The unit's upload page asks for the indicators its report owes, the previous period's value
beside each: over HTTP (refused values stored nowhere, a jump to confirm, frozen after the
office accepts) and in headless Chromium as the unit's clerk fills it; the consolidated report's
page shows the commune's figures against target."""

from __future__ import annotations

import httpx
import pytest
from intake_support import Clock, LiveIntake, t
from sqlalchemy import func, select
from support import CHROMIUM, find_item, launch_chromium

from models.db import transaction
from models.tables import IndicatorValue
from usecases.indicator_values import enter_values
from usecases.review import accept_version, attach
from usecases.sweep import sweep

REPORT = "bao-cao-cchc-dinh-ky"
NOW = "2027-03-10T09:00"


@pytest.fixture
def engine(sqlite_engine):
    return sqlite_engine


@pytest.fixture
def live(plan, engine, tmp_path):
    sweep(plan, engine, t("2026-12-02T07:30"))
    sweep(plan, engine, t("2027-03-02T07:30"))
    last = find_item(engine, REPORT, "TTPVHCC", "2026")
    enter_values(plan, engine, last.id, {"ho-so-truc-tuyen": "30/100"}, t("2026-12-10T09:00"), "x")
    with LiveIntake(plan, engine, tmp_path / "data", Clock(t(NOW))) as server:
        yield server


def stored(engine) -> int:
    with transaction(engine) as s:
        return s.execute(select(func.count()).select_from(IndicatorValue)).scalar()


def post_values(live, item, fields: dict) -> httpx.Response:
    return httpx.post(live.link(item) + "/values", data=fields, follow_redirects=False)


def test_the_page_shows_the_owed_fields_with_the_previous_value(live, engine):
    item = find_item(engine, REPORT, "TTPVHCC", "2027-Q1")
    page = httpx.get(live.link(item)).text
    assert 'id="chi-tieu"' in page and "Chỉ tiêu kèm báo cáo" in page
    assert 'name="n-ho-so-truc-tuyen"' in page and 'name="d-ho-so-truc-tuyen"' in page
    assert "30 % (30/100)" in page and "năm 2026" in page
    assert 'name="n-xac-thuc-dinh-danh-dien-tu"' not in page  # the police's indicator
    police = find_item(engine, REPORT, "CA", "2027-Q1")
    assert 'name="n-xac-thuc-dinh-danh-dien-tu"' in httpx.get(live.link(police)).text


def test_bad_values_and_a_jump_are_refused_and_nothing_is_stored(live, engine):
    item = find_item(engine, REPORT, "TTPVHCC", "2027-Q1")
    before = stored(engine)
    bad = post_values(live, item, {"n-ho-so-truc-tuyen": "250", "d-ho-so-truc-tuyen": "200"})
    assert bad.status_code == 400 and "lớn hơn mẫu số" in bad.text
    assert 'value="250"' in bad.text  # what was typed stays in the field
    jump = post_values(live, item, {"n-ho-so-truc-tuyen": "170", "d-ho-so-truc-tuyen": "200"})
    assert jump.status_code == 409 and "thay đổi bất thường" in jump.text
    assert 'name="confirm"' in jump.text
    assert stored(engine) == before
    done = post_values(
        live, item, {"n-ho-so-truc-tuyen": "170", "d-ho-so-truc-tuyen": "200", "confirm": "1"}
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?saved=1#chi-tieu")
    assert stored(engine) == before + 1
    page = httpx.get(live.link(item)).text
    assert "Đã lưu số liệu chỉ tiêu" not in page  # only after the redirect
    assert "Đang ghi nhận: 85 %" in page


def test_values_freeze_once_the_office_accepts(live, plan, engine, tmp_path):
    item = find_item(engine, REPORT, "TTPVHCC", "2027-Q1")
    pdf = tmp_path / "bc.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    attach(plan, engine, tmp_path / "data", item.id, pdf, t("2027-03-10T08:00"), file_type="pdf")
    accept_version(plan, engine, item.id, 1, t("2027-03-10T08:30"))
    page = httpx.get(live.link(item)).text
    assert "Số liệu đã chốt" in page and "Lưu số liệu chỉ tiêu" not in page
    refused = post_values(live, item, {"v-cong-khai-muc-do-hai-long": "1"})
    assert refused.status_code == 400 and "đã chốt" in refused.text
    assert stored(engine) == 1


def test_the_consolidated_report_page_shows_the_commune_against_target(live, plan, engine):
    unit_item = find_item(engine, REPORT, "TTPVHCC", "2027-Q1")
    enter_values(
        plan, engine, unit_item.id, {"ho-so-truc-tuyen": "16/20"}, t("2027-03-09T09:00"), "x",
        confirm=True,
    )  # fmt: skip
    sweep(plan, engine, t(NOW))  # the consolidated report opens
    item = find_item(engine, "bao-cao-cchc-tong-hop", "VHXH", "2027-Q1")
    page = httpx.get(live.link(item)).text
    assert "Chỉ tiêu của kế hoạch, quý I năm 2027" in page
    assert "chưa đạt (còn thiếu 5 điểm %)" in page
    # The standing office's own indicators (the satisfaction survey) are its fields here.
    assert 'name="n-hai-long-co-quan-hanh-chinh"' in page


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_a_clerk_enters_the_figures_and_confirms_a_jump_in_chromium(live, engine):
    from playwright.sync_api import sync_playwright

    item = find_item(engine, REPORT, "TTPVHCC", "2027-Q1")
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="vi-VN")
            page.goto(live.link(item))
            form = page.locator("form.indicator-values")
            form.locator("input[name=n-ho-so-truc-tuyen]").fill("170")
            form.locator("input[name=d-ho-so-truc-tuyen]").fill("200")
            form.locator("input[name=n-can-bo-ky-nang-so]").fill("9")
            form.locator("input[name=d-can-bo-ky-nang-so]").fill("10")
            form.locator("select[name=v-cong-khai-muc-do-hai-long]").select_option("1")
            form.get_by_role("button", name="Lưu số liệu chỉ tiêu").click()
            page.wait_for_load_state()
            assert "thay đổi bất thường" in page.content()
            assert stored(engine) == 1
            form = page.locator("form.indicator-values")
            assert form.locator("input[name=n-can-bo-ky-nang-so]").input_value() == "9"
            form.get_by_label("Tôi xác nhận số liệu trên là đúng").check()
            form.get_by_role("button", name="Lưu số liệu chỉ tiêu").click()
            page.wait_for_url("**?saved=1*")
            assert "Đã lưu số liệu chỉ tiêu" in page.content()
            assert "Đang ghi nhận: 85 %" in page.content()
            assert "Đang ghi nhận: 90 %" in page.content()
            assert stored(engine) == 4
        finally:
            browser.close()


def test_the_office_enters_and_corrects_values_on_its_page(live, engine):
    item = find_item(engine, REPORT, "TTPVHCC", "2027-Q1")
    token = httpx.URL(live.office()).params["t"]
    listing = httpx.get(f"{live.base}/office", params={"t": token, "unit": "TTPVHCC"}).text
    assert "Số liệu chỉ tiêu kèm báo cáo" in listing
    assert f'action="/office/items/{item.id}/values"' in listing
    url = f"{live.base}/office/items/{item.id}/values"
    fields = {"t": token, "n-ho-so-truc-tuyen": "170", "d-ho-so-truc-tuyen": "200"}
    jump = httpx.post(url, data=fields)
    assert jump.status_code == 409 and "Đánh dấu ô xác nhận" in jump.text
    assert stored(engine) == 1
    bad = httpx.post(url, data={**fields, "d-ho-so-truc-tuyen": "0", "confirm": "1"})
    assert bad.status_code == 400 and "Mẫu số" in bad.text
    done = httpx.post(url, data={**fields, "confirm": "1"})
    assert done.status_code == 200 and "Đã lưu 1 số liệu chỉ tiêu" in done.text
    with transaction(engine) as s:
        row = s.scalars(select(IndicatorValue).order_by(IndicatorValue.id.desc())).first()
    assert (row.numerator, row.source, row.actor) == (170, "office", "standing_office")
    assert (
        httpx.post(url, data={"n-ho-so-truc-tuyen": "1", "d-ho-so-truc-tuyen": "2"}).status_code
        == 403
    )


def test_a_q1_and_a_q2_cycle_with_a_correction_through_a_return(live, plan, engine, tmp_path):
    """Q1 2027 entered on the unit's page (a jump from 2026 confirmed), the report returned for
    a wrong figure and corrected on the page, accepted (frozen); Q2 entered; the figures, the
    commune's aggregate and the verdicts read back, and the trend chart drawn."""
    from notifications.documents.indicators import indicators_png
    from usecases.indicator_report import read_rows
    from usecases.review import return_version

    q1 = find_item(engine, REPORT, "TTPVHCC", "2027-Q1")
    fields = {"n-ho-so-truc-tuyen": "170", "d-ho-so-truc-tuyen": "200", "confirm": "1"}
    assert post_values(live, q1, fields).status_code == 303
    pdf = tmp_path / "bc.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    attach(plan, engine, tmp_path / "data", q1.id, pdf, t("2027-03-10T10:00"), file_type="pdf")
    return_version(
        plan, engine, q1.id, 1, "Số hồ sơ trực tuyến chưa khớp với phần mềm một cửa",
        t("2027-03-20").date(), t("2027-03-10T11:00"),
    )  # fmt: skip
    corrected = {"n-ho-so-truc-tuyen": "160", "d-ho-so-truc-tuyen": "200", "confirm": "1"}
    assert post_values(live, q1, corrected).status_code == 303
    pdf.write_bytes(b"%PDF-1.4\n% v2\n%%EOF\n")
    attach(plan, engine, tmp_path / "data", q1.id, pdf, t("2027-03-10T12:00"), file_type="pdf")
    accept_version(plan, engine, q1.id, 2, t("2027-03-10T13:00"))
    assert post_values(live, q1, {**corrected, "n-ho-so-truc-tuyen": "1"}).status_code == 400
    sweep(plan, engine, t("2027-06-02T07:30"))
    live.clock.at = t("2027-06-05T09:00")
    h1 = find_item(engine, REPORT, "TTPVHCC", "2027-H1")
    page = httpx.get(live.link(h1)).text
    assert "80 % (160/200)" in page and "quý I năm 2027" in page  # the previous value beside
    assert (
        post_values(
            live, h1, {"n-ho-so-truc-tuyen": "180", "d-ho-so-truc-tuyen": "200"}
        ).status_code
        == 303
    )
    rows = [
        r for r in read_rows([plan], engine, 2027) if r.id == "ho-so-truc-tuyen" and r.unit == "ALL"
    ]
    assert [(r.period, r.value, r.verdict) for r in rows] == [
        ("2027-Q1", 80.0, "chưa đạt (còn thiếu 5 điểm %)"),
        ("2027-H1", 90.0, "đạt"),
    ]
    assert indicators_png(rows).startswith(b"\x89PNG")
