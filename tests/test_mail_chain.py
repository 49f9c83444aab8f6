"""Who hears of a late item, and in what words, over a Q1 2027 cycle of the shipped plan, swept
as the engine sweeps (07:30 and 14:00 each working day) and delivered to a real SMTP server on
loopback: the unit keeps hearing of its own late item, the standing office's own items reach
its Trưởng phòng before the leaders, and a leader reads each item as an office writes it."""

from __future__ import annotations

import re
from datetime import date, time, timedelta

import pytest
from sqlalchemy import select
from test_mail_support import mail_settings, plan_from_march

from models.db import transaction
from models.tables import WorkItem
from notifications.delivery import deliver_pending
from schedules.dates import local_instant
from usecases.sweep import sweep

REPORT = "bao-cao-cchc-dinh-ky"
OWN = "bao-cao-cchc-tong-hop"
KT = "kinhte@maodien.example"
HEAD = "truongphong.kt@maodien.example"
OFFICE = "vhxh@maodien.example"
OFFICE_HEAD = "truongphong.vhxh@maodien.example"
CHAIR = "chutich@maodien.example"
IN_CHARGE = "pct.vhxh@maodien.example"


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    """The shipped plan, starting on 01/03/2027 (no backlog before the cycle)."""
    return plan_from_march(tmp_path_factory.mktemp("chain") / "config")


@pytest.fixture
def settings(plan, tmp_path, smtp):
    return mail_settings(plan.folder, tmp_path, "sqlite://", smtp.port)


def plain(part: str) -> str:
    """A mail part's words: the HTML part without its tags."""
    return re.sub(r"<[^>]+>", "", part)


def sweeps(plan, first: date, last: date):
    """The engine's sweep instants from `first` to `last`: 07:30 and 14:00 each working day."""
    day = first
    while day <= last:
        if plan.calendar.is_working_day(day):
            for hour, minute in ((7, 30), (14, 0)):
                yield local_instant(day, time(hour, minute), plan.zone)
        day += timedelta(days=1)


def item_id(engine, obligation: str, unit: str, period: str = "2027-Q1") -> int:
    query = select(WorkItem.id).where(
        WorkItem.obligation == obligation, WorkItem.unit == unit, WorkItem.period == period
    )
    with transaction(engine) as session:
        return session.execute(query).scalar_one()


def run_cycle(plan, engine, settings, first: date, last: date, deliver: bool = True):
    for at in sweeps(plan, first, last):
        sweep(plan, engine, at)
        if deliver:
            report = deliver_pending(plan, engine, settings, at)
            assert not report.failed and not report.retrying


def test_a_unit_hears_of_its_late_report_and_its_head_is_asked_with_the_unit_copied(
    plan, sqlite_engine, settings, smtp
):
    run_cycle(plan, sqlite_engine, settings, date(2027, 3, 1), date(2027, 3, 26))
    kt = item_id(sqlite_engine, REPORT, "KT")
    mails = smtp.inbox.for_item(kt)
    to_unit = [m for m in mails if KT in m.rcpt_tos]
    # The unit's own overdue mail (17/03, 07:30), then the copy of its head's (14:00).
    assert [m.kind for m in to_unit] == ["opened", "reminder", "reminder", "due", "overdue",
                                         "escalation"]  # fmt: skip
    overdue = to_unit[4]
    assert overdue.header("Subject") == (
        "[CCHC] Phòng Kinh tế, hạn 16/03/2027 – Quá hạn: Báo cáo CCHC quý I năm 2027"
    )
    assert "đã quá hạn 01 ngày làm việc" in overdue.text
    head = to_unit[5]
    assert head.msg["To"].addresses[0].addr_spec == HEAD
    assert {a.addr_spec for a in head.msg["Cc"].addresses} == {OFFICE, KT}
    assert set(head.rcpt_tos) == {HEAD, OFFICE, KT}
    assert head.header("Subject") == (
        "[CCHC] Phòng Kinh tế, hạn 16/03/2027 – Đôn đốc lần 1: Báo cáo CCHC quý I năm 2027"
    )
    assert overdue.msg["Date"].datetime < head.msg["Date"].datetime

    # The leader in charge's first mail about the units' reports: all five in one digest,
    # "Kính báo cáo" (never "lần 2": the head got the ladder's first level, not the leader).
    [digest] = [m for m in smtp.inbox.messages if IN_CHARGE in m.rcpt_tos and kt in m.items]
    assert digest.kind == "digest" and len(digest.items) == 5
    assert digest.header("Subject").startswith("[CCHC] Kính báo cáo: 5 nhiệm vụ")
    line = (
        "2. Phòng Kinh tế – Báo cáo CCHC quý I năm 2027 – quá hạn 02 ngày làm việc (hạn "
        "16/03/2027; đã nhắc Trưởng đơn vị ngày 17/03)"
    )
    for part in (digest.text, plain(digest.html)):
        assert line in part
        assert "lần 2" not in part and "đôn đốc" not in part.lower()
        assert "Nhiệm vụ của Phòng Văn hóa - Xã hội" not in part  # none of its own here
    assert digest.header("Cc") == f"Phòng Văn hóa - Xã hội <{OFFICE}>"


