"""Mail delivery against a real SMTP server on loopback, on a real SQLite file and a real
PostgreSQL: a quarter simulated sweep by sweep, closing, repeats, outages, 4xx and 5xx answers,
crashes and racing deliverers. Messages are asserted as received and decoded."""

from __future__ import annotations

import threading
from datetime import date, time, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select, update
from support import live_since_start
from test_mail_support import (
    later,
    mail_settings,
    morning,
    plan_from_march,
    sweep_and_send,
)

from models.db import transaction
from models.tables import Event, Outbox, WorkItem
from notifications.claims import claim
from notifications.delivery import deliver_pending
from notifications.delivery_report import DeliveryReport
from notifications.message import message_id
from notifications.outbox import list_outbox
from notifications.smtp import SmtpTransport
from schedules.dates import local_instant
from schedules.plan_loader import load_plan
from usecases.item_list import failed_counts
from usecases.lifecycle import return_deliverable
from usecases.review import attach
from usecases.sweep import sweep

OB = "bao-cao-cchc-dinh-ky"
UNIT = "KT"
KT = "kinhte@maodien.example"
HEAD = "truongphong.kt@maodien.example"
OFFICE = "vhxh@maodien.example"
LEADERS = {"chutich@maodien.example", "pct.vhxh@maodien.example"}


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    """The shipped plan, but starting on 01/03/2027: a test's first sweep has no backlog of
    earlier items to mail about, so each test sends a handful of mails, not fifty."""
    return plan_from_march(tmp_path_factory.mktemp("mail") / "config")


@pytest.fixture
def quarter(plan):
    """KT's Q1 2027 report: opens 02/03, reminders 09/03 and 12/03, due Tuesday 16/03/2027,
    escalations 18/03 (head) and 23/03 (leadership)."""
    occ = plan.occurrences(date(2027, 3, 1), date(2027, 3, 31), obligation=OB, unit=UNIT)[0]
    assert occ.due.due == date(2027, 3, 16)
    return occ


@pytest.fixture
def settings(plan, tmp_path, smtp):
    return mail_settings(plan.folder, tmp_path, "sqlite://", smtp.port)


def item_id_of(engine, period: str = "2027-Q1", unit: str = UNIT, obligation: str = OB) -> int:
    with transaction(engine) as session:
        return session.execute(
            select(WorkItem.id).where(
                WorkItem.obligation == obligation, WorkItem.unit == unit, WorkItem.period == period
            )
        ).scalar_one()


def rows_of(engine, item_id: int) -> list[Outbox]:
    with transaction(engine) as session:
        query = select(Outbox).where(Outbox.item_id == item_id).order_by(Outbox.id)
        return list(session.execute(query).scalars())


