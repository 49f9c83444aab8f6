"""The work items as they stand: `items` (the list) and `link` (an item's intake link). Both
read the database and change nothing; the commands that change an item are in
`cchc.cli.lifecycle`."""

from __future__ import annotations

from datetime import date

import click

from cchc.cli.common import (
    App,
    at_option,
    fail,
    known_unit,
    now_or,
    pass_app,
    period_words,
    short_title,
    user_errors,
)
from cchc.cli.output import Column, for_people, render
from schedules.dates import local_date
from schedules.item_standing import Standing
from schedules.vocabulary import LATE, ItemStatus


def item_columns(today: date, plans: list) -> list[Column]:
    """The table of `cchc items`; the status as of `today` as every surface words it (trong
    hạn, đến hạn hôm nay, quá hạn, ...: `schedules.item_standing.Standing`), on the calendar of
    the row's commune (`plans`; a single commune's rows name none); the directive's number
    beside the task; the first due date when an extension or a return moved it."""

    def status(row: dict) -> str:
        return standing_of(row, today, plans).label

    def first_due(row: dict) -> str:
        first = row.get("original_due")
        return for_people(first) if first and first != row["due"] else ""

    return [
        Column("id", "ID"),
        Column("title", "Nhiệm vụ", short_title),
        Column("directive", "Văn bản", lambda v: v or ""),
        Column("unit", "Đơn vị"),
        Column("period", "Kỳ", period_words),
        Column("status", "Trạng thái", status, of_row=True),
        Column("due", "Hạn"),
        Column("original_due", "Hạn ban đầu", first_due, of_row=True),
        Column("days_late", "Trễ (ngày làm việc)", lambda n: str(n or "")),
        Column("opened_at", "Mở lúc"),
        Column("closed_at", "Đóng lúc"),
        Column("on_time", "Đúng hạn"),
        Column("mail_failed", "Thư lỗi", lambda n: str(n or "")),
    ]


def standing_of(row: dict, today: date, plans: list) -> Standing:
    """Where a row of `cchc items` stands on `today`, on its commune's calendar."""
    calendars = {plan.commune.code: plan.calendar for plan in plans}
    calendar = calendars.get(row.get("commune", ""), plans[0].calendar)
    return Standing.at(
        row["status"], row["due"], today, calendar, row["escalation_level"], row["on_time"]
    )


def item_row(item) -> dict:
    return {
        "id": item.id,
        "obligation": item.obligation,
        "title": item.title,
        "unit": item.unit,
        "period": item.period,
        "status": item.status,
        "due": item.due,
        "original_due": item.original_due or item.due,
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


@click.command("items")
@click.option(
    "--status",
    type=click.Choice([*(s.value for s in ItemStatus), LATE]),
    default=None,
    help="Only items in this status; late: overdue, escalated or open past due (as of --at).",
)
@click.option("--unit", default=None)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@at_option
@pass_app
def items_cmd(app: App, status, unit, fmt, at) -> None:
    """Work items (all of them without --status); the table gives each one's state as of --at,
    and how many working days late it is."""
    app.read_only = True
    from usecases.item_list import directive_numbers, failed_counts, list_items

    known_unit(app, unit)
    today = local_date(now_or(at), app.plans[0].zone)
    rows = []
    for plan in app.plans:
        failed = failed_counts(plan, app.reader)
        found = list_items(plan, app.reader, status, unit, today=today)
        numbers = directive_numbers(app.reader, [i.id for i in found])
        for i in found:
            row = app.tagged(plan) | item_row(i) | {"mail_failed": failed.get(i.id, 0)}
            row |= {"directive": numbers.get(i.id)}
            rows.append(row | {"days_late": standing_of(row, today, app.plans).days_late})
    zone = app.plans[0].zone
    columns = app.columns(item_columns(today, app.plans))
    click.echo(render(rows, fmt, columns, zone))


@click.command("link")
@click.argument("item_id", type=int, required=False)
@click.option("--office", is_flag=True, help="The standing office's review page instead.")
@at_option
@pass_app
@user_errors
def link_cmd(app: App, item_id, office, at) -> None:
    """Print the signed intake link of an item (for its unit), or the office's (--office)."""
    at = now_or(at)
    app.read_only = True
    from cchc.runtime.settings import SecretMissing
    from notifications.links import item_link, office_link

    if (item_id is None) == (not office):
        fail("Cần ITEM_ID hoặc --office (một trong hai)")
    try:
        if office:
            scope = app.commune or app.city.code
            click.echo(office_link(app.settings, scope, at))
            return
        from models.db import transaction
        from usecases.lifecycle import get_item

        with transaction(app.reader) as session:
            item = get_item(session, app.item_plan(item_id, app.reader), item_id)
        click.echo(item_link(app.settings, item_id, item.unit, at))
    except SecretMissing as exc:
        fail(str(exc))
