"""The office's daily work on the intake (issue 19), through the real app under uvicorn on a
real database (a SQLite file and PostgreSQL): a directive recorded from the office page with
its file, its number beside the task and its file behind the signed link; a unit's request for
more time, granted or refused on the office page; the office page's years and its "late" and
"in time" filters; the receive form refusing documents that cannot be true."""

from __future__ import annotations

import re

import httpx
import pytest
from intake_support import (
    Clock,
    LiveIntake,
    deliverables,
    exe_bytes,
    pdf_bytes,
    reload,
    stored_files,
    t,
)
from office_support import CA, KT, OFFICE, outbox
from sqlalchemy import func, select
from support import find_item, live_plan

from models.db import transaction
from models.tables import Directive, Extension, WorkItem
from usecases.sweep import sweep

REPORT = "bao-cao-cchc-dinh-ky"
# Q1 2027: opens 02/03/2027, data window to 14/03, due Tuesday 16/03/2027.
NOW = "2027-03-10T09:00"
DIRECTIVE = {
    "number": "125/SNV-CCHC",
    "date": "2027-03-08",
    "issuer": "Sở Nội vụ",
    "subject": "V/v báo cáo kết quả rà soát thủ tục hành chính",
    "task": "Rà soát thủ tục hành chính thuộc lĩnh vực của đơn vị",
    "product": "Báo cáo kết quả rà soát",
    "due": "2027-03-29",
    "units": ["CA", "KT"],
    "coordinators": ["VP"],
}


@pytest.fixture
def plan(plan):
    """The shipped plan, live since its start: the first sweep (02/03/2027) opens last year's
    items too, late, instead of holding them for the office's triage (test_golive.py)."""
    return live_plan(plan)


@pytest.fixture
def swept(plan, engine):
    sweep(plan, engine, t("2027-03-02T07:30"))


@pytest.fixture
def office(plan, engine, swept, tmp_path):
    with LiveIntake(plan, engine, tmp_path / "data", Clock(t(NOW))) as server:
        yield server


def token_of(server: LiveIntake) -> str:
    return httpx.URL(server.office()).params["t"]


def office_page(server: LiveIntake, **params) -> httpx.Response:
    return httpx.get(f"{server.base}/office", params={"t": token_of(server), **params})


def listed(page: str) -> set[int]:
    """The item ids an office page lists."""
    return {int(n) for n in re.findall(r'id="item-(\d+)"', page)}


NO_FILE = [("file", ("", b"", "application/octet-stream"))]
"""What a browser sends for a file field left empty (the form is multipart all the same)."""


def record(server: LiveIntake, fields: dict, files: list | None = None, token: str | None = None):
    url = f"{server.base}/office/directives"
    params = {"t": token_of(server) if token is None else token}
    return httpx.post(url, params=params, data=fields, files=files or NO_FILE, timeout=30)


def directive_count(engine) -> int:
    with transaction(engine) as s:
        return s.execute(select(func.count()).select_from(Directive)).scalar()


def items_of(engine, directive_id: int) -> list[WorkItem]:
    with transaction(engine) as s:
        query = select(WorkItem).where(WorkItem.directive_id == directive_id)
        return list(s.exec(query.order_by(WorkItem.unit)).scalars())


# ----- directives -----------------------------------------------------------------------------


def test_the_office_records_a_directive_with_its_file(office, engine):
    form = office_page(office).text
    assert 'action="/office/directives?t=' in form and 'name="units" multiple' in form
    scan = pdf_bytes("Cong van 125")
    done = record(office, DIRECTIVE, [("file", ("CV 125-SNV.pdf", scan, "application/pdf"))])
    assert done.status_code == 200, done.text[-500:]
    assert "Đã ghi nhận Công văn số 125/SNV-CCHC ngày 08/03/2027 của Sở Nội vụ" in done.text
    [directive] = _directives(engine)
    assert (directive.units, directive.coordinators, directive.file_name) == (
        ["CA", "KT"],
        ["VP"],
        "CV 125-SNV.pdf",
    )
    ca, kt = items_of(engine, directive.id)
    assert (ca.unit, kt.unit, ca.due.isoformat(), ca.title) == (
        "CA",
        "KT",
        "2027-03-29",
        DIRECTIVE["task"],
    )
    assert {(o.step, o.recipient) for o in outbox(engine, ca.id)} >= {("opened", CA)}
    assert {(o.step, o.recipient) for o in outbox(engine, kt.id)} >= {("opened", KT)}

    # The office list: the directive's number beside the task, and the directive with its items.
    listing = office_page(office).text
    assert f'id="item-{ca.id}"' in listing and f'id="directive-{directive.id}"' in listing
    assert listing.count("Công văn số 125/SNV-CCHC") >= 3  # two items and the directive's list
    office_file = f"{office.base}/office/directives/{directive.id}/file"
    download = httpx.get(office_file, params={"t": token_of(office)})
    assert download.status_code == 200 and download.content == scan
    assert download.headers["content-disposition"].startswith("attachment;")

    # The unit's page: what the directive asks, and its file through the item's signed link.
    link = office.link(ca)
    page = httpx.get(link).text
    assert "Thực hiện Công văn số 125/SNV-CCHC ngày 08/03/2027 của Sở Nội vụ" in page
    assert f"/items/{ca.id}/" in page and "/directive" in page and "CV 125-SNV.pdf" in page
    unit_file = httpx.get(f"{link}/directive")
    assert unit_file.status_code == 200 and unit_file.content == scan
    unit_token = link.rsplit("/", 1)[1]
    assert httpx.get(office_file, params={"t": unit_token}).status_code == 403
    plan_item = find_item(engine, REPORT, "VP", "2027-Q1")
    assert httpx.get(f"{office.link(plan_item)}/directive").status_code == 404


