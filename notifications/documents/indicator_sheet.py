"""The Sở's data sheet of one unit's report (phiếu số liệu chỉ tiêu): an XLSX that cchc writes
for an item, with the indicators it owes, the previous period's values and the targets, for the
unit to fill in (numerator and denominator, or the value) and hand back; `read_sheet` reads the
figures back as `usecases.indicator_values.enter_values` takes them, checking that the sheet is
this item's."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime

from notifications.documents.house_style import print_setup, sheet_title, workbook_bytes
from usecases.indicator_values import Owed

HEADER = "Mã chỉ tiêu"
COLUMNS = (
    (HEADER, 24),
    ("Mục", 14),
    ("Chỉ tiêu", 48),
    ("Tử số: nội dung", 32),
    ("Tử số (hoặc giá trị)", 14),
    ("Mẫu số: nội dung", 32),
    ("Mẫu số", 12),
    ("Kỳ trước", 16),
    ("Mục tiêu", 18),
)
ITEM_CELL = "B3"


class SheetInvalid(ValueError):
    """The file is not this item's data sheet, or cannot be read (message in Vietnamese)."""


def _number(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def indicator_sheet(
    item_id: int,
    unit_name: str,
    period_label: str,
    owed: Sequence[Owed],
    targets: dict[str, str],
    previous: dict[str, str],
) -> bytes:
    """The data sheet of item `item_id`: one row per owed indicator, the value in force already
    filled in."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    assert ws is not None, "a new workbook has a sheet"
    ws.title = "Số liệu chỉ tiêu"
    sheet_title(ws, "A1", f"PHIẾU SỐ LIỆU CHỈ TIÊU CẢI CÁCH HÀNH CHÍNH, {period_label.upper()}", 9)
    ws["A3"], ws[ITEM_CELL] = "Mã nhiệm vụ", item_id
    ws["A4"], ws["B4"] = "Đơn vị", unit_name
    ws["A5"], ws["B5"] = "Kỳ báo cáo", period_label
    ws["A6"] = (
        "Điền cột E (tử số, hoặc giá trị với chỉ tiêu số lượng; 1 hoặc 0 với chỉ tiêu có/không) "
        "và cột G (mẫu số của chỉ tiêu tỷ lệ); không sửa cột A."
    )
    ws["A6"].font = Font(italic=True)
    header_row = 8
    fill = PatternFill("solid", fgColor="DCE6F2")
    for col, (text, width) in enumerate(COLUMNS, start=1):
        cell = ws.cell(header_row, col, text)
        cell.font, cell.fill = Font(bold=True), fill
        ws.column_dimensions[get_column_letter(col)].width = width
    for n, o in enumerate(owed, start=header_row + 1):
        i = o.indicator
        current = o.current
        values = [
            i.id,
            i.ref,
            i.name,
            i.numerator or ("Có (1) / Không (0)" if i.measure == "yes_no" else "Giá trị"),
            _number(current.numerator) if current else None,
            i.denominator or "",
            _number(current.denominator) if current and i.measure == "ratio" else None,
            previous.get(i.id, ""),
            targets.get(i.id, ""),
        ]
        for col, value in enumerate(values, start=1):
            ws.cell(n, col, value)
    print_setup(ws, f"{header_row}:{header_row}")
    return workbook_bytes(
        wb, f"Phiếu số liệu chỉ tiêu, nhiệm vụ {item_id}", datetime(2000, 1, 1, tzinfo=UTC)
    )


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_sheet(data: bytes, item_id: int, ratios: set[str]) -> dict[str, str | tuple[str, str]]:
    """The figures of a filled data sheet of item `item_id`: indicator id -> its value ("" to
    clear), a ratio's (numerator, denominator) for the ids of `ratios`. SheetInvalid when the
    file is not a workbook, or is another item's sheet."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise SheetInvalid(f"Không đọc được tệp phiếu số liệu (XLSX): {exc}") from None
    try:
        ws = wb.worksheets[0]
        rows = list(ws.iter_rows(values_only=True, max_col=len(COLUMNS)))
    finally:
        wb.close()
    found_item = next((r[1] for r in rows if r and r[0] == "Mã nhiệm vụ"), None)
    if _text(found_item) != str(item_id):
        raise SheetInvalid(
            f"Phiếu số liệu này là của nhiệm vụ số {_text(found_item) or '?'}, không phải của "
            f"nhiệm vụ số {item_id}: hãy dùng phiếu tải về cho đúng nhiệm vụ."
        )
    start = next((n for n, r in enumerate(rows) if r and r[0] == HEADER), None)
    if start is None:
        raise SheetInvalid(f"Phiếu số liệu thiếu dòng tiêu đề “{HEADER}”.")
    texts: dict[str, str | tuple[str, str]] = {}
    for row in rows[start + 1 :]:
        if not row or not row[0]:
            continue
        iid = _text(row[0])
        top, bottom = _text(row[4]), _text(row[6])
        texts[iid] = (top, bottom) if iid in ratios else top
    return texts
