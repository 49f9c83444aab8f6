"""The office's daily work on the command line: `directive` (record a văn bản chỉ đạo and open
one item per lead unit), `extend` (grant an extension of an item's due date) and
`refuse-extension` (refuse a unit's pending request). Each delivers at once the mail it queued
and tells the Prefect UI when a server is configured, as the lifecycle commands do."""

from __future__ import annotations

from pathlib import Path

import click

from cchc.cli.attachable import attachable
from cchc.cli.common import DATE, App, at_option, now_or, pass_app, user_errors
from cchc.cli.lifecycle import deliver_queued, tell_prefect
from schedules.dates import vn_date
from schedules.vocabulary import ItemChange


@click.command("directive")
@click.option("--number", required=True, help='Số, ký hiệu of the document, e.g. "125/SNV-CCHC".')
@click.option("--date", "issued_on", type=DATE, required=True, help="Its date (ngày văn bản).")
@click.option("--issuer", required=True, help='Who issued it, e.g. "Sở Nội vụ".')
@click.option("--subject", required=True, help="Its subject (trích yếu).")
@click.option("--due", type=DATE, required=True, help="The due date it sets.")
@click.option(
    "--unit", "units", multiple=True, required=True, help="A lead unit (one item each); repeat."
)
@click.option("--coordinator", "coordinators", multiple=True, help="A coordinating unit; repeat.")
@click.option("--task", default=None, help="What it asks (default: the subject).")
@click.option("--product", default=None, help="What is handed in.")
@click.option(
    "--file",
    type=click.Path(path_type=Path),
    default=None,
    help="The document's file, checked as a web upload is (kept, attached to the mails).",
)
@at_option
@pass_app
@user_errors
def directive_cmd(
    app: App, number, issued_on, issuer, subject, due, units, coordinators, task, product, file, at
) -> None:
    """Record a directive (văn bản chỉ đạo) and open one item per --unit, due on --due (a day
    off moves as any due date); mail each unit, and each coordinating unit its request."""
    from usecases.directives import IssueDirective

    at = now_or(at)
    command = IssueDirective(
        number=number,
        issued_on=issued_on,
        issuer=issuer,
        subject=subject,
        due=due,
        units=tuple(units),
        coordinators=tuple(coordinators),
        task=task,
        product=product,
    )
    issued = _issue(app, command, file, at)
    record = issued.directive
    click.echo(
        f"Đã ghi nhận {_reference(record)} (mã văn bản {record.id}); mở {len(issued.items)} "
        f"nhiệm vụ (directive {record.id}: {len(issued.items)} item(s) opened):"
    )
    for item in issued.items:
        moved = item.nominal_due != item.due
        note = f" ({app.plan.day_off_note(item.nominal_due, item.due)})" if moved else ""
        click.echo(f"  nhiệm vụ số {item.id}: {item.unit}, hạn {vn_date(item.due)}{note}")
    if record.file_name:
        click.echo(f"  tệp văn bản: {record.file_name} sha256 {record.file_sha256}")
    ids = [item.id for item in issued.items]
    deliver_queued(app, ids, at)
    tell_prefect(app, ItemChange.OPENED, ids, at)


def _issue(app: App, command, file: Path | None, at):
    """`issue_directive`, with the file (if any) copied and checked as `cchc attach` does."""
    from dataclasses import replace

    from usecases.directives import issue_directive
    from usecases.review import IncomingFile

    settings = app.settings
    data_dir, max_bytes = settings.data_dir, settings.intake.max_bytes
    if file is None:
        return issue_directive(
            app.plan, app.engine, command, at, data_dir=data_dir, max_bytes=max_bytes
        )
    with attachable(file, settings.data_dir, True, settings.config_dir, bypass="") as got:
        incoming = IncomingFile(got.path.name, got.path, got.file_type, got.signature)
        with_file = replace(command, file=incoming)
        return issue_directive(
            app.plan, app.engine, with_file, at, data_dir=data_dir, max_bytes=max_bytes
        )


def _reference(record) -> str:
    from schedules.documents import document_reference

    return document_reference(record.number, record.issued_on, record.issuer)


@click.command("extend")
@click.argument("item_id", type=int)
@click.option("--until", type=DATE, required=True, help="The new due date.")
@click.option("--reason", required=True, help="Why (lý do gia hạn).")
@at_option
@pass_app
@user_errors
def extend_cmd(app: App, item_id, until, reason, at) -> None:
    """Grant an extension of an item's due date (the unit's pending request, if it made one):
    the due date moves (off a day off, as any due date), reminders and escalations follow the
    new date, the first due date is kept; the unit is mailed, the office and the coordinating
    units copied."""
    from usecases.extensions import GrantExtension, grant_extension

    at = now_or(at)
    plan = app.item_plan(item_id, app.engine)
    done = grant_extension(
        plan, app.engine, GrantExtension(item_id, until, reason, actor="admin"), at
    )
    item, extension = done.item, done.extension
    asked = " theo đề nghị của đơn vị" if extension.requested_by else ""
    click.echo(
        f"Nhiệm vụ số {item.id}: gia hạn lần {extension.seq}{asked}, hạn mới {vn_date(item.due)} "
        f"(hạn trước {vn_date(extension.previous_due or item.due)})"
    )
    deliver_queued(app, item_id, at)
    tell_prefect(app, ItemChange.EXTENDED, item_id, at)


@click.command("refuse-extension")
@click.argument("item_id", type=int)
@click.option("--reason", required=True, help="Why not (lý do không gia hạn).")
@at_option
@pass_app
@user_errors
def refuse_extension_cmd(app: App, item_id, reason, at) -> None:
    """Refuse the unit's pending request for an extension: the due date stays; the unit is
    mailed, the office copied."""
    from usecases.extensions import RefuseExtension, refuse_extension

    at = now_or(at)
    plan = app.item_plan(item_id, app.engine)
    done = refuse_extension(plan, app.engine, RefuseExtension(item_id, reason, actor="admin"), at)
    item, extension = done.item, done.extension
    asked = f" đến {vn_date(extension.proposed_due)}" if extension.proposed_due else ""
    click.echo(
        f"Nhiệm vụ số {item.id}: không gia hạn{asked}; hạn vẫn là {vn_date(item.due)} "
        "(refuse-extension)"
    )
    deliver_queued(app, item_id, at)
