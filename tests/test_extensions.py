"""Extensions (gia hạn) on real databases (a SQLite file and PostgreSQL), their mails through a
real SMTP server: a unit's request, its refusal or grant, a grant of the office's own; the due
date moves off a day off, the reminders and escalations run to the new date, the original due
date is kept and the verdict says "đúng hạn (được gia hạn)"."""

from __future__ import annotations

from datetime import date, time

import pytest
from office_support import KT, OFFICE, TTPVHCC, events, outbox, reload, steps, t
from support import find_item
from test_mail_support import mail_settings, running_smtp_server

from notifications.delivery import deliver_pending
from notifications.outbox import list_outbox
from schedules.dates import local_instant
from schedules.timeliness import Verdict, timeliness_label, verdict
from usecases.directives import IssueDirective, issue_directive
from usecases.errors import UserError
from usecases.extensions import (
    GrantExtension,
    RefuseExtension,
    RequestExtension,
    extensions_of,
    grant_extension,
    pending_requests,
    refuse_extension,
    request_extension,
)
from usecases.lifecycle import return_deliverable, waive
from usecases.reporting import year_report
from usecases.review import attach
from usecases.sweep import SweepReport, advance_items, sweep

REPORT = "bao-cao-cchc-dinh-ky"
# KT's Q1 2027 report: opens 02/03, reminders 09/03 and 12/03, due Tuesday 16/03/2027, overdue
# from 17/03, escalation to the head 17/03, to the leader in charge 18/03.


@pytest.fixture
def kt(plan, engine):
    sweep(plan, engine, t("2027-03-02T07:30"))
    return find_item(engine, REPORT, "KT", "2027-Q1")


def kt_row(plan, engine, at: str):
    return next(r for r in year_report(plan, engine, 2027, t(at)) if r.unit == "KT")


def test_a_grant_of_the_office_moves_the_due_date_and_the_reminders(plan, engine, kt, tmp_path):
    for at in ("2027-03-09T07:30", "2027-03-12T07:30"):
        sweep(plan, engine, t(at))
    # Saturday 27/03 → Monday 29/03, as any due date.
    granted = grant_extension(
        plan,
        engine,
        GrantExtension(kt.id, date(2027, 3, 27), "Chờ số liệu quyết toán"),
        t("2027-03-12T10:00"),
    )
    item = granted.item
    assert (item.due, item.nominal_due, item.original_due) == (
        date(2027, 3, 29),
        date(2027, 3, 27),
        date(2027, 3, 16),
    )
    assert (item.status, item.step, item.escalation_level) == ("open", "opened", 0)
    assert item.next_action_at == local_instant(date(2027, 3, 22), time(7, 30), plan.zone)
    ext = granted.extension
    assert (ext.seq, ext.status, ext.requested_by, ext.previous_due, ext.granted_due) == (
        1,
        "granted",
        None,
        date(2027, 3, 16),
        date(2027, 3, 29),
    )
    [event] = events(engine, kt.id, "extension_granted")
    assert (event.detail["previous_due"], event.detail["due"]) == ("2027-03-16", "2027-03-29")
    assert event.detail["reason"] == "Chờ số liệu quyết toán" and event.actor == "standing_office"
    assert steps(engine, kt.id) == [
        ("opened#1", KT),
        ("reminder-5#1", KT),
        ("reminder-2#1", KT),
        ("extended-1", KT),
    ]
    [mail] = [o for o in outbox(engine, kt.id) if o.step == "extended-1"]
    assert (mail.kind, mail.cc) == ("extension", [OFFICE])

    # The old date passes in silence; the new one is reminded of.
    for at in ("2027-03-16T07:30", "2027-03-17T07:30", "2027-03-18T07:30"):
        sweep(plan, engine, t(at))
    assert [s for s, _ in steps(engine, kt.id)][4:] == []
    sweep(plan, engine, t("2027-03-22T07:30"))
    assert steps(engine, kt.id)[4:] == [("reminder-5", KT)]

    report = tmp_path / "bc.pdf"
    report.write_bytes(b"%PDF-1.7 bao cao quy I")
    attach(plan, engine, tmp_path / "data", kt.id, report, t("2027-03-26T10:00"), by="KT")
    done = reload(engine, kt.id)
    assert (done.status, done.on_time, done.judged_due) == ("closed", True, date(2027, 3, 29))
    assert verdict(done) == Verdict.ON_TIME_EXTENDED
    assert timeliness_label(done, date(2027, 3, 26)) == "đúng hạn (được gia hạn)"
    row = kt_row(plan, engine, "2027-03-31T12:00")
    assert (row.on_time, row.on_time_extended, row.late, row.overdue_open) == (0, 1, 0, 0)
    assert row.on_time_rate == 1.0


