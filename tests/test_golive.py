"""A commune's late first run (go-live): a fresh database on the shipped config, first swept on
Thursday 15/07/2027 at 07:30, then every working day (07:30 and the escalations' 14:00) for 16
working days, its mail delivered to a real SMTP server on loopback.

What was due before the go-live date and not done is held for the standing office (never
mailed, nobody escalated to); a period report covered by a later held one is waived with the
reason stated; an item opened on its due date gets a stated grace; the office sorts the held
items out with `cchc triage` (re-open with a fresh due date, then the normal ladder; waive with
a reason) or from its page."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import httpx
import pytest
from conftest import SHIPPED_CONFIG
from intake_support import Clock, LiveIntake
from sqlalchemy import select
from support import cli_env, find_item, run_cchc
from test_mail_support import Received, mail_settings, running_smtp_server

from models.db import ensure_schema, make_engine, transaction
from models.tables import Event, GoLive, Outbox, WorkItem
from notifications.delivery import deliver_pending
from schedules.dates import local_instant
from schedules.plan_loader import load_plan
from usecases.errors import UserError
from usecases.golive import recorded_go_live
from usecases.lifecycle import receive_document
from usecases.sweep import sweep
from usecases.triage import reopen_held, waive_held

GO_LIVE = date(2027, 7, 15)
REPORT = "bao-cao-cchc-dinh-ky"
CONSOLIDATED = "bao-cao-cchc-tong-hop"
BUDGET = "du-toan-kinh-phi-cchc"
"""KT's budget estimate for 2028, due Thursday 15/07/2027: the go-live day itself."""
WORKING_DAYS = 16


@dataclass
class Run:
    """The scenario once: every message received, with the local day it was sent."""

    plan: object
    engine: object
    days: list[date]
    mails: list[tuple[date, Received]] = field(default_factory=list)
    first_sweep: object = None

    def to(self, address: str, until: date | None = None) -> list[Received]:
        return [
            m
            for day, m in self.mails
            if address.lower() in m.rcpt_tos and (until is None or day <= until)
        ]

    def items(self, **where) -> list[WorkItem]:
        query = select(WorkItem)
        for key, value in where.items():
            query = query.where(getattr(WorkItem, key) == value)
        with transaction(self.engine) as s:
            return list(s.execute(query.order_by(WorkItem.id)).scalars())


def at(plan, day: date, hour: int = 7, minute: int = 30) -> datetime:
    return local_instant(day, time(hour, minute), plan.zone)


@pytest.fixture(scope="module")
def run(plan, tmp_path_factory):
    folder = tmp_path_factory.mktemp("golive")
    engine = make_engine(f"sqlite:///{folder / 'cchc.db'}")
    ensure_schema(engine)
    days = [GO_LIVE]
    while len(days) < WORKING_DAYS:
        days.append(plan.calendar.add_working_days(days[-1], 1))
    with running_smtp_server() as smtp:
        settings = mail_settings(plan.folder, folder / "data", "sqlite://", smtp.port)
        scenario = Run(plan, engine, days)
        for day in days:
            for hour, minute in ((7, 30), (14, 0)):
                when = at(plan, day, hour, minute)
                report = sweep(plan, engine, when)
                scenario.first_sweep = scenario.first_sweep or report
                before = len(smtp.inbox.messages)
                deliver_pending(plan, engine, settings, when)
                scenario.mails += [(day, m) for m in smtp.inbox.messages[before:]]
    yield scenario
    engine.dispose()


def held_at_go_live(run: Run) -> set[int]:
    return {i.id for i in run.items() if i.held_on is not None}


