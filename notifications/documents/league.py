"""The league table's documents, pure functions of a `usecases.league.League`, in the
scorecard's style: the chart (`league_png`: one bar per commune, best on top) and the workbook
(`league_xlsx`: the ranked table with the city's total, the chart, the raw keys)."""

from __future__ import annotations

from notifications.documents.house_style import (
    CHART_COLOURS,
    HEADERS,
    QUARTER_LABELS,
    RATE_NOTE,
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
from schedules.dates import VN_ZONE, vn_datetime
from usecases.league import RATE_KEYS, TOTAL, League
from usecases.reporting import COUNTS
from usecases.scorecard import QUARTERS

COLUMNS: tuple[tuple[str, str], ...] = (
    ("rank", "Hạng"),
    ("commune", "Mã"),
    ("name", "Xã, phường, đặc khu"),
    *((key, HEADERS[key]) for key in COUNTS),
    ("escalated", "Đã chuyển cấp"),
    ("on_time_rate", HEADERS["on_time_rate"]),
    *((RATE_KEYS[q], QUARTER_LABELS[q]) for q in QUARTERS),
    ("indicator_expected", "Số liệu chỉ tiêu phải báo cáo"),
    ("indicator_reported", "Đã báo cáo"),
    ("indicator_on_time", "Báo cáo đúng hạn"),
    ("indicator_reporting_rate", "Tỷ lệ báo cáo chỉ tiêu"),
    ("indicator_on_time_rate", "Tỷ lệ báo cáo chỉ tiêu đúng hạn"),
    ("indicators_met", "Chỉ tiêu đạt"),
    ("indicators_with_data", "Chỉ tiêu có số liệu"),
    ("indicator_gap", "Còn thiếu so với mục tiêu (điểm %, trung bình)"),
)
"""The keys of `League.rows()`, in order, with their Vietnamese column headings (the name's
heading is the city's own kinds: `columns`)."""
RATE_COLUMNS = {
    "on_time_rate",
    *RATE_KEYS.values(),
    "indicator_reporting_rate",
    "indicator_on_time_rate",
}
"""The keys of `COLUMNS` holding rates (fractions; None where nothing was due)."""
FOOTNOTE = (
    f"{RATE_NOTE}; quý theo hạn nộp; đã chuyển cấp: số nhiệm vụ bị chuyển cấp ít "
    "nhất một lần. Đơn vị chưa có nhiệm vụ đến hạn (–) không xếp hạng."
)
MAX_BARS = 120
"""Bars the chart draws at most: a larger city's chart shows its best and its last
`MAX_BARS // 2` communes (the table lists them all), so it stays a page or two tall."""


def columns(lg: League) -> list[tuple[str, str]]:
    """`COLUMNS`, the name's heading the kinds of the city's communes ("Xã, phường")."""
    heading = lg.kinds_phrase.capitalize() if lg.kinds else COLUMNS[2][1]
    return [(key, heading if key == "name" else label) for key, label in COLUMNS]


def _bars(lg: League) -> list[tuple[str, float | None]]:
    """The chart's bars (label, rate), best first: every commune, or the best and the last
    with a gap line between them that says how many are left out."""
    rows = [(f"{c.rank}. {c.name}" if c.rank else f"– {c.name}", c.on_time_rate)
            for c in lg.communes]  # fmt: skip
    if len(rows) <= MAX_BARS:
        return rows
    half = MAX_BARS // 2
    gap = (f"… {len(rows) - 2 * half} {lg.kinds_phrase} khác: xem bảng …", None)
    return [*rows[:half], gap, *rows[-half:]]


def league_subtitle(lg: League) -> str:
    return f"{lg.city} – số liệu đến {vn_datetime(lg.at, VN_ZONE)}"


def league_png(lg: League) -> bytes:
    """Horizontal bars, best on top: one line per commune (readable with 114), its rate written
    at the bar's end, the city's rate as a dashed line."""
    from matplotlib.ticker import PercentFormatter

    rows = _bars(lg)
    labels = [label for label, _ in rows]
    rates = [rate for _, rate in rows]
    ys = range(len(rows))
    with chart(8.5, max(3.5, 0.2 * len(rows) + 1.8)) as (fig, ax):
        heights = [0.0 if r is None else r * 100 for r in rates]
        label_bars(ax, ax.barh(ys, heights, 0.7, color=CHART_COLOURS[2]), rates, horizontal=True)
        city_rate = lg.total().on_time_rate
        if city_rate is not None:
            ax.axvline(
                city_rate * 100,
                color=CHART_COLOURS[4],
                linestyle="--",
                linewidth=1,
                label=f"{TOTAL}: {percent(city_rate)}",
            )
            ax.legend(fontsize=8, loc="lower right")
        ax.set_yticks(list(ys), labels, fontsize=7)
        ax.set_ylim(len(rows) - 0.5, -0.5)  # best on top
        ax.set_xlim(0, 112)
        ax.xaxis.set_major_formatter(PercentFormatter())
        ax.xaxis.tick_top()
        ax.set_xlabel("Tỷ lệ nhiệm vụ đúng hạn")
        ax.xaxis.set_label_position("top")
        ax.set_title(
            f"Xếp hạng tỷ lệ thực hiện đúng hạn nhiệm vụ CCHC của các {lg.kinds_phrase} "
            f"năm {lg.year}"
            f"\n{league_subtitle(lg)}",
            fontsize=10,
        )
        ax.spines[["bottom", "right"]].set_visible(False)
        ax.grid(axis="x", alpha=0.3)
        fig.text(0.01, 0.005, FOOTNOTE, fontsize=6.5, color="#59626b", wrap=True)
        fig.tight_layout(rect=(0, 0.02, 1, 1))
        return png_bytes(fig)


def league_xlsx(lg: League, png: bytes | None = None) -> bytes:
    """The workbook: the ranked table (with the city's total), the chart, and the raw keys.
    Printed on A4, one page wide, as the scorecard is."""
    from openpyxl import Workbook

    headed = columns(lg)
    keys = [key for key, _ in headed]
    total = lg.total()
    total_row = (
        {key: getattr(total, key) for key in COUNTS}
        | {
            "rank": None,
            "commune": "",
            "name": TOTAL,
            "escalated": lg.total_escalated(),
            "on_time_rate": total.on_time_rate,
        }
        | lg.total_indicators().as_dict()
    )
    widths = {"rank": 7, "commune": 10, "name": 30}
    ranked = Table(
        [heading for _, heading in headed],
        [[data.get(key) for key in keys] for data in [*lg.rows(), total_row]],
        {col for col, key in enumerate(keys, start=1) if key in RATE_COLUMNS},
        [widths.get(key, 11) for key in keys],
        frozen_columns=3,
    )
    wb = Workbook()
    ws = wb.active
    assert ws is not None, "a new workbook has a sheet"
    ws.title = "Xếp hạng"
    title = f"XẾP HẠNG THỰC HIỆN ĐÚNG HẠN NHIỆM VỤ CẢI CÁCH HÀNH CHÍNH NĂM {lg.year}"
    table_sheet(ws, title, ranked, (league_subtitle(lg), FOOTNOTE))
    if png is not None:
        wc = chart_sheet(wb, f"Biểu đồ xếp hạng tỷ lệ đúng hạn năm {lg.year}", png, 10)
        # One line per commune: a tall picture, printed portrait over as many pages as needed.
        wc.page_setup.orientation = wc.ORIENTATION_PORTRAIT
    data_sheet(wb, keys, lg.rows(), name_width=30)
    return workbook_bytes(wb, f"Xếp hạng đúng hạn CCHC năm {lg.year}", lg.at)
