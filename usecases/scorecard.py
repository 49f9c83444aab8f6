"""The yearly on-time scorecard per unit: evidence for the PAR INDEX self-scoring.

`build_scorecard` reads the database once; the builders are pure functions of a `Scorecard`:
`scorecard_xlsx` (openpyxl workbook, Vietnamese headings, one sheet of raw keys for scripts)
and `scorecard_png` (matplotlib, Agg backend: on-time rate per unit and per quarter). The year's
numbers are `usecases.reporting.tally`'s, the very numbers `cchc report --format json`
prints; a quarter is that of an item's due date.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine

from schedules.dates import local_date, vn_date, vn_datetime
from schedules.plan import Plan
from usecases.reporting import UnitYear, items_due_in, tally

QUARTERS = ("Q1", "Q2", "Q3", "Q4")
QUARTER_LABELS = {"Q1": "Quý I", "Q2": "Quý II", "Q3": "Quý III", "Q4": "Quý IV"}
FIELDS = (
    "unit",
    "name",
    "due",
    "on_time",
    "on_time_extended",
    "late",
    "overdue_open",
    "pending",
    "waived",
)
"""The keys of `cchc report --format json`, in its order (then `on_time_rate`)."""
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
TOTAL = "Toàn xã"
CHART_WIDTH_PX = 960
"""The chart's width in the workbook (96 px per inch: 25.4 cm, a landscape A4 page's width)."""
CHART_COLOURS = ("#9ecae1", "#5a9fd4", "#2b6cb0", "#123f75", "#c2571a")
"""Quarters light to dark blue; the whole year in orange."""


@dataclass
class Scorecard:
    plan_name: str
    commune: str
    year: int
    at: datetime
    zone: object
    units: list[UnitYear]
    quarters: dict[str, dict[str, UnitYear]] = field(default_factory=dict)
    """unit code → quarter (Q1..Q4) → the same counts for the items due in that quarter."""

    def total(self) -> UnitYear:
        """The commune as a whole."""
        return _sum(self.units)

    def total_quarters(self) -> dict[str, UnitYear]:
        return {q: _sum([per[q] for per in self.quarters.values()]) for q in QUARTERS}

    def with_total(self) -> list[tuple[UnitYear, dict[str, UnitYear]]]:
        """(year, quarters) for each unit, then for the commune as a whole."""
        rows = [(row, self.quarters.get(row.unit, {})) for row in self.units]
        return rows + [(self.total(), self.total_quarters())]

    def rows(self) -> list[dict]:
        """Per unit, as `cchc report --format json` prints them."""
        return [row.as_dict() for row in self.units]


def _sum(rows: list[UnitYear]) -> UnitYear:
    total = UnitYear(TOTAL, "Toàn xã")
    for row in rows:
        for key in FIELDS[2:]:
            setattr(total, key, getattr(total, key) + getattr(row, key))
    return total


def quarter_of(day: date) -> str:
    return QUARTERS[(day.month - 1) // 3]


def build_scorecard(plan: Plan, engine: Engine, year: int, at: datetime) -> Scorecard:
    """The year's counts per unit (as `cchc report` prints them) and per quarter of the first
    due date in force."""
    items = items_due_in(plan, engine, year)
    today = local_date(at, plan.zone)
    units = tally(plan, items, today)
    quarters = {row.unit: {q: UnitYear(row.unit, row.name) for q in QUARTERS} for row in units}
    for item in items:
        quarters[item.unit][quarter_of(item.original_due or item.due)].count(item, today)
    return Scorecard(
        plan.commune.plan_short, plan.commune.name, year, at, plan.zone, units, quarters
    )


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.0%}"


def scorecard_png(card: Scorecard) -> bytes:
    """Grouped bars: for each unit, its on-time rate in each quarter and in the year."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import PercentFormatter

    groups = card.with_total()
    codes = [row.unit for row, _ in groups]
    series = [(QUARTER_LABELS[q], [quarters.get(q) for _, quarters in groups]) for q in QUARTERS]
    series.append((f"Cả năm {card.year}", [row for row, _ in groups]))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.35 * len(codes) + 2), 5.2), dpi=110)
    try:
        for n, (label, rows) in enumerate(series):
            xs = [i - 0.4 + width * (n + 0.5) for i in range(len(codes))]
            rates = [r.on_time_rate if r is not None else None for r in rows]
            heights = [0.0 if v is None else v * 100 for v in rates]
            bars = ax.bar(
                xs, heights, width, label=label, color=CHART_COLOURS[n % len(CHART_COLOURS)]
            )
            for bar, rate in zip(bars, rates, strict=True):
                ax.annotate(
                    percent(rate),
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=6.5,
                    color="#3d454d",
                )
        ax.set_xticks(range(len(codes)), codes)
        ax.set_ylim(0, 112)
        ax.yaxis.set_major_formatter(PercentFormatter())
        ax.set_ylabel("Tỷ lệ nhiệm vụ đúng hạn")
        ax.set_title(
            f"Tỷ lệ thực hiện đúng hạn nhiệm vụ CCHC theo đơn vị và theo quý, năm {card.year}\n"
            f"{card.commune} – số liệu đến {vn_datetime(card.at, card.zone)}",
            fontsize=10,
        )
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, ncols=len(series), loc="upper center", bbox_to_anchor=(0.5, -0.08))
        fig.text(
            0.01,
            0.01,
            "–: không có nhiệm vụ đến hạn; nhiệm vụ được miễn không tính.",
            fontsize=7,
            color="#59626b",
        )
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png", metadata={"Software": None})
        return out.getvalue()
    finally:
        plt.close(fig)


