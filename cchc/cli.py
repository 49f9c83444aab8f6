"""The `cchc` command line. Read-only commands never import Prefect: they answer in well under a
second. "Now" enters here (`--at`), nowhere deeper."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import click

from cchc.output import Column, render
from cchc.settings import Settings
from schedules.dates import parse_date, parse_instant, vn_date, vn_datetime
from schedules.yamlsource import ConfigInvalid

STATUS_CHOICES = ("open", "overdue", "escalated", "closed", "waived")


class Parsed(click.ParamType):
    """A value parsed at the edge by one of schedules.dates' parsers, with its own message."""

    def __init__(self, name: str, parse):
        self.name, self.parse = name, parse

    def convert(self, value, param, ctx):
        try:
            return value if not isinstance(value, str) else self.parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DATE = Parsed("DATE", parse_date)
INSTANT = Parsed("DATETIME", parse_instant)
at_option = click.option(
    "--at",
    type=INSTANT,
    default=None,
    help="Instant to act as of (ISO 8601; no offset means Asia/Ho_Chi_Minh). Default: now.",
)


class App:
    """What the commands share: settings, and the plan and database loaded on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def plan(self):
        from schedules.plan import load_plan

        try:
            return load_plan(self.settings.config_dir)
        except ConfigInvalid as exc:
            for issue in exc.issues:
                click.echo(str(issue), err=True)
            click.echo(
                f"config invalid: {len(exc.issues)} error(s) (cấu hình không hợp lệ)", err=True
            )
            sys.exit(1)

    @cached_property
    def engine(self):
        """The database for commands that write: its schema is brought up to date first."""
        from models.db import ensure_schema, make_engine

        engine = make_engine(self.settings.database_url)
        ensure_schema(engine)
        return engine

    @cached_property
    def reader(self):
        """The database for read-only commands: never created nor migrated by them."""
        from models.db import current_revision, make_engine, sqlite_path

        path = sqlite_path(self.settings.database_url)
        engine = None if path and not path.exists() else make_engine(self.settings.database_url)
        if engine is None or current_revision(engine) is None:
            fail("the database is not initialised: run `cchc init-db` (chưa khởi tạo CSDL)")
        return engine


def now_or(at: datetime | None) -> datetime:
    return at or datetime.now(UTC)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Config folder (default $CCHC_CONFIG or ./config).",
)
@click.pass_context
def main(ctx: click.Context, config_dir: str | None) -> None:
    """cchc: recurring CCHC duties as work items, reminders and escalations."""
    ctx.obj = App(Settings.from_env(config_dir))


pass_app = click.make_pass_decorator(App)


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def user_errors(func):
    """Run a command; a refused request prints its reason and exits 1 (nothing was changed)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from flows.errors import UserError

        try:
            return func(*args, **kwargs)
        except UserError as exc:
            fail(str(exc))

    return wrapper


@main.command()
@pass_app
def check(app: App) -> None:
    """Validate the config; print FILE:LINE: message for each error. Writes nothing."""
    plan = app.plan
    scheduled = len(plan.schedules)
    click.echo(
        f"OK: {len(plan.units)} units, {len(plan.obligations)} obligations "
        f"({scheduled} scheduled) in {plan.folder}"
    )


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None)
def schema(output: str | None) -> None:
    """Export the JSON Schema of the config files (for editors)."""
    from schedules.config import ConfigFile

    text = json.dumps(ConfigFile.model_json_schema(), ensure_ascii=False, indent=2) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


PLAN_COLUMNS = [
    Column("due", "Hạn"),
    Column("period", "Kỳ"),
    Column("obligation", "Nhiệm vụ"),
    Column("unit", "Đơn vị"),
    Column("window_start", "Số liệu từ"),
    Column("window_end", "đến"),
    Column("opens", "Mở"),
    Column("basis", "Căn cứ"),
]


