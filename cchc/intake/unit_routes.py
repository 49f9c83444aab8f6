"""The home page, the health check and a unit's item pages, opened by the signed link of its
mail: the item's page, its upload (a version of the lead unit, or a coordinating unit's input
for the lead), a coordinating unit's file for the lead, and the receipt of a version.

A link is for one item and unit (`unit_item`); an item's page and actions use its own commune's
plan, and an item of a commune the config does not hold is not found."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from cchc.intake.context import Context, Id, IntakeContext
from cchc.intake.errors import PageError
from cchc.intake.files import hand_in, stored_file, upload_form
from cchc.intake.followups import after_change, deliver_soon
from cchc.intake.forms import MAX_VALUE_FIELDS, small_form, value_texts
from cchc.intake.item_views import contributions_of, item_context
from cchc.intake.limits import minutes_to_wait, retry_after
from cchc.intake.pages import page
from models.db import transaction
from models.tables import Contribution, WorkItem, saved_id
from notifications.commune_views import unit_view
from notifications.links import LinkInvalid, verify_item_token
from schedules.plan import Plan
from schedules.vocabulary import ItemChange, ItemStatus
from usecases.errors import UserError
from usecases.indicator_values import NeedsConfirmation, enter_values
from usecases.review import contribute, submit

router = APIRouter()
"""The home page, the health check and a unit's item pages (opened by its signed link)."""


def unit_item(
    ctx: IntakeContext, item_id: int, token: str, at: datetime
) -> tuple[WorkItem, str, Plan]:
    """The item the link opens, the unit it is for and the item's commune's plan, or PageError
    403/404: a link is for one item and unit (item ids are unique across the communes)."""
    try:
        linked_id, unit = verify_item_token(ctx.secret, token, at, ctx.link_age)
    except LinkInvalid as exc:
        raise PageError(403, "Đường liên kết không dùng được", exc.message) from None
    if linked_id != item_id:
        raise PageError(
            403,
            "Đường liên kết không dùng được",
            "Đường liên kết này dành cho một nhiệm vụ khác. Hãy mở đường liên kết trong "
            "thư về đúng nhiệm vụ cần nộp.",
        )
    with transaction(ctx.engine) as session:
        item = session.get(WorkItem, item_id)
    plan = ctx.city.plan_of(item.commune) if item else None
    if item is None or plan is None:
        raise PageError(404, "Không tìm thấy nhiệm vụ", f"Không có nhiệm vụ số {item_id}.")
    if item.unit != unit and unit not in plan.coordinating_units(item.obligation, item.unit):
        raise PageError(
            403,
            "Đường liên kết không dùng được",
            "Đường liên kết này không dành cho đơn vị được giao nhiệm vụ.",
        )
    return item, unit, plan


def count_upload(
    ctx: IntakeContext, item: WorkItem, unit: str, at: datetime, back: str, title: str
) -> None:
    """Count an upload of the link (`item`, `unit`), or refuse it (429, its body unread) when
    the link sent CCHC_INTAKE_UPLOADS_PER_HOUR within the last hour."""
    wait = ctx.uploads.take(saved_id(item), unit, at)
    if wait is None:
        return
    refused = PageError(
        429,
        title,
        f"Đường liên kết này đã được dùng để gửi {ctx.uploads.per_hour} lần trong một giờ qua. "
        f"Hãy thử lại sau {minutes_to_wait(wait)} phút. Không có tệp nào được lưu.",
        {**retry_after(wait), "Connection": "close"},
    )
    refused.back = back
    raise refused


@router.get("/", response_class=HTMLResponse)
async def home(ctx: Context):
    return page(ctx, "home.html")


@router.get("/healthz")
async def healthz():
    return {"status": "ok"}


@router.get("/items/{item_id}/{token}", response_class=HTMLResponse)
async def item_page(ctx: Context, item_id: int, token: str, sent: int = 0, saved: int = 0):
    at = ctx.now()
    item, unit, plan = await run_in_threadpool(unit_item, ctx, item_id, token, at)
    values = await run_in_threadpool(item_context, ctx, plan, item, at)
    if unit != item.unit:  # a coordinating unit's link: its input for the lead
        mine = await run_in_threadpool(contributions_of, ctx, plan, item_id, unit)
        return page(
            ctx, "contribute.html", plan=plan, token=token, sender=unit_view(plan, unit),
            mine=mine, sent=bool(sent), **values,
        )  # fmt: skip
    return page(ctx, "item.html", plan=plan, token=token, saved=bool(saved), **values)


