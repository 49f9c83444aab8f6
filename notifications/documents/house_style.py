"""The house style of the documents: styles and colours, how a rate and a quarter are written,
and the formatting runs every workbook sheet and chart shares (openpyxl and matplotlib are
imported where used: a command that prints no document loads neither)."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

QUARTER_LABELS = {"Q1": "Quý I", "Q2": "Quý II", "Q3": "Quý III", "Q4": "Quý IV"}
HEADERS = {
    "unit": "Mã đơn vị",
    "name": "Đơn vị",
    "due": "Đến hạn",
    "on_time": "Đúng hạn",
    "on_time_extended": "Đúng hạn (được gia hạn)",
    "late": "Quá hạn (đã nộp)",
    "overdue_open": "Quá hạn (chưa nộp)",
    "pending": "Trong hạn",
    "waived": "Được miễn",
    "on_time_rate": "Tỷ lệ đúng hạn",
}
"""The Vietnamese headings of the report's keys (`usecases.reporting.UnitYear.as_dict`)."""
PRINT_FONT = "Times New Roman"
"""The font of Vietnamese administrative documents; LibreOffice substitutes a metric-compatible
one (Liberation Serif) where it is missing, with the same Vietnamese glyphs."""
TITLE_SIZE = 14
BODY_SIZE = 11
CHART_WIDTH_PX = 960
"""The chart's width in the workbook (96 px per inch: 25.4 cm, a landscape A4 page's width)."""
CHART_COLOURS = ("#9ecae1", "#5a9fd4", "#2b6cb0", "#123f75", "#c2571a")
"""Quarters light to dark blue; the whole year in orange."""
RATE_NOTE = (
    "Tỷ lệ đúng hạn = đúng hạn / (đúng hạn + quá hạn đã nộp + quá hạn chưa nộp); nhiệm vụ được "
    "miễn không tính"
)
"""How the rate is counted, in every document's footnote."""
XLSX_MIME = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.0%}"


# ----- workbooks --------------------------------------------------------------------------------


def print_setup(ws, title_rows: str | None = None) -> None:
    """A4 landscape, fit to one page wide (as many tall as needed), centred, narrow margins,
    the table's header repeated on each printed page."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    if title_rows:
        ws.print_title_rows = title_rows


def sheet_title(ws, cell: str, text: str, last_col: int, size: int = TITLE_SIZE) -> None:
    """A title across the table's width, tall enough for stacked Vietnamese accents (Ấ, Ễ)."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    ws[cell] = text
    ws[cell].font = Font(name=PRINT_FONT, bold=True, size=size)
    ws[cell].alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    row = ws[cell].row
    ws.merge_cells(f"{cell}:{get_column_letter(last_col)}{row}")
    ws.row_dimensions[row].height = size * 2.2


@dataclass(frozen=True)
class Table:
    """A sheet's table: its headings, its rows (the last one, the total, in bold), and how
    it prints."""

    headings: Sequence[str]
    rows: Sequence[Sequence[Any]]
    rate_columns: set[int]
    """1-based columns holding rates (shown as "87.5%")."""
    widths: Sequence[float]
    frozen_columns: int
    """Columns kept in view when scrolling right (the codes and names)."""
    header_height: float = 34