def test_the_first_sweep_records_the_go_live_date_and_holds_what_was_due_before(run, plan):
    assert recorded_go_live(plan, run.engine) == GO_LIVE
    with transaction(run.engine) as s:
        assert s.get(GoLive, plan.commune.code).day == GO_LIVE
    first = run.first_sweep
    assert len(first.held) > 20 and len(first.opened) == 1  # was 27 items opened, 63 mails
    items = run.items()
    before = [i for i in items if (i.original_due or i.due) < GO_LIVE]
    assert before and all(i.held_on == GO_LIVE for i in before)
    assert {i.status for i in before} == {"held", "waived"}
    assert all(i.next_action_at is None and i.step in ("held", "waived") for i in before)
    # Every held item logged why; no outbox row, hence no mail, ever names one.
    with transaction(run.engine) as s:
        held_events = s.execute(select(Event).where(Event.kind == "held")).scalars().all()
        rows = s.execute(select(Outbox.item_id)).scalars().all()
    assert {e.item_id for e in held_events} == {i.id for i in before}
    assert {e.detail["go_live"] for e in held_events} == {"2027-07-15"}
    assert not set(rows) & held_at_go_live(run)
    assert not {n for _, m in run.mails for n in m.items} & held_at_go_live(run)
    # Items due on or after the go-live date run as usual.
    assert all(i.held_on is None for i in items if (i.original_due or i.due) >= GO_LIVE)


def test_no_unit_is_mailed_more_than_three_times_in_its_first_week(run, plan):
    week_end = GO_LIVE + timedelta(days=6)
    first_day = run.to(str(plan.units["KT"].email), until=GO_LIVE)
    assert len(first_day) == 1  # was 12 mails for KT in the first sweep
    for unit in plan.units.values():
        assert len(run.to(str(unit.email), until=week_end)) <= 3, unit.code


def addressed_to(message: Received, address: str) -> bool:
    """Whether `address` is the message's own To (a copy does not count as the unit's mail)."""
    return address.lower() in message.header("To").lower()


@pytest.fixture(scope="module")
def triaged(plan, tmp_path_factory):
    """The reviewer's week: the go-live run above, and the office sorting out what was held.
    On Friday 16/07 it re-opens the six "6 tháng đầu năm 2027" reports due 23/07; on Monday
    19/07 it waives seven 2026 reports and re-opens its own 2026 communication task due 30/07;
    on Thursday 22/07 KT and VP send their reports through the document system. Returns every
    (day, message) delivered until then."""
    folder = tmp_path_factory.mktemp("triaged")
    engine = make_engine(f"sqlite:///{folder / 'cchc.db'}")
    ensure_schema(engine)
    mails: list[tuple[date, Received]] = []
    days = [GO_LIVE]
    while len(days) < 6:
        days.append(plan.calendar.add_working_days(days[-1], 1))

    def office(day: date) -> None:
        when = at(plan, day, 9, 0)
        if day == date(2027, 7, 16):
            for unit in plan.lead_units(REPORT):
                item = find_item(engine, REPORT, unit, "2027-H1")
                reopen_held(plan, engine, item.id, date(2027, 7, 23), None, when)
        elif day == date(2027, 7, 19):
            held = [find_item(engine, REPORT, u, "2026") for u in plan.lead_units(REPORT)]
            for item in [i for i in held if i.status == "held"][:7]:
                waive_held(plan, engine, item.id, "Đã nộp bản giấy", when)
            task = find_item(engine, "thong-tin-tuyen-truyen-cchc", "VHXH", "2026")
            reopen_held(plan, engine, task.id, date(2027, 7, 30), None, when)
        elif day == date(2027, 7, 22):
            for unit, number in (("KT", "12/BC-KT"), ("VP", "15/BC-VP")):
                item = find_item(engine, REPORT, unit, "2027-H1")
                receive_document(plan, engine, item.id, number, None, when)

    with running_smtp_server() as smtp:
        settings = mail_settings(plan.folder, folder / "data", "sqlite://", smtp.port)
        for day in days:
            for hour, minute in ((7, 30), (9, 0), (14, 0)):
                when = at(plan, day, hour, minute)
                if (hour, minute) == (9, 0):
                    office(day)
                else:
                    sweep(plan, engine, when)
                before = len(smtp.inbox.messages)
                deliver_pending(plan, engine, settings, when)
                mails += [(day, m) for m in smtp.inbox.messages[before:]]
    yield mails
    engine.dispose()