def _directives(engine) -> list[Directive]:
    with transaction(engine) as s:
        return list(s.exec(select(Directive).order_by(Directive.id)).scalars())


@pytest.mark.parametrize(
    "change, status, says",
    [
        ({"number": "abc"}, 409, "ví dụ 125/SNV-CCHC"),
        ({"date": "0001-01-01"}, 409, "không hợp lệ"),
        ({"date": "2027-03-11"}, 409, "chưa đến"),
        ({"date": "hôm qua"}, 409, "Ngày văn bản không hợp lệ"),
        ({"due": "2027-03-09"}, 409, "đã qua"),
        ({"units": []}, 409, "đơn vị chủ trì"),
        ({"subject": "báo cáo\x00"}, 409, "ký tự điều khiển"),
        ({"issuer": " "}, 409, "cơ quan ban hành"),
    ],
)
def test_a_directive_that_cannot_be_true_is_refused(office, engine, change, status, says):
    done = record(office, {**DIRECTIVE, **change})
    assert done.status_code == status and says in done.text, done.text[-400:]
    assert directive_count(engine) == 0


def test_a_directive_needs_the_office_token_and_a_file_it_would_take(office, engine):
    scan = [("file", ("cv.pdf", pdf_bytes(), "application/pdf"))]
    assert record(office, DIRECTIVE, scan, token="").status_code == 403
    assert record(office, DIRECTIVE, scan, token="junk").status_code == 403
    unit_token = office.link(find_item(engine, REPORT, "VP", "2027-Q1")).rsplit("/", 1)[1]
    assert record(office, DIRECTIVE, scan, token=unit_token).status_code == 403
    program = record(office, DIRECTIVE, [("file", ("cv.pdf", exe_bytes(), "application/pdf"))])
    assert program.status_code == 415 and "chương trình Windows" in program.text
    assert "Tệp cv.pdf" in program.text
    two = record(office, DIRECTIVE, scan + [("file", ("b.pdf", pdf_bytes("b"), "x/y"))])
    assert two.status_code == 400 and "một tệp" in two.text
    assert directive_count(engine) == 0
    assert [p for p in stored_files(office.data_dir) if "deliverables" in p.parts] == []


# ----- extensions -----------------------------------------------------------------------------


def ask(server: LiveIntake, item: WorkItem, until: str, reason: str) -> httpx.Response:
    url = f"{server.link(item)}/extension"
    return httpx.post(url, data={"until": until, "reason": reason})


def decide(server: LiveIntake, item: WorkItem, action: str, **fields) -> httpx.Response:
    url = f"{server.base}/office/items/{item.id}/extension/{action}"
    return httpx.post(url, data={"t": token_of(server), **fields})


def pending(engine, item_id: int) -> list[Extension]:
    with transaction(engine) as s:
        query = select(Extension).where(Extension.item_id == item_id).order_by(Extension.seq)
        return list(s.exec(query).scalars())


