"""The offices' pages: the list of the items of their scope (`office_page`), the forms that
accept or return a handed-in version and record a product received as an official document,
and the downloads of the handed-in files.

Who acts and over which communes is `cchc.intake.auth.office_auth`'s answer; every route asks
`Office.sees` before it reads or changes an item (`office_item`)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from cchc.intake.auth import Office, office_auth
from cchc.intake.context import Context, Id, IntakeContext
from cchc.intake.errors import PageError
from cchc.intake.files import stored_file
from cchc.intake.followups import after_change, deliver_soon
from cchc.intake.forms import (
    MAX_SMALL_FIELDS,
    MAX_VALUE_FIELDS,
    form_date,
    small_form,
    value_texts,
)
from cchc.intake.item_views import status_label
from cchc.intake.office_views import (
    ALL_YEARS,
    LATE,
    REVIEW,
    Year,
    commune_label,
    office_list,
    unit_choices,
    year_choices,
)
from cchc.intake.pages import page
from cchc.intake.triage_views import triage_view
from cchc.intake.upload import UploadRefused, clean_text
from cchc.intake.work_views import directive_form, extension_requests, office_directives
from models.db import transaction
from models.tables import Deliverable, WorkItem
from notifications.links import office_token
from schedules.dates import local_date, vn_date
from schedules.plan import Plan
from schedules.vocabulary import ItemChange, ItemStatus
from usecases.errors import UserError
from usecases.indicator_values import NeedsConfirmation, enter_values
from usecases.lifecycle import receive_document
from usecases.review import MAX_NOTE, accept_version, return_version

RETURN_HORIZON = timedelta(days=366)
"""A returned version's new due date lies within a year of today."""

router = APIRouter()
"""The offices' list, their accept/return/receive forms and their file downloads."""


def office_item(ctx: IntakeContext, office: Office, item_id: int) -> tuple[WorkItem, Plan]:
    """The item an office acts on, with its commune's plan; 404 when there is none or it lies
    outside the office's scope: another commune's item is not shown to exist."""
    with transaction(ctx.engine) as session:
        item = session.get(WorkItem, item_id)
    plan = ctx.city.plan_of(item.commune) if item else None
    if item is None or plan is None or not office.sees(item.commune):
        raise PageError(404, "Không tìm thấy nhiệm vụ", f"Không có nhiệm vụ số {item_id}.")
    return item, plan


def office_masthead(ctx: IntakeContext, office: Office) -> Plan | None:
    """A standing office's pages show its commune; the city's office's show the city."""
    return ctx.city.plan_of(office.commune) if office.commune else None


def office_done(
    ctx: IntakeContext, office: Office, plan: Plan, message: str, token: str,
    item: WorkItem, at: datetime,
) -> HTMLResponse:  # fmt: skip
    """The page after an office action on one item: what was done and where the item stands."""
    return page(
        ctx,
        "done.html",
        plan=office_masthead(ctx, office),
        message=message,
        token=token,
        item=item,
        state=status_label(plan, item, at),
    )


async def office_form(
    ctx: IntakeContext, request: Request, at: datetime, max_fields: int = MAX_SMALL_FIELDS
) -> tuple[dict, Office]:
    """The fields of an office form; its token must be valid (basic auth alone is not
    enough to change anything: the token in the form guards against cross-site posts)."""
    fields = await small_form(ctx, request, max_fields)
    token = fields.get("t", "")
    if not token:
        raise PageError(403, "Không có quyền", "Thiếu mã xác thực của cơ quan thường trực.")
    return fields, office_auth(ctx, request, token, at)


def return_fields(plan: Plan, fields: dict, at: datetime) -> tuple[date, str]:
    """The new due date and the reason of a return, or PageError 400 (a date that is not one,
    or more than a year ahead; a reason with control characters or too long)."""
    try:
        new_due = date.fromisoformat(fields.get("due", ""))
    except ValueError:
        raise PageError(
            400, "Chưa thực hiện được", "Hạn mới không hợp lệ: hãy chọn một ngày."
        ) from None
    if new_due > local_date(at, plan.zone) + RETURN_HORIZON:
        raise PageError(
            400,
            "Chưa thực hiện được",
            f"Hạn mới {vn_date(new_due)} quá xa: hãy chọn trong vòng một năm kể từ hôm nay.",
        )
    try:
        reason = clean_text(fields.get("reason"), MAX_NOTE, "Lý do trả lại") or ""
    except UploadRefused as exc:
        raise PageError(exc.status, "Chưa thực hiện được", exc.message) from None
    return new_due, reason


