"""The office's daily work from the command line (issue 19), on real databases (a SQLite file and
PostgreSQL) and a real SMTP server (aiosmtpd): `cchc directive`, `extend`, `refuse-extension`,
`accept`, `items` (directive, original_due, days_late, --status late), `report` (waived, "Đến
hạn" without what is not due yet), the escalations at 14:00 and the correction after them, and
`receive` refusing what cannot be true. The Q1 scenario of the issue runs end to end."""

from __future__ import annotations

import gc
import io
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from intake_support import pdf_bytes
from office_support import CA, KT, OFFICE, TTPVHCC, VP, outbox, reload, t
from support import find_item
from test_mail_support import running_smtp_server

from cchc.cli import main
from models.db import make_engine
from schedules.vocabulary import ItemStatus
from usecases.extensions import RequestExtension, request_extension

ROOT = Path(__file__).resolve().parent.parent
REPORT = "bao-cao-cchc-dinh-ky"
HEAD_CA = "truong.congan@maodien.example"
HEAD_TTPVHCC = "giamdoc.ttpvhcc@maodien.example"
SNV = (
    "--number", "125/SNV-CCHC", "--date", "2027-03-03", "--issuer", "Sở Nội vụ",
    "--subject", "V/v báo cáo kết quả cấp tài khoản định danh điện tử", "--due", "2027-03-12",
    "--unit", "CA", "--unit", "KT", "--unit", "VP", "--coordinator", "TTPVHCC",
    "--task", "Báo cáo kết quả cấp tài khoản định danh điện tử mức độ 2",
    "--product", "Báo cáo kết quả (bản có chữ ký số)",
)  # fmt: skip
UBND = (
    "--number", "37/UBND-VP", "--date", "2027-03-03", "--issuer", "UBND xã",
    "--subject", "về việc rà soát thủ tục hành chính", "--due", "2027-03-12", "--unit", "CA",
)  # fmt: skip


class Office:
    """`cchc` run in process (click's runner) on the shipped config, a database and an SMTP
    server; `ok` fails the test on a non-zero exit."""

    def __init__(self, tmp_path: Path, db_url: str, smtp_port: int | None = None):
        self.env = {
            "CCHC_CONFIG": str(ROOT / "config"),
            "CCHC_DATA_DIR": str(tmp_path / "data"),
            "CCHC_DATABASE_URL": db_url,
            "CCHC_SECRET": "0123456789abcdef-office-cli",
            "CCHC_SINGLE_MACHINE": "1",  # links to the loopback intake, on PostgreSQL too
            "PREFECT_API_URL": None,
            "CCHC_SMTP_HOST": "127.0.0.1" if smtp_port else None,
            "CCHC_SMTP_PORT": str(smtp_port) if smtp_port else None,
        }
        self.db_url = db_url
        self.folder = tmp_path

    def __call__(self, *args: str, ok: bool = True):
        done = CliRunner().invoke(main, list(args), env=self.env, catch_exceptions=False)
        gc.collect()  # the command's database engine and its connections go with it
        if ok:
            assert done.exit_code == 0, done.output
        return done

    def items(self, *args: str) -> list[dict]:
        return json.loads(self("items", "--format", "json", *args).stdout)

    def engine(self):
        return make_engine(self.db_url)


@pytest.fixture
def office(tmp_path, db_url):
    return Office(tmp_path, db_url)


def pdf(folder: Path, name: str, text: str = "Bao cao") -> Path:
    path = folder / name
    path.write_bytes(pdf_bytes(text))
    return path


def mail_text(message) -> str:
    return " ".join(message.text.split())


# ----- the Q1 scenario of the issue ----------------------------------------------------------


