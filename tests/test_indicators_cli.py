"""`cchc value` and `cchc indicators` as written in the issue: values entered per item (exit
non-zero and nothing stored on a bad value), the JSON rows' contract, CSV, XLSX and the chart."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from support import cli_env, find_item, run_cchc

from models.db import make_engine

REPORT = "bao-cao-cchc-dinh-ky"
CONTRACT = {"id", "ref", "name", "period", "unit", "numerator", "denominator", "value", "target",
            "verdict"}  # fmt: skip


@pytest.fixture
def env(tmp_path: Path, migrated_sqlite_url: str) -> dict:
    env = cli_env(tmp_path / "data", migrated_sqlite_url)
    run_cchc(env, "sweep", "--at", "2027-03-02T07:30", "--no-mail")
    run_cchc(env, "sweep", "--at", "2027-06-02T07:30", "--no-mail")
    return env


def item_id(env: dict, unit: str, period: str, obligation: str = REPORT) -> int:
    engine = make_engine(env["CCHC_DATABASE_URL"])
    try:
        found = find_item(engine, obligation, unit, period).id
    finally:
        engine.dispose()
    assert found is not None
    return found


def json_rows(env: dict, *args: str) -> list[dict]:
    return json.loads(run_cchc(env, "indicators", "--format", "json", *args).stdout)


def test_value_then_indicators_json(env):
    q1 = item_id(env, "TTPVHCC", "2027-Q1")
    done = run_cchc(
        env, "value", str(q1), "--set", "ho-so-truc-tuyen=170/200", "--set",
        "cong-khai-muc-do-hai-long=1", "--at", "2027-03-12T09:00",
    )  # fmt: skip
    assert "ho-so-truc-tuyen = 85 %" in done.stdout
    rows = json_rows(env, "--year", "2027")
    assert rows and all(row.keys() >= CONTRACT for row in rows)
    online = [r for r in rows if r["id"] == "ho-so-truc-tuyen" and r["period"] == "2027-Q1"]
    assert {r["unit"] for r in online} == {"TTPVHCC", "ALL"}
    commune = next(r for r in online if r["unit"] == "ALL")
    assert (
        commune.items()
        >= {
            "ref": "Mục II.2.a, ý 3",
            "numerator": 170.0,
            "denominator": 200.0,
            "value": 85.0,
            "target": 85.0,
            "verdict": "đạt",
            "expected": 1,
            "reported": 1,
            "reported_on_time": 1,
        }.items()
    )
    q2 = [r for r in rows if r["id"] == "ho-so-truc-tuyen" and r["period"] == "2027-H1"]
    assert {r["verdict"] for r in q2} == {"chưa có số liệu"}
    assert json_rows(env, "--year", "2028") == []


def test_a_bad_value_exits_non_zero_and_stores_nothing(env):
    q1 = item_id(env, "TTPVHCC", "2027-Q1")
    done = run_cchc(
        env, "value", str(q1), "--set", "ho-so-truc-tuyen=170/200", "--set",
        "so-hoa-ho-so-tthc=300/200", ok=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "lỗi: Số liệu không hợp lệ, chưa lưu gì" in done.stderr
    assert "lớn hơn mẫu số" in done.stderr
    rows = json_rows(env, "--year", "2027")
    assert all(r["value"] is None for r in rows)
    done = run_cchc(env, "value", str(q1), "--set", "ho-so-truc-tuyen", ok=False)
    assert done.returncode != 0 and "MÃ=TỬ/MẪU" in done.stderr


def test_a_jump_is_refused_until_confirmed(env):
    q1 = item_id(env, "TTPVHCC", "2027-Q1")
    h1 = item_id(env, "TTPVHCC", "2027-H1")
    run_cchc(env, "value", str(q1), "--set", "ho-so-truc-tuyen=30/100", "--at", "2027-03-12T09:00")
    args = ["value", str(h1), "--set", "ho-so-truc-tuyen=90/100", "--at", "2027-06-10T09:00"]
    done = run_cchc(env, *args, ok=False)
    assert done.returncode != 0 and "--confirm" in done.stderr
    run_cchc(env, *args, "--confirm")
    rows = json_rows(env, "--year", "2027")
    assert [r["value"] for r in rows if r["id"] == "ho-so-truc-tuyen" and r["unit"] == "ALL"] == [
        30.0,
        90.0,
    ]


def test_csv_xlsx_and_chart(env, tmp_path):
    from openpyxl import load_workbook

    q1 = item_id(env, "TTPVHCC", "2027-Q1")
    run_cchc(env, "value", str(q1), "--set", "ho-so-truc-tuyen=17/20", "--at", "2027-03-12T09:00")
    csv_text = run_cchc(env, "indicators", "--year", "2027", "--format", "csv").stdout
    header = "id,ref,name,period,unit,numerator,denominator,value,target,verdict,gap"
    assert csv_text.splitlines()[0].startswith(header)
    book, png = tmp_path / "chi-tieu.xlsx", tmp_path / "chi-tieu.png"
    run_cchc(env, "indicators", "--year", "2027", "--format", "xlsx", "-o", str(book), "--chart",
             str(png))  # fmt: skip
    assert png.read_bytes().startswith(b"\x89PNG")
    wb = load_workbook(io.BytesIO(book.read_bytes()))
    assert {"Chỉ tiêu", "Biểu đồ", "Dữ liệu"} <= set(wb.sheetnames)
    data = list(wb["Dữ liệu"].values)
    header = data[0]
    found = [dict(zip(header, r, strict=True)) for r in data[1:]]
    assert any(
        r["id"] == "ho-so-truc-tuyen" and r["value"] == 85 and r["unit"] == "ALL" for r in found
    )
    table = run_cchc(env, "indicators", "--year", "2027").stdout
    assert "ho-so-truc-tuyen" in table and "85 %" in table and "đạt" in table


def test_the_data_sheet_round_trips(env, tmp_path):
    """The Sở's data sheet: generated per unit and period, filled with openpyxl as the unit
    would in a spreadsheet, read back; another item's sheet is refused, nothing stored."""
    from openpyxl import load_workbook

    q1 = item_id(env, "TTPVHCC", "2027-Q1")
    run_cchc(env, "value", str(q1), "--set", "ho-so-truc-tuyen=17/20", "--at", "2027-03-12T09:00")
    h1 = item_id(env, "TTPVHCC", "2027-H1")
    sheet = tmp_path / "phieu.xlsx"
    done = run_cchc(env, "value", str(h1), "--write-sheet", str(sheet))
    assert "10 chỉ tiêu" in done.stdout
    wb = load_workbook(sheet)
    ws = wb.active
    assert ws["B3"].value == h1
    rows = {ws.cell(n, 1).value: n for n in range(9, ws.max_row + 1)}
    assert ws.cell(rows["ho-so-truc-tuyen"], 8).value == "85 % (quý I năm 2027)"
    assert ws.cell(rows["ho-so-truc-tuyen"], 9).value == "≥ 85 % (đến năm 2030)"
    ws.cell(rows["ho-so-truc-tuyen"], 5).value = 180
    ws.cell(rows["ho-so-truc-tuyen"], 7).value = 200
    ws.cell(rows["cong-khai-muc-do-hai-long"], 5).value = 1
    ws.cell(rows["so-hoa-ho-so-tthc"], 5).value = "45,5"
    ws.cell(rows["so-hoa-ho-so-tthc"], 7).value = 91
    wb.save(sheet)
    done = run_cchc(env, "value", str(q1), "--sheet", str(sheet), ok=False)
    assert done.returncode != 0 and f"nhiệm vụ số {h1}, không phải" in done.stderr
    run_cchc(env, "value", str(h1), "--sheet", str(sheet), "--at", "2027-06-10T09:00")
    rows_h1 = [r for r in json_rows(env, "--year", "2027") if r["period"] == "2027-H1"]
    found = {r["id"]: r for r in rows_h1 if r["unit"] == "TTPVHCC"}
    assert (found["ho-so-truc-tuyen"]["numerator"], found["ho-so-truc-tuyen"]["value"]) == (180, 90)
    assert found["so-hoa-ho-so-tthc"]["value"] == 50.0
    assert found["cong-khai-muc-do-hai-long"]["verdict"] == "đạt"
    ws.cell(rows["so-hoa-ho-so-tthc"], 5).value = 95  # more than its denominator
    wb.save(sheet)
    done = run_cchc(env, "value", str(h1), "--sheet", str(sheet), ok=False)
    assert done.returncode != 0 and "lớn hơn mẫu số" in done.stderr


