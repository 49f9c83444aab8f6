"""The commands that change an item: `open` (an ad hoc one), `attach` and `receive` (close it
with its deliverable), `waive`, `return`. Each delivers at once the mail it queued, and tells
the Prefect UI when a server is configured."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from cchc.cli.attachable import Attachable, attachable
from cchc.cli.common import DATE, App, at_option, now_or, pass_app, user_errors, working
from schedules.dates import vn_date
from schedules.vocabulary import ItemChange, ItemStatus

VERDICTS = {True: ", đúng hạn", False: ", quá hạn", None: ""}
"""An item's `on_time` in the line of a command that closed it."""


def closed_line(item, version: int, what: str) -> str:
    """The line of a command that closed an item: "Nhiệm vụ số 12: đã nộp (closed), đúng hạn;
    phiên bản v1 …" (the status as `--status` takes it, in parentheses)."""
    return (
        f"Nhiệm vụ số {item.id}: {ItemStatus(item.status).label} ({item.status})"
        f"{VERDICTS[item.on_time]}; phiên bản v{version} {what}"
    )


def deliver_queued(app: App, item_id: int | list[int], at: datetime) -> None:
    """Deliver at once the mail a command just queued for the item (or items of one commune),
    due at `at`, instead of leaving it to the next sweep; what the server does not take is
    retried by the engine."""
    from cchc.runtime.courier import deliver_items
    from notifications.delivery_report import describe_delivery

    ids = [item_id] if isinstance(item_id, int) else item_id
    with working("Đang gửi thư…"):
        plan = app.item_plan(ids[0], app.engine)
        report = deliver_items(plan, app.engine, app.settings, ids, at)
    click.echo(describe_delivery(report))


def tell_prefect(app: App, kind: ItemChange, item_id: int | list[int], at: datetime) -> None:
    """After a command changed an item (or items of one commune): its event and fresh status
    tables in the Prefect UI (`flows.status`); nothing, and no Prefect import, without a server
    (PREFECT_API_URL)."""
    from flows.status import item_changed

    ids = [item_id] if isinstance(item_id, int) else item_id
    plan = app.item_plan(ids[0], app.engine)
    item_changed(plan, app.engine, app.settings, kind, ids, at, city=app.city)


@click.command("open")
@click.option("--obligation", required=True)
@click.option("--unit", required=True)
@click.option("--due", type=DATE, required=True)
@at_option
@pass_app
@user_errors
def open_cmd(app: App, obligation, unit, due, at) -> None:
    """Open an ad hoc item (a directive arrived)."""
    from models.tables import saved_id
    from usecases.lifecycle import open_ad_hoc

    at = now_or(at)
    item = open_ad_hoc(app.plan, app.engine, obligation, unit, due, at)
    moved = item.nominal_due != item.due
    click.echo(
        f"Nhiệm vụ số {item.id}: đã mở {item.obligation} cho {item.unit}, hạn {vn_date(item.due)}"
        + (f" ({app.plan.day_off_note(item.nominal_due, item.due)})" if moved else "")
    )
    deliver_queued(app, saved_id(item), at)


@click.command("attach")
@click.argument("item_id", type=int)
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--by", default=None, help="Unit code of who hands it in.")
@click.option("--note", default=None)
@click.option(
    "--no-check",
    is_flag=True,
    help="Skip the content check of the web upload (accepted types, programs, macros).",
)
@at_option
@pass_app
@user_errors
def attach_cmd(app: App, item_id, file, by, note, no_check, at) -> None:
    """Attach a deliverable to an item and close it (as a `cchc-close` Prefect flow run when a
    Prefect server is configured: PREFECT_API_URL). FILE must be a regular file reached without
    any link (no linked folder either; no FIFO or device); its name and content are checked as
    a web upload's unless --no-check."""
    at = now_or(at)
    plan = app.item_plan(item_id, app.engine)
    settings = app.settings
    with attachable(file, settings.data_dir, not no_check, settings.config_dir) as got:
        done = _close_with(app, plan, item_id, got, by, note, at)
    item, deliverable = done.item, done.files[0]
    click.echo(
        closed_line(
            item, deliverable.version, f"{deliverable.original_name} sha256 {deliverable.sha256}"
        )
    )
    deliver_queued(app, item.id, at)


def _close_with(app: App, plan, item_id: int, got: Attachable, by, note, at: datetime):
    """Attach the copy to the item and close it: through the `cchc-close` flow when a Prefect
    server is configured, in process otherwise (then with the type its content was found)."""
    from cchc.runtime.control import prefect_server_configured

    if prefect_server_configured():
        from flows.prefect_flows import close_flow, use_runtime

        use_runtime(app.city, app.engine, app.settings)
        return close_flow(item_id, str(got.path), by=by, note=note, at=at)
    from usecases.review import attach

    return attach(
        plan,
        app.engine,
        app.settings.data_dir,
        item_id,
        got.path,
        at,
        by=by,
        note=note,
        file_type=got.file_type,
        signature=got.signature,
    )


