"""`triage`: what was held at go-live (items due before the commune's go-live date, not done,
never mailed) and the standing office's decisions on each: `triage reopen` (a fresh due date,
then the normal ladder from it) and `triage waive` (with a reason)."""

from __future__ import annotations

from datetime import date

import click

from cchc.cli.common import (
    DATE,
    App,
    at_option,
    now_or,
    pass_app,
    period_words,
    short_title,
    user_errors,
)
from cchc.cli.output import Column, render
from schedules.dates import local_date, vn_date
from schedules.vocabulary import ItemChange, ItemStatus

TRIAGE_WORDS = {ItemStatus.HELD: "chờ xử lý", ItemStatus.WAIVED: "đã miễn"}
"""A status as the triage table words it (every row there was held at go-live)."""


def triage_columns() -> list[Column]:
    return [
        Column("id", "ID"),
        Column("title", "Nhiệm vụ", short_title),
        Column("unit", "Đơn vị"),
        Column("period", "Kỳ", period_words),
        Column("plan_due", "Hạn theo kế hoạch"),
        Column("status", "Trạng thái", lambda s: TRIAGE_WORDS.get(s) or ItemStatus(s).label),
        Column("due", "Hạn mới"),
        Column("note", "Ghi chú", lambda v: v or ""),
    ]


def triage_row(item) -> dict:
    held = item.status == ItemStatus.HELD
    return {
        "id": item.id,
        "obligation": item.obligation,
        "title": item.title,
        "unit": item.unit,
        "period": item.period,
        "plan_due": item.original_due or item.due,
        "status": item.status,
        "due": None if held or item.status == ItemStatus.WAIVED else item.due,
        "held_on": item.held_on,
        "note": item.waived_reason,
    }


@click.group("triage", invoke_without_command=True)
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Also the items already sorted out (re-opened, waived).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def triage_cmd(ctx: click.Context, everything: bool, fmt: str) -> None:
    """The items held at go-live (due before the commune's go-live date, not done): nothing is
    mailed about them until the standing office re-opens (`triage reopen`) or waives (`triage
    waive`) each one."""
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(App)
    assert app is not None, "the main group makes the App first"
    app.read_only = True
    from usecases.golive import recorded_go_live
    from usecases.triage import held_items

    rows, lines = [], []
    for plan in app.plans:
        found = held_items(plan, app.reader, decided=everything)
        rows += [app.tagged(plan) | triage_row(i) for i in found]
        go_live = recorded_go_live(plan, app.reader)
        waiting = sum(1 for i in found if i.status == ItemStatus.HELD)
        when = f"ngày vận hành {vn_date(go_live)}" if go_live else "chưa rà soát lần nào"
        lines.append(
            f"{plan.commune.name} ({when}): {waiting} việc tồn đọng chờ cơ quan thường trực "
            "xử lý (cchc triage reopen ITEM --due YYYY-MM-DD, cchc triage waive ITEM --reason …)"
        )
    if fmt == "json":
        click.echo(render(rows, fmt, triage_columns()))
        return
    for line in lines:
        click.echo(line)
    if rows:
        click.echo(render(rows, fmt, app.columns(triage_columns()), app.plans[0].zone))


@triage_cmd.command("reopen")
@click.argument("item_id", type=int)
@click.option("--due", type=DATE, required=True, help="The fresh due date (today or later).")
@click.option("--reason", default=None, help="Why (kept in the item's history).")
@at_option
@pass_app
@user_errors
def triage_reopen_cmd(app: App, item_id: int, due: date, reason, at) -> None:
    """Re-open a held item with a fresh due date: the unit is told at once, then reminded and
    escalated as for any item, from that date."""
    from cchc.cli.lifecycle import deliver_queued, tell_prefect
    from usecases.triage import reopen_held

    plan = app.item_plan(item_id, app.engine)
    when = now_or(at)
    item = reopen_held(plan, app.engine, item_id, due, reason, when)
    moved = item.nominal_due and item.nominal_due != item.due
    click.echo(
        f"Nhiệm vụ số {item.id}: đã mở lại cho {item.unit}, hạn mới {vn_date(item.due)}"
        + (f" ({plan.day_off_note(item.nominal_due, item.due)})" if moved else "")
        + f"; hạn theo kế hoạch {vn_date(item.original_due or item.due)}"
    )
    deliver_queued(app, item_id, when)
    tell_prefect(app, ItemChange.RESUMED, item_id, when)


@triage_cmd.command("waive")
@click.argument("item_id", type=int)
@click.option("--reason", required=True)
@at_option
@pass_app
@user_errors
def triage_waive_cmd(app: App, item_id: int, reason: str, at) -> None:
    """Waive a held item, with a reason: nothing is ever mailed about it."""
    from cchc.cli.lifecycle import tell_prefect
    from usecases.triage import waive_held

    plan = app.item_plan(item_id, app.engine)
    when = now_or(at)
    item = waive_held(plan, app.engine, item_id, reason, when)
    today = local_date(when, plan.zone)
    click.echo(
        f"Nhiệm vụ số {item.id}: đã miễn (waived) ngày {vn_date(today)}, lý do: "
        f"{item.waived_reason}"
    )
    tell_prefect(app, ItemChange.WAIVED, item_id, when)
