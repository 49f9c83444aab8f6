"""The config and the plan it makes: `check`, `schema`, `plan`, `obligations`, `new-config`,
`init-db`. None of them reads an item; all but `init-db` write nothing."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from functools import cached_property
from pathlib import Path

import click

from cchc.cli.common import (
    DATE,
    App,
    at_option,
    fail,
    known_unit,
    now_or,
    pass_app,
    period_words,
    short_title,
)
from cchc.cli.output import Column, render
from schedules.commune_kinds import communes_count
from schedules.dates import local_date, vn_date


@click.command("check")
@pass_app
def check(app: App) -> None:
    """Validate the config (every commune of a city); print FILE:LINE: message for each error.
    Writes nothing."""
    app.strict = True  # a broken commune is an error here, never quarantined
    city, now = app.city, now_or(None)
    plans = app.plans
    _print_warnings(app, plans, now)
    _check_templates(app, plans, now)
    click.echo(_checked(city, plans))


def _print_warnings(app: App, plans: list, now: datetime) -> None:
    """The config's warnings (the --commune's), and the calendar's, on stderr."""
    from schedules.city import calendar_warnings

    city = app.city
    warnings = [w for w in city.warnings if app.commune is None or app.commune in str(w)]
    for warning in warnings + calendar_warnings(city, local_date(now, plans[0].zone)):
        click.echo(str(warning), err=True)


def _check_templates(app: App, plans: list, now: datetime) -> None:
    """Render every mail template; print each problem and exit 1 when there is one."""
    from notifications.render import renderer_for
    from notifications.samples import check_mail

    # The templates are a city's (or a commune's own): render them once per template set.
    by_templates = {id(renderer_for(p.folder, p.city_folder)): p for p in reversed(plans)}
    problems = [
        p for plan in by_templates.values() for p in check_mail(plan, app.settings.smtp.sender, now)
    ]
    for problem in dict.fromkeys(str(p) for p in problems):
        click.echo(problem, err=True)
    if problems:
        click.echo(f"Mẫu thư không hợp lệ: {len(problems)} lỗi", err=True)
        sys.exit(1)


def _checked(city, plans: list) -> str:
    """The line of a valid config: what it holds (a commune's, or a city's communes')."""
    if not city.is_city:
        plan = plans[0]
        return (
            f"Cấu hình hợp lệ: {len(plan.units)} đơn vị, {len(plan.obligations)} nhiệm vụ "
            f"({len(plan.schedules)} có lịch)"
            + (f", {len(plan.indicators)} chỉ tiêu" if plan.indicators else "")
            + f" trong {plan.folder}; mọi mẫu thư đều dựng được"
        )
    communes = [plan for plan in plans if plan is not city.office]
    units = sum(len(plan.units) for plan in communes)
    obligations = sum(len(plan.obligations) for plan in communes)
    reports = len(city.office.obligations) if city.office in plans else 0
    kinds = [str(plan.commune.kind) for plan in communes]
    return (
        f"Cấu hình hợp lệ: thành phố {city.code}, {communes_count(kinds)}, {units} đơn vị, "
        f"{obligations} nhiệm vụ, {reports} báo cáo của cơ quan thành phố, trong {city.folder}; "
        "mọi mẫu thư đều dựng được"
    )


@click.command("schema")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None)
@click.option("--city", is_flag=True, help="The schema of a city's city.yaml instead.")
def schema(output: str | None, city: bool) -> None:
    """Export the JSON Schema of the config files (for editors and standard validators)."""
    from cchc.schema import config_schema

    text = json.dumps(config_schema(city), ensure_ascii=False, indent=2) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


PLAN_COLUMNS = [
    Column("due", "Hạn"),
    Column("period", "Kỳ", period_words),
    Column("title", "Nhiệm vụ", short_title),
    Column("unit", "Đơn vị"),
    Column("window_start", "Số liệu từ"),
    Column("window_end", "đến"),
    Column("opens", "Mở"),
    Column("basis", "Căn cứ"),
]


@click.command("plan")
@click.option("--from", "first", type=DATE, required=True)
@click.option("--to", "last", type=DATE, required=True)
@click.option("--unit", default=None)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@pass_app
def plan_cmd(app: App, first, last, unit, fmt) -> None:
    """Every occurrence due between --from and --to (every commune's, in a city)."""
    if last < first:
        fail(f"Ngày --to ({vn_date(last)}) trước ngày --from ({vn_date(first)})")
    known_unit(app, unit)
    rows = [
        app.tagged(plan)
        | {
            "obligation": o.obligation,
            "title": plan.obligations[o.obligation].title,
            "kind": plan.obligations[o.obligation].kind,
            "unit": o.unit,
            "period": o.period.key,
            "window_start": o.period.window_start,
            "window_end": o.period.window_end,
            "opens": o.opens,
            "due": o.due.due,
            "nominal_due": o.due.nominal,
            "basis": o.due.basis,
            "ref": plan.obligations[o.obligation].ref,
        }
        for plan in app.plans
        for o in plan.occurrences(first, last, unit=unit)
    ]
    if len(app.plans) > 1:
        rows.sort(key=lambda r: (r["due"], r["commune"]))
    columns = app.columns(PLAN_COLUMNS) if fmt == "table" else _all_columns(rows)
    click.echo(render(rows, fmt, columns))


def _all_columns(rows: list[dict]) -> list[Column]:
    return [Column(k, k) for k in (rows[0] if rows else {})]