def test_the_q1_cycle_of_an_office(plan, tmp_path, db_url):
    """Two directives (one tasking three units), one extension granted and one refused, a
    return, a document received at 09:00 after the 07:30 sweep (the head hears nothing), an
    escalation at 14:00 then the document: its correction; the items and the scorecard."""
    with running_smtp_server() as smtp:
        cchc = Office(tmp_path, db_url, smtp.port)
        inbox = smtp.inbox
        cchc("init-db")
        cchc("sweep", "--at", "2027-03-02T07:30")
        ids = _directives(cchc, inbox, tmp_path)
        _extensions(cchc, inbox, ids, plan)
        _a_return(cchc, tmp_path, ids)
        _before_the_escalation(cchc, inbox)
        _after_the_escalation(cchc, inbox)
        _the_items_and_the_scorecard(cchc, ids, tmp_path)


def _directives(cchc: Office, inbox, tmp_path: Path) -> dict[str, int]:
    """Directive 125/SNV-CCHC tasks CA, KT and VP with its file; 37/UBND-VP tasks CA on the
    same due date: a second item, not "đã có nhiệm vụ này"."""
    scan = pdf(tmp_path, "cv-125.pdf")
    out = cchc("directive", *SNV, "--file", str(scan), "--at", "2027-03-03T09:00").stdout
    assert out.startswith(
        "Đã ghi nhận Công văn số 125/SNV-CCHC ngày 03/03/2027 của Sở Nội vụ (mã văn bản 1); "
        "mở 3 nhiệm vụ"
    )
    second = cchc("directive", *UBND, "--at", "2027-03-03T10:00").stdout
    assert "Công văn số 37/UBND-VP" in second and "mở 1 nhiệm vụ" in second
    by_number = {}
    for row in cchc.items():
        if row["directive"]:
            by_number[(row["directive"], row["unit"])] = row["id"]
    assert set(by_number) == {
        ("125/SNV-CCHC", "CA"),
        ("125/SNV-CCHC", "KT"),
        ("125/SNV-CCHC", "VP"),
        ("37/UBND-VP", "CA"),
    }
    opened = [m for m in inbox.messages if m.kind == "opened" and m.rcpt_tos[0] in (CA, KT, VP)]
    snv = [m for m in opened if "125/SNV-CCHC" in m.header("Subject")]
    assert sorted(m.rcpt_tos[0] for m in snv) == sorted([CA, KT, VP])
    text = mail_text(next(m for m in snv if m.rcpt_tos == [CA]))
    assert (
        "Thực hiện Công văn số 125/SNV-CCHC ngày 03/03/2027 của Sở Nội vụ về việc báo cáo kết quả "
        "cấp tài khoản định danh điện tử, Phòng Văn hóa - Xã hội đề nghị Công an xã" in text
    )
    assert any(p.get_filename() == "cv-125.pdf" for p in snv[0].msg.iter_attachments())
    asked = [
        m
        for m in inbox.messages
        if m.kind == "coordinate" and "125/SNV-CCHC" in m.text and m.rcpt_tos == [TTPVHCC]
    ]
    assert len(asked) == 3  # one request for inputs per lead unit's item
    return {
        "CA": by_number[("125/SNV-CCHC", "CA")],
        "KT": by_number[("125/SNV-CCHC", "KT")],
        "VP": by_number[("125/SNV-CCHC", "VP")],
        "CA2": by_number[("37/UBND-VP", "CA")],
    }


