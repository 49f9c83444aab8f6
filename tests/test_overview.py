"""The quarterly overview for the Chủ tịch and the leader in charge (issue 20, §2).

A Q1 2027 cycle over the shipped config: sweeps from January to April, mail delivered to a real
SMTP server on loopback. Some reports come in on time, one late, one through an extension. The
consolidated report of quý I is due 18/03/2027; three working days later (23/03) the Chủ tịch
and the Phó Chủ tịch in charge each get exactly one overview, the standing office copied: its
counts are the items', its workbook opens with openpyxl and holds them, and no later sweep (nor
a second runner, nor a return of the consolidated report) sends it again.
"""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlmodel import Session, select
from support import cli_env, run_python

from models.tables import Outbox, WorkItem
from notifications.delivery import deliver_pending
from schedules.notices import overview_leaders
from schedules.overview import latest_cycle, parse_quarter, quarter_cycle, report_cycles
from schedules.vocabulary import ItemStatus, MailKind
from tests.test_mail_support import mail_settings, morning, running_smtp_server
from usecases.extensions import GrantExtension, grant_extension
from usecases.indicator_values import enter_values
from usecases.lifecycle import receive_document
from usecases.overview import build_overview
from usecases.sweep import sweep

REPORT = "bao-cao-cchc-dinh-ky"
ONLINE = "Tỷ lệ hồ sơ giải quyết trực tuyến trên tổng số hồ sơ (Mục II.2.a, ý 3)"
PAYMENTS = (
    "Tỷ lệ giao dịch thanh toán trực tuyến của các thủ tục hành chính có nghĩa vụ tài chính "
    "(Mục II.2.a, ý 2)"
)
CHAIR = "chutich@maodien.example"
VICE = "pct.vhxh@maodien.example"
OFFICE = "vhxh@maodien.example"


def items_in(engine, plan, first: date, last: date) -> list[WorkItem]:
    with Session(engine) as session:
        found = session.exec(select(WorkItem).where(WorkItem.commune == plan.commune.code))
        return [i for i in found if first <= (i.original_due or i.due) <= last]


def open_items(engine) -> list[WorkItem]:
    with Session(engine) as session:
        query = select(WorkItem).where(WorkItem.status.in_(["open", "overdue", "escalated"]))
        return list(session.exec(query.order_by(WorkItem.due, WorkItem.id)))


def overview_rows(engine) -> list[Outbox]:
    with Session(engine) as session:
        return list(session.exec(select(Outbox).where(Outbox.kind == MailKind.OVERVIEW)))


def test_the_shipped_config_sends_the_chair_and_the_vice_chair_in_charge():
    from schedules.plan_loader import load_plan
    from tests.conftest import SHIPPED_CONFIG

    plan = load_plan(SHIPPED_CONFIG)
    assert overview_leaders(plan) == (CHAIR, VICE)
    assert plan.commune.overview_after == 3


def test_quarters_follow_the_consolidated_report(plan):
    q1, q2, q3, q4 = report_cycles(plan, date(2027, 1, 1), date(2027, 12, 31))
    assert (q1.key, q1.label) == ("2027Q1", "quý I/2027")
    assert (q1.first, q1.last, q1.report_due, q1.send_on) == (
        date(2026, 12, 19),
        date(2027, 3, 18),
        date(2027, 3, 18),
        date(2027, 3, 23),  # three working days after the consolidated report is due
    )
    # Every item counted once: each quarter starts the day after the previous one ends.
    for before, after in [(q1, q2), (q2, q3), (q3, q4)]:
        assert (after.first - before.last).days == 1
    assert quarter_cycle(plan, 2027, 1) == q1
    assert latest_cycle(plan, date(2027, 3, 22)).key == "2026Q4"
    assert latest_cycle(plan, date(2027, 3, 23)).key == "2027Q1"
    assert parse_quarter("2027q1") == parse_quarter("2027-Q1") == (2027, 1)
    with pytest.raises(ValueError):
        parse_quarter("2027Q5")


@pytest.fixture
def plan(plan):
    """The shipped plan, live since its start: the first sweep (04/01/2027) opens December's
    items too instead of holding them for the office's triage (test_golive.py)."""
    from tests.support import live_plan

    return live_plan(plan)


@pytest.fixture
def config_dir(config_dir):
    from tests.support import go_live_on_start

    return go_live_on_start(config_dir)


