"""The mail: `outbox` (what is queued, sent or failed), `send` (deliver the pending mail now),
`preview` (an item's mail, rendered, not sent)."""

from __future__ import annotations

from pathlib import Path

import click

from cchc.cli.common import INSTANT, App, at_option, now_or, pass_app, user_errors, working
from cchc.cli.dberrors import database_errors
from cchc.cli.output import Column, render
from schedules.vocabulary import MailKind, OutboxStatus


def _kind(kind: MailKind) -> str:
    from notifications.labels import kind_label

    return kind_label(kind)


def _step(step: str) -> str:
    from notifications.labels import step_label

    return step_label(step)


def _outbox_status(status: str) -> str:
    from notifications.labels import outbox_status_label

    return outbox_status_label(status)


OUTBOX_COLUMNS = [
    Column("id", "ID"),
    Column("item_id", "Nhiệm vụ"),
    Column("unit", "Đơn vị"),
    Column("kind", "Loại", _kind),
    Column("step", "Bước", _step),
    Column("recipient", "Người nhận"),
    Column("status", "Trạng thái", _outbox_status),
    Column("attempts", "Lần gửi"),
    Column("send_after", "Gửi từ"),
    Column("sent_at", "Đã gửi lúc"),
    Column("last_error", "Lỗi"),
]


@click.command("outbox")
@click.option("--status", type=click.Choice([s.value for s in OutboxStatus]))
@click.option("--item", "item_id", type=int, default=None)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
@user_errors
def outbox_cmd(app: App, status, item_id, fmt) -> None:
    """The outbox: every notification queued, sent, failed or cancelled."""
    app.read_only = True
    from notifications.outbox import list_outbox

    plans = app.plans
    if item_id is not None:  # an item of these communes, or exit 1
        from models.db import transaction
        from usecases.lifecycle import get_item

        plans = [app.item_plan(item_id, app.reader)]
        with transaction(app.reader) as session:
            get_item(session, plans[0], item_id)
    rows = [
        app.tagged(plan) | row
        for plan in plans
        for row in list_outbox(plan, app.reader, status, item_id)
    ]
    click.echo(render(rows, fmt, app.columns(OUTBOX_COLUMNS), plans[0].zone))


@click.command("send")
@at_option
@pass_app
@database_errors
def send_cmd(app: App, at) -> None:
    """Deliver every pending mail now, waiting for its next retry or not ("retry now")."""
    from cchc.runtime.courier import deliver_communes
    from notifications.delivery_report import describe_delivery

    with working("Đang gửi thư…"):
        report = deliver_communes(app.plans, app.engine, app.settings, now_or(at), force=True)
    click.echo(describe_delivery(report))


@click.command("preview")
@click.argument("item_id", type=int)
@click.option(
    "--kind",
    required=True,
    type=click.Choice([k.value for k in MailKind]),
)
@click.option("--to", "recipient", default=None, help="Render for this address.")
@click.option("--format", "fmt", type=click.Choice(["text", "html", "eml"]), default="text")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None)
@click.option(
    "--at",
    type=INSTANT,
    default=None,
    help="Render as of this instant (ISO 8601). Default: when the notice is due (its step's "
    "instant, the item's opening or closing), not the machine clock.",
)
@pass_app
@user_errors
def preview_cmd(app: App, item_id, kind, recipient, fmt, output, at) -> None:
    """Render an item's mail of --kind to stdout or a file, without sending it."""
    app.read_only = True
    from notifications.links import intake_linker
    from notifications.preview import describe_mail, preview_mail

    mail = preview_mail(
        app.item_plan(item_id, app.reader),
        app.reader,
        item_id,
        kind,
        at,
        app.settings.smtp.sender,
        recipient,
        link=intake_linker(app.settings),
    )
    data = describe_mail(mail, fmt)
    if output:
        Path(output).write_bytes(data)
        click.echo(f"Đã ghi {output}")
    else:
        click.echo(data.decode(errors="replace"), nl=not data.endswith(b"\n"))