def test_a_unit_asks_for_more_time_and_the_office_grants_it(office, engine):
    kt = find_item(engine, REPORT, "KT", "2027-Q1")  # due 16/03/2027
    page = httpx.get(office.link(kt)).text
    assert "Gửi đề nghị gia hạn" in page and 'min="2027-03-17"' in page
    asked = ask(office, kt, "2027-03-26", "Chờ số liệu quyết toán\x00")
    assert asked.status_code == 409 and "ký tự điều khiển" in asked.text
    asked = ask(office, kt, "2027-03-26", "Chờ số liệu quyết toán quý I")
    assert asked.status_code == 303 and asked.headers["location"].endswith("#gia-han")
    assert [(e.status, e.requested_by) for e in pending(engine, kt.id)] == [("pending", "KT")]
    assert ("requested-1", OFFICE) in {(o.step, o.recipient) for o in outbox(engine, kt.id)}
    page = httpx.get(office.link(kt)).text
    assert "đang chờ cơ quan thường trực xem xét" in page and "Gửi đề nghị gia hạn" not in page

    listing = office_page(office).text
    assert f'id="request-{pending(engine, kt.id)[0].id}"' in listing
    assert "Chờ số liệu quyết toán quý I" in listing and "26/03/2027" in listing
    csrf = httpx.post(
        f"{office.base}/office/items/{kt.id}/extension/grant",
        data={"until": "2027-03-26", "reason": "Đồng ý"},
    )
    assert csrf.status_code == 403
    assert decide(office, kt, "grant", until="2027-03-26", reason=" ").status_code == 409
    granted = decide(
        office, kt, "grant", request=str(pending(engine, kt.id)[0].id), until="2027-03-26",
        reason="Đồng ý: số liệu quyết toán chưa có",
    )  # fmt: skip
    assert granted.status_code == 200 and "Đã gia hạn nhiệm vụ số" in granted.text
    assert "26/03/2027" in granted.text and "16/03/2027" in granted.text
    moved = reload(engine, kt.id)
    assert (moved.due.isoformat(), moved.original_due.isoformat()) == ("2027-03-26", "2027-03-16")
    assert ("extended-1", KT) in {(o.step, o.recipient) for o in outbox(engine, kt.id)}
    assert 'id="request-' not in office_page(office).text
    page = httpx.get(office.link(kt)).text
    assert "đã được gia hạn" in page and "Hạn ban đầu 16/03/2027" in page

    # Handed in after the first due date, by the granted one: "đúng hạn (được gia hạn)".
    office.clock.at = t("2027-03-24T10:00")
    sent = httpx.post(
        office.link(kt), files=[("files", ("bc.pdf", pdf_bytes("kt"), "application/pdf"))]
    )
    assert sent.status_code == 303
    listing = office_page(office, year="2027", unit="KT").text
    assert "đúng hạn (được gia hạn)" in listing and "hạn ban đầu 16/03/2027" in listing


def test_the_office_refuses_a_request_and_the_due_date_stays(office, engine):
    ca = find_item(engine, REPORT, "CA", "2027-Q1")
    assert ask(office, ca, "2027-03-30", "Thiếu cán bộ").status_code == 303
    again = ask(office, ca, "2027-03-31", "Thiếu cán bộ")
    assert again.status_code == 409 and "đang chờ" in again.text
    assert decide(office, ca, "refuse", reason="").status_code == 409
    refused = decide(office, ca, "refuse", reason="Đủ thời gian thực hiện")
    assert refused.status_code == 200 and "Đã không đồng ý gia hạn" in refused.text
    assert reload(engine, ca.id).due.isoformat() == "2027-03-16"
    assert [e.status for e in pending(engine, ca.id)] == ["refused"]
    assert ("refused-1", CA) in {(o.step, o.recipient) for o in outbox(engine, ca.id)}
    page = httpx.get(office.link(ca)).text
    assert "không được gia hạn" in page and "Đủ thời gian thực hiện" in page
    again = decide(office, ca, "refuse", reason="Lần nữa")
    assert again.status_code == 409 and "không có đề nghị" in again.text
    assert decide(office, ca, "sideways", reason="x").status_code == 404


def test_only_the_lead_unit_asks_and_not_after_its_due_date(office, engine, plan):
    from notifications.links import item_link

    vp = find_item(engine, REPORT, "VP", "2027-Q1")
    issued = record(office, {**DIRECTIVE, "units": ["CA"], "coordinators": ["VP"]})
    assert issued.status_code == 200
    [ca] = items_of(engine, _directives(engine)[0].id)
    coordinator = item_link(office.settings, ca.id, "VP", office.clock.at)
    refused = httpx.post(f"{coordinator}/extension", data={"until": "2027-04-02", "reason": "x"})
    assert refused.status_code == 403 and pending(engine, ca.id) == []
    office.clock.at = t("2027-03-17T09:00")
    page = httpx.get(office.link(vp)).text
    assert "Gửi đề nghị gia hạn" not in page
    late = ask(office, vp, "2027-03-26", "Quên")
    assert late.status_code == 409 and "đã qua" in late.text