@router.post("/items/{item_id}/{token}/values")
async def item_values(ctx: Context, item_id: int, token: str, request: Request):
    """The lead unit enters or corrects the indicators its report owes. A refused value, or a
    jump from the previous period not yet confirmed, shows the page again with what was typed
    and the reasons: nothing is stored."""
    at = ctx.now()
    item, unit, plan = await run_in_threadpool(unit_item, ctx, item_id, token, at)
    if unit != item.unit:
        raise PageError(403, "Không có quyền", "Chỉ đơn vị chủ trì nhập số liệu chỉ tiêu.")
    fields = await small_form(ctx, request, MAX_VALUE_FIELDS)
    texts = value_texts(fields)
    try:
        await run_in_threadpool(
            enter_values, plan, ctx.engine, item_id, texts, at, unit, "page",
            fields.get("confirm") == "1", unit,
        )  # fmt: skip
    except NeedsConfirmation as exc:
        return await _values_again(ctx, plan, item, token, at, fields, exc.warnings, None)
    except UserError as exc:
        return await _values_again(ctx, plan, item, token, at, fields, None, str(exc))
    target = f"{ctx.prefix}/items/{item_id}/{token}?saved=1#chi-tieu"
    return RedirectResponse(target, status_code=303)


async def _values_again(
    ctx: IntakeContext,
    plan: Plan,
    item: WorkItem,
    token: str,
    at: datetime,
    fields: dict[str, str],
    warnings: list[str] | None,
    error: str | None,
) -> HTMLResponse:
    """The item's page again, the fields as typed, with the jump warnings to confirm or the
    reasons the values were refused."""
    values = await run_in_threadpool(item_context, ctx, plan, item, at)
    return page(
        ctx, "item.html", code=409 if warnings else 400, plan=plan, token=token, saved=False,
        typed=fields, jump_warnings=warnings or [], values_error=error, **values,
    )  # fmt: skip


@router.post("/items/{item_id}/{token}")
async def item_upload(ctx: Context, item_id: int, token: str, request: Request):
    at = ctx.now()
    item, unit, plan = await run_in_threadpool(unit_item, ctx, item_id, token, at)
    if unit != item.unit:
        return await contribution_upload(ctx, plan, item, unit, token, request, at)
    if item.status == ItemStatus.WAIVED:
        raise PageError(
            409,
            "Không nhận sản phẩm",
            f"Nhiệm vụ này đã được miễn ({item.waived_reason or 'không nêu lý do'}): hệ "
            "thống không nhận sản phẩm cho nhiệm vụ đã miễn. Không có tệp nào được lưu.",
        )
    back = f"{ctx.prefix}/items/{item_id}/{token}"
    count_upload(ctx, item, unit, at, back, "Chưa nộp được")
    form = await upload_form(ctx, request, back, "Chưa nộp được")
    record = partial(submit, max_versions=ctx.intake.max_versions)
    try:
        submission = await run_in_threadpool(hand_in, ctx, plan, item, unit, form, at, record)
    except PageError as refused:
        refused.back = f"{ctx.prefix}/items/{item_id}/{token}"
        raise
    finally:
        form.discard()
    target = f"{ctx.prefix}/items/{item_id}/{token}/v/{submission.version}"
    if not submission.created:
        target += "?lap=1"
    response = RedirectResponse(target, status_code=303)
    if submission.created:
        deliver_soon(ctx, item_id, at)
    if submission.closed_item:
        response.background = after_change(ctx, plan, ItemChange.CLOSED, item_id, at)
    return response


async def contribution_upload(
    ctx: IntakeContext,
    plan: Plan,
    item: WorkItem,
    unit: str,
    token: str,
    request: Request,
    at: datetime,
) -> Response:
    """A coordinating unit's files for the lead's item: checked like a deliverable, stored as
    contributions (they never close the item), then back to its page."""
    back = f"{ctx.prefix}/items/{item.id}/{token}"
    count_upload(ctx, item, unit, at, back, "Chưa gửi được")
    form = await upload_form(ctx, request, back, "Chưa gửi được")
    try:
        await run_in_threadpool(hand_in, ctx, plan, item, unit, form, at, contribute)
    except PageError as refused:
        refused.back = back
        raise
    finally:
        form.discard()
    return RedirectResponse(f"{back}?sent=1", status_code=303)


@router.get("/items/{item_id}/{token}/inputs/{contribution_id}")
async def contribution_file(ctx: Context, item_id: int, token: str, contribution_id: Id):
    """A coordinating unit's file, for the lead unit (its own link) only."""
    item, unit, _plan = await run_in_threadpool(unit_item, ctx, item_id, token, ctx.now())
    with transaction(ctx.engine) as session:
        row = session.get(Contribution, contribution_id)
    if unit != item.unit or row is None or row.item_id != item.id:
        raise PageError(404, "Không tìm thấy tệp", f"Không có tệp số {contribution_id}.")
    return stored_file(ctx, row)


@router.get("/items/{item_id}/{token}/v/{version}", response_class=HTMLResponse)
async def receipt(ctx: Context, item_id: int, token: str, version: int, lap: int = 0):
    at = ctx.now()
    item, unit, plan = await run_in_threadpool(unit_item, ctx, item_id, token, at)
    values = await run_in_threadpool(item_context, ctx, plan, item, at)
    # a coordinating unit's link opens its own page, never the lead's versions
    shown = next((v for v in values["versions"] if v["version"] == version), None)
    if shown is None or unit != item.unit:
        raise PageError(404, "Không tìm thấy biên nhận", f"Chưa có phiên bản {version}.")
    return page(
        ctx, "receipt.html", plan=plan, token=token, shown=shown, repeated=bool(lap), **values
    )