@pytest.fixture
def cycle(config_dir, tmp_path, engine, plan, monkeypatch):
    """The Q1 2027 cycle, swept and delivered; returns (server inbox, settings, engine)."""
    with running_smtp_server() as server:
        settings = mail_settings(config_dir, tmp_path / "data", str(engine.url), server.port)

        def run(day: date, hour: int = 8) -> None:
            at = morning(plan, day, hour)
            sweep(plan, engine, at)
            deliver_pending(plan, engine, settings, at)

        run(date(2027, 1, 4))
        # In January every unit's report on time but Công an xã's (received late, below).
        for n, item in enumerate(open_items(engine), start=1):
            if item.unit != "CA" and item.due <= date(2027, 3, 18):
                at = morning(plan, min(item.due, date(2027, 1, 5)), 9)
                receive_document(plan, engine, item.id, f"{n}/BC-{item.unit}", None, at)
        for day in (date(2027, 2, 1), date(2027, 3, 1), date(2027, 3, 8)):
            run(day)
        # The units' quý I report: Phòng Kinh tế gets an extension, the others hand in on time
        # but Công an xã, whose report stays open. The one-stop shop enters two of its figures
        # with its report: one meets its target, one falls short.
        [shop] = [i for i in open_items(engine) if (i.obligation, i.unit) == (REPORT, "TTPVHCC")]
        figures = {"ho-so-truc-tuyen": "170/200", "giao-dich-thanh-toan-truc-tuyen": "40/100"}
        at = morning(plan, date(2027, 3, 12), 9)
        enter_values(plan, engine, shop.id, figures, at, "TTPVHCC")
        for n, item in enumerate(open_items(engine), start=100):
            if item.due > date(2027, 3, 18) or item.unit == "CA":
                continue
            if item.unit == "KT":
                until = date(2027, 3, 19)
                why = "Chờ số liệu của Chi cục Thống kê."
                at = morning(plan, date(2027, 3, 15), 9)
                grant_extension(plan, engine, GrantExtension(item.id, until, why), at)
            else:
                at = morning(plan, date(2027, 3, 15), 10)
                receive_document(plan, engine, item.id, f"{n}/BC-{item.unit}", None, at)
        for day in range(15, 24):
            if plan.calendar.is_working_day(date(2027, 3, day)):
                run(date(2027, 3, day))
        yield server.inbox, settings, run


def overviews(inbox) -> list:
    return [m for m in inbox.messages if m.kind == MailKind.OVERVIEW]