@router.get("/office", response_class=HTMLResponse)
async def office_page(
    ctx: Context,
    request: Request,
    t: str | None = None,
    commune: str | None = None,
    unit: str | None = None,
    status: str | None = None,
    year: str | None = None,
):
    """The items of the office's scope still to act on (owed, or awaiting review), whatever
    their year, or those due in `year` (`ALL_YEARS`: every year), filtered by unit and status,
    and for the city's office by commune; an unknown value of a filter is no filter. Above
    them, the office's daily work (`office_work`)."""
    at = ctx.now()
    office = office_auth(ctx, request, t, at)
    # after a basic-auth login: a short-lived token for the page's forms, not a bookmark
    token = t or office_token(ctx.office_secret, office.scope, at, session=True)
    today = local_date(at, ctx.zone)
    chosen_year = year_filter(year)
    # a standing office sees its own commune, whatever the address asks for
    served = ctx.served
    commune = office.commune or (commune if commune in served else None)
    communes = [commune] if commune else list(served)
    units = unit_choices(ctx, communes)
    unit = unit if unit in units else None
    status = status if status in (*ItemStatus, REVIEW, LATE) else None
    listing = await run_in_threadpool(office_list, ctx, communes, chosen_year, unit, status, today)
    work = await run_in_threadpool(office_work, ctx, communes, chosen_year, today)
    city_wide = office.commune is None
    return page(
        ctx,
        "office.html",
        plan=office_masthead(ctx, office),
        token=token,
        actor=office.actor,
        city_wide=city_wide,
        commune_choices={code: commune_label(p) for code, p in served.items()} if city_wide else {},
        chosen_commune=commune if city_wide else None,
        units=units,
        unit=unit,
        status=status,
        year="" if chosen_year is None else str(chosen_year),
        all_years=ALL_YEARS,
        today=today,
        min_due=today.isoformat(),
        **listing,
        **work,
    )


def year_filter(text: str | None) -> Year:
    """The year filter of the address: a year from 2000 to 2100, `ALL_YEARS`, or None (the
    items still to act on) for nothing, an empty field or anything else."""
    text = (text or "").strip()
    if text == ALL_YEARS:
        return ALL_YEARS
    if text.isascii() and text.isdigit() and 2000 <= int(text) <= 2100:
        return int(text)
    return None


def office_work(ctx: IntakeContext, communes: list[str], year: Year, today: date) -> dict:
    """What the office page shows above the items: the items held at go-live waiting for the
    office's decision (`triage_view`), the extension requests waiting for a decision, the
    directive form and the directives recorded (of a single commune), and the year filter's
    choices."""
    single = communes[0] if len(communes) == 1 else None
    return {
        "extension_requests": extension_requests(ctx, communes, today),
        "directive_form": directive_form(ctx, single, today),
        "directives": office_directives(
            ctx, single, year if isinstance(year, int) else None, today
        ),
        "years": year_choices(ctx, communes, today),
        "triage": triage_view(ctx, communes, today),
    }


@router.post("/office/items/{item_id}/versions/{version}/{action}")
async def office_review(ctx: Context, request: Request, item_id: Id, version: Id, action: str):
    at = ctx.now()
    if action not in ("accept", "return"):
        raise PageError(404, "Không tìm thấy trang", "Thao tác không tồn tại.")
    fields, office = await office_form(ctx, request, at)
    _item, plan = await run_in_threadpool(office_item, ctx, office, item_id)
    try:
        if action == "accept":
            item = await run_in_threadpool(
                accept_version, plan, ctx.engine, item_id, version, at, office.actor
            )
            done = f"Đã chấp nhận phiên bản {version} của nhiệm vụ số {item_id}."
        else:
            new_due, reason = return_fields(plan, fields, at)
            item = await run_in_threadpool(
                return_version,
                plan,
                ctx.engine,
                item_id,
                version,
                reason,
                new_due,
                at,
                office.actor,
                office.commune is None,  # the city office returns it: the Sở's words
            )
            done = (
                f"Đã trả lại phiên bản {version} của nhiệm vụ số {item_id}; hạn mới "
                f"{vn_date(item.due)}. Đơn vị sẽ nhận được thư thông báo."
            )
    except UserError as exc:
        raise PageError(409, "Chưa thực hiện được", str(exc)) from None
    deliver_soon(ctx, item_id, at)
    response = office_done(ctx, office, plan, done, fields["t"], item, at)
    kind = ItemChange.ACCEPTED if action == "accept" else ItemChange.RETURNED
    response.background = after_change(ctx, plan, kind, item_id, at)
    return response