PRINT_FONT = "Times New Roman"
"""The font of Vietnamese administrative documents; LibreOffice substitutes a metric-compatible
one (Liberation Serif) where it is missing, with the same Vietnamese glyphs."""
TITLE_SIZE = 14
BODY_SIZE = 11


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


def scorecard_xlsx(card: Scorecard, chart_png: bytes | None = None) -> bytes:
    """The workbook: the year per unit, the quarters, the chart, and the raw keys. Each sheet
    prints on A4 landscape, one page wide (`print_setup`), in a set font with set row heights
    (a printout is the evidence filed for the PAR INDEX self-scoring)."""
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    bold = Font(name=PRINT_FONT, bold=True, size=BODY_SIZE)
    body = Font(name=PRINT_FONT, size=BODY_SIZE)
    head_fill = PatternFill("solid", fgColor="DCE6F2")
    thin = Side(style="thin", color="B8C0C8")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="center")

    wb = Workbook()
    ws = wb.active
    ws.title = "Tổng hợp năm"
    keys = [*FIELDS, "on_time_rate"]
    title = f"KẾT QUẢ THỰC HIỆN ĐÚNG HẠN NHIỆM VỤ CẢI CÁCH HÀNH CHÍNH NĂM {card.year}"
    sheet_title(ws, "A1", title, len(keys))
    ws["A2"] = f"{card.commune} – {card.plan_name}"
    ws["A3"] = (
        f"Số liệu đến {vn_datetime(card.at, card.zone)}. Tỷ lệ đúng hạn = đúng hạn / (đúng hạn "
        "+ quá hạn đã nộp + quá hạn chưa nộp); nhiệm vụ được miễn không tính; phiên bản đầu "
        "tiên được chấp nhận quyết định đúng hạn."
    )
    for row, height in ((2, 20), (3, 34)):
        cell = ws.cell(row, 1)
        cell.font = Font(name=PRINT_FONT, size=BODY_SIZE, italic=row == 3)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=len(keys))
        ws.row_dimensions[row].height = height
    header_row = 5
    for col, key in enumerate(keys, start=1):
        cell = ws.cell(header_row, col, HEADERS[key])
        cell.font, cell.fill, cell.border, cell.alignment = bold, head_fill, box, wrap
    rows = [*card.units, card.total()]
    for n, row in enumerate(rows, start=header_row + 1):
        data = row.as_dict()
        for col, key in enumerate(keys, start=1):
            cell = ws.cell(n, col, data[key])
            cell.border, cell.font = box, bold if row is rows[-1] else body
            cell.alignment = Alignment(vertical="center")
            if key == "on_time_rate":
                cell.number_format = "0.0%"
        ws.row_dimensions[n].height = 20
    widths = {"unit": 12, "name": 48, "on_time_rate": 14}
    for col, key in enumerate(keys, start=1):
        ws.column_dimensions[get_column_letter(col)].width = widths.get(key, 12)
    ws.row_dimensions[header_row].height = 34
    ws.freeze_panes = ws.cell(header_row + 1, 3)
    print_setup(ws, f"{header_row}:{header_row}")

    wq = wb.create_sheet("Theo quý")
    heads = ["Mã đơn vị", "Đơn vị"]
    for q in QUARTERS:
        heads += [
            f"{QUARTER_LABELS[q]}: đến hạn",
            f"{QUARTER_LABELS[q]}: đúng hạn",
            f"{QUARTER_LABELS[q]}: tỷ lệ",
        ]
    title = f"TỶ LỆ ĐÚNG HẠN THEO QUÝ (THEO HẠN NỘP), NĂM {card.year}"
    sheet_title(wq, "A1", title, len(heads), size=TITLE_SIZE - 1)
    for col, text in enumerate(heads, start=1):
        cell = wq.cell(3, col, text)
        cell.font, cell.fill, cell.border, cell.alignment = bold, head_fill, box, wrap
    groups = card.with_total()
    for n, (row, quarters) in enumerate(groups, start=4):
        values: list = [row.unit, row.name]
        for q in QUARTERS:
            counts = quarters.get(q) or UnitYear(row.unit, row.name)
            values += [counts.due, counts.on_time, counts.on_time_rate]
        for col, value in enumerate(values, start=1):
            cell = wq.cell(n, col, value)
            cell.border, cell.font = box, bold if n == 3 + len(groups) else body
            cell.alignment = Alignment(vertical="center")
            if col > 2 and (col - 2) % 3 == 0:
                cell.number_format = "0.0%"
        wq.row_dimensions[n].height = 20
    wq.column_dimensions["A"].width = 12
    wq.column_dimensions["B"].width = 48
    for col in range(3, len(heads) + 1):
        wq.column_dimensions[get_column_letter(col)].width = 11
    wq.row_dimensions[3].height = 48
    wq.freeze_panes = "C4"
    print_setup(wq, "3:3")

    if chart_png is not None:
        wc = wb.create_sheet("Biểu đồ")
        sheet_title(wc, "A1", "Biểu đồ tỷ lệ đúng hạn theo đơn vị và theo quý", 12, TITLE_SIZE - 1)
        picture = Image(io.BytesIO(chart_png))
        scale = min(1.0, CHART_WIDTH_PX / picture.width)  # fits a landscape A4 page
        picture.width, picture.height = picture.width * scale, picture.height * scale
        wc.add_image(picture, "A3")
        print_setup(wc)
        wc.page_setup.fitToHeight = 1  # the chart is one picture: never split it

    data_sheet(wb, keys, card.rows(), name_width=44)
    return workbook_bytes(wb, f"Kết quả đúng hạn CCHC năm {card.year}", card.at)