def test_a_q1_cycle_gives_the_chair_one_overview(cycle, engine, plan):
    inbox, settings, run = cycle
    sent = overviews(inbox)
    to_chair = [m for m in sent if CHAIR in m.rcpt_tos]
    assert len(to_chair) == 1
    assert sorted(r for m in sent for r in m.rcpt_tos) == sorted([CHAIR, VICE, OFFICE])
    [mail] = to_chair
    assert mail.header("Subject") == "[CCHC] Báo cáo tình hình thực hiện nhiệm vụ CCHC quý I/2027"
    assert len(mail.header("Subject")) < 100
    text = mail.text
    assert "Kính gửi: Đồng chí Chủ tịch UBND xã\n" in text
    assert (
        "Phòng Văn hóa - Xã hội (cơ quan thường trực về cải cách hành chính) kính báo cáo đồng "
        "chí tình hình thực hiện nhiệm vụ cải cách hành chính của các cơ quan, đơn vị quý "
        "I/2027 (nhiệm vụ có hạn từ 19/12/2026 đến 18/03/2027), tính đến ngày 23/03/2027:"
    ) in text
    assert "Không có văn bản chỉ đạo nào còn nhiệm vụ chưa hoàn thành." in text
    assert "Cần hỗ trợ" not in text + mail.html  # the office reports to its leader
    assert "<table" in mail.html

    # The counts are the items'.
    q1 = quarter_cycle(plan, 2027, 1)
    counted = [i for i in items_in(engine, plan, q1.first, q1.last) if i.status != "waived"]
    found = build_overview(plan, engine, q1, morning(plan, date(2027, 3, 23)))
    total = found.total()
    assert total.total == len(counted) > 0
    assert total.on_time + total.late + total.open == total.total
    assert total.open == sum(ItemStatus(i.status).is_open for i in counted)
    by_unit = {row.unit: row for row in found.units}
    for code in plan.units:
        mine = [i for i in counted if i.unit == code]
        assert by_unit[code].total == len(mine), code
    assert by_unit["CA"].open >= 1 and by_unit["CA"].overdue_open >= 1
    assert by_unit["KT"].extended == 1
    assert by_unit["KT"].on_time + by_unit["KT"].open == by_unit["KT"].total
    assert (
        f"1. Kết quả chung: {total.total} nhiệm vụ đến hạn trong quý; hoàn thành đúng hạn "
        f"{total.on_time}, hoàn thành sau hạn {total.late}, chưa hoàn thành {total.open}"
    ) in text
    assert "Đơn vị còn chậm: Công an xã (1 nhiệm vụ quá hạn chưa hoàn thành); " in text
    kt = by_unit["KT"]
    assert (
        f"- Phòng Kinh tế: đến hạn {kt.total}, đúng hạn {kt.on_time}, sau hạn 0, chưa hoàn "
        f"thành {kt.open} (quá hạn {kt.overdue_open}), được gia hạn 1.\n"
    ) in text
    assert "Mặt trận Tổ quốc" not in text  # nothing due: not listed in the mail (in the file)

    # The workbook opens and holds the rows.
    [part] = [p for p in mail.msg.iter_attachments()]
    assert part.get_filename() == "tong-hop-cchc-2027-quy-1.xlsx"
    book = load_workbook(io.BytesIO(part.get_content()))
    sheet = book["Tổng hợp quý"]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=6, values_only=True) if r[0] is not None}
    for code, unit in plan.units.items():
        assert rows[code][1] == unit.name
        assert rows[code][2] == by_unit[code].total
        assert rows[code][3] == by_unit[code].on_time
    assert rows["Toàn xã"][2] == total.total

    # The indicators of the quarter's report period, against their targets.
    assert "4. Chỉ số (so với mục tiêu của kế hoạch):" in text
    assert (
        f"- {ONLINE}: 85 % (mục tiêu ≥ 85 % (đến năm 2030)): đạt; 1/1 đơn vị đã báo cáo "
        "(1 đúng hạn)\n"
    ) in text
    assert (
        f"- {PAYMENTS}: 40 % (mục tiêu ≥ 50 % (đến năm 2030)): chưa đạt (còn thiếu 10 điểm %); "
        "1/1 đơn vị đã báo cáo (1 đúng hạn)\n"
    ) in text
    assert "(mục tiêu ≥ 100 % (đến năm 2030)): chưa có số liệu; 0/" in text
    assert "chưa đạt (còn thiếu 10 điểm %)" in mail.html
    indicators = {r[0]: r for r in book["Chỉ số"].iter_rows(min_row=6, values_only=True)}
    assert indicators["ho-so-truc-tuyen"][3:9] == ("85 %", "≥ 85 % (đến năm 2030)", "đạt", 1, 1, 1)
    assert indicators["giao-dich-thanh-toan-truc-tuyen"][5] == "chưa đạt (còn thiếu 10 điểm %)"
    assert indicators["cong-khai-muc-do-hai-long"][5] == "chưa có số liệu"
    assert len(indicators) == len(plan.indicators) + 1  # the last row counts them


def test_a_second_sweep_a_return_and_a_racing_runner_do_not_resend(cycle, engine, plan):
    inbox, settings, run = cycle
    before = len(overviews(inbox))
    rows = overview_rows(engine)
    assert len(rows) == 3 and all(r.status == "sent" for r in rows)
    run(date(2027, 3, 23), hour=15)  # the same day, again
    # Two runners as of the same instant: the outbox key makes one of them queue nothing.
    at = morning(plan, date(2027, 3, 24))
    sweep(plan, engine, at)
    sweep(plan, engine, at)
    deliver_pending(plan, engine, settings, at)
    run(date(2027, 3, 25))
    run(date(2027, 4, 15))
    assert len(overviews(inbox)) == before
    assert len(overview_rows(engine)) == 3
    # Nothing for quý II before its day.
    assert {r.step for r in overview_rows(engine)} == {"overview"}


