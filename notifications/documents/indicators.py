"""The indicators' documents, pure functions of `usecases.indicator_report` rows: the trend
chart (`indicators_png`: each indicator's commune value across periods against its target), the
workbook (`indicators_xlsx`: the table, the chart, the raw keys) and the Markdown table the
consolidated report's artifact and mail show (`indicators_markdown`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from notifications.documents.house_style import (
    CHART_COLOURS,
    Table,
    chart_sheet,
    data_sheet,
    png_bytes,
    table_sheet,
    workbook_bytes,
)
from notifications.markdown_text import md_text
from schedules.config_units import ALL_UNITS
from usecases.indicator_report import IndicatorRow

KEYS = [
    "commune",
    "id",
    "ref",
    "name",
    "measure",
    "period",
    "unit",
    "numerator",
    "denominator",
    "value",
    "target",
    "verdict",
    "gap",
    "expected",
    "reported",
    "reported_on_time",
]


def period_label(key: str) -> str:
    """ "2027-Q1" -> "Quý I/2027", "2027-H1" -> "6 tháng/2027", "2027" -> "Năm 2027"."""
    year, _, part = key.partition("-")
    labels = {"Q1": "Quý I", "H1": "6 tháng", "Q3": "Quý III", "Q2": "Quý II", "Q4": "Quý IV"}
    if not part:
        return f"Năm {year}"
    return f"{labels.get(part, part)}/{year}"


def indicators_png(rows: Sequence[IndicatorRow]) -> bytes:
    """One small chart per indicator: the commune's value (a city's: each commune's aggregate)
    per period, and the target as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    totals = [r for r in rows if r.unit == ALL_UNITS]
    ids = list(dict.fromkeys(r.id for r in totals)) or ["—"]
    columns = 3 if len(ids) > 4 else max(1, len(ids))
    lines = math.ceil(len(ids) / columns)
    fig, axes = plt.subplots(lines, columns, figsize=(4.2 * columns, 2.9 * lines), dpi=100)
    try:
        flat = list(axes.flat) if hasattr(axes, "flat") else [axes]
        for ax, iid in zip(flat, ids, strict=False):
            mine = [r for r in totals if r.id == iid]
            periods = list(dict.fromkeys(r.period for r in mine))
            for n, commune in enumerate(dict.fromkeys(r.commune for r in mine)):
                values = {r.period: r.value for r in mine if r.commune == commune}
                ys = [values.get(p) for p in periods]
                xs = [i for i, y in enumerate(ys) if y is not None]
                colour = CHART_COLOURS[(n + 2) % len(CHART_COLOURS)]
                ax.plot(xs, [ys[i] for i in xs], marker="o", color=colour, label=commune)
            if mine:
                ax.plot(
                    range(len(periods)),
                    [next(r.target for r in mine if r.period == p) for p in periods],
                    linestyle="--",
                    color="#c2571a",
                    label="mục tiêu",
                )
                ax.set_xticks(range(len(periods)), [period_label(p) for p in periods], fontsize=7)
                title = mine[0].name
                ax.set_title(title if len(title) < 60 else title[:57] + "…", fontsize=8)
                if mine[0].measure != "count":
                    ax.set_ylim(0, 105)
            ax.grid(axis="y", alpha=0.3)
            ax.spines[["top", "right"]].set_visible(False)
            ax.tick_params(labelsize=7)
        for ax in flat[len(ids) :]:
            ax.set_visible(False)
        if flat:
            flat[0].legend(fontsize=6, loc="lower right")
        fig.tight_layout()
        return png_bytes(fig)
    finally:
        plt.close(fig)


def indicators_xlsx(rows: Sequence[IndicatorRow], chart_png: bytes | None = None) -> bytes:
    """The workbook: the indicators per period and unit against their targets, the chart, and
    the raw keys."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None, "a new workbook has a sheet"
    ws.title = "Chỉ tiêu"
    headings = [
        "Xã",
        "Mục",
        "Chỉ tiêu",
        "Kỳ",
        "Đơn vị",
        "Tử số",
        "Mẫu số",
        "Giá trị",
        "Mục tiêu",
        "Đánh giá",
        "Phải báo cáo",
        "Đã báo cáo",
        "Đúng hạn",
    ]
    body = [
        [
            r.commune,
            r.ref,
            r.name,
            period_label(r.period),
            "Toàn xã" if r.unit == ALL_UNITS else r.unit,
            r.numerator,
            r.denominator,
            r.shown,
            r.target_text,
            r.verdict,
            r.expected,
            r.reported,
            r.reported_on_time,
        ]
        for r in rows
    ]
    body.append(["Cộng", "", f"{len(rows)} dòng", *[""] * 10])
    widths = [10, 14, 50, 14, 10, 10, 10, 10, 16, 28, 10, 10, 10]
    table = Table(headings, body, set(), widths, frozen_columns=3)
    table_sheet(ws, "CHỈ TIÊU CẢI CÁCH HÀNH CHÍNH SO VỚI MỤC TIÊU", table)
    if chart_png is not None:
        chart_sheet(wb, "Diễn biến chỉ tiêu theo kỳ", chart_png, 12)
    data_sheet(wb, KEYS, [r.as_dict() for r in rows], name_width=44)
    return workbook_bytes(wb, "Chỉ tiêu CCHC", datetime(2000, 1, 1, tzinfo=UTC))


def indicators_markdown(rows: Sequence[IndicatorRow], with_units: bool = True) -> str:
    """A Vietnamese table: each indicator for the commune (then per unit), value against
    target, verdict, units reported/expected."""
    if not rows:
        return "_Chưa có chỉ tiêu nào cho kỳ này._"
    lines = [
        "| Chỉ tiêu | Mục | Đơn vị | Giá trị | Mục tiêu | Đánh giá | Đã báo cáo |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in _commune_first(rows, with_units):
        commune = r.unit == ALL_UNITS
        who = "**Toàn xã**" if commune else r.unit
        name, ref = (md_text(r.name), md_text(r.ref)) if commune else ("", "")
        lines.append(
            f"| {name} | {ref} | {who} | {r.shown} | "
            f"{md_text(r.target_text)} | {md_text(r.verdict)} | "
            f"{r.reported}/{r.expected} (đúng hạn {r.reported_on_time}) |"
        )
    return "\n".join(lines)


def _commune_first(rows: Sequence[IndicatorRow], with_units: bool) -> list[IndicatorRow]:
    """Per indicator and period: the commune's row, then (`with_units`) its units'."""
    ordered: list[IndicatorRow] = []
    for row in rows:
        if row.unit != ALL_UNITS:
            continue
        ordered.append(row)
        if with_units:
            ordered += [
                r
                for r in rows
                if r.unit != ALL_UNITS
                and (r.id, r.period, r.commune) == (row.id, row.period, row.commune)
            ]
    return ordered
