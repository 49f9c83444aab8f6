"""The scorecard's documents, pure functions of a `usecases.scorecard.Scorecard`: the workbook
(`scorecard_xlsx`: the year per unit, the quarters, the chart, and one sheet of raw keys for
scripts), the chart (`scorecard_png`: on-time rate per unit and per quarter), the Markdown
summary, and the evidence a self-scoring item's mails carry (`evidence_for`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from notifications.documents.house_style import (
    CHART_COLOURS,
    HEADERS,
    QUARTER_LABELS,
    RATE_NOTE,
    TITLE_SIZE,
    XLSX_MIME,
    Table,
    chart,
    chart_sheet,
    data_sheet,
    label_bars,
    percent,
    png_bytes,
    table_sheet,
    workbook_bytes,
)
from notifications.markdown_text import md_text
from schedules.dates import local_date, vn_date, vn_datetime
from schedules.plan import Plan
from usecases.reporting import UnitYear
from usecases.scorecard import FIELDS, QUARTERS, Scorecard, build_scorecard, self_scoring_year

File = tuple[str, str, str, bytes]
"""(file name, MIME main type, subtype, bytes) of a mail's attachment."""


def scorecard_png(card: Scorecard) -> bytes:
    """Grouped bars: for each unit, its on-time rate in each quarter and in the year."""
    from matplotlib.ticker import PercentFormatter

    groups = card.with_total()
    codes = [row.unit for row, _ in groups]
    series = [(QUARTER_LABELS[q], [quarters.get(q) for _, quarters in groups]) for q in QUARTERS]
    series.append((f"Cả năm {card.year}", [row for row, _ in groups]))
    width = 0.8 / len(series)
    with chart(max(8.0, 1.35 * len(codes) + 2), 5.2) as (fig, ax):
        for n, (label, rows) in enumerate(series):
            xs = [i - 0.4 + width * (n + 0.5) for i in range(len(codes))]
            rates = [r.on_time_rate if r is not None else None for r in rows]
            heights = [0.0 if v is None else v * 100 for v in rates]
            colour = CHART_COLOURS[n % len(CHART_COLOURS)]
            label_bars(ax, ax.bar(xs, heights, width, label=label, color=colour), rates)
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
        return png_bytes(fig)