def test_cli_overview_json_and_xlsx(cycle, engine, plan, config_dir, tmp_path, monkeypatch):
    from cchc.cli import main

    monkeypatch.setenv("CCHC_CONFIG", str(config_dir))
    monkeypatch.setenv("CCHC_DATABASE_URL", str(engine.url.render_as_string(hide_password=False)))
    monkeypatch.setenv("CCHC_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    done = runner.invoke(
        main, ["overview", "--quarter", "2027Q1", "--at", "2027-03-23T08:00", "--format", "json"]
    )
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    q1 = quarter_cycle(plan, 2027, 1)
    found = build_overview(plan, engine, q1, morning(plan, date(2027, 3, 23)))
    assert data["quarter"] == "2027Q1"
    assert (data["first"], data["last"]) == ("2026-12-19", "2027-03-18")
    assert data["units"] == [row.as_dict() for row in found.units]
    assert data["total"]["due"] == found.total().total
    assert data["directives"] == []
    assert [i["id"] for i in data["indicators"]] == list(plan.indicators)
    online = next(i for i in data["indicators"] if i["id"] == "ho-so-truc-tuyen")
    assert (
        online.items()
        >= {
            "label": ONLINE,
            "period": "2027-Q1",
            "figure": "85 %",
            "verdict": "đạt",
            "expected": 1,
            "reported": 1,
            "reported_on_time": 1,
        }.items()
    )
    assert online["value"].startswith("85 % (mục tiêu ≥ 85 %")
    # --at alone: the last overview due by then.
    done = runner.invoke(main, ["overview", "--at", "2027-03-25T08:00", "--format", "json"])
    assert json.loads(done.output)["quarter"] == "2027Q1"
    table = runner.invoke(main, ["overview", "--quarter", "2027Q1", "--at", "2027-03-23T08:00"])
    assert table.exit_code == 0 and "Công an xã" in table.output
    assert "nhiệm vụ có hạn từ 19/12/2026 đến 18/03/2027" in table.output
    assert f"- {ONLINE}: 85 % (mục tiêu ≥ 85 % (đến năm 2030)): đạt;" in table.output
    out = tmp_path / "q1.xlsx"
    done = runner.invoke(main, ["overview", "--quarter", "2027Q1", "--format", "xlsx", "-o", out])
    assert done.exit_code == 0 and out.exists()
    assert load_workbook(out)["Tổng hợp quý"]["A1"].value.startswith("TÌNH HÌNH THỰC HIỆN")
    bad = runner.invoke(main, ["overview", "--quarter", "2027Q9"])
    assert bad.exit_code == 1 and "lỗi: Quý không hợp lệ: '2027Q9'" in bad.output
    bad = runner.invoke(main, ["overview", "--format", "xlsx"])
    assert bad.exit_code == 1 and "--format xlsx cần --output FILE" in bad.output


def test_no_overview_before_its_day(sqlite_engine, plan):
    """The sweep of 22/03 (the day before) queues nothing."""
    sweep(plan, sqlite_engine, morning(plan, date(2027, 1, 4)))
    sweep(plan, sqlite_engine, morning(plan, date(2027, 3, 22)))
    assert overview_rows(sqlite_engine) == []
    sweep(plan, sqlite_engine, morning(plan, date(2027, 3, 23)))
    assert {r.recipient for r in overview_rows(sqlite_engine)} == {CHAIR, VICE, OFFICE}


def test_check_warns_when_no_leader_receives_the_overview(config_dir):
    from schedules.plan_loader import load_plan

    path = config_dir / "commune.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("      in_charge: true\n", "      in_charge: true\n      overview: false\n")
    text = text.replace(
        "      email: chutich@maodien.example\n",
        "      email: chutich@maodien.example\n      overview: false\n",
    )
    path.write_text(text, encoding="utf-8")
    plan = load_plan(config_dir)
    assert overview_leaders(plan) == ()
    [warning] = [str(w) for w in plan.warnings if "overview" in str(w)]
    assert "commune.yaml:" in warning
    assert "no leader receives the quarterly overview" in warning
    assert "không lãnh đạo nào nhận bản tổng hợp tình hình quý" in warning


def test_an_extension_of_the_consolidated_report_keeps_its_overview_once(sqlite_engine, plan):
    """The outbox rows hang on the consolidated report's item: an extension of it (which
    archives that item's rows for its new round) leaves the overview as it is, and the next
    sweep queues no second one."""
    sweep(plan, sqlite_engine, morning(plan, date(2027, 1, 4)))
    sweep(plan, sqlite_engine, morning(plan, date(2027, 3, 23)))
    assert len(overview_rows(sqlite_engine)) == 3
    with Session(sqlite_engine) as session:
        report = session.exec(
            select(WorkItem).where(
                WorkItem.obligation == "bao-cao-cchc-tong-hop", WorkItem.period == "2027-Q1"
            )
        ).one()
    why = "Chờ số liệu của đơn vị."
    at = morning(plan, date(2027, 3, 23), 10)
    grant_extension(plan, sqlite_engine, GrantExtension(report.id, date(2027, 3, 26), why), at)
    sweep(plan, sqlite_engine, morning(plan, date(2027, 3, 24)))
    rows = overview_rows(sqlite_engine)
    assert len(rows) == 3 and {r.step for r in rows} == {"overview"}