@main.command("plan")
@click.option("--from", "first", type=DATE, required=True)
@click.option("--to", "last", type=DATE, required=True)
@click.option("--unit", default=None)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@pass_app
def plan_cmd(app: App, first, last, unit, fmt) -> None:
    """Every occurrence due between --from and --to."""
    plan = app.plan
    if last < first:
        fail("--to is before --from")
    if unit is not None and unit not in plan.units:
        fail(f"unknown unit '{unit}' (đơn vị không tồn tại)")
    rows = [
        {
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
        for o in plan.occurrences(first, last, unit=unit)
    ]
    click.echo(render(rows, fmt, PLAN_COLUMNS if fmt == "table" else _all_columns(rows)))


def _all_columns(rows: list[dict]) -> list[Column]:
    return [Column(k, k) for k in (rows[0] if rows else {})]


@main.command("init-db")
@pass_app
def init_db(app: App) -> None:
    """Create or upgrade the database schema."""
    app.engine  # noqa: B018  (ensure_schema runs on first use)
    click.echo(f"database ready: {app.settings.database_url}")


@main.command("sweep")
@at_option
@pass_app
def sweep_cmd(app: App, at) -> None:
    """One sweep as of --at: open due items, mark overdue, queue reminders and escalations."""
    from flows.sweep import sweep

    report = sweep(app.plan, app.engine, now_or(at))
    click.echo(describe_sweep(report))


def describe_sweep(report) -> str:
    lines = [
        f"sweep at {vn_datetime(report.at)}: opened {len(report.opened)}, "
        f"advanced {len(report.advanced)}, queued {report.queued} notification(s)"
    ]
    lines += [f"  opened #{i} {ob} {unit} {period}" for i, ob, unit, period in report.opened]
    lines += [f"  #{i} -> {step} ({status})" for i, step, status in report.advanced]
    return "\n".join(lines)


ITEM_COLUMNS = [
    Column("id", "ID"),
    Column("obligation", "Nhiệm vụ"),
    Column("unit", "Đơn vị"),
    Column("period", "Kỳ"),
    Column("status", "Trạng thái"),
    Column("due", "Hạn"),
    Column("opened_at", "Mở lúc"),
    Column("closed_at", "Đóng lúc"),
    Column("on_time", "Đúng hạn"),
]


def item_row(item) -> dict:
    return {
        "id": item.id,
        "obligation": item.obligation,
        "title": item.title,
        "unit": item.unit,
        "period": item.period,
        "status": item.status,
        "due": item.due,
        "window_start": item.window_start,
        "window_end": item.window_end,
        "opened_at": item.opened_at,
        "closed_at": item.closed_at,
        "on_time": item.on_time,
        "escalation_level": item.escalation_level,
        "adhoc": item.adhoc,
        "waived_reason": item.waived_reason,
        "next_action_at": item.next_action_at,
    }


@main.command("items")
@click.option("--status", type=click.Choice(STATUS_CHOICES), default=None)
@click.option("--unit", default=None)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
def items_cmd(app: App, status, unit, fmt) -> None:
    """Work items (all of them without --status)."""
    from flows.reporting import list_items

    rows = [item_row(i) for i in list_items(app.plan, app.reader, status, unit)]
    click.echo(render(rows, fmt, ITEM_COLUMNS, app.plan.zone))


@main.command("attach")
@click.argument("item_id", type=int)
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--by", default=None, help="Unit code of who hands it in.")
@click.option("--note", default=None)
@at_option
@pass_app
@user_errors
def attach_cmd(app: App, item_id, file, by, note, at) -> None:
    """Attach a deliverable to an item and close it."""
    from flows.lifecycle import attach

    item, deliverable = attach(
        app.plan, app.engine, app.settings.data_dir, item_id, file, now_or(at), by=by, note=note
    )
    verdict = {True: "on time (đúng hạn)", False: "late (quá hạn)", None: ""}[item.on_time]
    click.echo(
        f"item {item.id}: {item.status} {verdict}; deliverable v{deliverable.version} "
        f"{deliverable.original_name} sha256 {deliverable.sha256}"
    )


@main.command("waive")
@click.argument("item_id", type=int)
@click.option("--reason", required=True)
@at_option
@pass_app
@user_errors
def waive_cmd(app: App, item_id, reason, at) -> None:
    """Waive an open item, with a reason."""
    from flows.lifecycle import waive

    item = waive(app.plan, app.engine, item_id, reason, now_or(at))
    click.echo(f"item {item.id}: waived ({item.waived_reason})")


@main.command("open")
@click.option("--obligation", required=True)
@click.option("--unit", required=True)
@click.option("--due", type=DATE, required=True)
@at_option
@pass_app
@user_errors
def open_cmd(app: App, obligation, unit, due, at) -> None:
    """Open an ad hoc item (a directive arrived)."""
    from flows.lifecycle import open_adhoc

    item = open_adhoc(app.plan, app.engine, obligation, unit, due, now_or(at))
    click.echo(f"item {item.id}: opened {item.obligation} {item.unit} due {vn_date(item.due)}")


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


@main.command("report")
@click.option("--year", type=click.IntRange(2000, 2100), required=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@at_option
@pass_app
def report_cmd(app: App, year, fmt, at) -> None:
    """Per unit: items due in the year, closed on time, late, open overdue, on-time rate."""
    from flows.reporting import year_report

    rows = [r.as_dict() for r in year_report(app.plan, app.reader, year, now_or(at))]
    columns = REPORT_COLUMNS if fmt == "table" else REPORT_COLUMNS + [Column("waived", "waived")]
    click.echo(render(rows, fmt, columns, app.plan.zone))


@main.command("run")
@pass_app
def run_cmd(app: App) -> None:
    """The engine: sweeps each working-day morning and at opening instants, until SIGTERM."""
    from flows.engine import run_engine

    run_engine(app.plan, app.engine, app.settings)


if __name__ == "__main__":
    main()
