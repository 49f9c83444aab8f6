"""A city of xã, phường and đặc khu, each in its own words, and the Sở Nội vụ acting as the Sở:
its reminder, its escalation to a commune's Chủ tịch and its receipt of a commune's report to
the city, its return of one from the city's office page; one sender per commune; what `cchc
check` says of a ladder that ends after the city's due date, of addresses two communes share,
and of a name that says another kind. Real parts only: the shipped example city copied, a
generated city, `cchc` in process, a SQLite file, an aiosmtpd server on loopback, the intake
under uvicorn."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from city_support import commune_codes, make_city, write_city
from click.testing import CliRunner
from intake_support import Clock, LiveIntake, deliverables, pdf_bytes, reload, t
from sqlalchemy import select
from support import go_live_on_start
from test_mail_support import mail_settings

from cchc.cli import main
from models.db import transaction
from models.tables import Event, WorkItem
from notifications.delivery import deliver_pending
from schedules.city_loader import load_city
from usecases.sweep import sweep_communes

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "examples" / "city"
SYSTEM = "noreply@cchc.vidu.example"
SO = "Sở Nội vụ thành phố Ví Dụ"
REPORT = "bao-cao-cchc-tong-hop"


@pytest.fixture
def city_dir(tmp_path: Path) -> Path:
    """The example city, its communes live since their start (a first sweep in March catches up
    on the quarter instead of holding its items for the office: tests/test_golive.py)."""
    city = Path(shutil.copytree(EXAMPLE, tmp_path / "city"))
    for commune in sorted((city / "communes").iterdir()):
        go_live_on_start(commune)
    return city


class Cli:
    def __init__(self, config: Path, tmp_path: Path, port: int | None = None):
        self.env = {
            "CCHC_CONFIG": str(config),
            "CCHC_DATA_DIR": str(tmp_path / "data"),
            "CCHC_DATABASE_URL": "",
            "CCHC_SMTP_HOST": "127.0.0.1" if port else None,
            "CCHC_SMTP_PORT": str(port) if port else None,
            "CCHC_SMTP_FROM": f"Hệ thống nhắc việc CCHC <{SYSTEM}>",
            "PREFECT_API_URL": None,
        }

    def __call__(self, *args: str, ok: bool = True):
        done = CliRunner().invoke(main, list(args), env=self.env, catch_exceptions=False)
        if ok:
            assert done.exit_code == 0, done.output
        return done

    def items(self, *args: str) -> list[dict]:
        return json.loads(self("items", "--format", "json", *args).output)


def the_report(cli: Cli, commune: str) -> int:
    (row,) = [
        r
        for r in cli.items("--commune", commune)
        if r["obligation"] == REPORT and r["period"] == "2027-Q1"
    ]
    return row["id"]


def phuongmau_report_open(cli: Cli) -> int:
    """A new database swept on 09/03 and 11/03/2027 (the units' reports open, then the
    commune's): phường Mẫu's 2027-Q1 report to the city, open."""
    cli("init-db")
    cli("sweep", "--at", "2027-03-09T08:00")
    cli("sweep", "--at", "2027-03-11T08:00")  # the units' reports open, then the commune's
    return the_report(cli, "phuongmau")


# ----- the Sở writes to the communes ----------------------------------------------------------


def test_the_so_reminds_a_late_commune_then_asks_its_chu_tich_then_confirms(
    city_dir, tmp_path, smtp
):
    """Phường Mẫu's report is due 19/03, the city's 24/03: the day after, the Sở reminds the
    phường's office; the commune's own ladder goes on (its Phó Chủ tịch); by the city's due
    date the Sở writes to the phường's Chủ tịch; the report recorded, the Sở's receipt."""
    cli = Cli(city_dir, tmp_path, smtp.port)
    report = phuongmau_report_open(cli)
    inbox = smtp.inbox

    cli("sweep", "--at", "2027-03-22T08:00")
    (reminder,) = [m for m in inbox.for_item(report) if m.kind == "overdue"]
    assert reminder.header("From") == f"{SO} <cchc@snv.vidu.example>"
    assert reminder.header("Reply-To") == f"{SO} <cchc@snv.vidu.example>"
    assert reminder.header("Sender") == f"Hệ thống nhắc việc CCHC <{SYSTEM}>"
    assert reminder.mail_from == SYSTEM and reminder.rcpt_tos == ["vhxh@phuongmau.example"]
    assert reminder.header("Subject").startswith(
        f"[CCHC] {SO} đề nghị UBND phường Mẫu gửi báo cáo (hạn 19/03/2027)"
    )
    text = " ".join(reminder.text.split())
    assert f"{SO} đề nghị UBND phường Mẫu gửi Báo cáo CCHC quý I năm 2027" in text
    assert "trước ngày 24/03/2027 để tổng hợp báo cáo của Thành phố Ví Dụ" in text
    assert text.rstrip().endswith(f"Trả lời thư này để liên hệ {SO}.")
    assert "Cơ quan thường trực về cải cách hành chính" not in text
    assert f"{SO} đề nghị <strong>UBND phường Mẫu</strong> gửi" in reminder.html
    assert "Cơ quan thường trực về cải cách hành chính" not in reminder.html
    # The phường's own mails come from its own office (one sender per commune).
    own = [m for m in inbox.messages if m.kind != "overdue" or report not in m.items]
    phuong = [m for m in own if any(r.endswith("@phuongmau.example") for r in m.rcpt_tos)]
    assert phuong and {m.header("From") for m in phuong} == {
        "Phòng Văn hóa - Xã hội - phường Mẫu <vhxh@phuongmau.example>"
    }
    assert {m.header("Reply-To") for m in phuong} == {
        "Phòng Văn hóa - Xã hội <vhxh@phuongmau.example>"
    }

    cli("sweep", "--at", "2027-03-23T08:00")  # the commune's own level: its office's Trưởng phòng
    (own_level,) = [m for m in inbox.for_item(report) if m.kind == "escalation"]
    assert own_level.rcpt_tos == ["truongphong.vhxh@phuongmau.example", "vhxh@phuongmau.example"]
    assert own_level.header("From").endswith("<vhxh@phuongmau.example>")

    cli("sweep", "--at", "2027-03-24T08:00")  # the city's due date: the Sở's level
    escalation = [m for m in inbox.for_item(report) if m.kind == "escalation"][-1]
    assert escalation.header("To") == "Chủ tịch UBND phường Mẫu <chutich@phuongmau.example>"
    assert "phochutich@phuongmau.example" in escalation.header("Cc")
    assert escalation.header("From") == f"{SO} <cchc@snv.vidu.example>"
    text = " ".join(escalation.text.split())
    assert f"{SO} đề nghị UBND phường Mẫu gửi Báo cáo CCHC quý I năm 2027" in text
    assert "Đề nghị đồng chí chỉ đạo Phòng Văn hóa - Xã hội khẩn trương hoàn thành" in text

    cli("receive", str(report), "--doc", "21/BC-UBND", "--date", "2027-03-26",
        "--at", "2027-03-26T09:00")  # fmt: skip
    (receipt,) = [m for m in inbox.for_item(report) if m.kind == "closed"]
    assert receipt.header("From") == f"{SO} <cchc@snv.vidu.example>"
    assert receipt.rcpt_tos == ["vhxh@phuongmau.example"]
    text = " ".join(receipt.text.split())
    assert f"{SO} đã nhận Báo cáo số 21/BC-UBND ngày 26/03/2027 của UBND phường Mẫu, sau hạn" in (
        text
    )
    # Those the ladder reached hear it arrived, from the Sở that escalated last.
    corrections = [m for m in inbox.for_item(report) if m.kind == "correction"]
    assert {r for m in corrections for r in m.rcpt_tos} == {
        "truongphong.vhxh@phuongmau.example",
        "chutich@phuongmau.example",
        "phochutich@phuongmau.example",
    }
    assert {m.header("From") for m in corrections} == {f"{SO} <cchc@snv.vidu.example>"}
    assert "không cần xử lý thêm" in corrections[0].text


def test_the_sos_list_shows_each_communes_own_deadline(city_dir, tmp_path):
    """Phường Mẫu takes 15/03 off: its report is due a day after xã Ví Dụ's."""
    cli = Cli(city_dir, tmp_path)
    cli("init-db")
    cli("sweep", "--at", "2027-03-22T08:00", "--no-mail")
    (city_item,) = [r for r in cli.items("--commune", "thanhphovidu") if r["period"] == "2027-Q1"]
    mail = cli("preview", str(city_item["id"]), "--kind", "reminder",
               "--at", "2027-03-22T09:00").output  # fmt: skip
    assert "+ Ủy ban nhân dân phường Mẫu (hạn 19/03/2027): chưa nộp" in mail
    assert "+ Ủy ban nhân dân xã Ví Dụ (hạn 18/03/2027): chưa nộp" in mail
    assert "Tình hình nhận báo cáo của các xã, phường" in mail


def test_a_return_from_the_citys_office_page_is_the_sos(city_dir, tmp_path, sqlite_engine, smtp):
    """The Sở returns phường Mẫu's report from its own page: the event's actor is the city
    office, and the mail reads "Sở Nội vụ trả lại Báo cáo số … của UBND phường … để hoàn
    thiện"; a return from the phường's own office page stays the phường's."""
    city = load_city(city_dir)
    plan = city.plans["phuongmau"]
    sweep_communes(city.select(None), sqlite_engine, t("2027-03-15T08:00"))
    with transaction(sqlite_engine) as s:
        query = select(WorkItem).where(
            WorkItem.commune == "phuongmau", WorkItem.obligation == REPORT
        )
        item = s.exec(query).scalars().one()
    with LiveIntake(city, sqlite_engine, tmp_path / "data", Clock(t("2027-03-17T09:00"))) as live:
        handed = httpx.post(
            live.link(item), files=[("files", ("bc.pdf", pdf_bytes("bc"), "application/pdf"))]
        )
        assert handed.status_code == 303, handed.text[-300:]
        office = live.office()  # the city's
        token = httpx.URL(office).params["t"]
        form = {"t": token, "reason": "Thiếu số liệu phụ lục", "due": "2027-03-22"}
        done = httpx.post(f"{live.base}/office/items/{item.id}/versions/1/return", data=form)
        assert done.status_code == 200, done.text[-300:]
    assert reload(sqlite_engine, item.id).status == "open"
    with transaction(sqlite_engine) as s:
        (event,) = s.exec(
            select(Event).where(Event.item_id == item.id, Event.kind == "returned")
        ).scalars()
        assert (event.actor, event.detail["by"]) == ("city_office", "city")
    settings = mail_settings(city_dir, tmp_path / "mail", str(sqlite_engine.url), smtp.port)
    deliver_pending(plan, sqlite_engine, settings, t("2027-03-17T09:05"))
    (returned,) = [m for m in smtp.inbox.for_item(item.id) if m.kind == "returned"]
    assert returned.header("From") == f"{SO} <cchc@snv.vidu.example>"
    text = " ".join(returned.text.split())
    version = deliverables(sqlite_engine, item.id)[0]
    assert f"{SO} trả lại tệp {version.original_name}, lần nộp thứ 1 của UBND phường Mẫu để " in (
        text
    )
    assert "hoàn thiện. Lý do: Thiếu số liệu phụ lục" in text


# ----- each commune in its own words ----------------------------------------------------------


def test_xa_phuong_and_dac_khu_each_in_its_own_words(tmp_path):
    city = make_city(tmp_path / "city", 6, kinds=True)
    kinds = {code: str(p.commune.kind) for code, p in city.plans.items()}
    assert kinds == {"xa001": "xa", "xa002": "phuong", "xa003": "xa", "xa004": "phuong",
                     "xa005": "dac_khu", "xa006": "dac_khu"}  # fmt: skip
    title = city.plans["xa002"].obligations[REPORT].title
    assert title.endswith("công tác cải cách hành chính của phường")
    assert city.plans["xa005"].obligations[REPORT].title.endswith("của đặc khu")
    assert "Phòng Kinh tế, Hạ tầng và Đô thị" in [
        u.name for u in city.plans["xa002"].units.values()
    ]
    assert city.office is not None
    office_report = city.office.obligations["bao-cao-cchc-thanh-pho"]
    assert office_report.title.endswith("của các xã, phường, đặc khu")
    assert not [w for w in city.warnings if "names a" in w.message]
    assert city.office.commune.leadership[0].name == "Giám đốc Sở Nội vụ"
    cli = Cli(tmp_path / "city", tmp_path)
    checked = cli("check").output
    assert "thành phố haiphong, 2 xã, 2 phường, 2 đặc khu," in checked


def test_a_name_that_says_another_kind_is_warned(city_dir):
    commune = city_dir / "communes" / "phuongmau" / "commune.yaml"
    commune.write_text(commune.read_text("utf-8").replace("  kind: phuong\n", ""), "utf-8")
    units = city_dir / "communes" / "xavidu" / "units.yaml"
    text = units.read_text("utf-8").replace("name: Phòng Kinh tế", "name: Phòng Kinh tế phường")
    units.write_text(text, "utf-8")
    warnings = [str(w) for w in load_city(city_dir).warnings if "names a" in w.message]
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith(f"{commune}:4: warning: 'Ủy ban nhân dân phường Mẫu' names a")
    assert "commune.kind is xa (xã)" in warnings[0]
    assert warnings[1].startswith(f"{units}:")
    assert "'Phòng Kinh tế phường' names a phường" in warnings[1]
    # "Xã hội" is not a xã.
    assert not any("Văn hóa - Xã hội" in w for w in warnings)


def test_communes_sharing_unit_addresses_are_warned(city_dir):
    units = city_dir / "communes" / "xavidu" / "units.yaml"
    text = units.read_text("utf-8").replace("vanphong@xavidu.example", "vanphong@phuongmau.example")
    units.write_text(text, "utf-8")
    (warning,) = [str(w) for w in load_city(city_dir).warnings if "has the address" in w.message]
    line = text[: text.index("- code: VP")].count("\n") + 1  # the unit's entry
    assert warning.startswith(
        f"{units}:{line}: warning: unit VP of commune xavidu has the address "
        "vanphong@phuongmau.example of a unit of commune phuongmau"
    )


def test_a_communes_ladder_must_end_by_the_citys_due_date(city_dir, tmp_path):
    """The reviewer's case: phường Mẫu's report due 19/03, its Chủ tịch escalated 26/03, the
    city's due date 24/03: `cchc check` now says so, at the city's report."""
    template = city_dir / "plans" / "xa" / "obligations.yaml"
    text = template.read_text("utf-8")
    text = text.replace("- {after: 3, to: [leadership], before: consolidated_due}",
                        "- {after: 5, to: [leadership]}")  # fmt: skip
    template.write_text(text, "utf-8")
    checked = Cli(city_dir, tmp_path)("check").output
    city_yaml = city_dir / "city.yaml"
    schedule = (
        city_yaml.read_text("utf-8")
        .split("\n")
        .index("    schedule: {every: quarterly-cchc, due: {working_days_after_window: 8}}")
    )
    assert (
        f"{city_yaml}:{schedule + 1}: warning: commune phuongmau: period 2027-Q1: escalation "
        "level 2 on 26/03/2027 comes after 'bao-cao-cchc-thanh-pho' is due on 24/03/2027"
    ) in checked
    assert "[communes: phuongmau, xavidu]" in checked


def test_the_office_directors_own_lateness(city_dir):
    """The Sở's own late report escalates to its Giám đốc, not the city's Phó Chủ tịch."""
    from schedules.notices import escalation_addresses, leaders_in_charge

    office = load_city(city_dir).office
    assert office is not None
    assert leaders_in_charge(office) == ("giamdoc@snv.vidu.example",)
    assert escalation_addresses(office, ("head",), "SNV") == ("giamdoc@snv.vidu.example",)
    assert "pct@vidu.example" in escalation_addresses(office, ("leadership",), "SNV")


# ----- the city's summaries -------------------------------------------------------------------


def test_the_league_of_one_commune_and_the_sweeps_words(tmp_path):
    folder = write_city(tmp_path / "city", commune_codes(4), kinds=True)
    cli = Cli(folder, tmp_path)
    cli("init-db")
    cli("sweep", "--at", "2027-03-30T08:00", "--no-mail")
    rows = json.loads(cli("report", "--year", "2027", "--by", "commune", "--format", "json",
                          "--at", "2027-03-30T08:00").output)  # fmt: skip
    assert len(rows) == 4
    (row,) = json.loads(cli("report", "--year", "2027", "--by", "commune", "--commune", "xa002",
                            "--format", "json", "--at", "2027-03-30T08:00").output)  # fmt: skip
    assert row["commune"] == "xa002" and row == next(r for r in rows if r["commune"] == "xa002")
    table = cli("report", "--year", "2027", "--by", "commune", "--at", "2027-03-30T08:00").output
    assert "Xã, phường, đặc khu" in table and "Mã xã" not in table


def test_the_sweeps_final_state_counts_communes_by_kind(tmp_path):
    from collections import Counter

    from notifications.sweep_summary import city_late_message

    city = make_city(tmp_path / "city", 4, kinds=True)
    late = Counter({"overdue": 2})
    counts = {"xa001": {"VP": late}, "xa002": {"VP": late}, "xa003": {"VP": late},
              "haiphong": {"SNV": late}}  # fmt: skip
    message = city_late_message(city, counts)
    assert message.startswith("8 việc quá hạn ở 1 xã, 1 phường, 1 đặc khu và cơ quan thành phố")


def test_deploy_says_why_a_deployment_is_paused(city_dir):
    """An obligation still in the config whose only opening comes before `commune.start` has
    no deployment: it is paused for that reason, not as "no longer in the config"."""
    from flows.deploy_plan import DeployDiff, configured_names

    city = load_city(city_dir)
    names = configured_names(city)
    assert "thanhphovidu-bao-cao-cchc-tong-hop" in names
    assert "thanhphovidu-bao-cao-cchc-thanh-pho" in names
    diff = DeployDiff("http://prefect", "cchc", configured=names)
    diff.pruned = [("thanhphovidu-bao-cao-cchc-tong-hop", "paused"), ("thanhphovidu-cu", "paused")]
    lines = diff.lines()
    assert (
        "- thanhphovidu-bao-cao-cchc-tong-hop (paused: no opening on or after commune.start: "
        "nothing left to open)"
    ) in lines
    assert "- thanhphovidu-cu (paused: no longer in the config)" in lines


def test_the_summary_counts_deliveries_not_outbox_rows(city_dir, tmp_path, sqlite_engine, smtp):
    """Phường Mẫu's Phó Chủ tịch gets two escalations in one digest: one delivery, two rows."""
    from notifications.sweep_summary import delivery_line

    city = load_city(city_dir)
    plan = city.plans["phuongmau"]
    settings = mail_settings(city_dir, tmp_path / "mail", str(sqlite_engine.url), smtp.port)
    sweep_communes(city.select(None), sqlite_engine, t("2027-03-10T08:00"))
    deliver_pending(plan, sqlite_engine, settings, t("2027-03-10T08:05"))
    smtp.inbox.messages.clear()
    sweep_communes(city.select(None), sqlite_engine, t("2027-03-22T08:00"))
    report = deliver_pending(plan, sqlite_engine, settings, t("2027-03-22T08:05"))
    received = sum(len(m.rcpt_tos) for m in smtp.inbox.messages)
    assert report.deliveries == received < len(report.sent)
    assert any(m.kind == "digest" for m in smtp.inbox.messages)
    line = delivery_line(report)
    assert f"({received} lượt nhận, {len(report.sent)} thông báo)" in line


def test_new_config_reads_the_kind_from_the_name(tmp_path):
    cli = Cli(tmp_path / "unused", tmp_path)
    folder = tmp_path / "dk"
    cli("new-config", str(folder), "--commune", "cátbà", "--name", "UBND đặc khu Cát Hải",
        "--year", "2027", ok=False)  # fmt: skip
    cli("new-config", str(folder), "--commune", "cathai", "--name", "UBND đặc khu Cát Hải",
        "--year", "2027")  # fmt: skip
    text = (folder / "commune.yaml").read_text("utf-8")
    assert "  kind: dac_khu " in text and "Chủ tịch UBND đặc khu" in text
    checked = Cli(folder, tmp_path)("check").output
    assert checked.startswith("Cấu hình hợp lệ") and "warning" not in checked


def test_a_phuongs_economic_office_is_named_as_a_phuongs(city_dir):
    """Nghị định 150/2025: a phường's "Phòng Kinh tế, Hạ tầng và Đô thị", a xã's "Phòng Kinh
    tế"; a copied folder that kept the other's is warned."""
    units = city_dir / "communes" / "phuongmau" / "units.yaml"
    text = units.read_text("utf-8").replace('"Phòng Kinh tế, Hạ tầng và Đô thị"', "Phòng Kinh tế")
    units.write_text(text, "utf-8")
    (warning,) = [str(w) for w in load_city(city_dir).warnings if "economic office" in w.message]
    assert warning.startswith(f"{units}:")
    assert "'Phòng Kinh tế': a phường's economic office is 'Phòng Kinh tế, Hạ tầng và Đô thị'" in (
        warning
    )


def test_the_sos_escalation_is_never_folded_into_the_communes_digest(city_dir, tmp_path, smtp):
    """After a pause, phường Mẫu's Chủ tịch is escalated two units' reports (the commune's, one
    digest) and the phường's report to the city (the Sở's, a mail of its own) in one run."""
    template = city_dir / "plans" / "xa" / "obligations.yaml"
    text = template.read_text("utf-8").replace(
        "- {after: 2, to: [leader_in_charge], before: consolidated_due}",
        "- {after: 2, to: [leadership], before: consolidated_due}",
    )
    template.write_text(text, "utf-8")
    cli = Cli(city_dir, tmp_path, smtp.port)
    report = phuongmau_report_open(cli)
    smtp.inbox.messages.clear()
    cli("sweep", "--at", "2027-03-24T08:00")
    to_chair = [m for m in smtp.inbox.messages if "chutich@phuongmau.example" in m.rcpt_tos]
    by_kind = {m.kind: m for m in to_chair if m.kind != "overview"}  # the quarter's, its own
    assert sorted(by_kind) == ["digest", "escalation"], [m.kind for m in to_chair]
    assert by_kind["escalation"].items == [report]
    assert by_kind["escalation"].header("From") == f"{SO} <cchc@snv.vidu.example>"
    assert report not in by_kind["digest"].items and len(by_kind["digest"].items) == 2
    assert by_kind["digest"].header("From").endswith("<vhxh@phuongmau.example>")


def test_the_sos_reminder_to_a_digest_office_comes_alone(city_dir, tmp_path, smtp):
    """Phường Mẫu's office takes one digest a day: the Sở's reminder still comes as the Sở's own
    mail, not as a line of the phường's digest."""
    units = city_dir / "communes" / "phuongmau" / "units.yaml"
    text = units.read_text("utf-8").replace(
        "    email: vhxh@phuongmau.example\n",
        "    email: vhxh@phuongmau.example\n    digest: true\n",
    )
    units.write_text(text, "utf-8")
    cli = Cli(city_dir, tmp_path, smtp.port)
    report = phuongmau_report_open(cli)
    smtp.inbox.messages.clear()
    cli("sweep", "--at", "2027-03-22T08:00")
    (reminder,) = [m for m in smtp.inbox.messages if m.kind == "overdue"]
    assert reminder.items == [report] and reminder.rcpt_tos == ["vhxh@phuongmau.example"]
    assert reminder.header("From") == f"{SO} <cchc@snv.vidu.example>"
    digests = [m for m in smtp.inbox.messages if m.kind == "digest"]
    assert all(report not in m.items for m in digests)
