"""`report`: the year's figures per unit of a commune (its scorecard), or per commune of a city
(the league table), as a table, JSON, CSV or an Excel workbook, with a chart."""

from __future__ import annotations

from pathlib import Path

import click

from cchc.cli.common import App, at_option, fail, now_or, pass_app, working
from cchc.cli.output import Column, render

REPORT_COLUMNS = [
    Column("unit", "Đơn vị"),
    Column("name", "Tên"),
    Column("due", "Đến hạn"),
    Column("on_time", "Đúng hạn"),
    Column("late", "Quá hạn (đã nộp)"),
    Column("overdue_open", "Quá hạn (chưa nộp)"),
    Column("pending", "Trong hạn"),
    Column("on_time_rate", "Tỷ lệ đúng hạn"),
]
"""The CSV's columns (then `waived` and `on_time_extended`)."""
TABLE_COLUMNS = [
    *REPORT_COLUMNS[:4],
    Column("on_time_extended", "Đúng hạn (được gia hạn)"),
    *REPORT_COLUMNS[4:7],
    Column("waived", "Được miễn"),
    REPORT_COLUMNS[7],
]
"""The table's: every count the JSON has, the ones done within an extension beside those on
time, the waived ones apart ("Đến hạn" counts neither them nor those not yet due)."""
CSV_COLUMNS = [*REPORT_COLUMNS, Column("waived", "waived"), Column("on_time_extended", "")]


@click.command("report")
@click.option("--year", type=click.IntRange(2000, 2100), required=True)
@click.option(
    "--by",
    type=click.Choice(["unit", "commune"]),
    default="unit",
    show_default=True,
    help="unit: a commune's units (its scorecard); commune: the city's league table of its "
    "communes (the city office's view before the PAR INDEX appraisal).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv", "xlsx"]), default="table"
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report to FILE (required with --format xlsx).",
)
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the chart of on-time rate per unit and quarter (per commune with --by "
    "commune) (PNG) to FILE.",
)
@at_option
@pass_app
def report_cmd(app: App, year, by, fmt, output, chart, at) -> None:
    """Per unit: items due in the year (by --at), closed on time (within an extension apart),
    late, open overdue, not yet due, waived, on-time rate.
    `--by commune`: the same per commune of a city, ranked, with escalations and the rate per
    quarter. `--format xlsx` writes the workbook (table, per quarter, chart)."""
    app.read_only = True
    if fmt == "xlsx" and output is None:
        fail("--format xlsx cần --output FILE")
    drawn = fmt == "xlsx" or chart is not None
    if by == "commune":
        sheet, columns, draw, workbook = _league(app, year, at)
    else:
        columns = TABLE_COLUMNS if fmt == "table" else CSV_COLUMNS
        sheet, draw, workbook = _scorecard(app, year, at) if drawn else (None, None, None)
    rows = sheet.rows() if sheet is not None else _year_rows(app, year, at)
    png = draw(sheet) if drawn else None
    if chart is not None:
        chart.write_bytes(png)
    if fmt == "xlsx":
        output.write_bytes(workbook(sheet, png))
        what = "Bảng xếp hạng" if by == "commune" else "Bảng điểm"
        click.echo(f"{what} {year}: {output}" + (f", biểu đồ {chart}" if chart else ""))
        return
    text = render(rows, fmt, columns, app.plans[0].zone)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)


def _league(app: App, year: int, at):
    """The city's league table of its communes, its columns, and how to draw and write it."""
    from notifications.documents.league import columns, league_png, league_xlsx
    from usecases.league import league

    with working("Đang lập bảng xếp hạng…"):
        sheet = league(app.city, app.reader, year, now_or(at))
    if app.commune is not None and app.commune in app.city.plans:
        sheet = sheet.only(app.commune)  # its row, its rank among all, the city's total
    return sheet, [Column(key, header) for key, header in columns(sheet)], league_png, league_xlsx


def _scorecard(app: App, year: int, at):
    """The commune's scorecard (for a chart or a workbook), and how to draw and write it."""
    from notifications.documents.scorecard import scorecard_png, scorecard_xlsx
    from usecases.scorecard import build_scorecard

    with working("Đang lập bảng điểm…"):
        sheet = build_scorecard(app.plan, app.reader, year, now_or(at))
    return sheet, scorecard_png, scorecard_xlsx


def _year_rows(app: App, year: int, at) -> list[dict]:
    """The commune's figures per unit, without a scorecard (nothing to draw)."""
    from usecases.reporting import year_report

    return [r.as_dict() for r in year_report(app.plan, app.reader, year, now_or(at))]
