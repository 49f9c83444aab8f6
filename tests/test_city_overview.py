"""The Sở's overview after each period (issue 23, last bullet): the example city (phường Mẫu,
xã Ví Dụ) with an indicator shared by both; phường Mẫu sends its quý I report on time, xã Ví
Dụ does not. Once the city's own report is due (24/03/2027) and `overview_after` working days
more, the Giám đốc Sở gets exactly one mail, the city office copied: each commune's report (on
time, missing), the city's indicator against its target, the communes furthest from it, the
workbook attached; no later sweep sends it again; `cchc overview --commune CITY` shows it.
Real parts: the example city copied, a SQLite file, an aiosmtpd server on loopback."""

from __future__ import annotations

import io
import json
import shutil
from datetime import date
from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select
from support import go_live_on_start
from test_indicators_city import SHARED
from test_mail_support import mail_settings, morning, running_smtp_server

from cchc.cli import main
from models.db import ensure_schema, make_engine, transaction
from models.tables import Outbox, WorkItem
from notifications.delivery import deliver_pending
from schedules.city_loader import load_city
from schedules.notices import overview_leaders
from schedules.overview import quarter_cycle
from schedules.vocabulary import MailKind
from usecases.indicator_values import enter_values
from usecases.lifecycle import receive_document
from usecases.sweep import sweep_communes

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "examples" / "city"
DIRECTOR = "giamdoc@snv.vidu.example"
OFFICE = "cchc@snv.vidu.example"
ONLINE = "Tỷ lệ hồ sơ công việc được xử lý trên môi trường mạng (Mục II.6.a, ý 5)"


def sos(inbox) -> list:
    """The Sở's overviews (each commune's own goes to its own leaders)."""
    return [m for m in inbox.messages if m.kind == MailKind.OVERVIEW and DIRECTOR in m.rcpt_tos]