def test_no_unit_is_mailed_more_than_three_times_in_the_week_the_office_triages(triaged, plan):
    """KT was mailed 5 times in this week: its budget estimate and its re-opened report, a
    request to contribute, and a reminder of each 3 working days after its opening mail. An
    item opened late is not reminded that soon after it was told (`reminder_gap`)."""
    week_end = GO_LIVE + timedelta(days=6)
    counts = {
        unit.code: [
            m.kind for day, m in triaged if day <= week_end and addressed_to(m, str(unit.email))
        ]
        for unit in plan.units.values()
    }
    print("week-1 mails per unit:", {code: len(kinds) for code, kinds in counts.items()})
    assert all(len(kinds) <= 3 for kinds in counts.values()), counts
    # The re-opened reports (opened 16/07, due 23/07) and the budget estimate (opened 15/07,
    # due 22/07) are not reminded 3 working days after their opening mails.
    assert "reminder" not in counts["KT"] and counts["KT"].count("opened") == 2


def test_no_head_or_leader_hears_of_an_item_the_office_has_not_sorted_out(run, plan):
    held = held_at_go_live(run)
    heads = {str(u.head.email) for u in plan.units.values()}
    leaders = {str(p.email) for p in plan.commune.leadership}
    told = [m for address in heads | leaders for m in run.to(address)]
    assert not {n for m in told for n in m.items} & held
    # What they did hear of, they heard of after the grace the unit had (no digest of 23).
    assert all(len(m.items) <= 2 for m in told)


def test_a_report_covered_by_a_later_overdue_one_is_waived_with_the_reason(run, plan):
    reason = (
        "Báo cáo quý I năm 2027 được thay bằng báo cáo 6 tháng đầu năm 2027 (số liệu từ "
        "15/12/2026 đến 14/06/2027, bao gồm kỳ này), cũng quá hạn khi hệ thống bắt đầu vận hành "
        "ngày 15/07/2027: đơn vị chỉ cần nộp báo cáo 6 tháng đầu năm 2027."
    )
    units = plan.lead_units(REPORT)
    for unit in units:
        q1 = find_item(run.engine, REPORT, unit, "2027-Q1")
        h1 = find_item(run.engine, REPORT, unit, "2027-H1")
        assert (q1.status, q1.waived_reason) == ("waived", reason)
        assert h1.status == "held"  # asked once, for the latest, when the office decides
        with transaction(run.engine) as s:
            [event] = s.execute(
                select(Event).where(Event.item_id == q1.id, Event.kind == "waived")
            ).scalars()
        assert (event.actor, event.detail["reason"]) == ("engine", reason)
        assert event.detail["superseded_by"] == h1.id
        # The annual report of 2026 covers another window: held, not waived.
        assert find_item(run.engine, REPORT, unit, "2026").status == "held"
    assert find_item(run.engine, CONSOLIDATED, "VHXH", "2027-Q1").status == "waived"


