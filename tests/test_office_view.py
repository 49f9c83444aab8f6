"""The standing office's page, the city's office page and the refused-upload page as a phone
shows them: the real intake (uvicorn on loopback) in headless Chromium (Debian's package) at
390 px wide. No horizontal scrolling, the counts at the top, the city's filters usable, and a
refused upload that names its file and leads back to the form."""

from __future__ import annotations

import re

import pytest
from city_support import commune_codes, write_city
from intake_support import Clock, LiveIntake, exe_bytes, t
from sqlalchemy import select
from support import CHROMIUM, find_item

from models.db import transaction
from models.tables import WorkItem
from schedules.city_loader import load_city
from usecases.sweep import sweep, sweep_communes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)"
    ),
]

PHONE = {"width": 390, "height": 844}
NOW = "2027-03-24T09:00"
"""After the Q1 2027 reports fell due (16/03/2027): some items are late."""


@pytest.fixture
def engine(sqlite_engine):
    return sqlite_engine


@pytest.fixture
def live(plan, engine, tmp_path):
    sweep(plan, engine, t("2027-03-02T07:30"))
    sweep(plan, engine, t("2027-03-24T07:30"))
    with LiveIntake(plan, engine, tmp_path / "data", Clock(t(NOW))) as server:
        yield server


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than the screen (0: no horizontal scrolling)."""
    return page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"
    )


def widest(page) -> str:
    """The element that sticks out furthest to the right, for the failure message."""
    return page.evaluate(
        """() => {
        let worst = null, right = 0;
        for (const el of document.querySelectorAll('body *')) {
          const r = el.getBoundingClientRect().right;
          if (r > right) { right = r; worst = el; }
        }
        return worst ? `${worst.tagName}.${worst.className} right=${right}` : '';
      }"""
    )


def test_office_page_fits_a_phone_and_counts_at_the_top(plan, engine, live, browser, tmp_path):
    with transaction(engine) as session:
        items = list(session.exec(select(WorkItem)).scalars())
    owed = [i for i in items if i.status in ("open", "overdue", "escalated")]  # any year
    late = [i for i in owed if i.status in ("overdue", "escalated")]
    assert late, "the fixture should make late items"
    page = browser.new_page(viewport=PHONE, locale="vi-VN")
    page.goto(live.office())
    page.screenshot(path=str(tmp_path / "office-390.png"), full_page=True)
    assert horizontal_overflow(page) <= 0, widest(page)
    # The unit drop-down, with the longest unit name chosen, still fits.
    longest = max(plan.units, key=lambda code: len(plan.units[code].name))
    page.select_option("select[name=unit]", longest)
    assert horizontal_overflow(page) <= 0, widest(page)

    counts = page.locator(".counts")
    assert counts.is_visible()
    text = counts.inner_text()
    assert f"{len(owed)} nhiệm vụ" in text
    assert f"{len(late)} quá hạn" in text
    assert "chờ xem xét" in text
    # At the top: before the first unit's section.
    top = counts.bounding_box()["y"]
    assert top < page.locator("section.unit").first.bounding_box()["y"]


def test_a_refused_upload_names_the_file_and_leads_back_to_the_form(
    plan, engine, live, browser, tmp_path
):
    item = find_item(engine, "bao-cao-cchc-dinh-ky", "VP", "2027-Q1")
    link = live.link(item)
    program = tmp_path / "bao-cao-quy-I-rat-dai-ten-tep-khong-co-khoang-trang-0123456789.pdf"
    program.write_bytes(exe_bytes())
    page = browser.new_page(viewport=PHONE, locale="vi-VN")
    page.goto(link)
    page.set_input_files("#files", str(program))
    page.get_by_role("button", name="Nộp sản phẩm").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Chưa nộp được"
    assert program.name in page.locator(".refused-file").inner_text()
    page.screenshot(path=str(tmp_path / "refused-390.png"), full_page=True)
    assert horizontal_overflow(page) <= 0, widest(page)

    page.get_by_role("link", name=re.compile("Quay lại trang nộp sản phẩm")).click()
    page.wait_for_url(link)
    assert page.locator("#files").is_visible()


@pytest.fixture
def city_live(engine, tmp_path):
    city = load_city(write_city(tmp_path / "city", commune_codes(3)))
    for at in ("2027-03-02T07:30", "2027-03-24T07:30"):
        sweep_communes(city.select(None), engine, t(at))
    with LiveIntake(city, engine, tmp_path / "data", Clock(t(NOW))) as server:
        yield server


def test_the_city_office_page_fits_a_phone_and_filters_by_commune(
    city_live, engine, browser, tmp_path
):
    page = browser.new_page(viewport=PHONE, locale="vi-VN")
    page.goto(city_live.office())
    assert horizontal_overflow(page) <= 0, widest(page)
    page.locator("details.by-commune summary").click()  # the line of each commune
    assert page.locator("details.by-commune li").count() == len(city_live.city.select(None))
    page.screenshot(path=str(tmp_path / "city-office-390.png"), full_page=True)
    assert horizontal_overflow(page) <= 0, widest(page)

    page.select_option("select[name=commune]", "xa002")
    page.select_option("select[name=unit]", "VP")
    page.get_by_role("button", name="Lọc").click()
    page.wait_for_load_state()
    assert horizontal_overflow(page) <= 0, widest(page)
    shown = {
        int(i.split("-")[1])
        for i in page.locator("article.office-item").evaluate_all("els => els.map(e => e.id)")
    }
    with transaction(engine) as session:
        query = select(WorkItem).where(WorkItem.commune == "xa002", WorkItem.unit == "VP")
        expected = {i.id for i in session.exec(query).scalars() if i.status != "closed"}
    assert shown and shown == expected