class LazyChoice(click.Choice):
    """A choice whose values are read on first use: the config's vocabulary loads pydantic, which
    the commands that do not read the config never need."""

    def __init__(self, load) -> None:
        self._load, self.case_sensitive = load, True

    # click declares `choices` a plain attribute; a cached property is read the same way.
    @cached_property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self._load())


def obligation_kinds() -> tuple[str, ...]:
    from schedules.vocabulary import ObligationKind

    return tuple(k.value for k in ObligationKind)


OBLIGATION_FIELDS = [
    "id",
    "ref",
    "title",
    "kind",
    "lead",
    "coordinators",
    "timing",
    "product",
    "description",
    "tracking",
    "reported_in",
    "consolidates",
    "next_due",
]


def _units_cell(codes: list[str]) -> str:
    """A list of units in a table cell: the codes, or their count when there are many."""
    return ", ".join(codes) if len(codes) <= 2 else f"{len(codes)} đơn vị"


def _short_ref(ref: str) -> str:
    """ "Phụ lục mục II.2, ý 1" → "PL II.2, ý 1"; "Mục V.1; Mục V.2.a" → "KH V.1; V.2.a"."""
    for long, short in (("Phụ lục mục ", "PL "), ("Mục ", "KH ")):
        if ref.startswith(long):
            return short + "; ".join(p.strip().removeprefix(long) for p in ref.split(";"))
    return ref


def _obligation_columns() -> list[Column]:
    from notifications.phrases import shorten
    from schedules.catalogue import KIND_LABELS

    return [
        Column("ref", "Mục", _short_ref),
        Column("title", "Nhiệm vụ", lambda title: shorten(title, 30)),
        Column("kind", "Loại", lambda kind: KIND_LABELS.get(kind, kind)),
        Column("lead", "Chủ trì", _units_cell),
        Column("coordinators", "Phối hợp", _units_cell),
        Column("next_due", "Hạn tới"),
    ]


@click.command("obligations")
@click.option("--unit", default=None, help="Only what this unit leads or coordinates.")
@click.option("--kind", type=LazyChoice(obligation_kinds), default=None)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@at_option
@pass_app
def obligations_cmd(app: App, unit, kind, fmt, at) -> None:
    """Every obligation of the plan, standing and ad hoc ones included, with its units (ALL
    expanded), how it is tracked and its next due date on or after the --at day."""
    from schedules.catalogue import obligation_rows

    known_unit(app, unit)
    rows = [
        app.tagged(plan) | row
        for plan in app.plans
        for row in obligation_rows(plan, local_date(now_or(at), plan.zone))
        if (kind is None or row["kind"] == kind)
        and (unit is None or unit in row["lead"] + row["coordinators"])
    ]
    if fmt == "csv":
        rows = [{k: " ".join(v) if isinstance(v, list) else v for k, v in r.items()} for r in rows]
    fields = ([] if not app.city.is_city else ["commune"]) + OBLIGATION_FIELDS
    columns = (
        app.columns(_obligation_columns()) if fmt == "table" else [Column(k, k) for k in fields]
    )
    click.echo(render(rows, fmt, columns))


@click.command("new-config")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--commune", "code", required=True, help="Short code, e.g. phuongnam.")
@click.option("--name", required=True, help='e.g. "Ủy ban nhân dân xã Phương Nam".')
@click.option(
    "--year",
    type=click.IntRange(2000, 2100),
    default=None,
    help="First year of the plan (default: this year); it runs five years, to YEAR+4.",
)
def new_config_cmd(folder: Path, code: str, name: str, year: int | None) -> None:
    """Write a commented config skeleton into FOLDER (new or empty) for another commune: the
    commune, two units, the calendar, one obligation of each schedule form and the schema for
    the editor. It passes `cchc check` as written; edit it from there."""
    from cchc.cli.newconfig import write_config
    from schedules.dates import VN_ZONE

    try:
        written = write_config(folder, code, name, year or datetime.now(VN_ZONE).year)
    except ValueError as exc:
        fail(str(exc))
    for path in written:
        click.echo(f"Đã ghi {path}")
    click.echo(f"Tiếp theo: sửa các giá trị TODO, rồi chạy `cchc --config {folder} check`")


@click.command("init-db")
@click.option(
    "--rebind",
    is_flag=True,
    help="Re-stamp a database stamped for another city or commune code (the same place, "
    "renamed); without it such a database is refused.",
)
@pass_app
def init_db(app: App, rebind: bool) -> None:
    """Create or upgrade the database schema and record which communes it serves (the first
    time, and when communes were added to the config); refused while the config is invalid,
    and when the database serves another city (`--rebind` if it is the same one renamed)."""
    app.city  # noqa: B018  (prints the config's errors and exits 1 when it is invalid)
    app.record_scope, app.rebind = True, rebind
    app.engine  # noqa: B018  (ensure_schema runs on first use)
    served = app.served
    if served is not None and served.stamped:
        what = f"thành phố {app.city.code}" if app.city.is_city else f"xã {app.city.code}"
        click.echo(
            f"Ghi nhận: cơ sở dữ liệu phục vụ {what} "
            f"({len(app.city.select(None))} đơn vị; mới ghi nhận: {len(served.added)})"
        )
    click.echo(f"Cơ sở dữ liệu sẵn sàng: {app.settings.database_url}")