def _extensions(cchc: Office, inbox, ids: dict[str, int], plan) -> None:
    """KT asks (through its link) and the office grants with `cchc extend`; CA asks and the
    office refuses with `cchc refuse-extension`."""
    engine = cchc.engine()
    for unit, until in (("KT", date(2027, 3, 19)), ("CA", date(2027, 3, 26))):
        command = RequestExtension(ids[unit], unit, until, "Chờ số liệu của Công an tỉnh")
        request_extension(plan, engine, command, t("2027-03-08T09:00"))
    engine.dispose()
    out = cchc(
        "extend", str(ids["KT"]), "--until", "2027-03-19", "--reason", "Đồng ý theo đề nghị",
        "--at", "2027-03-08T15:00",
    ).stdout  # fmt: skip
    assert out.startswith(
        f"Nhiệm vụ số {ids['KT']}: gia hạn lần 1 theo đề nghị của đơn vị, hạn mới 19/03/2027 "
        "(hạn trước 12/03/2027)"
    )
    refused = cchc(
        "refuse-extension", str(ids["CA"]), "--reason", "Nhiệm vụ cấp bách",
        "--at", "2027-03-08T15:05",
    ).stdout  # fmt: skip
    assert refused.startswith(
        f"Nhiệm vụ số {ids['CA']}: không gia hạn đến 26/03/2027; hạn vẫn là 12/03/2027"
    )
    again = cchc("refuse-extension", str(ids["CA"]), "--reason", "x", ok=False)
    assert again.exit_code == 1 and "không có đề nghị gia hạn nào đang chờ" in again.output
    [granted] = [m for m in inbox.messages if m.kind == "extension" and m.rcpt_tos[0] == KT]
    assert OFFICE in granted.rcpt_tos and "hạn nộp mới 19/03/2027" in granted.header("Subject")
    [no] = [m for m in inbox.messages if m.kind == "extension" and m.rcpt_tos[0] == CA]
    assert "Không gia hạn" in no.header("Subject") and "Nhiệm vụ cấp bách" in no.text


def _a_return(cchc: Office, tmp_path: Path, ids: dict[str, int]) -> None:
    """VP's v1 on time, returned, v2 within the completion date: on time; then accepted."""
    first = pdf(tmp_path, "bc-vp-v1.pdf")
    cchc("attach", str(ids["VP"]), str(first), "--by", "VP", "--at", "2027-03-10T10:00")
    out = cchc(
        "return", str(ids["VP"]), "--reason", "Thiếu phụ lục", "--due", "2027-03-17",
        "--at", "2027-03-11T09:00",
    ).stdout  # fmt: skip
    assert "mở lại đến hạn 17/03/2027" in out
    second = pdf(tmp_path, "bc-vp-v2.pdf", "Bao cao v2")
    cchc("attach", str(ids["VP"]), str(second), "--by", "VP", "--at", "2027-03-15T10:00")
    none = cchc("accept", str(ids["VP"]), "--version", "9", "--at", "2027-03-15T11:00", ok=False)
    assert none.exit_code == 1 and "không có phiên bản 9" in none.output
    done = cchc("accept", str(ids["VP"]), "--at", "2027-03-15T11:00").stdout
    assert done.startswith(f"Nhiệm vụ số {ids['VP']}: đã chấp nhận phiên bản 2 (đúng hạn)")
    twice = cchc("accept", str(ids["VP"]), "--at", "2027-03-15T11:05", ok=False)
    assert "không có phiên bản nào đang chờ xem xét" in twice.output


def _before_the_escalation(cchc: Office, inbox) -> None:
    """17/03, the day after the Q1 reports were due: the 07:30 sweep reminds, escalates
    nothing; TTPVHCC's report dated 16/03 is recorded at 09:00, on time: its head hears
    nothing at all; the 14:00 sweep escalates the others to their heads."""
    cchc("sweep", "--at", "2027-03-16T14:00")  # the day before, as the engine runs
    before = len(inbox.messages)
    cchc("sweep", "--at", "2027-03-17T07:30")
    morning = inbox.messages[before:]
    assert morning and not [m for m in morning if m.kind == "escalation"]
    engine = cchc.engine()
    ttpvhcc = find_item(engine, REPORT, "TTPVHCC", "2027-Q1")
    out = cchc(
        "receive", str(ttpvhcc.id), "--doc", "15/BC-TTPVHCC", "--date", "2027-03-16",
        "--at", "2027-03-17T09:00",
    ).stdout  # fmt: skip
    assert "Báo cáo số 15/BC-TTPVHCC ngày 16/03/2027" in out and "đúng hạn" in out
    before = len(inbox.messages)
    cchc("sweep", "--at", "2027-03-17T14:00")
    afternoon = inbox.messages[before:]
    heads = {m.rcpt_tos[0] for m in afternoon if m.kind == "escalation"}
    assert HEAD_CA in heads and HEAD_TTPVHCC not in heads
    told = {r for m in inbox.messages for r in m.rcpt_tos if ttpvhcc.id in m.items}
    assert HEAD_TTPVHCC not in told and told >= {TTPVHCC, OFFICE}
    assert reload(engine, ttpvhcc.id).escalation_level == 0
    engine.dispose()