# ----- the office page: years and status ------------------------------------------------------


def test_the_office_page_shows_every_open_item_whatever_its_year(office, engine):
    with transaction(engine) as s:
        everything = list(s.exec(select(WorkItem)).scalars())
    last_year = {i.id for i in everything if i.due.year == 2026}
    this_year = {i.id for i in everything if i.due.year == 2027}
    assert last_year and this_year
    done = find_item(engine, REPORT, "VP", "2027-Q1")
    office.clock.at = t("2027-03-17T09:00")  # Q1 past due, before the morning's sweep moved it
    received = httpx.post(
        f"{office.base}/office/items/{done.id}/receive",
        data={"t": token_of(office), "doc": "12/BC-VP", "date": "2027-03-16"},
    )
    assert received.status_code == 200
    owed = {i.id for i in everything} - {done.id}
    assert listed(office_page(office).text) == owed | {done.id}  # its version awaits review
    accept = f"{office.base}/office/items/{done.id}/versions/1/accept"
    assert httpx.post(accept, data={"t": token_of(office)}).status_code == 200

    default = office_page(office)
    assert default.status_code == 200 and listed(default.text) == owed
    assert f"<strong>{len(owed)}</strong> quá hạn" in default.text  # every one is late now
    assert listed(office_page(office, year="").text) == owed  # a cleared year: no 404
    assert listed(office_page(office, year="junk").text) == owed
    assert listed(office_page(office, year="2026").text) == last_year
    assert listed(office_page(office, year="2027").text) == this_year
    assert listed(office_page(office, year="all").text) == last_year | this_year
    assert 'value="all" selected' in office_page(office, year="all").text

    q1 = {i.id for i in everything if i.period == "2027-Q1"} - {done.id}
    assert listed(office_page(office, status="late").text) == owed
    assert listed(office_page(office, status="overdue").text) == owed
    assert not listed(office_page(office, status="open").text) & q1  # past due: not "trong hạn"
    assert listed(office_page(office, status="late", year="2027").text) == this_year - {done.id}
    assert listed(office_page(office, status="closed", year="all").text) == {done.id}


def test_in_time_lists_the_open_items_not_yet_due(office, engine):
    q1 = {i.id for i in _open_q1(engine)}
    assert q1 <= listed(office_page(office, status="open").text)  # 10/03: due 16/03
    office.clock.at = t("2027-03-17T09:00")
    assert not listed(office_page(office, status="open").text) & q1


def _open_q1(engine) -> list[WorkItem]:
    with transaction(engine) as s:
        query = select(WorkItem).where(WorkItem.period == "2027-Q1")
        return list(s.exec(query).scalars())


# ----- the receive form -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc, day, says",
    [
        ("12/BC-VP", "0001-01-01", "không hợp lệ"),
        ("12/BC-VP", "1999-12-31", "không hợp lệ"),
        ("12/BC-VP", "2027-03-21", "chưa đến"),
        ("12/BC-VP", "2026-05-01", "ngày chốt số liệu"),
        ("12/BC-VP", "2027-03-13", "ngày chốt số liệu"),
        ("12/BC-VP", "16/03/2027", "Ngày văn bản không hợp lệ"),
        ("abc", "2027-03-16", "ví dụ 125/SNV-CCHC"),
        ("", "2027-03-16", "Cần nhập số, ký hiệu"),
    ],
)
def test_the_receive_form_refuses_what_cannot_be_true(office, engine, doc, day, says):
    item = find_item(engine, REPORT, "VP", "2027-Q1")
    office.clock.at = t("2027-03-20T09:00")
    url = f"{office.base}/office/items/{item.id}/receive"
    refused = httpx.post(url, data={"t": token_of(office), "doc": doc, "date": day})
    assert refused.status_code == 409 and says in refused.text, refused.text[-400:]
    assert reload(engine, item.id).status == "open" and deliverables(engine, item.id) == []


def test_the_receive_form_cleans_control_characters(office, engine):
    item = find_item(engine, REPORT, "VP", "2027-Q1")
    office.clock.at = t("2027-03-20T09:00")
    url = f"{office.base}/office/items/{item.id}/receive"
    done = httpx.post(
        url, data={"t": token_of(office), "doc": "12/BC\x00-VP\x1b", "date": "2027-03-16"}
    )
    assert done.status_code == 200 and "12/BC-VP" in done.text
    [row] = deliverables(engine, item.id)
    assert row.doc_number == "12/BC-VP"
    listing = office_page(office, year="2027", unit="VP").text
    assert "Chấp nhận" in listing  # the accept button stays
