"""Issue 9: what the plan asks reaches the people who do it.

Report contents, the item's own period, the "Lưu ý" note, the consolidated report's live view of
the units' reports, coordinating units asked for their part, escalation a commune keeps switched
on (catch-up grace, the ladder ending before the consolidated report, the standing office never
notifying itself), and the plan data defaults. Real SQLite and PostgreSQL; mails rendered by the
real composer from the rows the sweep queued.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from support import find_item, live_plan

from models.db import transaction
from models.tables import Outbox, WorkItem
from notifications.compose import Composer
from notifications.facts import load_facts
from schedules.contents import note_for_units, report_contents
from schedules.dates import parse_instant, vn_weekday
from schedules.notices import closed_notices, opening_notices
from schedules.plan_loader import load_plan
from schedules.vocabulary import MailKind
from usecases.items import close_item
from usecases.sweep import sweep

REPORT = "bao-cao-cchc-dinh-ky"
CONSOLIDATED = "bao-cao-cchc-tong-hop"
PAR_INDEX = "tu-cham-diem-par-index"


def t(text: str):
    return parse_instant(text)


def rows_of(engine, item_id: int | None = None) -> list[Outbox]:
    with transaction(engine) as s:
        query = select(Outbox).order_by(Outbox.id)
        if item_id is not None:
            query = query.where(Outbox.item_id == item_id)
        return list(s.execute(query).scalars())


def rendered(plan, engine, row: Outbox, at) -> tuple[str, str]:
    """(subject, plain text) of the mail an outbox row becomes at `at`."""
    with transaction(engine) as s:
        facts = load_facts(s, [row], plan)
    mail = Composer(plan).for_row(row, facts, at).message
    return str(mail["Subject"]), mail.get_body(("plain",)).get_content()


# ----- contents and period -------------------------------------------------------------------


def test_every_mail_of_a_q1_cycle_lists_the_units_rows_and_names_only_its_period(plan, engine):
    sweep(plan, engine, t("2027-03-01T07:30"))
    steps = ["2027-03-02T07:30", "2027-03-09T07:30", "2027-03-12T07:30", "2027-03-16T07:30"]
    steps += ["2027-03-17T00:30"]
    for at in steps:
        sweep(plan, engine, t(at))
    vp = find_item(engine, REPORT, "VP", "2027-Q1")
    mails = [rendered(plan, engine, r, t("2027-03-17T00:30")) for r in rows_of(engine, vp.id)]
    kinds = [r.kind for r in rows_of(engine, vp.id)]
    assert kinds == ["opened", "reminder", "reminder", "due", "overdue"]
    for _, text in mails:
        assert "Nội dung báo cáo" in text
        assert "mục I.3: Tiếp tục rà soát văn bản quy phạm pháp luật kỳ 2024-2028" in text
        assert "mục V.2.b:" in text  # the unit's own duty from the body of the plan
        [product] = [line for line in text.splitlines() if "Sản phẩm cần nộp" in line]
        assert "Báo cáo kết quả thực hiện công tác cải cách hành chính quý I năm 2027" in product
        assert "6 tháng" not in product and "quý III" not in product
        assert "Lưu ý:" in text and "The Q2 report" not in text  # admins' aside left out
    led = text.index("do đơn vị chủ trì")
    assert led < text.index("đơn vị phối hợp thực hiện") < text.index("Mục V.2 của Kế hoạch")


def test_report_contents_by_unit(plan):
    ca = report_contents(plan, REPORT, "CA")
    duties = [rows for g in ca if "Mục V.2" in g.heading for rows in g.rows]
    assert [ref for ref, _ in duties] == ["mục V.2.e"]
    communication = report_contents(plan, REPORT, "TTVHTTTT")
    assert any(ref == "mục V.2.f" for g in communication for ref, _ in g.rows)
    # The standing office owes no unit report: its rows go into the consolidated report.
    assert "VHXH" not in plan.lead_units(REPORT)
    office = report_contents(plan, CONSOLIDATED, "VHXH")
    assert any(ref == "mục VII, ý 1" for g in office for ref, _ in g.rows)
    assert report_contents(plan, PAR_INDEX, "VHXH") == []


def test_note_leaves_out_the_admins_asides():
    text = "Bắt buộc kèm tài liệu kiểm chứng (evidence documents are mandatory). Hạn 15/01."
    assert note_for_units(text) == "Bắt buộc kèm tài liệu kiểm chứng. Hạn 15/01."
    assert note_for_units("Báo cáo (trình UBND xã, gửi Sở Nội vụ)") == (
        "Báo cáo (trình UBND xã, gửi Sở Nội vụ)"
    )


# ----- the consolidated report sees the units' reports ---------------------------------------


def test_consolidated_report_mails_show_which_units_are_missing(plan, engine):
    for at in ("2027-03-01T07:30", "2027-03-02T07:30", "2027-03-05T07:30"):
        sweep(plan, engine, t(at))
    vp = find_item(engine, REPORT, "VP", "2027-Q1")
    ca = find_item(engine, REPORT, "CA", "2027-Q1")
    with transaction(engine) as s:
        close_item(plan, s, s.get(WorkItem, vp.id), t("2027-03-15T10:00"), "VP")
        close_item(plan, s, s.get(WorkItem, ca.id), t("2027-03-17T10:00"), "CA")
    sweep(plan, engine, t("2027-03-18T07:30"))
    office = find_item(engine, CONSOLIDATED, "VHXH", "2027-Q1")
    [due] = [r for r in rows_of(engine, office.id) if r.step == "due"]
    subject, text = rendered(plan, engine, due, t("2027-03-18T07:30"))
    units = len(plan.lead_units(REPORT))
    assert f"Đã nhận 2/{units} báo cáo của các đơn vị (1 nộp sau hạn)" in text
    assert "Văn phòng HĐND và UBND xã: đã nộp, đúng hạn\n" in text
    assert "Công an xã: đã nộp, sau hạn" in text
    assert "Phòng Kinh tế: chưa nộp (đã quá hạn 02 ngày làm việc)" in text
    # Live at send time: a report received later shows in the next mail.
    kt = find_item(engine, REPORT, "KT", "2027-Q1")
    with transaction(engine) as s:
        close_item(plan, s, s.get(WorkItem, kt.id), t("2027-03-18T09:00"), "KT")
    _, later = rendered(plan, engine, due, t("2027-03-18T09:30"))
    assert f"Đã nhận 3/{units} báo cáo" in later


# ----- coordinating units ---------------------------------------------------------------------


def test_coordinating_units_of_the_par_index_are_asked_and_reminded_once(plan, engine):
    sweep(plan, engine, t("2027-12-01T07:30"))
    sweep(plan, engine, t("2027-12-13T07:30"))
    item = find_item(engine, PAR_INDEX, "VHXH", "2027")
    assert item.due == date(2028, 1, 17)  # 15/01/2028 is a Saturday
    for at in ("2027-12-20T07:30", "2027-12-31T07:30", "2028-01-10T07:30", "2028-01-13T07:30"):
        sweep(plan, engine, t(at))
    rows = rows_of(engine, item.id)
    asked = {r.recipient for r in rows if r.kind == MailKind.COORDINATE and r.step == "opened"}
    coordinators = {str(plan.units[u].email) for u in plan.coordinating_units(PAR_INDEX, "VHXH")}
    assert asked == coordinators and str(plan.units["VHXH"].email) not in asked
    reminded = [r for r in rows if r.kind == MailKind.COORDINATE and r.step != "opened"]
    assert {r.recipient for r in reminded} == coordinators
    assert len({r.step for r in reminded}) == 1  # one reminder, before the inputs are due
    inputs = plan.inputs_due(PAR_INDEX, item.due)
    assert reminded[0].send_after.date() < inputs
    subject, text = rendered(
        plan, engine, [r for r in rows if r.kind == "coordinate"][0], t("2027-12-01T07:30")
    )
    # The coordinator's mail leads with its own deadline, not the lead's.
    weekday = vn_weekday(inputs)
    assert subject.startswith(
        f"[CCHC] Hạn {inputs:%d/%m/%Y} – Đề nghị phối hợp với Phòng Văn hóa - Xã hội: "
    )
    first = text.split("Kính gửi:", 1)[1].split("\n\n")[1]
    assert first == (
        f"Hạn gửi nội dung phối hợp: {weekday}, ngày {inputs:%d/%m/%Y} (gửi Phòng Văn hóa - Xã "
        "hội)."
    )
    # Its deadline once, with what it must send; the lead's date once; no "Sản phẩm cần nộp".
    assert text.count(f"{inputs:%d/%m/%Y}") == 1
    assert text.count(f"{item.due:%d/%m/%Y}") == 1
    assert f"- Hạn nộp của đơn vị chủ trì: {vn_weekday(item.due)}, ngày {item.due:%d/%m/%Y}" in text
    assert "đề nghị đơn vị cung cấp nội dung phối hợp nêu dưới đây theo hạn nêu trên." in text
    assert (
        "- Nội dung phối hợp: thông tin, số liệu, tài liệu thuộc lĩnh vực của đơn vị để Phòng Văn "
        "hóa - Xã hội hoàn thành sản phẩm: "
    ) in text
    assert "Sản phẩm cần nộp" not in text and "chậm nhất" not in text
    [line] = [x for x in text.splitlines() if x.startswith("- Nội dung phối hợp: ")]
    assert "- Kỳ" not in line  # a line of its own
    assert "tài liệu kiểm chứng" in text  # the note reaches the coordinating units too
    assert "http" not in text  # never the lead's upload link
    # Coordinators are never escalated.
    sweep(plan, engine, t("2028-02-15T07:30"))
    escalations = [r for r in rows_of(engine, item.id) if r.kind == MailKind.ESCALATION]
    assert escalations and not any(r.recipient in coordinators for r in escalations)


# ----- escalation a commune keeps switched on --------------------------------------------------


def test_a_fresh_database_swept_late_sends_each_leader_at_most_one_mail(plan, engine):
    # The config's go_live on the start date: the late first sweep catches up on everything
    # due since (without it, what was due before the first sweep is held: test_golive.py).
    plan = live_plan(plan)
    report = sweep(plan, engine, t("2027-11-09T07:30"))
    assert len(report.opened) > 10
    leaders = {str(p.email) for p in plan.commune.leadership}
    to_leaders = [r for r in rows_of(engine) if r.recipient in leaders]
    assert len(to_leaders) <= len(leaders)
    # Each item opened past its due date got one mail with a fresh deadline.
    late = [i for i in report.opened if i[1] == "ke-hoach-ra-soat-vbqppl-hang-nam"]
    [item_id] = [i[0] for i in late]
    [row] = [r for r in rows_of(engine, item_id) if r.kind == MailKind.OPENED]
    subject, text = rendered(plan, engine, row, t("2027-11-09T07:30"))
    deadline = plan.calendar.add_working_days(date(2027, 11, 9), 3)
    assert subject.startswith(
        f"[CCHC] Văn phòng HĐND-UBND, chậm nhất {deadline:%d/%m/%Y} – Đề nghị gửi bổ sung: "
    )
    assert "khẩn trương hoàn thành, gửi sản phẩm chậm nhất" in text
    assert "Hạn gửi bổ sung:" in text and "gia hạn" not in text
    assert "chậm nhất Thứ Sáu, ngày 15/01/2027" not in text  # never the old due date
    # Escalation counts from the fresh deadline.
    with transaction(engine) as s:
        item = s.get(WorkItem, item_id)
    steps = plan.timeline(item.obligation, item.due, item.opened_at)
    first = next(s for s in steps if s.kind == "escalation")
    assert first.at.date() > deadline
    # Coordinators of a late item get a date still ahead, before the fresh deadline.
    asked = [r for r in rows_of(engine, item_id) if r.kind == MailKind.COORDINATE]
    _, request = rendered(plan, engine, asked[0], t("2027-11-09T07:30"))
    inputs = plan.inputs_due(item.obligation, item.due, item.opened_at)
    assert date(2027, 11, 9) < inputs < deadline
    assert f"Hạn gửi nội dung phối hợp: {vn_weekday(inputs)}, ngày {inputs:%d/%m/%Y}" in request
    # Lateness is counted from the fresh deadline, not from the plan's date 10 months ago.
    [escalation] = [s for s in steps if s.kind == "escalation"][:1]
    late_row = rows_of(engine, item_id)[0]
    composer = Composer(plan)
    with transaction(engine) as s:
        facts = load_facts(s, [late_row], plan)
    view = composer.entry("escalation", "escalation-1", facts.items[item_id], escalation.at, facts)
    assert view["item"].countdown.startswith("đã quá hạn gửi bổ sung ")


def test_the_ladder_of_unit_reports_ends_by_the_consolidated_due_date(plan):
    opened = t("2027-03-02T07:30")
    steps = plan.timeline(REPORT, date(2027, 3, 16), opened)
    consolidated = plan.consolidated_due(REPORT, date(2027, 3, 16))
    assert consolidated == date(2027, 3, 18)
    escalations = [s for s in steps if s.kind == "escalation"]
    assert [s.at.date() for s in escalations] == [date(2027, 3, 17), date(2027, 3, 18)]
    assert escalations[-1].to == ("leader_in_charge",)
    assert plan.warnings == []


def test_check_warns_when_a_level_comes_after_the_consolidated_report(config_dir):
    path = config_dir / "obligations-plan.yaml"
    text = path.read_text(encoding="utf-8")
    old = "- {after: 2, to: [leader_in_charge], before: consolidated_due}"
    assert old in text
    path.write_text(text.replace(old, "- {after: 4, to: [leader_in_charge]}"), encoding="utf-8")
    plan = load_plan(config_dir)
    [warning] = plan.warnings
    assert warning.file.endswith("obligations-plan.yaml") and warning.line > 1
    assert "comes after 'bao-cao-cchc-tong-hop'" in str(warning)


def test_the_standing_office_does_not_notify_itself(plan, engine):
    sweep(plan, engine, t("2027-03-01T07:30"))
    for at in ("2027-03-02T07:30", "2027-03-05T07:30", "2027-03-22T14:00", "2027-03-30T14:00"):
        sweep(plan, engine, t(at))  # escalations at 14:00
    office = find_item(engine, CONSOLIDATED, "VHXH", "2027-Q1")
    office_mail = str(plan.units["VHXH"].email)
    in_charge = {str(p.email) for p in plan.commune.leadership if p.in_charge}
    escalations = [r for r in rows_of(engine, office.id) if r.kind == MailKind.ESCALATION]
    assert escalations
    # Its first level goes to its own Trưởng phòng, the office copied (it hears of its own late
    # item); the leaders' levels go without a copy to the office.
    head = str(plan.units["VHXH"].head.email)
    first = [r for r in escalations if r.step == "escalation-1"]
    assert {(r.recipient, r.addressed_to) for r in first} == {(head, None), (office_mail, head)}
    leaders = [r for r in escalations if r.step != "escalation-1"]
    assert leaders and {r.recipient for r in leaders} >= in_charge
    assert all(office_mail not in r.cc and r.recipient != office_mail for r in leaders)
    [opened] = [r for r in rows_of(engine, office.id) if r.kind == "opened"]
    subject, text = rendered(plan, engine, opened, t("2027-03-05T07:30"))
    assert subject == "[CCHC] Nhắc việc, hạn 18/03/2027: Báo cáo CCHC quý I năm 2027"
    assert "chưa nhận được sản phẩm của Phòng Văn hóa" not in text
    # Nothing received late yet: no "(0 nộp sau hạn)".
    assert f"Đã nhận 0/{len(plan.lead_units(REPORT))} báo cáo của các đơn vị; chưa nhận:" in text
    # No receipt from the office to itself; it is not asked for inputs by its own mails.
    assert closed_notices(plan, "VHXH") == []
    steps = plan.timeline("ra-soat-vbqppl-chinh-quyen-2-cap", date(2027, 2, 26), t("2027-01-25"))
    asked = [
        n
        for n in opening_notices(plan, "ra-soat-vbqppl-chinh-quyen-2-cap", "VP", steps[0])
        if n.kind == MailKind.COORDINATE
    ]
    assert asked and office_mail not in asked[0].to


# ----- plan data ------------------------------------------------------------------------------


def test_plan_data_defaults(plan):
    budget = plan.obligations["du-toan-kinh-phi-cchc"]
    assert budget.ref.startswith("Mục V.2.c") and budget.lead == ["KT"]
    assert "giả định" in budget.description.lower()
    [one_off] = plan.occurrences(
        date(2027, 1, 1),
        date(2027, 12, 31),
        obligation="ra-soat-vbqppl-chinh-quyen-2-cap",
        unit="VP",
    )
    assert one_off.due.due == date(2027, 2, 26)
    [par] = plan.occurrences(date(2028, 1, 1), date(2028, 1, 31), obligation=PAR_INDEX)
    assert par.period.key == "2027" and par.due.due.month == 1
    annual_plans = plan.occurrences(
        date(2027, 1, 1), date(2030, 12, 31), obligation="ke-hoach-ra-soat-vbqppl-hang-nam"
    )
    assert all(o.due.nominal.day == 15 for o in annual_plans)
    for oid in ("ke-hoach-ra-soat-vbqppl-hang-nam", PAR_INDEX, "du-toan-kinh-phi-cchc"):
        assert plan.obligations[oid].description  # each default keeps its reason


def test_subjects_lead_with_a_short_unit_name_and_stay_near_100_characters(plan, engine):
    """A clerk's subjects: the unit (its `short_name` when the config gives one) and the deadline
    first, under ~100 characters; the office's own "Nhắc việc" names its task, not "… về…"."""
    for at in ("2026-12-01T07:30", "2026-12-02T07:30"):
        sweep(plan, engine, t(at))
    subjects = {}
    for row in rows_of(engine):
        if row.kind == "opened":
            subjects[row.recipient] = rendered(plan, engine, row, t("2026-12-02T07:30"))[0]
    assert subjects["ttvhtttt@maodien.example"] == (
        "[CCHC] Trung tâm VHTT&TT, hạn 16/12/2026 – Thông báo nhiệm vụ: Báo cáo CCHC năm 2026"
    )
    assert subjects["ttpvhcc@maodien.example"].startswith("[CCHC] Trung tâm PVHCC, hạn 16/12/2026")
    assert subjects["vhxh@maodien.example"].startswith(
        "[CCHC] Nhắc việc, hạn 10/12/2026: Thông tin, tuyên truyền về công tác cải cách"
    )
    assert all(len(s) <= 100 for s in subjects.values()), subjects
    # The office asks for inputs to its own task without naming itself twice, and the unit reads
    # what the task is, not where the row sits in the plan's table.
    office = find_item(engine, "thong-tin-tuyen-truyen-cchc", "VHXH", "2026")
    ask = next(r for r in rows_of(engine, office.id) if r.kind == MailKind.COORDINATE)
    _, text = rendered(plan, engine, ask, t("2026-12-01T07:30"))
    assert (
        "Phòng Văn hóa - Xã hội đề nghị đơn vị cung cấp nội dung phối hợp nêu dưới đây theo hạn "
        "nêu trên." in text
    )
    assert (
        "Nội dung phối hợp: thông tin, số liệu, tài liệu thuộc lĩnh vực của đơn vị để Phòng Văn "
        "hóa - Xã hội hoàn thành sản phẩm: Báo cáo kết quả thông tin, tuyên truyền về cải cách "
        "hành chính năm 2026" in text
    )
    assert "Sản phẩm cần nộp" not in text
    assert (
        "Dòng cuối" not in text and "Lưu ý: Thông tin, tuyên truyền về cải cách hành chính" in text
    )