def data_sheet(wb, keys: list[str], rows: list[dict], name_width: int) -> None:
    """The sheet "Dữ liệu": the rows under their raw keys, for a spreadsheet user's own sums."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(name=PRINT_FONT, bold=True, size=BODY_SIZE)
    body = Font(name=PRINT_FONT, size=BODY_SIZE)
    wd = wb.create_sheet("Dữ liệu")
    for col, key in enumerate(keys, start=1):
        wd.cell(1, col, key).font = bold
        wd.column_dimensions[get_column_letter(col)].width = name_width if key == "name" else 13
    for n, data in enumerate(rows, start=2):
        for col, key in enumerate(keys, start=1):
            wd.cell(n, col, data[key]).font = body
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


def scorecard_markdown(card: Scorecard) -> str:
    """A Vietnamese summary table, for a Prefect markdown artifact or a mail body."""
    lines = [
        f"# Kết quả thực hiện đúng hạn nhiệm vụ CCHC năm {card.year}",
        "",
        f"{card.commune} – số liệu đến {vn_datetime(card.at, card.zone)} "
        f"(ngày {vn_date(local_date(card.at, card.zone))}).",
        "",
        "| Đơn vị | Đến hạn | Đúng hạn | Quá hạn (đã nộp) | Quá hạn (chưa nộp) | "
        + " | ".join(QUARTER_LABELS[q] for q in QUARTERS)
        + " | Cả năm |",
        "|---|---:|---:|---:|---:|" + "---:|" * (len(QUARTERS) + 1),
    ]
    for row, quarters in card.with_total():
        rates = [percent(quarters[q].on_time_rate) if q in quarters else "–" for q in QUARTERS]
        lines.append(
            f"| {row.name} | {row.due} | {row.on_time} | {row.late} | {row.overdue_open} | "
            + " | ".join(rates)
            + f" | {percent(row.on_time_rate)} |"
        )
    return "\n".join(lines) + "\n"


# ----- evidence for the self-scoring (PAR INDEX) ------------------------------------------------

XLSX_MIME = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def scorecard_files(card: Scorecard) -> list[tuple[str, str, str, bytes]]:
    """(file name, MIME main type, subtype, bytes): the workbook and the chart."""
    png = scorecard_png(card)
    return [
        (f"ket-qua-dung-han-cchc-{card.year}.xlsx", *XLSX_MIME, scorecard_xlsx(card, png)),
        (f"bieu-do-dung-han-cchc-{card.year}.png", "image", "png", png),
    ]


def self_scoring_year(plan: Plan, obligation: str, period: str) -> int | None:
    """The year a self-scoring item scores (its period's year), or None for other items."""
    ob = plan.obligations.get(obligation)
    if ob is None or ob.kind != "self_scoring" or not period[:4].isdigit():
        return None
    return int(period[:4])


def evidence_for(plan: Plan, engine: Engine):
    """For the mails: `evidence(obligation, period, at)` gives the scorecard files to attach to
    a self-scoring item's mail (as of `at`), and nothing for any other item."""

    def evidence(obligation: str, period: str, at: datetime) -> list[tuple[str, str, str, bytes]]:
        year = self_scoring_year(plan, obligation, period)
        if year is None:
            return []
        return scorecard_files(build_scorecard(plan, engine, year, at))

    return evidence
