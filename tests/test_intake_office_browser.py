"""The office's daily work as its clerk and a unit's clerk do it, in headless Chromium (Debian's
package, driven by Playwright) on the real intake (uvicorn on loopback, a real SQLite file): a
directive recorded through the office page's form with its file and two lead units, then a
unit asking for more time from its item's page and the office granting it from its own."""

from __future__ import annotations

import pytest
from intake_support import Clock, LiveIntake, pdf_bytes, reload, t
from sqlalchemy import select
from support import CHROMIUM
from test_office_view import horizontal_overflow, widest

from models.db import transaction
from models.tables import Directive, Extension, WorkItem
from usecases.sweep import sweep

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)"
    ),
]

PHONE = {"width": 390, "height": 844}
NOW = "2027-03-10T09:00"


@pytest.fixture
def engine(sqlite_engine):
    return sqlite_engine


@pytest.fixture
def live(plan, engine, tmp_path):
    sweep(plan, engine, t("2027-03-02T07:30"))
    with LiveIntake(plan, engine, tmp_path / "data", Clock(t(NOW))) as server:
        yield server


def test_a_directive_is_recorded_and_an_extension_granted_in_the_browser(
    live, engine, browser, tmp_path
):
    scan = tmp_path / "CV 125-SNV.pdf"
    scan.write_bytes(pdf_bytes("Cong van 125/SNV-CCHC"))
    office = browser.new_page(viewport=PHONE, locale="vi-VN")
    office.goto(live.office())
    office.get_by_text("Ghi nhận văn bản chỉ đạo và giao nhiệm vụ").click()
    assert horizontal_overflow(office) <= 0, widest(office)  # the form fits a phone
    form = office.locator("form.directive")
    form.locator("input[name=number]").fill("125/SNV-CCHC")
    form.locator("input[name=date]").fill("2027-03-08")
    form.locator("input[name=issuer]").fill("Sở Nội vụ")
    form.locator("textarea[name=subject]").fill("V/v rà soát thủ tục hành chính")
    form.locator("textarea[name=task]").fill("Rà soát thủ tục hành chính thuộc lĩnh vực")
    form.locator("input[name=due]").fill("2027-03-29")
    form.locator("select[name=units]").select_option(["CA", "KT"])
    form.locator("select[name=coordinators]").select_option(["VP"])
    form.locator("input[name=file]").set_input_files(str(scan))
    form.get_by_role("button", name="Ghi nhận và giao nhiệm vụ").click()
    office.wait_for_load_state()
    assert "Đã ghi nhận Công văn số 125/SNV-CCHC ngày 08/03/2027" in office.inner_text("main")

    with transaction(engine) as s:
        [directive] = s.exec(select(Directive)).scalars().all()
        query = select(WorkItem).where(WorkItem.directive_id == directive.id)
        items = {i.unit: i for i in s.exec(query).scalars()}
    assert directive.file_name == "CV 125-SNV.pdf" and sorted(items) == ["CA", "KT"]
    ca = items["CA"]

    # The unit's clerk: the directive and its file on the item's page, then a request.
    unit = browser.new_page(viewport=PHONE, locale="vi-VN")
    unit.goto(live.link(ca))
    assert "Thực hiện Công văn số 125/SNV-CCHC" in unit.inner_text("main")
    with unit.expect_download() as got:
        unit.get_by_role("link", name="Tải tệp văn bản: CV 125-SNV.pdf").click()
    assert got.value.suggested_filename == "CV 125-SNV.pdf"
    unit.locator("#until").fill("2027-04-05")
    unit.locator("#reason").fill("Chờ ý kiến của Sở Tư pháp")
    unit.get_by_role("button", name="Gửi đề nghị gia hạn").click()
    unit.wait_for_load_state()
    assert "đang chờ cơ quan thường trực xem xét" in unit.inner_text("#gia-han")

    # The office grants it from its page.
    office.goto(live.office())
    request = office.locator("article.extension-request")
    assert horizontal_overflow(office) <= 0, widest(office)
    assert "Chờ ý kiến của Sở Tư pháp" in request.inner_text()
    grant = request.locator("form.grant")
    assert grant.locator("input[name=until]").input_value() == "2027-04-05"
    grant.locator("textarea[name=reason]").fill("Đồng ý, chờ ý kiến Sở Tư pháp")
    grant.get_by_role("button", name="Đồng ý gia hạn").click()
    office.wait_for_load_state()
    assert "Đã gia hạn nhiệm vụ số" in office.inner_text("main")

    moved = reload(engine, ca.id)
    assert (moved.due.isoformat(), moved.original_due.isoformat()) == ("2027-04-05", "2027-03-29")
    with transaction(engine) as s:
        [granted] = s.exec(select(Extension)).scalars().all()
    assert (granted.status, granted.requested_by) == ("granted", "CA")
    office.goto(live.office())
    row = office.locator(f"#item-{ca.id}")
    assert "Công văn số 125/SNV-CCHC" in row.inner_text()
    assert "hạn ban đầu 29/03/2027" in row.inner_text()
    unit.goto(live.link(ca))
    assert "đã được gia hạn" in unit.inner_text("#gia-han")