def test_the_offices_own_report_reaches_its_head_before_the_leaders(
    plan, sqlite_engine, settings, smtp
):
    run_cycle(plan, sqlite_engine, settings, date(2027, 3, 1), date(2027, 3, 26))
    own = item_id(sqlite_engine, OWN, "VHXH")
    mails = smtp.inbox.for_item(own)
    escalations = [m for m in mails if m.kind in ("escalation", "digest")]
    first = escalations[0]
    assert first.msg["To"].addresses[0].addr_spec == OFFICE_HEAD
    assert set(first.rcpt_tos) == {OFFICE_HEAD, OFFICE}  # the office hears of its own item
    assert first.header("Subject") == (
        "[CCHC] Phòng Văn hóa - Xã hội, hạn 18/03/2027 – Nhắc việc lần 1: Báo cáo CCHC quý I năm "
        "2027"
    )
    assert first.msg["Date"].datetime.date() == date(2027, 3, 22)
    for part in (first.text, plain(first.html)):
        assert "Kính gửi: Đồng chí Trưởng phòng Văn hóa - Xã hội" in part
        assert "Nhiệm vụ của Phòng Văn hóa - Xã hội dưới đây chưa hoàn thành" in part
        assert (
            "Nếu tiếp tục chậm, Phòng Văn hóa - Xã hội sẽ báo cáo đồng chí Phó Chủ tịch UBND xã "
            "phụ trách cải cách hành chính." in part
        )
    leaders = [m for m in escalations[1:] if {CHAIR, IN_CHARGE} & set(m.rcpt_tos)]
    assert leaders and all(m.msg["Date"].datetime > first.msg["Date"].datetime for m in leaders)
    assert not [m for m in escalations if OFFICE_HEAD not in m.rcpt_tos and OFFICE in m.rcpt_tos]
    # The Chủ tịch's first mail of the cycle: "Kính báo cáo", not "lần 2".
    chair = [m for m in smtp.inbox.messages if CHAIR in m.rcpt_tos]
    assert chair and chair[0].header("Subject") == (
        "[CCHC] Phòng Văn hóa - Xã hội, hạn 18/03/2027 – Kính báo cáo: chưa hoàn thành Báo cáo "
        "CCHC quý I năm 2027"
    )
    assert "lần 2" not in chair[0].text
    assert "(hạn Thứ Năm, ngày 18/03/2027; đã nhắc Trưởng phòng Văn hóa - Xã hội ngày 22/03)" in (
        chair[0].text
    )