def test_an_item_opened_on_its_due_date_gets_a_stated_grace(run, plan):
    budget = find_item(run.engine, BUDGET, "KT", "2028")
    grace = plan.calendar.add_working_days(GO_LIVE, 5)
    assert (budget.original_due, budget.due, grace) == (GO_LIVE, grace, date(2027, 7, 22))
    [opened] = [m for _, m in run.mails if m.kind == "opened" and budget.id in m.items]
    assert opened.header("Subject").startswith("[CCHC] Phòng Kinh tế, hạn 22/07/2027 – ")
    text = opened.text
    assert "Hạn nộp: Thứ Năm, ngày 22/07/2027 (còn 05 ngày làm việc)" in text
    assert (
        "(hạn theo Kế hoạch: Thứ Năm, ngày 15/07/2027; nhiệm vụ được thông báo đúng ngày đến "
        "hạn, nên hạn nộp được tính 05 ngày làm việc kể từ ngày thông báo)"
    ) in text
    assert "hạn là hôm nay" not in text and "Hạn ban đầu" not in text
    assert "đến hạn" in opened.html and "05 ngày làm việc kể từ ngày thông báo" in opened.html
    # Its ladder runs from the grace: no due-day or overdue mail to the unit before it.
    unit_mails = [
        (d, m.kind)
        for d, m in run.mails
        if budget.id in m.items and m.rcpt_tos == ["kinhte@maodien.example"]
    ]
    # No reminder 3 working days after the opening mail (`reminder_gap`): the due-day notice.
    assert unit_mails == [
        (GO_LIVE, "opened"),
        (grace, "due"),
        (date(2027, 7, 23), "overdue"),
    ]


def test_coordinators_are_never_asked_after_their_date(tmp_path, sqlite_engine):
    """VP's plan to review legal documents for 2028 (coordinators: every unit) is due Monday
    17/01/2028; a first run on Thursday 13/01 with `min_notice: 1` keeps that date: the
    coordinators' date (3 working days before) has passed, so they are not asked."""
    config = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, config)
    commune = config / "commune.yaml"
    text = commune.read_text(encoding="utf-8")
    text = text.replace("    escalation_time:", "    min_notice: 1\n    escalation_time:", 1)
    commune.write_text(text, encoding="utf-8")
    strict = load_plan(config)
    ob = "ke-hoach-ra-soat-vbqppl-hang-nam"
    first = at(strict, date(2028, 1, 13))
    sweep(strict, sqlite_engine, first)
    item = find_item(sqlite_engine, ob, "VP", "2028")
    assert item.due == date(2028, 1, 17)
    assert strict.inputs_due(ob, item.due, item.opened_at) < date(2028, 1, 13)
    with transaction(sqlite_engine) as s:
        kinds = set(s.execute(select(Outbox.kind).where(Outbox.item_id == item.id)).scalars())
    assert kinds == {"opened"}
    # With the default grace (5 working days) the same first run asks them, with a date ahead.
    shipped = load_plan(SHIPPED_CONFIG)
    engine = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    ensure_schema(engine)
    sweep(shipped, engine, first)
    item = find_item(engine, ob, "VP", "2028")
    assert (item.original_due, item.due) == (date(2028, 1, 17), date(2028, 1, 20))
    inputs = shipped.inputs_due(ob, item.due, item.opened_at)
    assert inputs > date(2028, 1, 13)
    with transaction(engine) as s:
        kinds = set(s.execute(select(Outbox.kind).where(Outbox.item_id == item.id)).scalars())
    assert kinds == {"opened", "coordinate"}
    engine.dispose()