def test_quarter_sweep_by_sweep(plan, engine, settings, smtp, quarter):
    inbox = smtp.inbox
    cal = plan.calendar
    due = quarter.due.due
    days = {
        "opened": quarter.opens,
        "reminder-5": cal.add_working_days(due, -5),
        "reminder-2": cal.add_working_days(due, -2),
        "due": due,
        # The due date has ended; the ladder ends by the consolidated report's due date.
        "overdue": cal.add_working_days(due, 1),
        "escalation-1": cal.add_working_days(due, 1),
        "escalation-2": cal.add_working_days(due, 2),
    }
    seen: dict[str, list] = {}
    item = None
    for step, day in days.items():
        before = len(inbox.messages)
        at = morning(plan, day)
        if step == "overdue":  # after midnight, before the day's escalation
            at = local_instant(day, time(0, 30), plan.zone)
        elif step.startswith("escalation"):  # escalations go out at 14:00 (`escalation_time`)
            at = morning(plan, day, hour=14)
        report = sweep_and_send(plan, engine, settings, at)
        assert not report.failed and not report.retrying
        assert report.messages == len(inbox.messages) - before
        item = item or item_id_of(engine)
        seen[step] = [m for m in inbox.messages[before:] if item in m.items]

    assert [len(seen[s]) for s in days] == [1, 1, 1, 1, 1, 1, 1]
    kinds = [m.kind for s in days for m in seen[s]]
    # Every unit late escalates to the leader in charge the same morning: one digest for all.
    assert kinds == ["opened", "reminder", "reminder", "due", "overdue", "escalation", "digest"]

    opened = seen["opened"][0]
    assert opened.rcpt_tos == [KT]
    assert opened.header("Subject").startswith("[CCHC] Phòng Kinh tế, hạn 16/03/2027 – Thông báo")
    assert "quý I năm 2027" in opened.header("Subject")
    assert opened.header("To") == f"Phòng Kinh tế <{KT}>"
    assert opened.header("Reply-To") == f"Phòng Văn hóa - Xã hội <{OFFICE}>"
    assert opened.msg["Message-ID"] == message_id("maodien", item, "opened", KT)
    assert opened.msg["X-CCHC-Item"] == str(item)
    for part in (opened.text, opened.html):
        assert "số liệu từ 15/12/2026 đến 14/03/2027" in part
        assert "Thứ Ba, ngày 16/03/2027" in part
        assert "còn 10 ngày làm việc" in part
        assert "84/KH-UBND, Mục V.1" in part
        assert "0220 000 0000" in part  # whom to call at the standing office
        # The product owed, of its own period; what the report covers.
        assert "Báo cáo kết quả thực hiện công tác cải cách hành chính quý I năm 2027" in part
        assert "Nội dung báo cáo" in part and "V.2.c" in part
    assert "Gửi sản phẩm (bản điện tử, có chữ ký số)" in opened.text  # how to hand in

    assert "hạn 16/03/2027 – Nhắc hạn: " in seen["reminder-5"][0].header("Subject")
    assert "còn 05 ngày làm việc" in seen["reminder-5"][0].text
    assert "còn 02 ngày làm việc" in seen["reminder-2"][0].text
    assert "Phòng Kinh tế, hạn hôm nay 16/03/2027: " in seen["due"][0].header("Subject")
    assert "đã quá hạn 01 ngày làm việc" in seen["overdue"][0].text

    head = seen["escalation-1"][0]
    assert head.msg["To"].addresses[0].addr_spec == HEAD
    assert set(head.rcpt_tos) == {HEAD, OFFICE, KT}  # the standing office and the unit in copy
    assert head.header("Subject") == (
        "[CCHC] Phòng Kinh tế, hạn 16/03/2027 – Đôn đốc lần 1: Báo cáo CCHC quý I năm 2027"
    )
    assert "đã quá hạn 01 ngày làm việc" in head.text
    [leader] = seen["escalation-2"]
    in_charge = {str(p.email) for p in plan.commune.leadership if p.in_charge}
    assert {a.addr_spec for a in leader.msg["To"].addresses} == in_charge
    assert OFFICE in leader.rcpt_tos  # the standing office copied once
    assert leader.header("Subject").startswith("[CCHC] Kính báo cáo")
    assert "Kính đề nghị đồng chí chỉ đạo" in leader.text
    assert len({m.msg["Message-ID"] for m in inbox.messages}) == len(inbox.messages)