def scorecard_xlsx(card: Scorecard, chart_png: bytes | None = None) -> bytes:
    """The workbook: the year per unit, the quarters, the chart, and the raw keys. Each sheet
    prints on A4 landscape, one page wide (`house_style.print_setup`), in a set font with set
    row heights (a printout is the evidence filed for the PAR INDEX self-scoring)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None, "a new workbook has a sheet"
    ws.title = "Tổng hợp năm"
    keys = [*FIELDS, "on_time_rate"]
    widths = {"unit": 12, "name": 48, "on_time_rate": 14}
    year = Table(
        [HEADERS[key] for key in keys],
        [
            [data[key] for key in keys]
            for data in (r.as_dict() for r in [*card.units, card.total()])
        ],
        {keys.index("on_time_rate") + 1},
        [widths.get(key, 12) for key in keys],
        frozen_columns=2,
    )
    title = f"KẾT QUẢ THỰC HIỆN ĐÚNG HẠN NHIỆM VỤ CẢI CÁCH HÀNH CHÍNH NĂM {card.year}"
    subtitle = f"{card.commune} – {card.plan_name}"
    footnote = (
        f"Số liệu đến {vn_datetime(card.at, card.zone)}. {RATE_NOTE}; phiên bản đầu tiên được "
        "chấp nhận quyết định đúng hạn."
    )
    table_sheet(ws, title, year, (subtitle, footnote))
    title = f"TỶ LỆ ĐÚNG HẠN THEO QUÝ (THEO HẠN NỘP), NĂM {card.year}"
    table_sheet(wb.create_sheet("Theo quý"), title, _quarters_table(card), None, TITLE_SIZE - 1)
    if card.directives:
        title = f"NHIỆM VỤ THEO VĂN BẢN CHỈ ĐẠO, NĂM {card.year}"
        table_sheet(wb.create_sheet("Văn bản chỉ đạo"), title, _directives_table(card))
    if chart_png is not None:
        title = "Biểu đồ tỷ lệ đúng hạn theo đơn vị và theo quý"
        wc = chart_sheet(wb, title, chart_png, 12)
        wc.page_setup.fitToHeight = 1  # the chart is one picture: never split it
    data_sheet(wb, keys, card.rows(), name_width=44)
    return workbook_bytes(wb, f"Kết quả đúng hạn CCHC năm {card.year}", card.at)


def _quarters_table(card: Scorecard) -> Table:
    """Per unit and quarter of due date: due, on time, rate."""
    headings = ["Mã đơn vị", "Đơn vị"]
    for q in QUARTERS:
        label = QUARTER_LABELS[q]
        headings += [f"{label}: đến hạn", f"{label}: đúng hạn", f"{label}: tỷ lệ"]
    rows = []
    for row, quarters in card.with_total():
        values: list = [row.unit, row.name]
        for q in QUARTERS:
            counts = quarters.get(q) or UnitYear(row.unit, row.name)
            values += [counts.due, counts.on_time, counts.on_time_rate]
        rows.append(values)
    rates = {col for col in range(3, len(headings) + 1) if (col - 2) % 3 == 0}
    widths = [12, 48] + [11] * (len(headings) - 2)
    return Table(headings, rows, rates, widths, frozen_columns=2, header_height=48)


def _directives_table(card: Scorecard) -> Table:
    """The directives' items: the document's number beside the task, the unit, the due dates
    (the first one when an extension or a return moved it), the result; a count at the end."""
    headings = ["Văn bản", "Nhiệm vụ", "Đơn vị", "Hạn", "Hạn ban đầu", "Kết quả"]
    rows: list[list] = [
        [
            task.reference,
            task.task,
            task.unit_name,
            vn_date(task.due),
            vn_date(task.original_due) if task.original_due != task.due else "",
            task.result,
        ]
        for task in card.directives
    ]
    rows.append(["Cộng", f"{len(card.directives)} nhiệm vụ", "", "", "", ""])
    return Table(headings, rows, set(), [30, 48, 24, 12, 12, 22], frozen_columns=1)


def scorecard_markdown(card: Scorecard) -> str:
    """A Vietnamese summary table, for a Prefect markdown artifact or a mail body."""
    lines = [
        f"# Kết quả thực hiện đúng hạn nhiệm vụ CCHC năm {card.year}",
        "",
        f"{md_text(card.commune)} – số liệu đến {vn_datetime(card.at, card.zone)} "
        f"(ngày {vn_date(local_date(card.at, card.zone))}).",
        "",
        "| Đơn vị | Đến hạn | Đúng hạn | Đúng hạn (được gia hạn) | Quá hạn (đã nộp) | "
        "Quá hạn (chưa nộp) | " + " | ".join(QUARTER_LABELS[q] for q in QUARTERS) + " | Cả năm |",
        "|---|---:|---:|---:|---:|---:|" + "---:|" * (len(QUARTERS) + 1),
    ]
    for row, quarters in card.with_total():
        rates = [percent(quarters[q].on_time_rate) if q in quarters else "–" for q in QUARTERS]
        lines.append(
            f"| {md_text(row.name)} | {row.due} | {row.on_time} | {row.on_time_extended} "
            f"| {row.late} | {row.overdue_open} | "
            + " | ".join(rates)
            + f" | {percent(row.on_time_rate)} |"
        )
    return "\n".join(lines + _directives_markdown(card)) + "\n"


def _directives_markdown(card: Scorecard) -> list[str]:
    """The directives' items under the table (none: nothing)."""
    if not card.directives:
        return []
    lines = [
        "",
        "## Nhiệm vụ theo văn bản chỉ đạo",
        "",
        "| Văn bản | Nhiệm vụ | Đơn vị | Hạn | Kết quả |",
        "|---|---|---|---|---|",
    ]
    for task in card.directives:
        due = vn_date(task.due)
        if task.original_due != task.due:
            due += f" (hạn ban đầu {vn_date(task.original_due)})"
        cells = (task.number, task.task, task.unit_name, due, task.result)
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return lines


# ----- evidence for the self-scoring (PAR INDEX) ------------------------------------------------


def scorecard_files(card: Scorecard) -> list[File]:
    """The workbook and the chart."""
    png = scorecard_png(card)
    return [
        (f"ket-qua-dung-han-cchc-{card.year}.xlsx", *XLSX_MIME, scorecard_xlsx(card, png)),
        (f"bieu-do-dung-han-cchc-{card.year}.png", "image", "png", png),
    ]


def evidence_for(plan: Plan, engine: Engine) -> Callable[[str, str, datetime], list[File]]:
    """For the mails: `evidence(obligation, period, at)` gives the scorecard files to attach to
    a self-scoring item's mail (as of `at`), and nothing for any other item."""

    def evidence(obligation: str, period: str, at: datetime) -> list[File]:
        year = self_scoring_year(plan, obligation, period)
        if year is None:
            return []
        return scorecard_files(build_scorecard(plan, engine, year, at))

    return evidence