def test_preview_shows_the_overview_of_a_consolidated_report(sqlite_engine, plan):
    from notifications.preview import describe_mail, preview_mail
    from usecases.errors import UserError

    sweep(plan, sqlite_engine, morning(plan, date(2027, 1, 4)))
    sweep(plan, sqlite_engine, morning(plan, date(2027, 3, 8)))
    with Session(sqlite_engine) as session:
        report = session.exec(
            select(WorkItem).where(
                WorkItem.obligation == "bao-cao-cchc-tong-hop", WorkItem.period == "2027-Q1"
            )
        ).one()
        other = session.exec(select(WorkItem).where(WorkItem.unit == "CA")).first()
    mail = preview_mail(plan, sqlite_engine, report.id, "overview", None)
    text = describe_mail(mail, "text").decode()
    assert "To: Chủ tịch UBND xã <chutich@maodien.example>" in text
    assert "tính đến ngày 23/03/2027:" in text  # as of its sending morning
    assert "Attachment: tong-hop-cchc-2027-quy-1.xlsx" in text
    with pytest.raises(UserError, match="không phải báo cáo tổng hợp"):
        preview_mail(plan, sqlite_engine, other.id, "overview", None)


def test_a_refused_overview_reaches_the_office_with_its_content(sqlite_engine, plan, tmp_path):
    """The Chủ tịch's server refuses the mail for good: the standing office is told, and its
    notice carries the overview and the workbook, to forward by hand."""
    sweep(plan, sqlite_engine, morning(plan, date(2027, 1, 4)))
    with running_smtp_server() as server:
        server.inbox.refuse[CHAIR] = "550 5.1.1 mailbox unavailable"
        settings = mail_settings(tmp_path, tmp_path / "data", "sqlite://", server.port)
        at = morning(plan, date(2027, 3, 23))
        sweep(plan, sqlite_engine, at)
        deliver_pending(plan, sqlite_engine, settings, at)
        deliver_pending(plan, sqlite_engine, settings, morning(plan, date(2027, 3, 23), 9))
        notices = [
            m for m in overviews(server.inbox) if m.header("Subject").startswith("[Không gửi được]")
        ]
    [notice] = notices
    assert notice.rcpt_tos == [OFFICE]
    assert "chutich@maodien.example" in notice.text
    assert "1. Kết quả chung:" in notice.text
    [part] = list(notice.msg.iter_attachments())
    assert part.get_filename() == "tong-hop-cchc-2027-quy-1.xlsx"


def test_cli_overview_never_imports_prefect(tmp_path, migrated_sqlite_url):
    code = (
        "import sys; from click.testing import CliRunner; from cchc.cli import main\n"
        "r = CliRunner().invoke(main, ['overview', '--quarter', '2027Q1', '--format', 'json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'prefect', 'apscheduler'})\n"
        "assert not loaded, loaded\n"
    )
    run_python(code, cli_env(tmp_path, migrated_sqlite_url))


def test_a_late_first_run_sends_no_overview_of_a_quarter_it_did_not_follow(sqlite_engine, plan):
    """A fresh database first swept on 15/07/2027 opens quý II's consolidated report past its
    day (23/06): no overview of quý II (its items are the office's to sort out first). Quý
    III, followed from its start, has its overview on 23/09; a sweep after a week's downtime
    still sends it (catch-up)."""
    sweep(plan, sqlite_engine, morning(plan, date(2027, 7, 15)))
    sweep(plan, sqlite_engine, morning(plan, date(2027, 7, 16)))
    assert overview_rows(sqlite_engine) == []
    sweep(plan, sqlite_engine, morning(plan, date(2027, 9, 6)))
    sweep(plan, sqlite_engine, morning(plan, date(2027, 9, 22)))
    assert overview_rows(sqlite_engine) == []
    sweep(plan, sqlite_engine, morning(plan, date(2027, 9, 30)))  # down 23/09 to 29/09
    rows = overview_rows(sqlite_engine)
    assert {r.recipient for r in rows} == {CHAIR, VICE, OFFICE}
    with Session(sqlite_engine) as session:
        report = session.get(WorkItem, rows[0].item_id)
    assert (report.obligation, report.period) == ("bao-cao-cchc-tong-hop", "2027-Q3")
