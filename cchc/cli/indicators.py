"""`value` (enter or correct an item's indicator values) and `indicators` (the indicators
against their targets, per unit and per commune, as a table, CSV, JSON or a workbook)."""

from __future__ import annotations

from pathlib import Path

import click

from cchc.cli.common import App, at_option, fail, now_or, pass_app, user_errors
from cchc.cli.output import Column, render

INDICATOR_COLUMNS = [
    Column("id", "Mã"),
    Column("ref", "Mục"),
    Column("name", "Chỉ tiêu"),
    Column("period", "Kỳ"),
    Column("unit", "Đơn vị"),
    Column("numerator", "Tử số"),
    Column("denominator", "Mẫu số"),
    Column("value", "Giá trị"),
    Column("target", "Mục tiêu"),
    Column("verdict", "Đánh giá"),
    Column("gap", "Còn thiếu"),
    Column("expected", "Phải báo cáo"),
    Column("reported", "Đã báo cáo"),
    Column("reported_on_time", "Đúng hạn"),
]
"""The CSV's columns (the JSON has every field of `IndicatorRow`)."""


def _number(value) -> str:
    if value is None:
        return ""
    return f"{value:g}".replace(".", ",")


TABLE_COLUMNS = [
    Column("id", "Chỉ tiêu"),
    Column("period", "Kỳ"),
    Column("unit", "Đơn vị"),
    Column("numerator", "Tử số", _number),
    Column("denominator", "Mẫu số", _number),
    Column("value", "Giá trị", lambda row: row["shown"], of_row=True),
    Column("target_text", "Mục tiêu"),
    Column("verdict", "Đánh giá"),
    Column(
        "reported",
        "Đã báo cáo (đúng hạn)/phải",
        lambda r: f"{r['reported']} ({r['reported_on_time']})/{r['expected']}",
        of_row=True,
    ),
]


@click.command("value")
@click.argument("item_id", type=int)
@click.option(
    "--set",
    "entries",
    multiple=True,
    metavar="ID=NUM/DEN",
    help="An indicator's value: ID=NUM/DEN for a ratio, ID=NUM for a count, ID=1 or ID=0 for "
    "a yes/no; ID= (empty) clears it. Repeat for several.",
)
@click.option(
    "--confirm",
    is_flag=True,
    help="Store values that jump from the unit's previous period beyond the indicator's "
    "jump_factor (without it they are refused with a warning).",
)
@click.option(
    "--sheet",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Read the values from the item's filled data sheet (XLSX written by --write-sheet).",
)
@click.option(
    "--write-sheet",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the item's data sheet (XLSX: the indicators it owes, previous values, "
    "targets) to FILE, for the unit to fill in; nothing is entered.",
)
@click.option("--by", "actor", default="admin", show_default=True, help="Who enters them.")
@at_option
@pass_app
@user_errors
def value_cmd(app: App, item_id, entries, confirm, sheet, write_sheet, actor, at) -> None:
    """Enter or correct the indicator values of an item (a unit's report of a period). All or
    nothing: a refused value stores none; values freeze once the office accepts the report."""
    from usecases.indicator_values import enter_values

    at = now_or(at)
    if sum(x is not None and x != () for x in (entries, sheet, write_sheet)) != 1:
        fail("dùng đúng một trong --set, --sheet, --write-sheet")
    plan = app.item_plan(item_id, app.engine)
    if write_sheet is not None:
        _write_sheet(app, plan, item_id, write_sheet)
        return
    if sheet is not None:
        from_sheet = _read_sheet(app, plan, item_id, sheet)
        entered = enter_values(plan, app.engine, item_id, from_sheet, at, actor, "sheet", confirm)
        _entered_lines(item_id, entered)
        return
    texts: dict[str, str | tuple[str, str]] = {}
    for entry in entries:
        iid, sep, text = entry.partition("=")
        if not sep or not iid.strip():
            fail(f"--set cần dạng MÃ=TỬ/MẪU hoặc MÃ=SỐ, không phải '{entry}'")
        if iid.strip() in texts:
            fail(f"chỉ tiêu '{iid.strip()}' được nhập hai lần")
        texts[iid.strip()] = text
    entered = enter_values(
        plan, app.engine, item_id, texts, at, actor, source="cli", confirm=confirm
    )
    _entered_lines(item_id, entered)