def test_a_leaders_escalation_names_the_task_whole_and_its_subject_stays_short(plan, engine):
    """Go-live on 15/07/2027: KT's budget estimate (given 5 working days) reaches the leaders.
    The subject reads "Kính báo cáo: chưa hoàn thành lập dự toán…" (lower case, under ~100
    characters); the sentence to the leader names the task whole, never cut at "cải…"."""
    days = ["2027-07-15", "2027-07-16", "2027-07-19", "2027-07-20", "2027-07-21", "2027-07-22"]
    days += ["2027-07-23", "2027-07-26", "2027-07-27", "2027-07-28", "2027-07-29"]
    for day in days:
        sweep(plan, engine, t(f"{day}T07:30"))
        sweep(plan, engine, t(f"{day}T14:00"))
    rows = [r for r in rows_of(engine) if r.kind == MailKind.ESCALATION]
    head = next(r for r in rows if r.recipient == plan.units["KT"].head.email)
    subject, text = rendered(plan, engine, head, t("2027-07-26T14:00"))
    assert subject.startswith("[CCHC] Phòng Kinh tế, hạn 22/07/2027 – Đôn đốc lần 1: Lập dự toán")
    in_charge = next(str(p.email) for p in plan.commune.leadership if p.in_charge)
    leader = next(r for r in rows if r.recipient == in_charge)
    subject, text = rendered(plan, engine, leader, t("2027-07-29T14:00"))
    assert subject.startswith(
        "[CCHC] Phòng Kinh tế, hạn 22/07/2027 – Kính báo cáo: chưa hoàn thành lập dự toán kinh"
    )
    assert len(subject) <= 100, subject
    assert (
        "Phòng Kinh tế chưa nộp sản phẩm nhiệm vụ «Lập dự toán kinh phí thực hiện Kế hoạch và "
        "thẩm định kinh phí cải cách hành chính hằng năm», đã quá hạn" in text
    )
