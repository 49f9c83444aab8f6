"""The scorecard workbook as it prints: LibreOffice (when installed) converts it to PDF, and the PDF
has one landscape A4 page per sheet (tables and chart never split), with the whole title. The
print settings themselves are read back with openpyxl."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook
from test_intake_scorecard import AT, fill_a_year

from models.db import ensure_schema, make_engine
from notifications.documents.scorecard import scorecard_png, scorecard_xlsx
from schedules.dates import parse_instant
from usecases.scorecard import build_scorecard

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
TITLE = "KẾT QUẢ THỰC HIỆN ĐÚNG HẠN NHIỆM VỤ CẢI CÁCH HÀNH CHÍNH NĂM 2027"


@pytest.fixture(scope="module")
def workbook(plan, tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("scorecard")
    engine = make_engine(f"sqlite:///{folder / 'cchc.db'}")
    ensure_schema(engine)
    fill_a_year(plan, engine, folder)
    card = build_scorecard(plan, engine, 2027, parse_instant(AT))
    engine.dispose()
    return scorecard_xlsx(card, scorecard_png(card))


def test_every_sheet_prints_landscape_one_page_wide(workbook):
    wb = load_workbook(io.BytesIO(workbook))
    assert wb.sheetnames == ["Tổng hợp năm", "Theo quý", "Biểu đồ", "Dữ liệu"]
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.page_setup.fitToWidth == 1, ws.title
        assert str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4, ws.title
    summary = wb["Tổng hợp năm"]
    title = summary["A1"]
    assert title.value == TITLE
    # Tall enough for the stacked accents of the capitals (Ế, Ả, Ề), across the table.
    assert summary.row_dimensions[1].height >= 2 * title.font.size
    assert any(str(r).startswith("A1:") for r in summary.merged_cells.ranges)
    assert title.font.name and summary["B6"].font.name == title.font.name
    assert summary.row_dimensions[6].height


def _pdf_pages(pdf: Path) -> list[tuple[float, float]]:
    """(width, height) in points of each page, from the PDF's MediaBoxes."""
    data = pdf.read_bytes()
    boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", data))
    sizes = [(float(x2) - float(x1), float(y2) - float(y1)) for x1, y1, x2, y2 in boxes]
    return sizes[-pages:] if len(sizes) >= pages else sizes


@pytest.mark.slow
@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_prints_one_landscape_page_per_sheet(workbook, tmp_path):
    xlsx = tmp_path / "ket-qua-2027.xlsx"
    xlsx.write_bytes(workbook)
    profile = tmp_path / "lo-profile"  # a private profile: other soffice runs do not interfere
    done = subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
         "pdf", "--outdir", str(tmp_path), str(xlsx)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    pdf = tmp_path / "ket-qua-2027.pdf"
    assert done.returncode == 0 and pdf.exists(), done.stdout + done.stderr
    pages = _pdf_pages(pdf)
    assert len(pages) == 4, f"{len(pages)} pages: {pages}"
    assert all(w > h for w, h in pages), pages  # landscape
    assert all(abs(w - 841.9) < 2 and abs(h - 595.3) < 2 for w, h in pages), pages  # A4
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"],
            capture_output=True, text=True, timeout=60,
        ).stdout  # fmt: skip
        assert TITLE in " ".join(text.split())