def test_a_request_is_recorded_told_to_the_office_then_refused(plan, engine, kt):
    asked = request_extension(
        plan,
        engine,
        RequestExtension(kt.id, "KT", date(2027, 3, 23), "Chờ số liệu của Kho bạc"),
        t("2027-03-10T09:00"),
    ).extension
    assert (asked.seq, asked.status, asked.requested_by, asked.proposed_due) == (
        1,
        "pending",
        "KT",
        date(2027, 3, 23),
    )
    assert [(e.id, i.id) for e, i in pending_requests(plan, engine)] == [(asked.id, kt.id)]
    assert ("requested-1", OFFICE) in steps(engine, kt.id)
    [event] = events(engine, kt.id, "extension_requested")
    assert event.actor == "KT" and event.detail["until"] == "2027-03-23"
    with pytest.raises(UserError, match="đang chờ"):
        request_extension(
            plan,
            engine,
            RequestExtension(kt.id, "KT", date(2027, 3, 24), "Lần nữa"),
            t("2027-03-10T10:00"),
        )

    refused = refuse_extension(
        plan, engine, RefuseExtension(kt.id, "Hạn báo cáo Sở Nội vụ không lùi được"),
        t("2027-03-11T09:00"),
    )  # fmt: skip
    assert refused.extension.status == "refused"
    assert refused.extension.decision_note == "Hạn báo cáo Sở Nội vụ không lùi được"
    assert (refused.item.due, refused.item.step) == (date(2027, 3, 16), "opened")
    [mail] = [o for o in outbox(engine, kt.id) if o.step == "refused-1"]
    assert (mail.recipient, mail.cc) == (KT, [OFFICE])
    assert pending_requests(plan, engine) == []
    with pytest.raises(UserError, match="không có đề nghị gia hạn nào đang chờ"):
        refuse_extension(plan, engine, RefuseExtension(kt.id, "x"), t("2027-03-11T10:00"))
    again = request_extension(
        plan,
        engine,
        RequestExtension(kt.id, "KT", date(2027, 3, 19), "Xin ba ngày"),
        t("2027-03-12T09:00"),
    )
    assert again.extension.seq == 2
    assert [e.status for e in extensions_of(engine, kt.id)] == ["refused", "pending"]
    assert [e.kind for e in events(engine, kt.id)][-3:] == [
        "extension_requested",
        "extension_refused",
        "extension_requested",
    ]


def test_a_grant_settles_the_pending_request(plan, engine, kt):
    request_extension(
        plan, engine, RequestExtension(kt.id, "KT", date(2027, 3, 23), "Chờ số liệu"),
        t("2027-03-10T09:00"),
    )  # fmt: skip
    granted = grant_extension(
        plan, engine, GrantExtension(kt.id, date(2027, 3, 23), "Đồng ý"), t("2027-03-11T09:00")
    )
    assert [(e.seq, e.status, e.requested_by) for e in extensions_of(engine, kt.id)] == [
        (1, "granted", "KT")
    ]
    assert granted.item.due == date(2027, 3, 23) and pending_requests(plan, engine) == []
    assert events(engine, kt.id, "extension_granted")[0].detail["requested"] is True