def test_the_consolidated_report_mail_shows_the_indicators(env):
    q1 = item_id(env, "TTPVHCC", "2027-Q1")
    run_cchc(env, "value", str(q1), "--set", "ho-so-truc-tuyen=150/200", "--at", "2027-03-09T09:00")
    run_cchc(env, "sweep", "--at", "2027-03-10T07:30", "--no-mail")
    office = item_id(env, "VHXH", "2027-Q1", "bao-cao-cchc-tong-hop")
    text = run_cchc(
        env, "preview", str(office), "--kind", "reminder", "--at", "2027-03-16T08:00"
    ).stdout
    assert "Chỉ tiêu của kế hoạch, quý I năm 2027 (tại thời điểm gửi thư)" in text
    assert (
        "Tỷ lệ hồ sơ giải quyết trực tuyến trên tổng số hồ sơ (Mục II.2.a, ý 3): toàn xã 75 %, "
        "mục tiêu ≥ 85 % (đến năm 2030): chưa đạt (còn thiếu 10 điểm %); 1/1 đơn vị đã báo cáo"
    ) in text
    html = run_cchc(
        env, "preview", str(office), "--kind", "reminder", "--format", "html", "--at",
        "2027-03-16T08:00",
    ).stdout  # fmt: skip
    assert "chưa đạt (còn thiếu 10 điểm %)" in html and "Toàn xã" in html