def test_the_office_triages_through_the_command_line(tmp_path, migrated_sqlite_url, smtp):
    env = cli_env(
        tmp_path / "data",
        migrated_sqlite_url,
        CCHC_SMTP_HOST="127.0.0.1",
        CCHC_SMTP_PORT=str(smtp.port),
    )

    def cchc(*args, ok=True):
        return run_cchc(env, *args, cwd=tmp_path, ok=ok)

    swept = cchc("sweep", "--at", "2027-07-15T07:30").stdout
    listed = json.loads(cchc("triage", "--format", "json").stdout)
    assert listed and {r["status"] for r in listed} == {"held"}
    assert (
        f"  giữ lại {len(listed)} việc có hạn trước ngày vận hành, chưa hoàn thành (không gửi "
        "thư), chờ cơ quan thường trực xử lý bằng `cchc triage`; tự động miễn 6 báo cáo đã có "
        "báo cáo kỳ sau thay thế"
    ) in swept
    by_key = {(r["obligation"], r["unit"], r["period"]): r for r in listed}
    kt_h1 = by_key[(REPORT, "KT", "2027-H1")]
    vp_annual = by_key[(REPORT, "VP", "2026")]
    assert (REPORT, "KT", "2027-Q1") not in by_key  # waived at go-live, not to triage
    assert kt_h1["plan_due"] == "2027-06-16" and kt_h1["held_on"] == "2027-07-15"
    table = cchc("triage").stdout
    assert table.startswith(
        f"Ủy ban nhân dân xã Mao Điền (ngày vận hành 15/07/2027): {len(listed)} việc tồn đọng "
        "chờ cơ quan thường trực xử lý"
    )
    assert "chờ xử lý" in table and "16/06/2027" in table
    mails_before = len(smtp.inbox.messages)

    # Re-open with a fresh due date: the unit is told at once, the ladder runs from it.
    done = cchc(
        "triage", "reopen", str(kt_h1["id"]), "--due", "2027-07-30",
        "--reason", "Đơn vị cam kết gửi báo cáo 6 tháng", "--at", "2027-07-16T09:00",
    )  # fmt: skip
    assert done.stdout.startswith(
        f"Nhiệm vụ số {kt_h1['id']}: đã mở lại cho KT, hạn mới 30/07/2027; hạn theo kế hoạch "
        "16/06/2027"
    )
    [told] = smtp.inbox.messages[mails_before:]
    assert told.kind == "opened" and told.rcpt_tos == ["kinhte@maodien.example"]
    assert "Hạn nộp: Thứ Sáu, ngày 30/07/2027" in told.text
    assert (
        "(hạn theo Kế hoạch: 16/06/2027, trước ngày hệ thống nhắc việc bắt đầu vận hành "
        "là ngày 15/07/2027; Phòng Văn hóa - Xã hội định lại hạn nộp như trên)"
    ) in told.text
    # Waive with a reason: nothing is mailed.
    done = cchc(
        "triage", "waive", str(vp_annual["id"]), "--reason", "Đã nộp bản giấy ngày 20/12/2026",
        "--at", "2027-07-16T09:05",
    )  # fmt: skip
    assert "đã miễn (waived)" in done.stdout and "Đã nộp bản giấy" in done.stdout
    assert len(smtp.inbox.messages) == mails_before + 1
    engine = make_engine(migrated_sqlite_url)
    with transaction(engine) as s:
        events = {
            e.kind: e
            for e in s.execute(
                select(Event).where(Event.item_id.in_([kt_h1["id"], vp_annual["id"]]))
            ).scalars()
        }
    assert events["resumed"].detail["reason"] == "Đơn vị cam kết gửi báo cáo 6 tháng"
    assert (events["resumed"].detail["due"], events["resumed"].detail["plan_due"]) == (
        "2027-07-30",
        "2027-06-16",
    )
    assert events["waived"].detail["reason"] == "Đã nộp bản giấy ngày 20/12/2026"
    # Refused: an item no longer held, a date past; nothing changed.
    refused = cchc("triage", "waive", str(kt_h1["id"]), "--reason", "x", ok=False)
    assert refused.returncode == 1 and "không phải việc tồn đọng" in refused.stderr
    refused = cchc(
        "triage", "reopen", str(by_key[(REPORT, "CA", "2027-H1")]["id"]), "--due", "2027-07-01",
        "--at", "2027-07-16T09:00", ok=False,
    )  # fmt: skip
    assert "Hạn mới 01/07/2027 đã qua" in refused.stderr
    left = json.loads(cchc("triage", "--format", "json").stdout)
    assert len(left) == len(listed) - 2
    decided = json.loads(cchc("triage", "--all", "--format", "json").stdout)
    assert {r["status"] for r in decided} == {"held", "open", "waived"}
    # The re-opened item is reminded as any item: reminder-2 on 28/07/2027.
    before = len(smtp.inbox.messages)
    cchc("sweep", "--at", "2027-07-28T07:30")
    reminded = [m for m in smtp.inbox.messages[before:] if kt_h1["id"] in m.items]
    assert [m.kind for m in reminded] == ["reminder"]
    # A 2026 task re-opened in 2027 still names the plan its date came from: the CCHC plan of 2026.
    task = by_key[("thong-tin-tuyen-truyen-cchc", "VHXH", "2026")]
    before = len(smtp.inbox.messages)
    cchc("triage", "reopen", str(task["id"]), "--due", "2027-08-13", "--at", "2027-07-28T09:00")
    [opened] = [m for m in smtp.inbox.messages[before:] if m.kind == "opened"]
    assert "hạn theo Kế hoạch CCHC năm 2026" in opened.text
    assert "Kế hoạch CCHC năm 2027" not in opened.text
    engine.dispose()