def test_opened_mail_carries_calendar_event(plan, sqlite_engine, settings, smtp, quarter):
    engine = sqlite_engine
    sweep_and_send(plan, engine, settings, morning(plan, quarter.opens))
    item = item_id_of(engine)
    opened = smtp.inbox.for_item(item)[0]
    [attachment] = list(opened.msg.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    cal = Calendar.from_ical(attachment.get_content())
    [event] = cal.walk("VEVENT")
    assert event.decoded("dtstart") == date(2027, 3, 16)
    assert event.decoded("dtend") == date(2027, 3, 17)
    assert "Báo cáo định kỳ" in str(event.get("summary"))
    # The event states the deadline; the tasks the report covers are listed in the mail only.
    description = str(event.get("description"))
    assert "Hạn nộp: Thứ Ba, ngày 16/03/2027\n" in description  # no countdown, which would age
    assert "(còn 10 ngày làm việc)" in opened.msg.get_body(("plain",)).get_content()
    text = opened.msg.get_body(("plain",)).get_content()
    assert "Nội dung báo cáo" in text and "Nội dung báo cáo" not in description
    [alarm] = event.walk("VALARM")
    with transaction(engine) as session:
        row = session.get(WorkItem, item)
    first_reminder = plan.timeline(OB, row.due, row.opened_at)[1]
    assert first_reminder.name == "reminder-5"
    assert alarm.decoded("trigger") == first_reminder.at


def test_attach_sends_closed_mail_then_silence(
    plan, sqlite_engine, settings, smtp, quarter, tmp_path
):
    engine = sqlite_engine
    inbox = smtp.inbox
    sweep_and_send(plan, engine, settings, morning(plan, quarter.opens))
    item = item_id_of(engine)
    # The first reminder is queued, not yet sent, when the report comes in.
    reminder_day = plan.calendar.add_working_days(quarter.due.due, -5)
    sweep(plan, engine, morning(plan, reminder_day))
    report_file = tmp_path / "bao-cao-quy-1.pdf"
    report_file.write_bytes(b"%PDF-1.7 bao cao")
    attach(
        plan,
        engine,
        tmp_path,
        item,
        report_file,
        later(morning(plan, reminder_day), hours=2),
        by=UNIT,
    )
    deliver_pending(plan, engine, settings, later(morning(plan, reminder_day), hours=3))
    reminder = next(r for r in rows_of(engine, item) if r.kind == "reminder")
    assert (reminder.status, reminder.sent_at) == ("cancelled", None)
    closed = [m for m in inbox.for_item(item) if m.kind == "closed"]
    assert sorted(m.rcpt_tos[0] for m in closed) == sorted([KT, OFFICE])
    assert "Đã nhận sản phẩm" in closed[0].header("Subject")
    assert "bao-cao-quy-1.pdf" in closed[0].text and "đúng hạn" in closed[0].text
    assert [m.kind for m in inbox.for_item(item)] == ["opened", "closed", "closed"]

    for day in (quarter.due.due, plan.calendar.add_working_days(quarter.due.due, 5)):
        sweep_and_send(plan, engine, settings, morning(plan, day))
    assert [m.kind for m in inbox.for_item(item)] == ["opened", "closed", "closed"]


def test_same_sweep_twice_sends_nothing_twice(plan, engine, settings, smtp, quarter):
    at = morning(plan, quarter.opens)
    first = sweep_and_send(plan, engine, settings, at)
    again = sweep_and_send(plan, engine, settings, at)
    later_same_day = sweep_and_send(plan, engine, settings, later(at, hours=4), force=True)
    assert first.messages >= 5
    assert again.messages == 0 and later_same_day.messages == 0
    ids = [m.msg["Message-ID"] for m in smtp.inbox.messages]
    assert len(ids) == len(set(ids)) == first.messages


def test_racing_deliverers_send_each_row_once(plan, engine, settings, smtp, quarter):
    at = morning(plan, quarter.opens)
    sweep(plan, engine, at)
    reports: list[DeliveryReport] = []
    start = threading.Barrier(3)

    def run():
        start.wait()
        reports.append(deliver_pending(plan, engine, settings, at, chunk=2))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [m.msg["Message-ID"] for m in smtp.inbox.messages]
    assert len(ids) == len(set(ids))
    assert sum(len(r.sent) for r in reports) == len(ids) >= 5
    assert not list_outbox(plan, engine, "pending")


def test_server_down_then_back(plan, sqlite_engine, settings, smtp, quarter):
    engine = sqlite_engine
    at = morning(plan, quarter.opens)
    smtp.stop()
    down = sweep_and_send(plan, engine, settings, at)
    assert down.messages == 0 and len(down.retrying) >= 5
    pending = list_outbox(plan, engine, "pending")
    assert all(r["attempts"] == 1 and r["send_after"] == later(at, minutes=1) for r in pending)
    assert all("cannot connect" in r["last_error"] for r in pending)

    smtp.start()
    assert deliver_pending(plan, engine, settings, later(at, seconds=30)).messages == 0  # backoff
    back = deliver_pending(plan, engine, settings, later(at, minutes=1))
    assert back.messages == len(pending) == len(smtp.inbox.messages)
    assert deliver_pending(plan, engine, settings, later(at, hours=1), force=True).messages == 0
    assert not list_outbox(plan, engine, "pending")


def test_451_then_250_is_delivered_once(plan, sqlite_engine, settings, smtp, quarter):
    engine = sqlite_engine
    inbox = smtp.inbox
    inbox.temporary[KT] = 1  # the first RCPT TO:<kinhte@...> of the run is answered 451
    at = morning(plan, quarter.opens)
    first = sweep_and_send(plan, engine, settings, at)
    [(row_id, to, error, retry_at)] = first.retrying
    assert to == KT and error.startswith("451") and retry_at == later(at, minutes=1)
    to_kt = len(list_outbox(plan, engine)) and [
        r for r in list_outbox(plan, engine) if r["recipient"] == KT
    ]
    assert len([m for m in inbox.messages if KT in m.rcpt_tos]) == len(to_kt) - 1
    again = deliver_pending(plan, engine, settings, retry_at)
    assert [(r[0], r[3]) for r in again.sent] == [(row_id, KT)]
    received = [m.msg["Message-ID"] for m in inbox.messages if KT in m.rcpt_tos]
    assert len(received) == len(set(received)) == len(to_kt)
    [row] = [r for r in list_outbox(plan, engine) if r["id"] == row_id]
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert row["message_id"] in received


def test_550_fails_and_the_standing_office_is_told(plan, engine, settings, smtp, quarter):
    inbox = smtp.inbox
    inbox.refuse[KT] = "550 5.1.1 <kinhte@maodien.example>: Recipient address rejected"
    at = morning(plan, quarter.opens)
    report = sweep_and_send(plan, engine, settings, at)
    item = item_id_of(engine)
    failed = list_outbox(plan, engine, "failed")
    assert {(r["recipient"], r["kind"]) for r in failed} == {(KT, "opened")}
    assert len(report.failed) == len(failed) == 1
    assert all(error.startswith("550 5.1.1") for _, _, error in report.failed)
    assert failed_counts(plan, engine) == {r["item_id"]: 1 for r in failed}
    assert not [m for m in inbox.messages if KT in m.rcpt_tos]
    [notice] = inbox.for_item(item)
    assert notice.rcpt_tos == [OFFICE]
    assert notice.kind == "opened"
    assert notice.header("Subject").startswith("[Không gửi được]")
    assert "KHÔNG GỬI ĐƯỢC" in notice.text and "Recipient address rejected" in notice.text
    assert KT in notice.text and "Phòng Kinh tế" in notice.text
    notices = [m for m in inbox.messages if m.header("Subject").startswith("[Không gửi được]")]
    assert len(notices) == len(failed)
    with transaction(engine) as session:
        events = (
            session.execute(select(Event.item_id).where(Event.kind == "mail_failed"))
            .scalars()
            .all()
        )
    assert sorted(events) == sorted(r["item_id"] for r in failed)
    # A failed row is not retried by later runs, even forced ones.
    assert deliver_pending(plan, engine, settings, later(at, days=1), force=True).messages == 0


def test_crash_after_acceptance_resends_once_with_the_same_id(
    plan, engine, settings, smtp, quarter
):
    """A deliverer claims rows, the server accepts them, then the process dies before the
    outbox is updated: after the lease, the rows go again, with the same Message-IDs."""
    import asyncio
    import time

    from notifications.claims import Scope

    at = morning(plan, quarter.opens)
    sweep(plan, engine, at)
    lease = timedelta(seconds=1)  # leases run by the clock: a short one, to see it run out
    scope = Scope(plan, at, False, "crashed-deliverer")
    crashed = claim(engine, scope, lease, DeliveryReport(at), chunk=500)
    rows, facts, _ = crashed
    from notifications.compose import Composer

    composer = Composer(plan)
    mails = [composer.for_row(r, facts, at) for r in rows[:3]]

    async def send_without_recording():
        transport = SmtpTransport(settings.smtp)
        await transport.open()
        for mail in mails:
            outcomes = await transport.send(
                mail.message, composer.sender.addr_spec, mail.recipients
            )
            assert {o.status for o in outcomes} == {"sent"}
        await transport.close()

    asyncio.run(send_without_recording())
    assert deliver_pending(plan, engine, settings, later(at, minutes=5)).messages == 0  # leased
    time.sleep(lease.total_seconds() + 0.2)
    after = deliver_pending(plan, engine, settings, later(at, minutes=5))
    assert after.messages == len(rows)
    ids = [m.msg["Message-ID"] for m in smtp.inbox.messages]
    assert len(ids) == len(rows) + 3 and len(set(ids)) == len(rows)
    assert deliver_pending(plan, engine, settings, later(at, hours=2), force=True).messages == 0


def test_closed_or_waived_items_lose_queued_reminders(plan, sqlite_engine, settings, smtp, quarter):
    """Even a row claimed before the item closed is not sent: the claim re-reads the item."""
    engine = sqlite_engine
    at = morning(plan, quarter.opens)
    sweep(plan, engine, at)
    item = item_id_of(engine)
    with transaction(engine) as session:  # the item closed behind the outbox's back
        session.execute(update(WorkItem).where(WorkItem.id == item).values(status="waived"))
    report = deliver_pending(plan, engine, settings, at)
    assert (rows_of(engine, item)[0].status, rows_of(engine, item)[0].last_error) == (
        "cancelled",
        "item waived before sending",
    )
    assert not smtp.inbox.for_item(item) and report.messages > 0


def test_returned_deliverable_reopens_with_new_round(
    plan, sqlite_engine, settings, smtp, quarter, tmp_path
):
    engine = sqlite_engine
    inbox = smtp.inbox
    cal = plan.calendar
    sweep_and_send(plan, engine, settings, morning(plan, quarter.opens))
    item = item_id_of(engine)
    f = tmp_path / "bc.docx"
    f.write_bytes(b"PK draft")
    attach(plan, engine, tmp_path, item, f, morning(plan, date(2027, 3, 10)), by=UNIT)
    new_due = date(2027, 3, 24)
    returned_at = morning(plan, date(2027, 3, 11), hour=10)
    reopened = return_deliverable(
        plan, engine, item, "Thiếu số liệu kiểm chứng quý I", new_due, returned_at
    )
    assert (reopened.status, reopened.due, reopened.closed_at) == ("open", new_due, None)
    deliver_pending(plan, engine, settings, returned_at)
    [returned] = [m for m in inbox.for_item(item) if m.kind == "returned"]
    assert returned.rcpt_tos == [KT, OFFICE]
    assert "Trả lại để hoàn thiện" in returned.header("Subject")
    assert "Thiếu số liệu kiểm chứng quý I" in returned.text
    assert "Thứ Tư, ngày 24/03/2027" in returned.text and "16/03/2027" in returned.text
    # The new round: reminders for the new due date, then a fresh closed mail.
    for day in (cal.add_working_days(new_due, -5), cal.add_working_days(new_due, -2)):
        sweep_and_send(plan, engine, settings, morning(plan, day))
    reminders = [m for m in inbox.for_item(item) if m.kind == "reminder"]
    assert len(reminders) == 2 and "hạn 24/03/2027" in reminders[-1].header("Subject")
    attach(plan, engine, tmp_path, item, f, morning(plan, date(2027, 3, 22), hour=9), by=UNIT)
    deliver_pending(plan, engine, settings, morning(plan, date(2027, 3, 22), hour=10))
    kinds = [m.kind for m in inbox.for_item(item)]
    # One run's mails go out over parallel connections: within a run, arrival order is free.
    assert kinds[:1] == ["opened"]
    assert sorted(kinds[1:4]) == ["closed", "closed", "returned"]
    assert kinds[4:] == ["reminder", "reminder", "closed", "closed"]
    ids = [m.msg["Message-ID"] for m in inbox.messages]
    assert len(ids) == len(set(ids))


def test_digest_units_get_one_mail_per_run(config_dir, sqlite_engine, smtp, tmp_path):
    """VP asks for a daily digest: the catch-up sweep of 10/03/2027 opens five of its items;
    it gets one mail listing them all, with one calendar holding their due dates."""
    config_dir = live_since_start(config_dir.parent / "config-live", config_dir)
    text = (config_dir / "units.yaml").read_text(encoding="utf-8")
    marker = "    email: vanphong@maodien.example\n"
    assert marker in text
    (config_dir / "units.yaml").write_text(
        text.replace(marker, marker + "    digest: true\n"), encoding="utf-8"
    )
    plan = load_plan(config_dir)
    engine = sqlite_engine
    settings = mail_settings(plan.folder, tmp_path, "sqlite://", smtp.port)
    at = morning(plan, date(2027, 3, 10))
    report = sweep_and_send(plan, engine, settings, at)
    vp_rows = [r for r in list_outbox(plan, engine) if r["recipient"] == "vanphong@maodien.example"]
    assert len(vp_rows) >= 3 and all(r["status"] == "sent" for r in vp_rows)
    to_vp = [m for m in smtp.inbox.messages if "vanphong@maodien.example" in m.rcpt_tos]
    assert len(to_vp) == 1
    [digest] = to_vp
    assert {r["message_id"] for r in vp_rows} == {digest.msg["Message-ID"]}  # the id sent
    assert digest.kind == "digest"
    assert sorted(digest.items) == sorted(r["item_id"] for r in vp_rows)
    assert digest.header("Subject").startswith(
        f"[CCHC] Tổng hợp nhiệm vụ ngày 10/03/2027: {len(vp_rows)} nội dung"
    )
    with transaction(engine) as session:
        titles = [session.get(WorkItem, r["item_id"]).title for r in vp_rows]
    assert all(title in digest.text for title in titles)
    [attachment] = list(digest.msg.iter_attachments())
    events = Calendar.from_ical(attachment.get_content()).walk("VEVENT")
    # One event per item VP owes (its coordinate requests carry none).
    assert len(events) == len([r for r in vp_rows if r["kind"] == "opened"])
    # Everyone else still gets one mail per row; nothing is sent twice.
    assert report.messages == len(smtp.inbox.messages) == len(report.sent) - len(vp_rows) + 1
    assert sweep_and_send(plan, engine, settings, later(at, hours=1)).messages == 0