def test_an_escalated_item_extended_is_in_time_again(plan, engine, kt):
    sweep(plan, engine, t("2027-03-17T14:00"))  # escalations go out at 14:00
    assert reload(engine, kt.id).status == "escalated"
    [escalation] = [o for o in outbox(engine, kt.id) if o.step == "escalation-1"]
    assert escalation.status == "pending"
    granted = grant_extension(
        plan, engine, GrantExtension(kt.id, date(2027, 3, 24), "Sự cố hệ thống"),
        t("2027-03-17T15:00"),
    )  # fmt: skip
    item = granted.item
    # 24/03: its reminder-5 (17/03 07:30) has passed: no mail for it; reminder-2 on 22/03.
    assert (item.status, item.step, item.escalation_level) == ("open", "reminder-5", 0)
    cancelled = [o for o in outbox(engine, kt.id, copies=True) if o.step == "escalation-1#1"]
    assert cancelled and {o.status for o in cancelled} == {"cancelled"}
    sweep(plan, engine, t("2027-03-18T07:30"))
    assert reload(engine, kt.id).status == "open"
    sweep(plan, engine, t("2027-03-22T07:30"))
    assert steps(engine, kt.id)[-1] == ("reminder-2", KT)


@pytest.mark.parametrize(
    "command, at, message",
    [
        (RequestExtension(0, "VP", date(2027, 3, 23), "x"), "2027-03-10", "không phải của"),
        (RequestExtension(0, "KT", date(2027, 3, 23), "x"), "2027-03-17T00:00", "đã qua"),
        (RequestExtension(0, "KT", date(2027, 3, 16), "x"), "2027-03-10", "phải sau hạn"),
        (RequestExtension(0, "KT", date(2027, 3, 23), " \x00 "), "2027-03-10", "lý do"),
        (GrantExtension(0, date(2027, 3, 14), "x"), "2027-03-10", "phải sau hạn"),
        (GrantExtension(0, date(2027, 3, 9), "x"), "2027-03-10", "đã qua"),
        (GrantExtension(0, date(2027, 3, 23), ""), "2027-03-10", "lý do"),
    ],
)
def test_what_cannot_be_true_is_refused(plan, engine, kt, command, at, message):
    command = type(command)(**{**command.__dict__, "item_id": kt.id})
    use = request_extension if isinstance(command, RequestExtension) else grant_extension
    with pytest.raises(UserError, match=message):
        use(plan, engine, command, t(at))
    assert extensions_of(engine, kt.id) == [] and reload(engine, kt.id).due == date(2027, 3, 16)


def test_a_closed_or_waived_item_takes_no_extension(plan, engine, kt, tmp_path):
    report = tmp_path / "bc.pdf"
    report.write_bytes(b"%PDF-1.7 bc")
    attach(plan, engine, tmp_path / "d", kt.id, report, t("2027-03-15T10:00"), by="KT")
    with pytest.raises(UserError, match="đã nhận sản phẩm"):
        grant_extension(
            plan, engine, GrantExtension(kt.id, date(2027, 3, 23), "x"), t("2027-03-15")
        )
    vp = find_item(engine, REPORT, "VP", "2027-Q1")
    waive(plan, engine, vp.id, "Không phát sinh", t("2027-03-05T09:00"))
    with pytest.raises(UserError, match="miễn"):
        grant_extension(
            plan, engine, GrantExtension(vp.id, date(2027, 3, 23), "x"), t("2027-03-05")
        )


def test_a_return_after_an_extension_starts_a_round_of_its_own(plan, engine, kt, tmp_path):
    grant_extension(
        plan, engine, GrantExtension(kt.id, date(2027, 3, 23), "Đồng ý"), t("2027-03-10T09:00")
    )
    report = tmp_path / "bc.pdf"
    report.write_bytes(b"%PDF-1.7 bc")
    attach(plan, engine, tmp_path / "d", kt.id, report, t("2027-03-19T10:00"), by="KT")
    returned = return_deliverable(
        plan, engine, kt.id, "Thiếu phụ lục", date(2027, 3, 26), t("2027-03-22T09:00")
    )
    assert (returned.due, returned.original_due, returned.on_time) == (
        date(2027, 3, 26),
        date(2027, 3, 16),
        True,
    )
    assert verdict(returned) == Verdict.ON_TIME_EXTENDED
    names = [s for s, _ in steps(engine, kt.id)]
    assert "extended-1#2" in names and "returned-1" in names and "opened#1" in names
    rows = list_outbox(plan, engine, item_id=kt.id)
    ids = [row["message_id"] for row in rows if row["addressed_to"] is None]  # a copy: its To's
    assert len(ids) == len(set(ids))