@router.post("/office/items/{item_id}/values")
async def office_values(ctx: Context, request: Request, item_id: Id):
    """The office enters or corrects a unit's indicator values (as the unit's page does; a
    jump from the previous period needs the form's confirmation box)."""
    at = ctx.now()
    fields, office = await office_form(ctx, request, at, MAX_VALUE_FIELDS)
    item, plan = await run_in_threadpool(office_item, ctx, office, item_id)
    try:
        entered = await run_in_threadpool(
            enter_values, plan, ctx.engine, item_id, value_texts(fields), at, office.actor,
            "office", fields.get("confirm") == "1",
        )  # fmt: skip
    except NeedsConfirmation as exc:
        raise PageError(
            409,
            "Chưa lưu số liệu",
            f"{exc} Đánh dấu ô xác nhận rồi lưu lại nếu số liệu là đúng.",
        ) from None
    except UserError as exc:
        raise PageError(400, "Chưa lưu số liệu", str(exc)) from None
    return page(
        ctx,
        "done.html",
        plan=office_masthead(ctx, office),
        message=f"Đã lưu {len(entered)} số liệu chỉ tiêu của nhiệm vụ số {item_id}."
        if entered
        else f"Số liệu chỉ tiêu của nhiệm vụ số {item_id} không thay đổi.",
        token=fields["t"],
        item=item,
        state=status_label(plan, item, at),
    )


@router.post("/office/items/{item_id}/receive")
async def office_receive(ctx: Context, request: Request, item_id: Id):
    """The product came through the document-management system: the office records the
    document's number and date, and the item closes (`usecases.lifecycle.receive_document`)."""
    at = ctx.now()
    fields, office = await office_form(ctx, request, at)
    _item, plan = await run_in_threadpool(office_item, ctx, office, item_id)
    try:
        day = form_date(fields, "date", "Ngày văn bản") if fields.get("date") else None
        number = fields.get("doc") or ""  # checked and cleaned by `receive_document`
        done = await run_in_threadpool(receive_document, plan, ctx.engine, item_id, number, day, at)
    except UserError as exc:
        raise PageError(409, "Chưa ghi nhận được", str(exc)) from None
    verdict = {True: ", đúng hạn", False: ", quá hạn", None: ""}[done.deliverable.on_time]
    message = (
        f"Đã ghi nhận {done.deliverable.document} cho nhiệm vụ số {item_id} "
        f"(phiên bản {done.deliverable.version}{verdict})."
        if done.created
        else f"{done.deliverable.document} đã được ghi nhận trước đó cho nhiệm vụ số {item_id}."
    )
    if done.created:
        deliver_soon(ctx, item_id, at)
    response = office_done(ctx, office, plan, message, fields["t"], done.item, at)
    if done.closed_item:
        response.background = after_change(ctx, plan, ItemChange.CLOSED, item_id, at)
    return response


@router.get("/office/files/{deliverable_id}")
async def office_file(ctx: Context, request: Request, deliverable_id: Id, t: str | None = None):
    office = office_auth(ctx, request, t, ctx.now())
    with transaction(ctx.engine) as session:
        row = session.get(Deliverable, deliverable_id)
        item = session.get(WorkItem, row.item_id) if row else None
    if (
        row is None
        or item is None
        or ctx.city.plan_of(item.commune) is None
        or not office.sees(item.commune)
    ):
        raise PageError(404, "Không tìm thấy tệp", f"Không có tệp số {deliverable_id}.")
    return stored_file(ctx, row)
