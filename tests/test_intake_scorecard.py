"""The yearly scorecard: `cchc report --format xlsx` holds the numbers `--format json` prints,
read back with openpyxl; the chart is a real PNG; quarters add up to the year."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from intake_support import ROOT, pdf_bytes, t
from openpyxl import load_workbook
from PIL import Image
from support import cli_env, run_cchc, runtime_env

from notifications.documents.scorecard import scorecard_markdown, scorecard_png, scorecard_xlsx
from usecases.item_list import list_items
from usecases.lifecycle import waive
from usecases.review import IncomingFile, accept_version, submit
from usecases.scorecard import QUARTERS, build_scorecard
from usecases.sweep import sweep

AT = "2027-12-31T12:00"
KEYS = [
    "unit",
    "name",
    "due",
    "on_time",
    "on_time_extended",
    "late",
    "overdue_open",
    "pending",
    "waived",
]


SWEEPS = ("2027-03-02T07:30", "2027-06-01T07:30", "2027-09-01T07:30", "2027-12-01T07:30")


def fill_a_year(plan, engine, tmp_path: Path, sweeps=SWEEPS) -> None:
    """Open the items of 2027; hand in two of three (every other one late), waive some."""
    for at in sweeps:
        sweep(plan, engine, t(at))
    upload = tmp_path / "upload.pdf"
    items = [i for i in list_items(plan, engine) if i.due.year == 2027]
    assert len(items) > 20
    for n, item in enumerate(items):
        if n % 7 == 6:
            waive(plan, engine, item.id, "Không phát sinh", t(f"{item.due}T08:00"))
            continue
        if n % 3 == 2:
            continue  # never handed in
        upload.write_bytes(pdf_bytes(f"item {item.id}"))
        late = n % 2 == 1
        at = t(f"{item.due}T15:00") if not late else t(f"{item.due}T15:00") + timedelta(days=3)
        submit(
            plan,
            engine,
            tmp_path / "data",
            item.id,
            item.unit,
            [IncomingFile("bao-cao.pdf", upload, "pdf")],
            at,
        )
        if n % 4 == 0:
            accept_version(plan, engine, item.id, 1, at + timedelta(days=1))


@pytest.fixture
def year_db(plan, sqlite_engine, tmp_path):
    """The year 2027 in the database at `sqlite_url`."""
    fill_a_year(plan, sqlite_engine, tmp_path)
    return sqlite_engine


@pytest.fixture
def before_scoring(plan, sqlite_engine, tmp_path):
    """The year up to November: the self-scoring item is not open yet."""
    fill_a_year(plan, sqlite_engine, tmp_path, SWEEPS[:3] + ("2027-11-01T07:30",))
    return sqlite_engine


def cchc(tmp_path, sqlite_url, *args: str) -> subprocess.CompletedProcess:
    return run_cchc(cli_env(tmp_path / "data", sqlite_url), *args, cwd=tmp_path)


def test_the_workbook_holds_the_json_numbers(year_db, sqlite_url, tmp_path):
    printed = json.loads(
        cchc(
            tmp_path, sqlite_url, "report", "--year", "2027", "--format", "json", "--at", AT
        ).stdout
    )
    book, chart = tmp_path / "diem-2027.xlsx", tmp_path / "bieu-do-2027.png"
    out = cchc(
        tmp_path, sqlite_url, "report", "--year", "2027", "--format", "xlsx",
        "--output", str(book), "--chart", str(chart), "--at", AT,
    ).stdout  # fmt: skip
    assert str(book) in out

    assert sum(r["on_time"] for r in printed) and sum(r["late"] for r in printed)
    assert sum(r["waived"] for r in printed) and sum(r["overdue_open"] for r in printed)
    wb = load_workbook(book)
    assert wb.sheetnames == ["Tổng hợp năm", "Theo quý", "Biểu đồ", "Dữ liệu"]

    raw = list(wb["Dữ liệu"].iter_rows(values_only=True))
    assert list(raw[0]) == [*KEYS, "on_time_rate"]
    assert [dict(zip(raw[0], row, strict=True)) for row in raw[1:]] == printed

    summary = wb["Tổng hợp năm"]
    rows = list(summary.iter_rows(min_row=6, values_only=True))
    for row, expected in zip(rows, printed, strict=False):
        assert list(row) == [expected[k] for k in [*KEYS, "on_time_rate"]]
    total = rows[len(printed)]
    assert total[1] == "Toàn xã"
    for col, key in enumerate(KEYS[2:], start=2):
        assert total[col] == sum(r[key] for r in printed)
    assert summary.cell(6, len(KEYS) + 1).number_format == "0.0%"
    assert "2027" in summary["A1"].value
    assert len(wb["Biểu đồ"]._images) == 1

    with Image.open(chart) as png:
        assert png.format == "PNG" and png.size[0] >= 800


def test_quarters_add_up_to_the_year(plan, year_db):
    card = build_scorecard(plan, year_db, 2027, t(AT))
    for row in card.units:
        quarters = card.quarters[row.unit]
        for key in KEYS[2:]:
            assert sum(getattr(quarters[q], key) for q in QUARTERS) == getattr(row, key)
    assert card.total().due == sum(r.due for r in card.units)
    markdown = scorecard_markdown(card)
    assert "| Toàn xã |" in markdown and "Quý IV" in markdown
    png = scorecard_png(card)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert scorecard_png(card) == png  # the same data draws the same bytes
    assert scorecard_xlsx(card).startswith(b"PK")


def test_xlsx_needs_an_output_file(year_db, sqlite_url, tmp_path):
    env = {**os.environ, "CCHC_DATABASE_URL": sqlite_url, "CCHC_CONFIG": str(ROOT / "config")}
    done = run_cchc(env, "report", "--year", "2027", "--format", "xlsx", cwd=tmp_path, ok=False)
    assert done.returncode == 1 and "--output" in done.stderr


# ----- evidence for the PAR INDEX self-scoring ----------------------------------------------------

SCORING = "tu-cham-diem-par-index"
SCORING_OPENS = "2027-12-13T07:30"  # 25 working days before 17/01/2028 (15/01 is a Saturday)


def test_the_self_scoring_mail_attaches_the_scorecard(plan, before_scoring, sqlite_url, tmp_path):
    year_db = before_scoring
    from test_mail_support import running_smtp_server

    from cchc.runtime.courier import deliver_mail
    from cchc.runtime.settings import IntakeSettings, Settings
    from notifications.smtp_settings import SmtpSettings

    sweep(plan, year_db, t(SCORING_OPENS))
    [item] = [
        i for i in list_items(plan, year_db) if i.obligation == SCORING and i.period == "2027"
    ]
    with running_smtp_server() as smtp:
        settings = Settings(
            ROOT / "config",
            tmp_path / "data",
            sqlite_url,
            smtp=SmtpSettings(host="127.0.0.1", port=smtp.port, timeout=5),
            intake=IntakeSettings(secret="test-secret-0123456789abcdef"),
        )
        deliver_mail(plan, year_db, settings, t(SCORING_OPENS), force=True)
        [mail] = [m for m in smtp.inbox.for_item(item.id) if m.kind == "opened"]
        scoring = {i.id for i in list_items(plan, year_db) if i.obligation == SCORING}
        others = [
            m for m in smtp.inbox.messages if m.kind == "opened" and not scoring & set(m.items)
        ]
    assert mail.rcpt_tos == ["vhxh@maodien.example"]  # the standing office leads it
    files = {part.get_filename(): part for part in mail.msg.iter_attachments()}
    assert {"ket-qua-dung-han-cchc-2027.xlsx", "bieu-do-dung-han-cchc-2027.png"} <= set(files)
    book = tmp_path / "evidence.xlsx"
    book.write_bytes(files["ket-qua-dung-han-cchc-2027.xlsx"].get_content())
    raw = list(load_workbook(book)["Dữ liệu"].iter_rows(values_only=True))
    expected = build_scorecard(plan, year_db, 2027, t(SCORING_OPENS)).rows()
    assert [dict(zip(raw[0], row, strict=True)) for row in raw[1:]] == expected
    assert all(
        not any(p.get_filename().endswith(".xlsx") for p in m.msg.iter_attachments())
        for m in others
    )  # other items' mails carry no scorecard


@pytest.mark.prefect
def test_the_self_scoring_flow_publishes_the_scorecard(
    harness, plan, before_scoring, sqlite_url, tmp_path, monkeypatch
):
    year_db = before_scoring
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from cchc.runtime.settings import Settings
    from flows import prefect_flows
    from notifications.status_pages import scorecard_key

    runtime_env(monkeypatch, tmp_path / "data", sqlite_url)
    prefect_flows.use_runtime(plan, year_db, Settings.from_env(str(plan.folder)))
    try:
        result = prefect_flows.open_self_scoring(obligation=SCORING, at=t(SCORING_OPENS))
    finally:
        prefect_flows.release_runtime()
    assert result["periods"] == ["2027"] and len(result["opened"]) == 1

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[scorecard_key(plan, 2027)])
                )
            )

    [artifact] = asyncio.run(read())
    assert artifact.type == "markdown"
    assert "| Toàn xã |" in artifact.data and "data:image/png;base64," in artifact.data
    card = build_scorecard(plan, year_db, 2027, t(SCORING_OPENS))
    assert f"| {card.total().due} |" in artifact.data
