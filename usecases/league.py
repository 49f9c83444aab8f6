"""The city office's league table: every commune's on-time record for a year, ranked.

The city office (Sở Nội vụ) ranks its communes every year on how they keep their CCHC
deadlines. `league` reads the items due in the year of every commune in ONE grouped query (its
cost does not grow with one query per commune) and counts each group with the per-unit report's
rule, `usecases.reporting.UnitYear.count` (waived items left out, on time as decided when the
item closed, overdue while open past its due date); a quarter is that of the due date
(`usecases.scorecard.quarter_of`), as in the scorecard. So a commune's figures here are the
sums of its units' figures in `cchc report` and in its scorecard.

`league_png` and `league_xlsx` are pure functions of a `League`, in the scorecard's style.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine, case, exists, func, select

from models.db import transaction
from models.tables import Event, WorkItem
from schedules.city import City
from schedules.dates import VN_ZONE, local_date, vn_datetime
from schedules.vocabulary import StepKind
from usecases.reporting import UnitYear
from usecases.scorecard import (
    BODY_SIZE,
    CHART_COLOURS,
    CHART_WIDTH_PX,
    HEADERS,
    PRINT_FONT,
    QUARTER_LABELS,
    QUARTERS,
    TITLE_SIZE,
    data_sheet,
    percent,
    print_setup,
    quarter_of,
    sheet_title,
    workbook_bytes,
)

COUNTS = ("due", "on_time", "on_time_extended", "late", "overdue_open", "pending", "waived")
"""The counters of `UnitYear`."""
RATE_KEYS = {q: f"{q.lower()}_rate" for q in QUARTERS}
"""Q1 → q1_rate, ..."""
COLUMNS: tuple[tuple[str, str], ...] = (
    ("rank", "Hạng"),
    ("commune", "Mã xã"),
    ("name", "Xã, phường"),
    *((key, HEADERS[key]) for key in COUNTS),
    ("escalated", "Đã chuyển cấp"),
    ("on_time_rate", HEADERS["on_time_rate"]),
    *((RATE_KEYS[q], QUARTER_LABELS[q]) for q in QUARTERS),
)
"""The keys of `League.rows()`, in order, with their Vietnamese column headings."""
TOTAL = "Toàn thành phố"
FOOTNOTE = (
    "Tỷ lệ đúng hạn = đúng hạn / (đúng hạn + quá hạn đã nộp + quá hạn chưa nộp); nhiệm vụ "
    "được miễn không tính; quý theo hạn nộp; đã chuyển cấp: số nhiệm vụ bị chuyển cấp ít "
    "nhất một lần. Xã chưa có nhiệm vụ đến hạn (–) không xếp hạng."
)


@dataclass
class CommuneYear:
    code: str
    name: str
    year: UnitYear
    """The year's counts (`unit` holds the commune's code)."""
    quarters: dict[str, UnitYear]
    """Q1..Q4 (by due date) → the same counts for the items due in that quarter."""
    escalated: int = 0
    """Items counted in `due` that were escalated at least once (an `escalation` event in the
    log: an item later returned and reopened still counts, as does one that skipped levels)."""
    rank: int | None = None
    """1 = best; communes with the same rate share a rank (1, 1, 3); None: nothing to rate."""

    @property
    def on_time_rate(self) -> float | None:
        return self.year.on_time_rate

    def as_dict(self) -> dict:
        counts = {key: getattr(self.year, key) for key in COUNTS}
        rates = {RATE_KEYS[q]: self.quarters[q].on_time_rate for q in QUARTERS}
        return {
            "rank": self.rank,
            "commune": self.code,
            "name": self.name,
            **counts,
            "escalated": self.escalated,
            "on_time_rate": self.on_time_rate,
            **rates,
        }


@dataclass
class League:
    city: str
    """The city's name (or the single commune's)."""
    year: int
    at: datetime
    communes: list[CommuneYear] = field(default_factory=list)
    """Best first (see `rank_communes`)."""

    def rows(self) -> list[dict]:
        """One dict per commune, best first, keys as in `COLUMNS` (rates as fractions, None
        where nothing was due)."""
        return [c.as_dict() for c in self.communes]

    def total(self) -> UnitYear:
        """The city as a whole."""
        return _sum([c.year for c in self.communes], TOTAL)

    def total_escalated(self) -> int:
        return sum(c.escalated for c in self.communes)


def _sum(rows: list[UnitYear], name: str) -> UnitYear:
    total = UnitYear(name, name)
    for row in rows:
        _add(total, row, 1)
    return total


def _add(target: UnitYear, counts: UnitYear, times: int) -> None:
    for key in COUNTS:
        setattr(target, key, getattr(target, key) + times * getattr(counts, key))


def short_name(name: str) -> str:
    """ "Ủy ban nhân dân xã Mao Điền" → "xã Mao Điền": the commune, as the city names it."""
    return re.sub(r"^(?:(?:Ủy|Uỷ) ban nhân dân|UBND)\s+", "", name, flags=re.IGNORECASE)


def league(city: City, engine: Engine, year: int, at: datetime) -> League:
    """Every commune of `city` (those with no items too), its items due in `year` counted as
    of `at`, ranked.

    1. one query, grouped by (commune, status, on_time and the due dates): how many items, and
       how many of them have an escalation event (EXISTS on the event log's item index);
    2. each group is counted once with `UnitYear.count` (the report's rule, the commune's own
       "today") and added `n` times, to the year and to the due date's quarter;
    3. `rank_communes`.
    """
    item = WorkItem.__table__.c
    event = Event.__table__.c
    escalated = exists().where(event.item_id == item.id, event.kind == StepKind.ESCALATION)
    first_due = func.coalesce(item.original_due, item.due)
    verdict = (item.status, item.on_time, item.due, item.original_due, item.judged_due)
    query = (
        select(
            item.commune,
            *verdict,
            func.count().label("n"),
            func.sum(case((escalated, 1), else_=0)).label("escalated"),
        )
        .where(
            item.commune.in_(list(city.plans)),
            first_due >= date(year, 1, 1),
            first_due <= date(year, 12, 31),
        )
        .group_by(item.commune, *verdict)
    )
    with transaction(engine) as session:
        groups = session.execute(query).all()
    communes = {
        code: CommuneYear(
            code,
            short_name(plan.commune.name),
            UnitYear(code, plan.commune.name),
            {q: UnitYear(code, plan.commune.name) for q in QUARTERS},
        )
        for code, plan in city.plans.items()
    }
    for group in groups:  # a row with the columns `UnitYear.count` reads (`verdict`)
        row = communes[group.commune]
        one = UnitYear(row.code, row.name)
        one.count(group, local_date(at, city.plans[group.commune].zone))
        _add(row.year, one, group.n)
        _add(row.quarters[quarter_of(group.original_due or group.due)], one, group.n)
        if one.due:  # escalations of the items that count (a waived one does not)
            row.escalated += group.escalated
    return League(_city_name(city), year, at, rank_communes(list(communes.values())))


def rank_communes(communes: list[CommuneYear]) -> list[CommuneYear]:
    """Best on-time rate first, equal rates in code order sharing a rank (1, 1, 3); then the
    communes with nothing due yet to rate, unranked, in code order."""
    rated = sorted(
        (c for c in communes if c.on_time_rate is not None), key=lambda c: (-c.on_time_rate, c.code)
    )
    previous: CommuneYear | None = None
    for position, row in enumerate(rated, start=1):
        tied = previous is not None and previous.on_time_rate == row.on_time_rate
        row.rank = previous.rank if tied else position
        previous = row
    unrated = sorted((c for c in communes if c.on_time_rate is None), key=lambda c: c.code)
    for row in unrated:
        row.rank = None
    return rated + unrated


def _city_name(city: City) -> str:
    if city.info is not None:
        return city.info.name
    return short_name(next(iter(city.plans.values())).commune.name)


def _subtitle(lg: League) -> str:
    return f"{lg.city} – số liệu đến {vn_datetime(lg.at, VN_ZONE)}"


# ----- the chart and the workbook ---------------------------------------------------------------


def league_png(lg: League) -> bytes:
    """Horizontal bars, best on top: one line per commune (readable with 114), its rate written
    at the bar's end, the city's rate as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import PercentFormatter

    rows = lg.communes
    labels = [f"{c.rank}. {c.name}" if c.rank else f"– {c.name}" for c in rows]
    rates = [c.on_time_rate for c in rows]
    ys = range(len(rows))
    fig, ax = plt.subplots(figsize=(8.5, max(3.5, 0.2 * len(rows) + 1.8)), dpi=110)
    try:
        bars = ax.barh(
            ys, [0.0 if r is None else r * 100 for r in rates], 0.7, color=CHART_COLOURS[2]
        )
        for bar, rate in zip(bars, rates, strict=True):
            ax.annotate(
                percent(rate),
                (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                xytext=(3, 0),
                textcoords="offset points",
                ha="left",
                va="center",
                fontsize=6.5,
                color="#3d454d",
            )
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
            f"Xếp hạng tỷ lệ thực hiện đúng hạn nhiệm vụ CCHC của các xã, phường năm {lg.year}"
            f"\n{_subtitle(lg)}",
            fontsize=10,
        )
        ax.spines[["bottom", "right"]].set_visible(False)
        ax.grid(axis="x", alpha=0.3)
        fig.text(0.01, 0.005, FOOTNOTE, fontsize=6.5, color="#59626b", wrap=True)
        fig.tight_layout(rect=(0, 0.02, 1, 1))
        out = io.BytesIO()
        fig.savefig(out, format="png", metadata={"Software": None})
        return out.getvalue()
    finally:
        plt.close(fig)


def league_xlsx(lg: League, png: bytes | None = None) -> bytes:
    """The workbook: the ranked table (with the city's total), the chart, and the raw keys.
    Printed on A4, one page wide, as the scorecard is."""
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
    keys = [key for key, _ in COLUMNS]
    rate_keys = {"on_time_rate", *RATE_KEYS.values()}

    wb = Workbook()
    ws = wb.active
    ws.title = "Xếp hạng"
    title = f"XẾP HẠNG THỰC HIỆN ĐÚNG HẠN NHIỆM VỤ CẢI CÁCH HÀNH CHÍNH NĂM {lg.year}"
    sheet_title(ws, "A1", title, len(keys))
    for row, text, height in ((2, _subtitle(lg), 20), (3, FOOTNOTE, 34)):
        cell = ws.cell(row, 1, text)
        cell.font = Font(name=PRINT_FONT, size=BODY_SIZE, italic=row == 3)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=len(keys))
        ws.row_dimensions[row].height = height
    header_row = 5
    for col, (_, heading) in enumerate(COLUMNS, start=1):
        cell = ws.cell(header_row, col, heading)
        cell.font, cell.fill, cell.border, cell.alignment = bold, head_fill, box, wrap
    total = lg.total()
    total_row = {key: getattr(total, key) for key in COUNTS} | {
        "rank": None,
        "commune": "",
        "name": TOTAL,
        "escalated": lg.total_escalated(),
        "on_time_rate": total.on_time_rate,
    }
    rows = [*lg.rows(), total_row]
    for n, data in enumerate(rows, start=header_row + 1):
        for col, key in enumerate(keys, start=1):
            cell = ws.cell(n, col, data.get(key))
            cell.border, cell.font = box, bold if data is total_row else body
            cell.alignment = Alignment(vertical="center")
            if key in rate_keys:
                cell.number_format = "0.0%"
        ws.row_dimensions[n].height = 20
    widths = {"rank": 7, "commune": 10, "name": 30}
    for col, key in enumerate(keys, start=1):
        ws.column_dimensions[get_column_letter(col)].width = widths.get(key, 11)
    ws.row_dimensions[header_row].height = 34
    ws.freeze_panes = ws.cell(header_row + 1, 4)
    print_setup(ws, f"{header_row}:{header_row}")

    if png is not None:
        wc = wb.create_sheet("Biểu đồ")
        sheet_title(wc, "A1", f"Biểu đồ xếp hạng tỷ lệ đúng hạn năm {lg.year}", 10, TITLE_SIZE - 1)
        picture = Image(io.BytesIO(png))
        scale = min(1.0, CHART_WIDTH_PX / picture.width)
        picture.width, picture.height = picture.width * scale, picture.height * scale
        wc.add_image(picture, "A3")
        print_setup(wc)
        # One line per commune: a tall picture, printed portrait over as many pages as needed.
        wc.page_setup.orientation = wc.ORIENTATION_PORTRAIT

    data_sheet(wb, keys, lg.rows(), name_width=30)
    return workbook_bytes(wb, f"Xếp hạng đúng hạn CCHC năm {lg.year}", lg.at)
