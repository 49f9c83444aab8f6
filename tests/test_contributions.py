"""Coordinating units send their part through their own signed link (issue 9 §3): recorded as
contributions to the lead's item, never a version that closes it; the lead downloads them from
its own page. Real intake over HTTP, real SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest
from intake_support import Clock, LiveIntake, pdf_bytes, t
from sqlalchemy import select
from support import find_item

from models.db import transaction
from models.tables import Event, WorkItem
from notifications.compose import Composer
from notifications.facts import load_facts
from notifications.links import item_link
from usecases.review import contributions
from usecases.sweep import sweep

ONE_OFF = "ra-soat-vbqppl-chinh-quyen-2-cap"  # I.1: VP leads, every other unit coordinates


@pytest.fixture
def item(plan, engine):
    sweep(plan, engine, t("2027-01-20T07:30"))
    sweep(plan, engine, t("2027-01-25T07:30"))
    return find_item(engine, ONE_OFF, "VP", "2027-02-28")


@pytest.fixture
def live(plan, engine, tmp_path):
    with LiveIntake(plan, engine, tmp_path / "data", Clock(t("2027-02-10T09:00"))) as server:
        yield server


def test_a_coordinating_unit_sends_its_part_and_the_lead_gets_it(plan, engine, item, live):
    assert "CA" in plan.coordinating_units(ONE_OFF, "VP")
    ca_link = item_link(live.settings, item.id, "CA", live.clock.at)
    page = httpx.get(ca_link)
    assert page.status_code == 200
    assert "Gửi nội dung phối hợp" in page.text and "Công an xã" in page.text
    assert "Nộp sản phẩm</button>" not in page.text  # not the lead's form

    sent = httpx.post(
        ca_link,
        files=[("files", ("so-lieu-ca.pdf", pdf_bytes("So lieu CA"), "application/pdf"))],
        data={"note": "Số liệu quý IV"},
        follow_redirects=False,
        timeout=30,
    )
    assert sent.status_code == 303 and sent.headers["location"].endswith("?sent=1")
    [got] = contributions(engine, item.id)
    assert (got.unit, got.original_name, got.note) == ("CA", "so-lieu-ca.pdf", "Số liệu quý IV")
    with transaction(engine) as s:
        still = s.get(WorkItem, item.id)
        kinds = [e.kind for e in s.execute(select(Event).where(Event.item_id == item.id)).scalars()]
    assert still.status == "open" and "contributed" in kinds  # it closes nothing

    lead_page = httpx.get(live.link(item)).text
    assert "Nội dung phối hợp đã nhận" in lead_page and "so-lieu-ca.pdf" in lead_page
    download = f"{live.link(item)}/inputs/{got.id}"
    file = httpx.get(download)
    assert file.status_code == 200 and file.content == pdf_bytes("So lieu CA")
    # Only the lead downloads it; a coordinator's link cannot.
    assert httpx.get(f"{ca_link}/inputs/{got.id}").status_code == 404


def test_only_coordinating_units_may_contribute(plan, engine, item, live):
    # MTTQ is not counted in ALL, so it does not coordinate I.1: its link opens nothing.
    assert "MTTQ" in plan.units and "MTTQ" not in plan.coordinating_units(ONE_OFF, "VP")
    link = item_link(live.settings, item.id, "MTTQ", live.clock.at)
    assert httpx.get(link).status_code == 403
    sent = httpx.post(link, files=[("files", ("x.pdf", pdf_bytes(), "application/pdf"))])
    assert sent.status_code == 403 and contributions(engine, item.id) == []


def test_the_coordinate_mail_carries_the_coordinators_own_link(plan, engine, item):
    with transaction(engine) as s:
        from models.tables import Outbox

        rows = list(
            s.execute(
                select(Outbox).where(Outbox.item_id == item.id, Outbox.kind == "coordinate")
            ).scalars()
        )
        facts = load_facts(s, rows, plan)
    assert rows
    composer = Composer(plan, link=lambda item_id, unit, at: f"https://x.example/{item_id}/{unit}")
    for row in rows:
        text = composer.for_row(row, facts, t("2027-01-25T07:30")).message
        body = text.get_body(("plain",)).get_content()
        unit = composer.units_by_address[row.recipient.lower()]
        assert f"https://x.example/{item.id}/{unit}" in body
        assert f"https://x.example/{item.id}/VP" not in body  # never the lead's link


def test_the_office_page_shows_contents_and_the_units_reports(plan, engine, tmp_path):
    from usecases.items import close_item

    for at in ("2027-03-01T07:30", "2027-03-02T07:30", "2027-03-05T07:30"):
        sweep(plan, engine, t(at))
    vp = find_item(engine, "bao-cao-cchc-dinh-ky", "VP", "2027-Q1")
    with transaction(engine) as s:
        close_item(plan, s, s.get(WorkItem, vp.id), t("2027-03-15T10:00"), "VP")
    clock = Clock(t("2027-03-17T09:00"))
    with LiveIntake(plan, engine, tmp_path / "data", clock) as live:
        page = httpx.get(live.office()).text
    units = len(plan.lead_units("bao-cao-cchc-dinh-ky"))
    assert f"Đã nhận 1/{units} báo cáo của các đơn vị" in page
    assert "chưa nộp: <span" in page and "Công an xã" in page
    assert "Nội dung báo cáo và lưu ý" in page and "mục I.3" in page