def test_the_office_sorts_held_items_out_on_its_page(plan, sqlite_engine, tmp_path):
    sweep(plan, sqlite_engine, at(plan, GO_LIVE))
    kt_h1 = find_item(sqlite_engine, REPORT, "KT", "2027-H1")
    vp_h1 = find_item(sqlite_engine, REPORT, "VP", "2027-H1")
    clock = Clock(at(plan, GO_LIVE, 9, 0))
    with LiveIntake(plan, sqlite_engine, tmp_path / "data", clock) as live:
        link = live.office()
        token = httpx.URL(link).params["t"]
        page = httpx.get(link).text
        assert "Việc tồn đọng trước khi vận hành (ngày vận hành 15/07/2027)" in page
        assert f'id="held-{kt_h1.id}"' in page
        assert "Báo cáo quý I năm 2027 được thay bằng báo cáo 6 tháng đầu năm 2027" in page
        base = f"{live.base}/office/items"
        reopened = httpx.post(
            f"{base}/{kt_h1.id}/triage/reopen", data={"t": token, "due": "2027-07-29"}
        )
        assert reopened.status_code == 200 and "hạn mới 29/07/2027" in reopened.text
        waived = httpx.post(
            f"{base}/{vp_h1.id}/triage/waive", data={"t": token, "reason": "Sáp nhập đơn vị"}
        )
        assert waived.status_code == 200 and "Sáp nhập đơn vị" in waived.text
        again = httpx.post(f"{base}/{vp_h1.id}/triage/waive", data={"t": token, "reason": "x"})
        assert again.status_code == 409
        no_token = httpx.post(f"{base}/{kt_h1.id}/triage/waive", data={"reason": "x"})
        assert no_token.status_code == 403
        page = httpx.get(link).text
    assert f'id="held-{kt_h1.id}"' not in page and f'id="held-{vp_h1.id}"' not in page
    assert find_item(sqlite_engine, REPORT, "KT", "2027-H1").status == "open"
    assert find_item(sqlite_engine, REPORT, "VP", "2027-H1").waived_reason == "Sáp nhập đơn vị"