def _after_the_escalation(cchc: Office, inbox) -> None:
    """CA's report arrives the day after its head was told: the head gets the correction."""
    engine = cchc.engine()
    ca = find_item(engine, REPORT, "CA", "2027-Q1")
    assert reload(engine, ca.id).status == ItemStatus.ESCALATED
    before = len(inbox.messages)
    cchc(
        "receive", str(ca.id), "--doc", "20/BC-CA", "--date", "2027-03-17",
        "--at", "2027-03-18T09:00",
    )  # fmt: skip
    [correction] = [m for m in inbox.messages[before:] if m.kind == "correction"]
    assert correction.rcpt_tos == [HEAD_CA]
    # After the colon the sentence goes on in lower case, as an office writes it.
    assert (
        "Phòng Văn hóa - Xã hội trân trọng thông báo: đã nhận Báo cáo số 20/BC-CA ngày 17/03/2027,"
        " sau hạn." in mail_text(correction)
    )
    assert correction.header("Subject").startswith("[CCHC] Đã nhận: Công an xã đã nộp")
    rows = [o for o in outbox(engine, ca.id) if o.kind == "correction"]
    assert [(o.step, o.recipient, o.status) for o in rows] == [("correction", HEAD_CA, "sent")]
    engine.dispose()


def _the_items_and_the_scorecard(cchc: Office, ids: dict[str, int], tmp_path: Path) -> None:
    """`cchc items` names the directives and keeps the first due dates; KT's directive item,
    handed in within its extension, counts "đúng hạn (được gia hạn)"."""
    kt = pdf(tmp_path, "bc-kt.pdf")
    cchc("attach", str(ids["KT"]), str(kt), "--by", "KT", "--at", "2027-03-18T10:00")
    by_id = {row["id"]: row for row in cchc.items()}
    assert (by_id[ids["KT"]]["due"], by_id[ids["KT"]]["original_due"]) == (
        "2027-03-19",
        "2027-03-12",
    )
    assert by_id[ids["VP"]]["directive"] == "125/SNV-CCHC" and by_id[ids["VP"]]["on_time"]
    late = cchc.items("--status", "late", "--at", "2027-03-18T10:00")
    assert {r["id"] for r in late} >= {ids["CA"], ids["CA2"]}
    assert {r["days_late"] for r in late if r["id"] == ids["CA"]} == {4}  # 12/03 → 18/03
    assert all(r["days_late"] > 0 for r in late)
    rows = {
        r["unit"]: r
        for r in json.loads(
            cchc("report", "--year", "2027", "--format", "json", "--at", "2027-03-31T12:00").stdout
        )
    }
    assert (rows["KT"]["on_time_extended"], rows["KT"]["on_time_rate"]) == (1, 0.5)
    assert (rows["VP"]["on_time"], rows["VP"]["late"]) == (1, 0)  # returned, completed in time
    ca = rows["CA"]
    assert (ca["due"], ca["late"], ca["overdue_open"], ca["on_time_rate"]) == (3, 1, 2, 0.0)
    table = cchc("report", "--year", "2027", "--at", "2027-03-31T12:00").stdout
    assert "Được miễn" in table and "Đúng hạn (được gia hạn)" in table
    workbook = tmp_path / "bang-diem.xlsx"
    cchc("report", "--year", "2027", "--format", "xlsx", "-o", str(workbook), "--at",
         "2027-03-31T12:00")  # fmt: skip
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(workbook.read_bytes()))["Văn bản chỉ đạo"]
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    kt_row = next(r for r in cells if r[2] == "Phòng Kinh tế")
    assert kt_row[0] == "Công văn số 125/SNV-CCHC ngày 03/03/2027 của Sở Nội vụ"
    assert kt_row[3:] == ["19/03/2027", "12/03/2027", "đúng hạn (được gia hạn)"]
    assert cells[-1][:2] == ["Cộng", "4 nhiệm vụ"]