@click.command("receive")
@click.argument("item_id", type=int)
@click.option(
    "--doc", "number", required=True, help='Number and symbol of the document, e.g. "12/BC-CAX".'
)
@click.option("--date", "day", type=DATE, default=None, help="Its date (default: the --at day).")
@click.option("--by", default=None, help="Unit code of who sent it (default: the item's unit).")
@at_option
@pass_app
@user_errors
def receive_cmd(app: App, item_id, number, day, by, at) -> None:
    """The product came through the document-management system: record the document (number
    and date, no file) and close the item; on time is judged by the document's date."""
    from usecases.lifecycle import receive_document

    at = now_or(at)
    plan = app.item_plan(item_id, app.engine)
    done = receive_document(plan, app.engine, item_id, number, day, at, by=by)
    item, version = done.item, done.deliverable
    again = "" if done.created else " (đã ghi nhận trước đó)"
    click.echo(closed_line(item, version.version, f"{version.document}{again}"))
    deliver_queued(app, item_id, at)
    if done.closed_item:
        tell_prefect(app, ItemChange.CLOSED, item_id, at)


@click.command("waive")
@click.argument("item_id", type=int)
@click.option("--reason", required=True)
@at_option
@pass_app
@user_errors
def waive_cmd(app: App, item_id, reason, at) -> None:
    """Waive an open item, with a reason."""
    from usecases.lifecycle import waive

    at = now_or(at)
    item = waive(app.item_plan(item_id, app.engine), app.engine, item_id, reason, at)
    click.echo(f"Nhiệm vụ số {item.id}: đã miễn (waived), lý do: {item.waived_reason}")
    tell_prefect(app, ItemChange.WAIVED, item_id, at)


@click.command("return")
@click.argument("item_id", type=int)
@click.option("--reason", required=True, help="Why the deliverable is refused.")
@click.option("--due", type=DATE, required=True, help="New due date.")
@at_option
@pass_app
@user_errors
def return_cmd(app: App, item_id, reason, due, at) -> None:
    """Return a closed item's deliverable for correction: reopen it with a new due date and
    mail the unit."""
    from usecases.lifecycle import return_deliverable
    from usecases.review import return_version, versions

    at = now_or(at)
    plan = app.item_plan(item_id, app.engine)
    handed_in = versions(app.engine, item_id)
    if handed_in:  # the newest version is marked returned, as on the office's page
        item = return_version(
            plan, app.engine, item_id, max(handed_in), reason, due, at, actor="admin"
        )
    else:
        item = return_deliverable(plan, app.engine, item_id, reason, due, at)
    click.echo(f"Nhiệm vụ số {item.id}: đã trả lại sản phẩm, mở lại đến hạn {vn_date(item.due)}")
    deliver_queued(app, item_id, at)
    tell_prefect(app, ItemChange.RETURNED, item_id, at)


@click.command("accept")
@click.argument("item_id", type=int)
@click.option(
    "--version",
    "version",
    type=click.IntRange(1),
    default=None,
    help="Version to accept (default: the newest one not yet reviewed).",
)
@at_option
@pass_app
@user_errors
def accept_cmd(app: App, item_id, version, at) -> None:
    """Accept a version of an item's product, as the office page's button does: the item is
    settled (a later upload is kept as a version, its verdict stays)."""
    from usecases.review import accept_version

    at = now_or(at)
    plan = app.item_plan(item_id, app.engine)
    chosen = version or _to_review(app, item_id)
    item = accept_version(plan, app.engine, item_id, chosen, at, actor="admin")
    click.echo(
        f"Nhiệm vụ số {item.id}: đã chấp nhận phiên bản {chosen} ({_verdict_words(item, plan, at)})"
    )
    deliver_queued(app, item_id, at)
    tell_prefect(app, ItemChange.ACCEPTED, item_id, at)


def _to_review(app: App, item_id: int) -> int:
    """The newest version still waiting for the office's review; UserError when none is."""
    from schedules.vocabulary import DeliverableStatus
    from usecases.errors import UserError
    from usecases.review import versions

    waiting = [
        n
        for n, parts in versions(app.engine, item_id).items()
        if parts[0].status == DeliverableStatus.RECEIVED
    ]
    if not waiting:
        raise UserError(f"Nhiệm vụ số {item_id} không có phiên bản nào đang chờ xem xét (accept).")
    return max(waiting)


def _verdict_words(item, plan, at: datetime) -> str:
    from schedules.dates import local_date
    from schedules.timeliness import timeliness_label

    return timeliness_label(item, local_date(at, plan.zone)) or "chưa có kết quả"
