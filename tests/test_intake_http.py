"""The intake app under a real uvicorn on loopback, driven with real HTTP requests, on SQLite
and PostgreSQL: the item page, uploads of every accepted type, and every bad input and attack
the issue lists (each refused with a Vietnamese message and nothing stored)."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
from datetime import timedelta

import httpx
import pytest
from intake_support import (
    SECRET,
    Clock,
    LiveIntake,
    deliverable_count,
    deliverables,
    docx_bytes,
    elf_bytes,
    exe_bytes,
    multipart,
    odf_bytes,
    ole_bytes,
    pdf_bytes,
    reload,
    stored_files,
    t,
    xlsx_bytes,
    zip_bytes,
)
from sqlalchemy import select
from support import find_item

from models.db import transaction
from models.tables import Event, Outbox
from notifications.links import item_token
from usecases.lifecycle import waive
from usecases.sweep import sweep

REPORT = "bao-cao-cchc-dinh-ky"
# Q1 2027: opens 02/03/2027, due Tuesday 16/03/2027. The clock stands at 10/03/2027 09:00.
NOW = "2027-03-10T09:00"


@pytest.fixture
def item(plan, engine):
    sweep(plan, engine, t("2027-03-02T07:30"))
    return find_item(engine, REPORT, "VP", "2027-Q1")


@pytest.fixture
def live(plan, engine, tmp_path):
    with LiveIntake(plan, engine, tmp_path / "data", Clock(t(NOW))) as server:
        yield server


def post_files(url: str, *files: tuple[str, bytes], note: str | None = None) -> httpx.Response:
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    data = {"note": note} if note else {}
    return httpx.post(url, files=parts, data=data, follow_redirects=False, timeout=30)


def assert_nothing_stored(live, engine) -> None:
    assert deliverable_count(engine) == 0
    assert stored_files(live.data_dir) == []


# ----- the item page ------------------------------------------------------------------------


def test_item_page_shows_the_item(live, item):
    response = httpx.get(live.link(item))
    assert response.status_code == 200
    page = response.text
    assert "Báo cáo định kỳ tình hình thực hiện công tác cải cách hành chính" in page
    assert "Văn phòng HĐND và UBND xã" in page
    assert "quý I năm 2027" in page
    assert "từ 15/12/2026 đến 14/03/2027" in page  # the data window
    assert "Thứ Ba, 16/03/2027" in page
    assert "còn 04 ngày làm việc" in page  # 11, 12, 15, 16 March
    # What is expected: the product of its own period, the rows to report on, the note.
    assert "Báo cáo kết quả thực hiện công tác cải cách hành chính quý I năm 2027" in page
    assert "Nội dung báo cáo" in page and "mục I.3" in page and "mục V.2.b" in page
    assert "Lưu ý:" in page
    assert 'type="file"' in page and "multiple" in page
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_item_page_puts_the_deadline_and_the_upload_form_first(live, item):
    """On a phone the unit lands on its deadline and the form; the long contents list (34
    rows for a unit coordinating most of the annex) is folded below it."""
    page = httpx.get(live.link(item)).text
    order = [
        page.index("<h1>"),
        page.index("Hạn nộp: <strong>Thứ Ba, 16/03/2027</strong>"),
        page.index('<form method="post"'),
        page.index('<button type="submit">Nộp sản phẩm</button>'),
        page.index("Sản phẩm cần nộp"),
        page.index('<details class="contents">'),
        page.index("mục I.3"),
    ]
    assert order == sorted(order)
    assert '<details class="contents" open' not in page  # folded: one tap opens it
    assert "<summary>Nội dung báo cáo" in page


def test_item_page_counts_working_days_late(live, item):
    live.clock.at = t("2027-03-18T10:00")
    page = httpx.get(live.link(item)).text
    assert "đã quá hạn 02 ngày làm việc" in page


def test_page_is_escaped(live, plan, engine, item):
    name = "<img src=x onerror=alert(1)>.pdf"
    assert post_files(live.link(item), (name, pdf_bytes()), note="<b>x</b>").status_code == 303
    page = httpx.get(live.link(item)).text
    assert name not in page and "<b>x</b>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.pdf" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page


# ----- uploads ------------------------------------------------------------------------------


def test_a_pdf_closes_the_item_with_a_receipt(live, engine, item):
    data = pdf_bytes()
    sha = hashlib.sha256(data).hexdigest()
    response = post_files(live.link(item), ("Báo cáo quý I - VP.pdf", data), note="Kính gửi")
    assert response.status_code == 303
    receipt_url = live.base + response.headers["location"]
    assert receipt_url.startswith(live.link(item) + "/v/1")

    receipt = httpx.get(receipt_url)
    assert receipt.status_code == 200
    assert "Biên nhận sản phẩm" in receipt.text
    assert sha in receipt.text
    assert "10/03/2027 09:00:00" in receipt.text
    assert "Đúng hạn" in receipt.text

    closed = reload(engine, item.id)
    assert (closed.status, closed.on_time) == ("closed", True)
    [row] = deliverables(engine, item.id)
    assert (row.version, row.part, row.file_type, row.status) == (1, 1, "pdf", "received")
    assert (row.original_name, row.sha256, row.size) == ("Báo cáo quý I - VP.pdf", sha, len(data))
    assert (row.note, row.submitted_by, row.on_time) == ("Kính gửi", "VP", True)
    stored = live.data_dir / "deliverables" / sha[:2] / sha
    assert row.stored_path == str(stored) and stored.read_bytes() == data
    assert not list((live.data_dir / "incoming").iterdir())
    with transaction(engine) as s:
        mails = s.exec(select(Outbox).where(Outbox.item_id == item.id)).scalars().all()
        kinds = {(m.kind, m.recipient) for m in mails if m.status == "pending"}
        received = s.exec(select(Event).where(Event.kind == "received")).scalars().one()
    assert ("closed", "vanphong@maodien.example") in kinds  # the unit's receipt mail
    assert received.detail["files"][0]["sha256"] == sha


def test_every_accepted_type_is_told_by_content(live, engine, item):
    files = [
        ("bao-cao.pdf", pdf_bytes()),
        ("van-ban-cu.doc", ole_bytes("WordDocument")),
        ("ke-hoach.pdf", docx_bytes()),  # a DOCX named .pdf: its content decides
        ("so-lieu.xls", ole_bytes("Workbook")),
        ("so-lieu.xlsx", xlsx_bytes()),
        ("van-ban.odt", odf_bytes("text")),
        ("bang-tinh", odf_bytes("spreadsheet")),  # no extension at all
        ("minh-chung.zip", zip_bytes(("a.pdf", pdf_bytes("A")), ("b.xlsx", xlsx_bytes()))),
    ]
    response = post_files(live.link(item), *files)
    assert response.status_code == 303, response.text
    rows = deliverables(engine, item.id)
    assert [r.version for r in rows] == [1] * len(files)
    assert [r.part for r in rows] == list(range(1, len(files) + 1))
    assert [r.file_type for r in rows] == [
        "pdf", "doc", "docx", "xls", "xlsx", "odt", "ods", "zip",
    ]  # fmt: skip
    assert [r.original_name for r in rows] == [name for name, _ in files]


# ----- links --------------------------------------------------------------------------------


def _tampered(token: str, payload: dict) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return ".".join([body, *token.split(".")[1:]])


@pytest.mark.parametrize(
    "case", ["forged", "tampered", "expired", "other-item", "other-unit", "other-secret", "junk"]
)
def test_bad_links_are_refused_and_nothing_is_stored(case, live, plan, engine, item):
    other = find_item(engine, REPORT, "KT", "2027-Q1")
    at = live.clock.at
    good = live.link(item)
    token = good.rsplit("/", 1)[1]
    url = {
        "forged": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "tampered": f"{live.base}/items/{other.id}/" + _tampered(token, {"i": other.id, "u": "KT"}),
        "expired": live.link(item, at - timedelta(days=61)),
        "other-item": f"{live.base}/items/{other.id}/{token}",
        "other-unit": f"{live.base}/items/{item.id}/" + item_token(SECRET, item.id, "KT", at),
        "other-secret": f"{live.base}/items/{item.id}/"
        + item_token("another-secret-0123456789", item.id, "VP", at),
        "junk": f"{live.base}/items/{item.id}/not-a-token",
    }[case]
    page = httpx.get(url)
    assert page.status_code == 403
    assert "Đường liên kết không dùng được" in page.text
    if case == "expired":
        assert "hết hạn" in page.text
    response = post_files(url, ("bao-cao.pdf", pdf_bytes()))
    assert response.status_code == 403
    assert_nothing_stored(live, engine)
    assert reload(engine, item.id).status == "open"


def test_a_link_is_valid_until_it_expires(live, item):
    at = live.clock.at
    assert httpx.get(live.link(item, at - timedelta(days=59))).status_code == 200
    assert httpx.get(live.link(item, at - timedelta(days=60, seconds=1))).status_code == 403


def test_an_unknown_item_or_path(live, item):
    token = live.link(item).rsplit("/", 1)[1]
    assert httpx.get(f"{live.base}/items/abc/{token}").status_code == 404
    missing = httpx.get(f"{live.base}/nowhere")
    assert missing.status_code == 404 and "Không tìm thấy trang" in missing.text


# ----- files refused ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw_name, says",
    [
        (b"../../etc/passwd.pdf", "đường dẫn"),
        (b"..\\\\..\\\\boot.pdf", "đường dẫn"),  # backslashes, escaped as browsers do
        (b"/etc/cron.d/job.pdf", "đường dẫn"),
        (b"..", "đường dẫn"),
        (b"bao\x07cao.pdf", "ký tự điều khiển"),
        (b"bao\x1b[31mcao.pdf", "ký tự điều khiển"),
        ("hoa-don\u202efdp.exe".encode(), "ký tự điều khiển"),  # right-to-left override
    ],
)
def test_bad_file_names_are_refused(raw_name, says, live, engine, item):
    body, content_type = multipart([(raw_name, pdf_bytes())])
    response = httpx.post(live.link(item), content=body, headers={"content-type": content_type})
    assert response.status_code == 400
    assert says in response.text
    assert "Không có tệp nào được lưu" in response.text
    assert_nothing_stored(live, engine)


def test_a_windows_full_path_keeps_only_the_file_name(live, engine, item):
    """Old browsers sent C:\\...\\name: the form parser keeps the name alone."""
    body, content_type = multipart([(b"C:\\\\Users\\\\x\\\\bao-cao.pdf", pdf_bytes())])
    response = httpx.post(live.link(item), content=body, headers={"content-type": content_type})
    assert response.status_code == 303
    assert [d.original_name for d in deliverables(engine, item.id)] == ["bao-cao.pdf"]


@pytest.mark.parametrize(
    "name, data, says",
    [
        ("bao-cao.pdf", exe_bytes(), "chương trình Windows"),
        ("bao-cao.docx", elf_bytes(), "chương trình Linux"),
        ("bao-cao.pdf", b"#!/bin/sh\nrm -rf /\n", "tập lệnh"),
        ("minh-chung.zip", zip_bytes(("setup.exe", exe_bytes())), "tệp chương trình"),
        ("minh-chung.zip", zip_bytes(("readme.txt", exe_bytes())), "tệp chương trình"),
        ("minh-chung.zip", zip_bytes(("../../evil.pdf", pdf_bytes())), "đường dẫn không hợp lệ"),
        ("ke-hoach.docx", docx_bytes(macro=True), "macro"),
        ("ke-hoach.doc", ole_bytes("WordDocument", storages=("Macros",)), "macro"),
        ("cai-dat.doc", ole_bytes("\x05SummaryInformation"), "không phải văn bản Word"),
        ("trinh-chieu.odt", odf_bytes("presentation"), "chỉ nhận ODT, ODS"),
        ("anh.pdf", b"GIF89a" + bytes(64), "Định dạng tệp không được nhận"),
        ("anh.jpg", b"\xff\xd8\xff\xe0" + bytes(64), "Ảnh bị hỏng"),
        ("trang.pdf", b"<html><script>alert(1)</script></html>", "Định dạng tệp không được nhận"),
        ("hong.zip", b"PK\x03\x04" + bytes(64), "bị hỏng"),
    ],
)
def test_files_of_other_types_are_refused(name, data, says, live, engine, item):
    response = post_files(live.link(item), (name, data))
    assert response.status_code == 415
    assert says in response.text
    assert "Không có tệp nào được lưu" in response.text
    assert_nothing_stored(live, engine)


def test_one_bad_file_refuses_the_whole_upload(live, engine, item):
    response = post_files(live.link(item), ("bao-cao.pdf", pdf_bytes()), ("x.pdf", exe_bytes()))
    assert response.status_code == 415
    assert_nothing_stored(live, engine)
    assert reload(engine, item.id).status == "open"


def test_an_empty_file_or_no_file(live, engine, item):
    empty = post_files(live.link(item), ("bao-cao.pdf", b""))
    assert empty.status_code == 400 and "Tệp rỗng" in empty.text
    # A browser sends an untouched file input as a part with an empty file name.
    body, content_type = multipart([(b"", b"")], {"note": "quên chọn tệp"})
    none = httpx.post(live.link(item), content=body, headers={"content-type": content_type})
    assert none.status_code == 400 and "Chưa chọn tệp" in none.text
    assert_nothing_stored(live, engine)


def test_not_a_form(live, engine, item):
    response = httpx.post(live.link(item), json={"files": "x"})
    assert response.status_code == 400 and "biểu mẫu nộp sản phẩm" in response.text
    assert_nothing_stored(live, engine)


# ----- sizes ----------------------------------------------------------------------------------

LIMIT = 64 * 1024


@pytest.fixture
def small(plan, engine, tmp_path):
    with LiveIntake(plan, engine, tmp_path / "data", Clock(t(NOW)), max_bytes=LIMIT) as server:
        yield server


def padded_pdf(size: int) -> bytes:
    """A valid PDF of exactly `size` bytes (its text made longer)."""
    n = size - len(pdf_bytes(""))
    data = pdf_bytes("x" * n)
    data = pdf_bytes("x" * (n - (len(data) - size)))  # the stream's /Length grew digits
    assert len(data) == size
    return data


def test_a_file_of_the_limit_is_taken_one_byte_more_is_not(small, engine, item):
    assert post_files(small.link(item), ("a.pdf", padded_pdf(LIMIT))).status_code == 303
    response = post_files(small.link(item), ("b.pdf", padded_pdf(LIMIT + 1)))
    assert response.status_code == 413
    assert "Tệp quá lớn" in response.text and "64 KB" in response.text
    assert [d.size for d in deliverables(engine, item.id)] == [LIMIT]
    assert not list((small.data_dir / "incoming").iterdir())


def test_an_oversized_upload_is_refused_before_its_body_is_read(small, engine, item):
    """A declared length over the limit is answered at once: the body is never sent."""
    url = httpx.URL(small.link(item))
    head = (
        f"POST {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {10 * 1024**3}\r\n\r\n"
    )
    with socket.create_connection((url.host, url.port), timeout=10) as conn:
        conn.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(65536)
            assert chunk, "connection closed without an answer"
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413")
    assert_nothing_stored(small, engine)


def test_a_streamed_upload_without_length_is_cut_at_the_limit(small, engine, item):
    body, content_type = multipart([(b"big.pdf", padded_pdf(5 * LIMIT))])

    def chunks():  # no Content-Length: chunked transfer encoding
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    response = httpx.post(
        small.link(item), content=chunks(), headers={"content-type": content_type}
    )
    assert response.status_code == 413 and "Tệp quá lớn" in response.text
    assert_nothing_stored(small, engine)


# ----- double submits, closed and waived items -------------------------------------------------


def test_a_double_submit_makes_one_version(live, engine, item):
    data = pdf_bytes()
    first = post_files(live.link(item), ("bao-cao.pdf", data))
    second = post_files(live.link(item), ("bao-cao.pdf", data))
    assert first.status_code == second.status_code == 303
    assert second.headers["location"] == first.headers["location"] + "?lap=1"
    page = httpx.get(live.base + second.headers["location"]).text
    assert "đã được nhận trước đó" in page and "không tạo thêm phiên bản" in page
    assert [(d.version, d.part) for d in deliverables(engine, item.id)] == [(1, 1)]


def test_two_simultaneous_submits_make_one_version(live, engine, item):
    data = pdf_bytes("dong thoi")
    barrier = threading.Barrier(3)
    answers = []

    def send():
        barrier.wait()
        answers.append(post_files(live.link(item), ("bao-cao.pdf", data)).status_code)

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [303, 303, 303]
    assert [(d.version, d.part) for d in deliverables(engine, item.id)] == [(1, 1)]


def test_an_upload_to_a_closed_item_is_a_later_version(live, engine, item):
    post_files(live.link(item), ("v1.pdf", pdf_bytes("v1")))
    page = httpx.get(live.link(item)).text
    assert "Nhiệm vụ đã hoàn thành" in page and "phiên bản sau" in page
    live.clock.at = t("2027-03-20T09:00")  # after the due date
    response = post_files(live.link(item), ("v2.pdf", pdf_bytes("v2")))
    assert response.status_code == 303 and response.headers["location"].endswith("/v/2")
    after = reload(engine, item.id)
    assert (after.status, after.on_time) == ("closed", True)  # v1 decided; v2 is kept
    assert [(d.version, d.on_time) for d in deliverables(engine, item.id)] == [
        (1, True),
        (2, False),
    ]
    with transaction(engine) as s:
        steps = {o.step for o in s.exec(select(Outbox).where(Outbox.kind == "closed")).scalars()}
    assert {"closed", "closed-v2"} <= steps  # a receipt mail for each version


def test_a_waived_item_takes_no_upload(plan, live, engine, item):
    waive(plan, engine, item.id, "Đơn vị sáp nhập", t(NOW))
    page = httpx.get(live.link(item)).text
    assert "Nhiệm vụ này đã được miễn" in page and "Đơn vị sáp nhập" in page
    assert 'method="post"' not in page
    response = post_files(live.link(item), ("bao-cao.pdf", pdf_bytes()))
    assert response.status_code == 409
    assert "đã được miễn" in response.text and "Không có tệp nào được lưu" in response.text
    assert_nothing_stored(live, engine)


# ----- the standing office ----------------------------------------------------------------------


@pytest.fixture
def office(plan, engine, tmp_path):
    with LiveIntake(
        plan,
        engine,
        tmp_path / "data",
        Clock(t(NOW)),
        office_user="vhxh",
        office_password="mat-khau-thu",
    ) as server:
        yield server


def office_token_of(server) -> str:
    return httpx.URL(server.office()).params["t"]


def test_the_office_page_needs_its_own_credentials(office, item):
    url = f"{office.base}/office"
    anonymous = httpx.get(url)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(url, auth=("vhxh", "sai")).status_code == 401
    unit_token = office.link(item).rsplit("/", 1)[1]
    assert httpx.get(url, params={"t": unit_token}).status_code == 403  # a unit's link
    assert httpx.get(url, params={"t": "junk"}).status_code == 403
    by_password = httpx.get(url, auth=("vhxh", "mat-khau-thu"))
    by_link = httpx.get(office.office())
    for page in (by_password, by_link):
        assert page.status_code == 200
        assert "Xem xét sản phẩm của các đơn vị" in page.text
        assert "Văn phòng HĐND và UBND xã" in page.text and f"#{item.id}" in page.text


def test_the_office_accepts_or_returns_a_version(office, plan, engine, item):
    data = pdf_bytes("v1")
    post_files(office.link(item), ("bao-cao-v1.pdf", data), note="Bản đầu")
    token = office_token_of(office)
    listing = httpx.get(
        f"{office.base}/office", params={"t": token, "status": "review", "unit": "VP"}
    ).text
    assert "Phiên bản 1" in listing and "Chấp nhận" in listing and "bao-cao-v1.pdf" in listing

    [row] = deliverables(engine, item.id)
    download = httpx.get(f"{office.base}/office/files/{row.id}", params={"t": token})
    assert download.status_code == 200 and download.content == data
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("attachment;")
    unit_token = office.link(item).rsplit("/", 1)[1]
    assert (
        httpx.get(f"{office.base}/office/files/{row.id}", params={"t": unit_token}).status_code
        == 403
    )

    accept = f"{office.base}/office/items/{item.id}/versions/1/accept"
    give_back = f"{office.base}/office/items/{item.id}/versions/1/return"
    # Basic auth alone changes nothing: the form must carry the office token (no cross-site post).
    csrf = httpx.post(accept, data={}, auth=("vhxh", "mat-khau-thu"))
    assert csrf.status_code == 403
    no_reason = httpx.post(give_back, data={"t": token, "reason": " ", "due": "2027-03-23"})
    assert no_reason.status_code == 409 and "lý do" in no_reason.text
    past = httpx.post(give_back, data={"t": token, "reason": "Thiếu", "due": "2027-03-01"})
    assert past.status_code == 409 and "đã qua" in past.text
    assert deliverables(engine, item.id)[0].status == "received"

    returned = httpx.post(
        give_back, data={"t": token, "reason": "Thiếu số liệu phụ lục", "due": "2027-03-23"}
    )
    assert returned.status_code == 200 and "Đã trả lại phiên bản 1" in returned.text
    reopened = reload(engine, item.id)
    assert (reopened.status, reopened.due.isoformat(), reopened.on_time) == (
        "open",
        "2027-03-23",
        True,  # v1 arrived on time: a return keeps the verdict
    )
    [row] = deliverables(engine, item.id)
    assert (row.status, row.review_note) == ("returned", "Thiếu số liệu phụ lục")
    with transaction(engine) as s:
        query = select(Outbox).where(Outbox.kind == "returned", Outbox.addressed_to.is_(None))
        mail = s.exec(query).scalars().one()  # (the office's copy has a row of its own)
    assert mail.recipient == "vanphong@maodien.example" and mail.status == "pending"
    page = httpx.get(office.link(item)).text
    assert "Bị trả lại" in page and "Thiếu số liệu phụ lục" in page and "23/03/2027" in page

    office.clock.at = t("2027-03-19T10:00")  # after the first due date, before the new one
    post_files(office.link(item), ("bao-cao-v2.pdf", pdf_bytes("v2")))
    assert reload(engine, item.id).status == "closed"
    accepted = httpx.post(
        f"{office.base}/office/items/{item.id}/versions/2/accept", data={"t": token}
    )
    assert accepted.status_code == 200 and "Đã chấp nhận phiên bản 2" in accepted.text
    done = reload(engine, item.id)
    assert (done.status, done.on_time) == ("closed", True)  # v1's verdict, kept
    assert [d.status for d in deliverables(engine, item.id)] == ["returned", "accepted"]
    again = httpx.post(f"{office.base}/office/items/{item.id}/versions/2/accept", data={"t": token})
    assert again.status_code == 409 and "đã được chấp nhận" in again.text


def test_office_forms_are_small(office, item):
    token = office_token_of(office)
    response = httpx.post(
        f"{office.base}/office/items/{item.id}/versions/1/accept",
        data={"t": token, "reason": "x" * 100_000},
    )
    assert response.status_code == 413