def test_an_item_re_opened_while_it_is_being_waived_stays_open(plan, sqlite_engine):
    """The office waives a held item on its page while a colleague re-opens it from the
    command line: the re-opening lands between the waive's check and its change, and the
    waive is refused, not applied to the item that is open again."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    sweep(plan, sqlite_engine, at(plan, GO_LIVE))
    item = find_item(sqlite_engine, REPORT, "VP", "2027-H1")
    assert item.status == "held"
    when = at(plan, GO_LIVE, 9, 0)
    committed: list[Session] = []

    def colleague_reopens(session: Session) -> None:
        committed.append(session)
        if len(committed) == 1:  # the waive's check is done, its change not begun
            reopen_held(plan, sqlite_engine, item.id, date(2027, 7, 29), None, when)

    event.listen(Session, "after_commit", colleague_reopens)
    try:
        with pytest.raises(UserError, match="vừa thay đổi"):
            waive_held(plan, sqlite_engine, item.id, "Sáp nhập đơn vị", when)
    finally:
        event.remove(Session, "after_commit", colleague_reopens)
    after = find_item(sqlite_engine, REPORT, "VP", "2027-H1")
    assert (after.status, after.waived_reason, after.due) == ("open", None, date(2027, 7, 29))


def test_a_go_live_date_before_start_is_refused_with_file_and_line(config_dir, tmp_path):
    commune = config_dir / "commune.yaml"
    text = commune.read_text(encoding="utf-8")
    text = re.sub(r"^(  start: .*)$", r"\1\n  go_live: 2026-06-01", text, count=1, flags=re.M)
    commune.write_text(text, encoding="utf-8")
    line = text.splitlines().index("  go_live: 2026-06-01") + 1
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'x.db'}", CCHC_CONFIG=str(config_dir))
    done = run_cchc(env, "check", ok=False)
    assert done.returncode == 1
    assert re.search(rf"commune\.yaml:{line}: .*go_live 2026-06-01 must lie between", done.stderr)


def test_the_configs_go_live_date_stands_in_for_the_first_sweep(config_dir, sqlite_engine):
    """go_live: 01/07/2027, first sweep 15/07/2027: KT's budget estimate (due 15/07) is not
    held; the 6-month reports (due 16/06) are."""
    commune = config_dir / "commune.yaml"
    text = commune.read_text(encoding="utf-8")
    text = re.sub(r"^(  start: .*)$", r"\1\n  go_live: 2027-07-01", text, count=1, flags=re.M)
    commune.write_text(text, encoding="utf-8")
    configured = load_plan(config_dir)
    sweep(configured, sqlite_engine, at(configured, GO_LIVE))
    assert recorded_go_live(configured, sqlite_engine) == date(2027, 7, 1)
    assert find_item(sqlite_engine, REPORT, "KT", "2027-H1").held_on == date(2027, 7, 1)
    assert find_item(sqlite_engine, BUDGET, "KT", "2028").status == "open"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request):
    """A database with no schema yet: the test migrates it."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def test_a_database_that_ran_before_the_migration_went_live_with_its_first_item(empty_db_url):
    """Schema 0012 with items: 0013 records the commune's go-live as the local day its first
    item opened (01/03/2027 18:30 UTC is 02/03 in Hà Nội), not the day of the upgrade."""
    from alembic import command
    from sqlalchemy import text

    from models.db import _alembic_config, upgrade

    engine = make_engine(empty_db_url)
    try:
        command.upgrade(_alembic_config(engine), "0012")
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO work_item (commune, obligation, unit, period, title, "
                    "window_start, window_end, opens_on, due, adhoc, status, step, "
                    "escalation_level, opened_at) VALUES (:c, 'x', 'VP', :p, 't', '2027-01-01', "
                    "'2027-12-31', '2027-03-01', '2027-03-16', false, 'open', 'opened', 0, :at)"
                ),
                [
                    {"c": "maodien", "p": "2027-Q1", "at": "2027-03-01 18:30:00+00:00"},
                    {"c": "maodien", "p": "2027-H1", "at": "2027-06-01 01:00:00+00:00"},
                ],
            )
        upgrade(engine)
        with transaction(engine) as s:
            found = [(r.commune, r.day) for r in s.execute(select(GoLive)).scalars()]
    finally:
        engine.dispose()
    assert found == [("maodien", date(2027, 3, 2))]


def test_held_has_its_words_everywhere():
    from notifications.labels import step_label
    from schedules.step_names import parse_step
    from schedules.vocabulary import ItemStatus

    assert ItemStatus("held").label == "tồn đọng trước khi vận hành, chờ xử lý"
    assert step_label("held") == "tồn đọng trước khi vận hành, chờ xử lý"
    assert str(parse_step("held")) == "held" and parse_step("held").rank is None