# ----- mails ----------------------------------------------------------------------------------


def test_the_unit_and_those_copied_hear_of_each_step(plan, sqlite_url, tmp_path):
    from models.db import ensure_schema, make_engine

    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    directive = IssueDirective(
        number="125/SNV-CCHC",
        issued_on=date(2027, 3, 18),
        issuer="Sở Nội vụ",
        subject="báo cáo kết quả thu ngân sách",
        due=date(2027, 3, 29),
        units=("KT", "VP"),
        coordinators=("TTPVHCC",),
    )
    kt_item, vp_item = issue_directive(plan, engine, directive, t("2027-03-18T09:00")).items
    with running_smtp_server() as smtp:
        settings = mail_settings(plan.folder, tmp_path, sqlite_url, smtp.port)
        deliver_pending(plan, engine, settings, t("2027-03-18T09:01"))
        request_extension(
            plan,
            engine,
            RequestExtension(kt_item.id, "KT", date(2027, 4, 2), "Chờ số liệu của Kho bạc"),
            t("2027-03-19T09:00"),
        )
        deliver_pending(plan, engine, settings, t("2027-03-19T09:01"))
        grant_extension(
            plan,
            engine,
            GrantExtension(kt_item.id, date(2027, 4, 2), "Đồng ý theo đề nghị"),
            t("2027-03-19T14:00"),
        )
        request_extension(
            plan,
            engine,
            RequestExtension(vp_item.id, "VP", date(2027, 4, 2), "Nhiều việc"),
            t("2027-03-19T09:30"),
        )
        refuse_extension(
            plan,
            engine,
            RefuseExtension(vp_item.id, "Hạn của Sở Nội vụ không lùi được"),
            t("2027-03-19T14:05"),
        )
        deliver_pending(plan, engine, settings, t("2027-03-19T14:10"))
        # The new date's reminders: 5 working days before Friday 02/04 is Friday 26/03.
        advance_items([plan], engine, t("2027-03-26T07:30"), SweepReport(t("2027-03-26T07:30")))
        deliver_pending(plan, engine, settings, t("2027-03-26T07:31"))
        inbox = smtp.inbox

    asked = [m for m in inbox.for_item(kt_item.id) if m.header("Subject").startswith(
        "[CCHC] Đề nghị gia hạn")]  # fmt: skip
    [asked] = asked
    assert asked.rcpt_tos == [OFFICE] and "Lý do: Chờ số liệu của Kho bạc" in asked.text
    [granted] = [m for m in inbox.for_item(kt_item.id) if "Gia hạn:" in m.header("Subject")]
    assert granted.rcpt_tos == [KT, OFFICE, TTPVHCC]
    assert "hạn nộp mới 02/04/2027" in granted.header("Subject")
    text = " ".join(granted.text.split())
    assert "được gia hạn theo đề nghị của đơn vị" in text
    assert "Hạn nộp mới: Thứ Sáu, ngày 02/04/2027" in text
    assert "hạn trước khi gia hạn: 29/03/2027" in text
    assert "Lý do gia hạn: Đồng ý theo đề nghị" in text
    assert "Hạn ban đầu: 29/03/2027" in text
    [refused] = [m for m in inbox.for_item(vp_item.id) if "Không gia hạn" in m.header("Subject")]
    assert refused.rcpt_tos[0] == "vanphong@maodien.example" and OFFICE in refused.rcpt_tos
    text = " ".join(refused.text.split())
    assert "không được chấp thuận" in text and "Hạn của Sở Nội vụ không lùi được" in text
    assert "Hạn nộp vẫn là Thứ Hai, ngày 29/03/2027" in text
    [reminder] = [m for m in inbox.for_item(kt_item.id) if m.kind == "reminder"]
    assert "hạn 02/04/2027" in reminder.header("Subject")
    ids = [m.msg["Message-ID"] for m in inbox.messages]
    assert len(ids) == len(set(ids))