def table_sheet(
    ws,
    title: str,
    table: Table,
    notes: tuple[str, str] | None = None,
    title_size: int = TITLE_SIZE,
) -> None:
    """A printable table: the title; under it, when given, a subtitle and an italic footnote
    (`notes`); the header row (shaded, repeated on each printed page); the rows, boxed."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    width = len(table.headings)
    sheet_title(ws, "A1", title, width, title_size)
    if notes:
        for row, (text, height) in enumerate(zip(notes, (20, 34), strict=True), start=2):
            cell = ws.cell(row, 1, text)
            cell.font = Font(name=PRINT_FONT, size=BODY_SIZE, italic=row == 3)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
            ws.row_dimensions[row].height = height
    header = 5 if notes else 3
    styles = _CellStyles()
    for col, text in enumerate(table.headings, start=1):
        cell = ws.cell(header, col, text)
        cell.font, cell.fill = styles.bold, styles.head_fill
        cell.border, cell.alignment = styles.box, styles.wrap
    for n, values in enumerate(table.rows, start=header + 1):
        total = n == header + len(table.rows)
        for col, value in enumerate(values, start=1):
            cell = ws.cell(n, col, value)
            cell.border, cell.font = styles.box, styles.bold if total else styles.body
            cell.alignment = Alignment(vertical="center")
            if col in table.rate_columns:
                cell.number_format = "0.0%"
        ws.row_dimensions[n].height = 20
    for col, col_width in enumerate(table.widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = col_width
    ws.row_dimensions[header].height = table.header_height
    ws.freeze_panes = ws.cell(header + 1, table.frozen_columns + 1)
    print_setup(ws, f"{header}:{header}")


class _CellStyles:
    """The styles of a table's cells."""

    def __init__(self) -> None:
        from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

        self.bold = Font(name=PRINT_FONT, bold=True, size=BODY_SIZE)
        self.body = Font(name=PRINT_FONT, size=BODY_SIZE)
        self.head_fill = PatternFill("solid", fgColor="DCE6F2")
        thin = Side(style="thin", color="B8C0C8")
        self.box = Border(left=thin, right=thin, top=thin, bottom=thin)
        self.wrap = Alignment(wrap_text=True, vertical="center")


def chart_sheet(wb, title: str, png: bytes, last_col: int):
    """The sheet "Biểu đồ": a title, and the chart scaled to a landscape A4 page's width."""
    from openpyxl.drawing.image import Image

    wc = wb.create_sheet("Biểu đồ")
    sheet_title(wc, "A1", title, last_col, TITLE_SIZE - 1)
    picture = Image(io.BytesIO(png))
    scale = min(1.0, CHART_WIDTH_PX / picture.width)
    # types-openpyxl declares int sizes; openpyxl takes any number (it converts to EMU itself).
    picture.width, picture.height = picture.width * scale, picture.height * scale  # type: ignore[assignment]
    wc.add_image(picture, "A3")
    print_setup(wc)
    return wc


def data_sheet(wb, keys: list[str], rows: list[dict], name_width: int) -> None:
    """The sheet "Dữ liệu": the rows under their raw keys, for a spreadsheet user's own sums."""
    from openpyxl.utils import get_column_letter

    styles = _CellStyles()
    wd = wb.create_sheet("Dữ liệu")
    for col, key in enumerate(keys, start=1):
        wd.cell(1, col, key).font = styles.bold
        wd.column_dimensions[get_column_letter(col)].width = name_width if key == "name" else 13
    for n, data in enumerate(rows, start=2):
        for col, key in enumerate(keys, start=1):
            wd.cell(n, col, data[key]).font = styles.body
    print_setup(wd, "1:1")


def workbook_bytes(wb, title: str, at: datetime) -> bytes:
    """The workbook saved, titled and dated by `at` (the same input, the same bytes)."""
    wb.properties.title = title
    wb.properties.creator = "cchc"
    wb.properties.created = at.replace(tzinfo=None)
    wb.properties.modified = at.replace(tzinfo=None)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ----- charts -----------------------------------------------------------------------------------


@contextmanager
def chart(width: float, height: float) -> Iterator[tuple[Any, Any]]:
    """(figure, axes) of a chart (matplotlib, Agg backend), closed on the way out."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    try:
        yield fig, ax
    finally:
        plt.close(fig)


def label_bars(ax, bars, rates: list[float | None], horizontal: bool = False) -> None:
    """Each bar's rate written at its end ("–": nothing due)."""
    for bar, rate in zip(bars, rates, strict=True):
        if horizontal:
            end, offset = (bar.get_width(), bar.get_y() + bar.get_height() / 2), (3, 0)
            align = {"ha": "left", "va": "center"}
        else:
            end, offset = (bar.get_x() + bar.get_width() / 2, bar.get_height()), (0, 2)
            align = {"ha": "center", "va": "bottom"}
        ax.annotate(
            percent(rate),
            end,
            xytext=offset,
            textcoords="offset points",
            fontsize=6.5,
            color="#3d454d",
            **align,
        )


def png_bytes(fig) -> bytes:
    """The chart as PNG, with no software stamp (the same chart, the same bytes)."""
    out = io.BytesIO()
    fig.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