def test_a_leaders_digest_puts_the_offices_own_items_in_their_own_block(
    plan, sqlite_engine, settings, smtp
):
    """Mail stopped from 17/03 to 25/03: the run of 25/03 gives the leader in charge the units'
    reports and the office's own report in one digest, two blocks; the office is copied on that
    one digest only, each item listed once."""
    engine = sqlite_engine
    run_cycle(plan, engine, settings, date(2027, 3, 1), date(2027, 3, 16))
    run_cycle(plan, engine, settings, date(2027, 3, 17), date(2027, 3, 25), deliver=False)
    at = local_instant(date(2027, 3, 25), time(14, 30), plan.zone)
    before = len(smtp.inbox.messages)
    deliver_pending(plan, engine, settings, at)
    run = smtp.inbox.messages[before:]
    own = item_id(engine, OWN, "VHXH")
    [digest] = [m for m in run if m.msg["To"].addresses[0].addr_spec == IN_CHARGE]
    assert digest.kind == "digest" and own in digest.items and len(digest.items) == 6
    for text in (digest.text, plain(digest.html)):
        assert "I. Các cơ quan, đơn vị chưa nộp sản phẩm (xếp theo đơn vị):" in text
        assert "II. Nhiệm vụ của Phòng Văn hóa - Xã hội (cơ quan thường trực):" in text
        assert text.index("I. Các cơ quan") < text.index("II. Nhiệm vụ của Phòng")
        assert "quá hạn 07 ngày làm việc (hạn 16/03/2027; đã nhắc Trưởng đơn vị ngày 17/03)" in text
        assert (
            "1. Báo cáo CCHC quý I năm 2027 – quá hạn 05 ngày làm việc (hạn 18/03/2027; đã nhắc "
            "Trưởng phòng Văn hóa - Xã hội ngày 22/03)" in text
        )
        assert "Phòng Văn hóa - Xã hội đang khẩn trương hoàn thành." in text
        assert "lần 2" not in text and "đôn đốc lần" not in text.lower()
    # One copy for the office in the run's leader mails, every item in it once.
    copies = [m for m in run if OFFICE in m.rcpt_tos and {CHAIR, IN_CHARGE} & set(m.rcpt_tos)]
    assert copies == [digest]
    [chair] = [m for m in run if m.msg["To"].addresses[0].addr_spec == CHAIR]
    assert OFFICE not in chair.rcpt_tos and chair.items == [own]


def test_an_item_opened_after_downtime_gets_its_overdue_mail_before_the_head_is_asked(
    plan, sqlite_engine, settings, smtp
):
    """The engine went live on 01/03 and stopped until 22/03: KT's Q1 report (due 16/03) opens
    late with a fresh deadline, 25/03; the unit is told it is overdue on 26/03 in the morning,
    its head that afternoon, with the unit copied."""
    engine = sqlite_engine
    run_cycle(plan, engine, settings, date(2027, 3, 1), date(2027, 3, 1))
    run_cycle(plan, engine, settings, date(2027, 3, 22), date(2027, 3, 26))
    kt = item_id(engine, REPORT, "KT")
    to_unit = [m for m in smtp.inbox.for_item(kt) if KT in m.rcpt_tos]
    assert [m.kind for m in to_unit] == ["opened", "overdue", "escalation"]
    overdue = to_unit[1]
    assert overdue.msg["Date"].datetime.date() == date(2027, 3, 26)
    assert overdue.header("Subject") == (
        "[CCHC] Phòng Kinh tế, hạn 25/03/2027 – Quá hạn: Báo cáo CCHC quý I năm 2027"
    )
    assert "đã quá hạn gửi bổ sung 01 ngày làm việc" in overdue.text
    assert "hạn gửi bổ sung Thứ Năm, ngày 25/03/2027" in overdue.text
    head = to_unit[2]
    assert head.msg["To"].addresses[0].addr_spec == HEAD and KT in head.header("Cc")
    assert overdue.msg["Date"].datetime < head.msg["Date"].datetime


def test_a_leaders_digest_states_only_what_was_told(plan, sqlite_engine, settings, smtp):
    """The engine stopped from 03/03 to 18/03: the 14:00 sweep of 18/03 moves the units' reports
    past their head's level straight to the leader's; the digest says nobody was reminded."""
    engine = sqlite_engine
    run_cycle(plan, engine, settings, date(2027, 3, 1), date(2027, 3, 2))
    at = local_instant(date(2027, 3, 18), time(14, 0), plan.zone)
    sweep(plan, engine, at)
    deliver_pending(plan, engine, settings, at)
    kt = item_id(engine, REPORT, "KT")
    [digest] = [m for m in smtp.inbox.messages if IN_CHARGE in m.rcpt_tos and kt in m.items]
    line = (
        "2. Phòng Kinh tế – Báo cáo CCHC quý I năm 2027 – quá hạn 02 ngày làm việc (hạn "
        "16/03/2027)\n"
    )
    assert line in digest.text and "đã nhắc" not in digest.text
    assert not [m for m in smtp.inbox.for_item(kt) if HEAD in m.rcpt_tos]