def _entered_lines(item_id: int, entered: list) -> None:
    from schedules.indicators import shown

    if not entered:
        click.echo(f"Nhiệm vụ số {item_id}: số liệu không thay đổi")
        return
    for e in entered:
        what = "đã xóa" if e.figure is None else shown(e.indicator, e.figure.value)
        note = " (đã xác nhận thay đổi bất thường)" if e.warning else ""
        click.echo(f"Nhiệm vụ số {item_id}: {e.indicator.id} = {what}{note}")


def _write_sheet(app: App, plan, item_id: int, path: Path) -> None:
    """The item's data sheet, for the unit to fill in."""
    from models.db import transaction
    from notifications.commune_views import unit_view
    from notifications.documents.indicator_sheet import indicator_sheet
    from schedules.indicators import period_year, shown, target_words
    from schedules.periods import period_label
    from usecases.errors import UserError
    from usecases.indicator_values import owed_by
    from usecases.items import get_item

    with transaction(app.engine) as session:
        item = get_item(session, plan, item_id)
        owed = owed_by(session, plan, item)
    if not owed:
        raise UserError(f"Nhiệm vụ số {item_id} không có chỉ tiêu nào phải báo cáo.")
    year = period_year(item.period)
    targets = {o.indicator.id: target_words(o.indicator, year) for o in owed}
    previous = {
        o.indicator.id: f"{shown(o.indicator, o.previous.value)} "
        f"({period_label(o.previous_period or '')})"
        for o in owed
        if o.previous is not None
    }
    unit = unit_view(plan, item.unit).name
    path.write_bytes(
        indicator_sheet(item_id, unit, period_label(item.period), owed, targets, previous)
    )
    click.echo(f"Phiếu số liệu chỉ tiêu của nhiệm vụ số {item_id} ({len(owed)} chỉ tiêu): {path}")


def _read_sheet(app: App, plan, item_id: int, path: Path) -> dict:
    from models.db import transaction
    from notifications.documents.indicator_sheet import SheetInvalid, read_sheet
    from schedules.indicators import owed
    from usecases.errors import UserError
    from usecases.items import get_item

    with transaction(app.engine) as session:
        item = get_item(session, plan, item_id)
    ratios = {i.id for i in owed(plan, item.obligation, item.unit) if i.measure == "ratio"}
    try:
        return read_sheet(path.read_bytes(), item_id, ratios)
    except SheetInvalid as exc:
        raise UserError(str(exc)) from None


@click.command("indicators")
@click.option("--year", type=click.IntRange(2000, 2100), default=None)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json", "xlsx"]), default="table"
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to FILE (required with --format xlsx).",
)
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the trend chart of each indicator across periods (PNG) to FILE.",
)
@pass_app
def indicators_cmd(app: App, year, fmt, output, chart) -> None:
    """The plan's indicators against their targets, per period: each unit's value and the
    commune's (unit ALL: the sum of numerators over the sum of denominators), the verdict, and
    how many units were expected to report, reported, and reported on time. In a city, also the
    city's aggregate (commune: the city's code)."""
    from usecases.indicator_report import city_rows, read_rows

    app.read_only = True
    if fmt == "xlsx" and output is None:
        fail("--format xlsx cần --output FILE")
    plans = app.plans
    rows = read_rows(plans, app.reader, year)
    if app.city.is_city and len(plans) > 1:
        rows += city_rows(plans, rows, app.city.code)
    if chart is not None or fmt == "xlsx":
        from notifications.documents.indicators import indicators_png, indicators_xlsx

        png = indicators_png(rows)
        if chart is not None:
            chart.write_bytes(png)
        if fmt == "xlsx":
            output.write_bytes(indicators_xlsx(rows, png))
            click.echo(f"Chỉ tiêu: {output}" + (f", biểu đồ {chart}" if chart else ""))
            return
    dicts = [row.as_dict() | ({} if fmt == "json" else {"shown": row.shown}) for row in rows]
    columns = app.columns(TABLE_COLUMNS if fmt == "table" else INDICATOR_COLUMNS)
    if fmt == "table" and not dicts:
        click.echo("Chưa có kỳ báo cáo nào mang chỉ tiêu" + (f" trong năm {year}" if year else ""))
        return
    text = render(dicts, fmt, columns, plans[0].zone)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)
