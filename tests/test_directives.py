"""Directives (văn bản chỉ đạo) on real databases (a SQLite file and PostgreSQL), their mails
through a real SMTP server: one directive tasks several units, several directives task one unit
on one day, the mails say what an office writes, the file goes with them."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from office_support import CA, KT, OFFICE, TTPVHCC, VP, events, reload, steps, t
from sqlalchemy import select
from test_mail_support import mail_settings, running_smtp_server

from models.db import transaction
from models.tables import Directive, WorkItem
from notifications.compose import Composer
from notifications.delivery import deliver_pending
from notifications.render import check_renders
from notifications.samples import sample_contexts
from schedules.documents import clean_doc_number, directive_basis, document_kind
from usecases.directives import (
    IssueDirective,
    directive_items,
    issue_directive,
    list_directives,
)
from usecases.errors import UserError
from usecases.item_list import directive_numbers
from usecases.review import IncomingFile, contribute, submit

AT = "2027-03-18T09:00"
SNV = IssueDirective(
    number="125/SNV-CCHC",
    issued_on=date(2027, 3, 18),
    issuer="Sở Nội vụ",
    subject="V/v báo cáo kết quả cấp tài khoản định danh điện tử",
    due=date(2027, 3, 29),
    units=("CA", "KT", "VP"),
    coordinators=("TTPVHCC",),
    task="Báo cáo kết quả cấp tài khoản định danh điện tử mức độ 2 trên địa bàn",
    product="Báo cáo kết quả (bản có chữ ký số)",
)
UBND = IssueDirective(
    number="37/UBND-VP",
    issued_on=date(2027, 3, 18),
    issuer="UBND xã",
    subject="về việc rà soát thủ tục hành chính",
    due=date(2027, 3, 29),
    units=("CA",),
)


def test_one_directive_tasks_three_units_and_a_second_one_the_same_unit(plan, engine):
    first = issue_directive(plan, engine, SNV, t(AT))
    second = issue_directive(plan, engine, UBND, t("2027-03-18T10:30"))
    assert [i.unit for i in first.items] == ["CA", "KT", "VP"]
    [again] = second.items  # same unit, same due date: a second item, not "đã có nhiệm vụ này"
    assert again.unit == "CA" and again.due == first.items[0].due
    assert {i.period for i in first.items} == {f"vb-{first.directive.id}"}
    assert again.period == f"vb-{second.directive.id}" != first.items[0].period
    ca = first.items[0]
    assert (ca.title, ca.due, ca.original_due, ca.adhoc) == (SNV.task, date(2027, 3, 29),
                                                            date(2027, 3, 29), True)  # fmt: skip
    assert (ca.status, ca.step, ca.directive_id) == ("open", "opened", first.directive.id)
    assert again.title == UBND.subject  # no task given: the subject names it
    ids = [i.id for i in (*first.items, again)]
    assert directive_numbers(engine, ids) == {
        **{i.id: "125/SNV-CCHC" for i in first.items},
        again.id: "37/UBND-VP",
    }
    assert [d.number for d in list_directives(plan, engine, 2027)] == [
        "37/UBND-VP",
        "125/SNV-CCHC",
    ]
    assert [i.unit for i in directive_items(engine, first.directive.id)] == ["CA", "KT", "VP"]
    [opened] = events(engine, ca.id, "opened")
    assert opened.detail["directive"] == {"id": first.directive.id, "number": "125/SNV-CCHC"}
    # Each lead unit hears of its item, the coordinating unit of each item's request for inputs.
    assert steps(engine, ca.id) == [("opened", CA), ("opened", TTPVHCC)]
    assert steps(engine, first.items[1].id) == [("opened", KT), ("opened", TTPVHCC)]
    assert steps(engine, again.id) == [("opened", CA)]


def test_a_plan_item_has_no_directive(plan, engine):
    from usecases.sweep import sweep

    sweep(plan, engine, t("2027-03-02T07:30"))
    with transaction(engine) as s:
        ids = list(s.execute(select(WorkItem.id)).scalars())
    assert ids and directive_numbers(engine, ids) == {}


def test_a_due_date_on_a_day_off_moves_to_the_next_working_day(plan, engine):
    saturday = replace(SNV, due=date(2027, 3, 27), units=("KT",))
    [item] = issue_directive(plan, engine, saturday, t(AT)).items
    assert (item.nominal_due, item.due, item.original_due) == (
        date(2027, 3, 27),
        date(2027, 3, 29),
        date(2027, 3, 29),
    )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"number": "abc"}, "ví dụ 125/SNV-CCHC"),
        ({"number": " "}, "Cần nhập số, ký hiệu"),
        ({"issued_on": date(2027, 3, 19)}, "chưa đến"),
        ({"issued_on": date(1, 1, 1)}, "không hợp lệ"),
        ({"due": date(2027, 3, 17)}, "đã qua"),
        ({"issuer": "  \x00 "}, "cơ quan ban hành"),
        ({"subject": ""}, "trích yếu"),
        ({"units": ()}, "đơn vị chủ trì"),
        ({"units": ("XX",)}, "không tồn tại: XX"),
        ({"coordinators": ("YY",)}, "--coordinator"),
        ({"obligation": "bao-cao-cchc-dinh-ky"}, "không phải nhiệm vụ đột xuất"),
    ],
)
def test_what_cannot_be_true_is_refused(plan, engine, change, message):
    with pytest.raises(UserError, match=message):
        issue_directive(plan, engine, replace(SNV, **change), t(AT))
    with transaction(engine) as s:
        assert s.execute(select(Directive)).first() is None
        assert s.execute(select(WorkItem)).first() is None


def test_the_same_document_twice_is_refused(plan, engine):
    issue_directive(plan, engine, SNV, t(AT))
    spaced = replace(SNV, number="125 / SNV - CCHC")
    with pytest.raises(UserError, match="Đã ghi nhận Công văn số 125/SNV-CCHC ngày 18/03/2027"):
        issue_directive(plan, engine, spaced, t("2027-03-18T11:00"))


def test_the_file_is_stored_like_a_deliverable(plan, engine, tmp_path):
    scan = tmp_path / "cv-125.pdf"
    scan.write_bytes(b"%PDF-1.7 cong van 125")
    command = replace(SNV, file=IncomingFile("CV 125.pdf", scan, "pdf"))
    directive = issue_directive(plan, engine, command, t(AT), data_dir=tmp_path / "data").directive
    digest = hashlib.sha256(scan.read_bytes()).hexdigest()
    assert (directive.file_name, directive.file_size, directive.file_sha256) == (
        "CV 125.pdf",
        len(scan.read_bytes()),
        digest,
    )
    stored = Path(directive.file_path)
    assert stored == tmp_path / "data" / "deliverables" / digest[:2] / digest
    assert stored.read_bytes() == scan.read_bytes()


def test_the_coordinating_unit_of_a_directive_may_contribute(plan, engine, tmp_path):
    [ca, *_] = issue_directive(plan, engine, SNV, t(AT)).items
    note = tmp_path / "so-lieu.pdf"
    note.write_bytes(b"%PDF-1.7 so lieu")
    [row] = contribute(
        plan, engine, tmp_path / "d", ca.id, "TTPVHCC", [IncomingFile("so-lieu.pdf", note)], t(AT)
    )
    assert row.unit == "TTPVHCC"
    with pytest.raises(UserError, match="không phối hợp"):
        contribute(
            plan, engine, tmp_path / "d", ca.id, "MTTQ", [IncomingFile("x.pdf", note)], t(AT)
        )


def test_a_directive_item_closes_like_any_item(plan, engine, tmp_path):
    [ca, *_] = issue_directive(plan, engine, SNV, t(AT)).items
    report = tmp_path / "bc.pdf"
    report.write_bytes(b"%PDF-1.7 bao cao")
    done = submit(
        plan, engine, tmp_path / "d", ca.id, "CA", [IncomingFile("bc.pdf", report)],
        t("2027-03-29T16:00"),
    )  # fmt: skip
    assert done.closed_item and reload(engine, ca.id).on_time is True


# ----- pure rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number, kind",
    [
        ("125/SNV-CCHC", "Công văn"),
        ("84/KH-UBND", "Kế hoạch"),
        ("12/BC-CAX", "Báo cáo"),
        ("1234/QĐ-UBND", "Quyết định"),
        ("05/2024/TT-BNV", "Thông tư"),
        ("17/UBND", "Văn bản"),
    ],
)
def test_the_kind_of_document_is_read_from_its_symbol(number, kind):
    assert document_kind(clean_doc_number(number)) == kind


def test_the_basis_reads_as_an_office_writes_it():
    assert directive_basis("125/SNV-CCHC", date(2027, 3, 18), "Sở Nội vụ", "V/v báo cáo X") == (
        "Công văn số 125/SNV-CCHC ngày 18/03/2027 của Sở Nội vụ về việc báo cáo X"
    )
    assert directive_basis("9/TB-UBND", date(2027, 1, 5), "UBND xã", "Lịch tiếp dân") == (
        "Thông báo số 9/TB-UBND ngày 05/01/2027 của UBND xã về lịch tiếp dân"
    )


# ----- mails ----------------------------------------------------------------------------------


def test_the_mails_say_what_an_office_writes_and_carry_the_file(plan, sqlite_url, tmp_path):
    from models.db import ensure_schema, make_engine

    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    scan = tmp_path / "cv-125.pdf"
    scan.write_bytes(b"%PDF-1.7 cong van 125")
    command = replace(SNV, file=IncomingFile("CV-125.pdf", scan, "pdf"))
    issued = issue_directive(plan, engine, command, t(AT), data_dir=tmp_path / "data")
    with running_smtp_server() as smtp:
        settings = mail_settings(plan.folder, tmp_path, sqlite_url, smtp.port)
        deliver_pending(plan, engine, settings, t("2027-03-18T09:01"))
        inbox = smtp.inbox
    ca = issued.items[0]
    [opened] = [m for m in inbox.for_item(ca.id) if m.kind == "opened"]
    assert opened.rcpt_tos == [CA]
    assert opened.header("Subject").startswith(
        "[CCHC] Công an xã, hạn 29/03/2027 – Thực hiện Công văn số 125/SNV-CCHC: Báo cáo kết quả"
    )
    text = " ".join(opened.text.split())
    assert (
        "Thực hiện Công văn số 125/SNV-CCHC ngày 18/03/2027 của Sở Nội vụ về việc báo cáo kết quả "
        "cấp tài khoản định danh điện tử, Phòng Văn hóa - Xã hội đề nghị Công an xã báo cáo kết "
        "quả cấp tài khoản định danh điện tử mức độ 2 trên địa bàn, gửi báo cáo kết quả (bản có "
        "chữ ký số) về Phòng Văn hóa - Xã hội trước ngày 29/03/2027." in text
    )
    assert "Nhiệm vụ CCHC đột xuất" not in text and "theo yêu cầu của văn bản chỉ đạo" not in text
    assert "Sản phẩm cần nộp: Báo cáo kết quả (bản có chữ ký số)" in text
    assert "Đơn vị phối hợp: Trung tâm Phục vụ hành chính công" in text
    assert "Tệp văn bản: CV-125.pdf" in text
    assert "Thực hiện Công văn số 125/SNV-CCHC" in opened.html
    [attached] = [p for p in opened.msg.iter_attachments() if p.get_filename() == "CV-125.pdf"]
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_content() == scan.read_bytes()
    [asked] = [m for m in inbox.for_item(ca.id) if m.kind == "coordinate"]
    assert asked.rcpt_tos == [TTPVHCC]
    assert "Thực hiện Công văn số 125/SNV-CCHC ngày 18/03/2027 của Sở Nội vụ" in asked.text
    assert any(p.get_filename() == "CV-125.pdf" for p in asked.msg.iter_attachments())
    assert {m.rcpt_tos[0] for m in inbox.messages if m.kind == "opened"} == {CA, KT, VP}
    assert OFFICE not in {r for m in inbox.messages for r in m.rcpt_tos}


def test_the_office_own_directive_item_is_not_asked_by_itself(plan, engine):
    from notifications.item_view import item_view

    [own] = issue_directive(plan, engine, replace(SNV, units=("VHXH",)), t(AT)).items
    with transaction(engine) as s:
        directive = s.get(Directive, own.directive_id)
    view = item_view(plan, own, date(2027, 3, 18), directive)
    assert "đề nghị Phòng Văn hóa - Xã hội" not in view.directive.request
    assert view.directive.request.endswith("trước ngày 29/03/2027.")
    assert view.ref == "Công văn số 125/SNV-CCHC ngày 18/03/2027 của Sở Nội vụ"


def test_cchc_check_renders_every_directive_and_extension_branch(plan):
    composer = Composer(plan)
    samples = sample_contexts(composer, t("2027-03-02T07:30"))
    kinds = [kind for kind, _ in samples]
    assert kinds.count("extension") == 3
    directive = [c for k, c in samples if k == "opened" and c["item"].directive]
    assert (
        directive and "Thực hiện Công văn số 125/SNV-CCHC" in directive[0]["item"].directive.request
    )
    assert check_renders(composer.renderer, samples) == []