# ----- the commands one by one ---------------------------------------------------------------


def test_a_directive_that_cannot_be_true_records_nothing(office, tmp_path):
    office("init-db")
    bad = list(SNV)
    bad[bad.index("125/SNV-CCHC")] = "abc"
    done = office("directive", *bad, "--at", "2027-03-03T09:00", ok=False)
    assert done.exit_code == 1 and "ví dụ 125/SNV-CCHC" in done.output
    program = tmp_path / "cong-van.pdf"
    program.write_bytes(b"MZ\x90\x00" + b"\x00" * 200)  # a Windows program, named .pdf
    done = office("directive", *SNV, "--file", str(program), "--at", "2027-03-03T09:00", ok=False)
    assert done.exit_code == 1 and "bị từ chối" in done.output and "Traceback" not in done.output
    link = tmp_path / "link.pdf"
    link.symlink_to(pdf(tmp_path, "real.pdf"))
    done = office("directive", *SNV, "--file", str(link), "--at", "2027-03-03T09:00", ok=False)
    assert done.exit_code == 1 and "liên kết" in done.output
    assert office.items() == []
    assert not (tmp_path / "data" / "deliverables").exists()


def test_a_saturday_due_date_and_the_items_table(office):
    office("init-db")
    saturday = [*UBND[:-4], "--due", "2027-03-13", "--unit", "VP"]
    out = office("directive", *saturday, "--at", "2027-03-03T09:00").stdout
    assert "hạn 15/03/2027 (13/03/2027 là ngày nghỉ" in out
    table = office("items", "--at", "2027-03-17T09:00").stdout
    header, _rule, row = table.splitlines()[:3]
    assert "Văn bản" in header and "Trễ (ngày làm việc)" in header and "Hạn ban đầu" in header
    assert "37/UBND-VP" in row and row.split()[-3] == "2"  # 15/03 → 17/03: 2 working days late
    [item] = office.items("--status", "late", "--at", "2027-03-17T09:00")
    assert (item["directive"], item["days_late"], item["original_due"]) == (
        "37/UBND-VP",
        2,
        "2027-03-15",
    )
    assert office.items("--status", "late", "--at", "2027-03-15T09:00") == []


def test_the_report_counts_what_is_due_by_then(office):
    """At 10/03 the Q1 reports (due 16/03) are not due yet: "Trong hạn", not "Đến hạn"; the
    table shows the waived ones apart."""
    office("init-db")
    office("sweep", "--at", "2027-03-02T07:30", "--no-mail")
    engine = office.engine()
    kt = find_item(engine, REPORT, "KT", "2027-Q1")
    engine.dispose()
    office("waive", str(kt.id), "--reason", "Không phát sinh", "--at", "2027-03-05T09:00")
    args = ("report", "--year", "2027", "--at", "2027-03-10T09:00")
    rows = {r["unit"]: r for r in json.loads(office(*args, "--format", "json").stdout)}
    assert (rows["CA"]["due"], rows["CA"]["pending"], rows["CA"]["on_time_rate"]) == (0, 1, None)
    assert (rows["KT"]["due"], rows["KT"]["pending"], rows["KT"]["waived"]) == (0, 0, 1)
    assert all(
        r["due"] == r["on_time"] + r["on_time_extended"] + r["late"] + r["overdue_open"]
        for r in rows.values()
    )
    table = office(*args).stdout.splitlines()
    assert "Được miễn" in table[0] and "Đúng hạn (được gia hạn)" in table[0]
    # KT: nothing due, nothing pending, one waived, no rate.
    kt_cells = next(line for line in table if line.startswith("KT ")).split()
    assert kt_cells[-6:] == ["0", "0", "0", "0", "0", "1"]