def test_the_sos_leaders_get_one_city_overview(tmp_path, sqlite_url):
    folder = Path(shutil.copytree(EXAMPLE, tmp_path / "city"))
    for commune in sorted((folder / "communes").iterdir()):
        go_live_on_start(commune)
    (folder / "indicators.yaml").write_text(SHARED, encoding="utf-8")
    city = load_city(folder)
    office = city.office
    assert office is not None and overview_leaders(office) == (DIRECTOR,)
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    plans = city.select(None)
    with running_smtp_server() as server:
        settings = mail_settings(folder, tmp_path / "data", sqlite_url, server.port)

        def run(day: date) -> None:
            at = morning(office, day)
            sweep_communes(plans, engine, at)
            for plan in plans:
                deliver_pending(plan, engine, settings, at)

        run(date(2027, 3, 9))
        run(date(2027, 3, 11))
        with transaction(engine) as s:
            items = s.scalars(select(WorkItem).where(WorkItem.period == "2027-Q1")).all()
        at = morning(office, date(2027, 3, 12), 9)
        figures = {"phuongmau": "9/10", "xavidu": "5/10"}
        for item in items:
            if item.obligation == "bao-cao-cchc-dinh-ky":
                texts = {"ho-so-cong-viec-tren-mang": figures[item.commune]}
                enter_values(city.plans[item.commune], engine, item.id, texts, at, item.unit)
        [report] = [
            i for i in items if (i.commune, i.obligation) == ("phuongmau", "bao-cao-cchc-tong-hop")
        ]
        at = morning(office, date(2027, 3, 16), 9)
        receive_document(city.plans["phuongmau"], engine, report.id, "21/BC-UBND", None, at)
        q1 = quarter_cycle(office, 2027, 1)
        assert q1.report_due == date(2027, 3, 24) and q1.send_on is not None
        day = date(2027, 3, 16)
        while day <= q1.send_on:
            if office.calendar.is_working_day(day):
                run(day)
            if day < q1.send_on:
                assert not sos(server.inbox)
            day = date.fromordinal(day.toordinal() + 1)
        run(date(2027, 4, 2))  # later sweeps send nothing again
        sent = sos(server.inbox)

    assert len(sent) == 1
    [mail] = sent
    assert mail.rcpt_tos == [DIRECTOR, OFFICE]
    assert mail.header("Subject") == "[CCHC] Tình hình báo cáo CCHC của các xã, phường quý I/2027"
    text = " ".join(mail.text.split())
    assert "Kính gửi: Đồng chí Giám đốc Sở Nội vụ" in text
    assert (
        "Sở Nội vụ thành phố Ví Dụ kính báo cáo đồng chí tình hình các xã, phường gửi Sở báo cáo "
        "cải cách hành chính quý I/2027 (báo cáo tổng hợp của thành phố hạn 24/03/2027)"
    ) in text
    assert "1. Kết quả chung: 2 xã, phường; gửi đúng hạn 1, gửi muộn 0, chưa gửi 1." in text
    assert "Chưa gửi: xã Ví Dụ." in text
    assert "- phường Mẫu: đúng hạn (nhận ngày 16/03/2027)." in text
    assert "- xã Ví Dụ: chưa gửi (hạn " in text
    expected = sum(1 for i in items if i.obligation == "bao-cao-cchc-dinh-ky")
    by_commune = {
        c: sum(1 for i in items if (i.obligation, i.commune) == ("bao-cao-cchc-dinh-ky", c))
        for c in figures
    }
    value = (9 * by_commune["phuongmau"] + 5 * by_commune["xavidu"]) / (10 * expected) * 100
    assert f"3. Chỉ số toàn thành phố (so với mục tiêu của kế hoạch): - {ONLINE}: " in text
    assert f"{expected}/{expected} đơn vị đã báo cáo ({expected} đúng hạn)" in text
    assert f"chưa đạt (còn thiếu {100 - round(value, 2):g}".replace(".", ",") in text
    assert "4. Các xã, phường còn xa mục tiêu nhất: - xã Ví Dụ: bình quân còn thiếu 50 điểm %" in (
        text
    )
    [part] = list(mail.msg.iter_attachments())
    assert part.get_filename() == "tong-hop-cchc-thanh-pho-2027-quy-1.xlsx"
    book = load_workbook(io.BytesIO(part.get_content()))
    rows = {r[0]: r for r in book["Báo cáo các xã"].iter_rows(min_row=6, values_only=True)}
    assert rows["phuongmau"][1:3] == ("phường Mẫu", "đúng hạn")
    assert rows["xavidu"][1:3] == ("xã Ví Dụ", "chưa gửi")
    assert book["Chỉ số"]["A4"].value == "ho-so-cong-viec-tren-mang"
    assert book["Xa mục tiêu nhất"]["A4"].value == "xavidu"
    with transaction(engine) as s:
        query = (
            select(Outbox)
            .join(WorkItem, WorkItem.id == Outbox.item_id)
            .where(Outbox.kind == MailKind.OVERVIEW, WorkItem.commune == city.code)
        )
        queued = s.scalars(query).all()
        assert sorted((r.recipient, r.status) for r in queued) == [
            (OFFICE, "sent"),
            (DIRECTOR, "sent"),
        ]

    env = {
        "CCHC_CONFIG": str(folder),
        "CCHC_DATA_DIR": str(tmp_path / "data"),
        "CCHC_DATABASE_URL": sqlite_url,
        "PREFECT_API_URL": None,
    }
    args = ["overview", "--commune", city.code, "--quarter", "2027Q1", "--at", "2027-03-29T08:00"]
    done = CliRunner().invoke(main, [*args, "--format", "json"], env=env)
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert data["reports"] == {"on_time": 1, "late": 0, "missing": 1}
    assert [c["commune"] for c in data["communes"]] == ["phuongmau", "xavidu"]
    assert data["indicators"][0]["id"] == "ho-so-cong-viec-tren-mang"
    assert data["furthest"][0]["commune"] == "xavidu"
    table = CliRunner().invoke(main, args, env=env)
    assert table.exit_code == 0, table.output
    assert "xã Ví Dụ: chưa gửi" in table.output
    # xã Ví Dụ's report comes in after its due date: late, from then on.
    [late] = [i for i in items if (i.commune, i.obligation) == ("xavidu", "bao-cao-cchc-tong-hop")]
    at = morning(office, date(2027, 3, 30), 9)
    receive_document(city.plans["xavidu"], engine, late.id, "9/BC-UBND", None, at)
    later = [*args[:-1], "2027-03-30T10:00", "--format", "json"]
    data = json.loads(CliRunner().invoke(main, later, env=env).output)
    assert data["reports"] == {"on_time": 1, "late": 1, "missing": 0}
    assert data["communes"][1]["received"] == "2027-03-30"
    engine.dispose()