def test_extend_and_refuse_say_why_not(office):
    office("init-db")
    office("sweep", "--at", "2027-03-02T07:30", "--no-mail")
    engine = office.engine()
    vp = find_item(engine, REPORT, "VP", "2027-Q1")
    engine.dispose()
    for args, message in (
        (("extend", str(vp.id), "--until", "2027-03-15", "--reason", "x"), "phải sau hạn"),
        (("extend", str(vp.id), "--until", "2027-03-23", "--reason", " "), "lý do"),
        (("extend", "424242", "--until", "2027-03-23", "--reason", "x"), "424242"),
        (("refuse-extension", str(vp.id), "--reason", "x"), "không có đề nghị"),
    ):
        done = office(*args, "--at", "2027-03-05T09:00", ok=False)
        assert done.exit_code == 1 and message in done.output, done.output
    out = office(
        "extend", str(vp.id), "--until", "2027-03-20", "--reason", "Sự cố mạng",
        "--at", "2027-03-05T09:00",
    ).stdout  # fmt: skip
    assert "hạn mới 22/03/2027 (hạn trước 16/03/2027)" in out  # Saturday 20/03 → Monday


def test_the_directive_number_is_beside_the_task_on_the_pages_and_the_scorecard(plan, engine):
    """The Prefect status tables (open and late items) and the scorecard name the directive."""
    from flows.item_reads import open_items_now
    from notifications.documents.scorecard import scorecard_markdown
    from notifications.status_pages import status_pages
    from usecases.directives import IssueDirective, issue_directive
    from usecases.scorecard import build_scorecard
    from usecases.sweep import sweep

    sweep(plan, engine, t("2027-03-02T07:30"))
    directive = IssueDirective(
        number="125/SNV-CCHC",
        issued_on=date(2027, 3, 3),
        issuer="Sở Nội vụ",
        subject="V/v báo cáo kết quả cấp tài khoản định danh điện tử",
        due=date(2027, 3, 12),
        units=("CA",),
        task="Báo cáo kết quả cấp tài khoản định danh",
    )
    [item] = issue_directive(plan, engine, directive, t("2027-03-03T09:00")).items
    at = t("2027-03-17T09:00")
    pages = status_pages(plan, open_items_now(plan, engine), at)
    for page in (pages["table"], pages["late"]):
        by_id = {row["Mã việc"]: row for row in page.content}
        assert by_id[item.id]["Văn bản"] == "125/SNV-CCHC"
        assert by_id[item.id]["Nhiệm vụ"] == "Báo cáo kết quả cấp tài khoản định danh"
        assert {row["Văn bản"] for i, row in by_id.items() if i != item.id} == {""}
    card = build_scorecard(plan, engine, 2027, at)
    [task] = card.directives
    assert (task.number, task.unit, task.result) == ("125/SNV-CCHC", "CA", "quá hạn")
    markdown = scorecard_markdown(card)
    assert "## Nhiệm vụ theo văn bản chỉ đạo" in markdown
    assert (
        "| 125/SNV-CCHC | Báo cáo kết quả cấp tài khoản định danh | Công an xã | 12/03/2027 | "
        "quá hạn |" in markdown
    )
    assert "| Đơn vị | Đến hạn | Đúng hạn | Đúng hạn (được gia hạn) |" in markdown


def test_preview_renders_the_correction_and_the_extension(office):
    office("init-db")
    office("sweep", "--at", "2027-03-02T07:30", "--no-mail")
    engine = office.engine()
    ca = find_item(engine, REPORT, "CA", "2027-Q1")
    engine.dispose()
    correction = office("preview", str(ca.id), "--kind", "correction", "--at", "2027-03-18T09:00")
    assert f"To: Trưởng Công an xã <{HEAD_CA}>" in correction.stdout
    assert "Subject: [CCHC] Đã nhận: Công an xã đã nộp" in correction.stdout
    extension = office("preview", str(ca.id), "--kind", "extension", "--at", "2027-03-05T09:00")
    assert "X-CCHC-Kind: extension" in extension.stdout
