"""Extensions (gia hạn) on the intake: a unit asks for more time from its item's page (reason,
proposed date: `usecases.extensions.request_extension`), the office grants or refuses from its
page (`grant_extension`, `refuse_extension`). Each step's mail is delivered at once, as the
other actions' are; a grant, which moves the due date, is told to Prefect."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from cchc.intake.context import Context, Id
from cchc.intake.errors import PageError
from cchc.intake.followups import after_change, deliver_soon
from cchc.intake.forms import form_date, form_text, small_form
from cchc.intake.office_routes import office_done, office_form, office_item
from cchc.intake.unit_routes import unit_item
from models.tables import saved_id
from schedules.dates import vn_date
from schedules.vocabulary import ItemChange
from usecases.errors import UserError
from usecases.extensions import (
    MAX_REASON,
    ExtensionOutcome,
    GrantExtension,
    RefuseExtension,
    RequestExtension,
    grant_extension,
    refuse_extension,
    request_extension,
)

ASKED = "gia-han"
"""The anchor of the extension section on a unit's item page."""

router = APIRouter()
"""A unit's request for more time, and the office's decision on it."""


@router.post("/items/{item_id}/{token}/extension")
async def ask_extension(ctx: Context, item_id: int, token: str, request: Request):
    """The lead unit asks for more time; back to its item's page, which shows the request."""
    at = ctx.now()
    item, unit, plan = await run_in_threadpool(unit_item, ctx, item_id, token, at)
    back = f"{ctx.prefix}/items/{item_id}/{token}"
    if unit != item.unit:
        raise PageError(
            403, "Chưa gửi được đề nghị", "Chỉ đơn vị chủ trì đề nghị gia hạn nhiệm vụ này."
        )
    fields = await small_form(ctx, request)
    try:
        command = RequestExtension(
            item_id=saved_id(item),
            unit=unit,
            until=form_date(fields, "until", "Ngày đề nghị gia hạn"),
            reason=form_text(fields, "reason", MAX_REASON, "Lý do đề nghị gia hạn"),
        )
        await run_in_threadpool(request_extension, plan, ctx.engine, command, at)
    except UserError as exc:
        raise PageError(409, "Chưa gửi được đề nghị", str(exc)) from None
    deliver_soon(ctx, saved_id(item), at)
    return RedirectResponse(f"{back}#{ASKED}", status_code=303)


@router.post("/office/items/{item_id}/extension/{action}")
async def decide_extension(ctx: Context, request: Request, item_id: Id, action: str):
    """The office grants (`grant`: a new due date and a reason) or refuses (`refuse`: a
    reason) the item's pending request; a grant without a request is the office's own."""
    at = ctx.now()
    if action not in ("grant", "refuse"):
        raise PageError(404, "Không tìm thấy trang", "Thao tác không tồn tại.")
    fields, office = await office_form(ctx, request, at)
    _item, plan = await run_in_threadpool(office_item, ctx, office, item_id)
    try:
        asked = _request_id(fields.get("request"))
        reason = form_text(fields, "reason", MAX_REASON, "Lý do")
        if action == "grant":
            until = form_date(fields, "until", "Hạn gia hạn")
            grant = GrantExtension(item_id, until, reason, actor=office.actor, request=asked)
            done = await run_in_threadpool(grant_extension, plan, ctx.engine, grant, at)
        else:
            refusal = RefuseExtension(item_id, reason, actor=office.actor, request=asked)
            done = await run_in_threadpool(refuse_extension, plan, ctx.engine, refusal, at)
    except UserError as exc:
        raise PageError(409, "Chưa thực hiện được", str(exc)) from None
    deliver_soon(ctx, item_id, at)
    response = office_done(ctx, office, plan, _decided(done), fields["t"], done.item, at)
    if action == "grant":
        response.background = after_change(ctx, plan, ItemChange.EXTENDED, item_id, at)
    return response


def _request_id(text: str | None) -> int | None:
    """The request the decision is about (the form names it), None for none."""
    text = (text or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**31:
        raise UserError("Mã đề nghị gia hạn không hợp lệ.")
    return int(text)


def _decided(done: ExtensionOutcome) -> str:
    item, extension = done.item, done.extension
    if extension.granted_due is not None:
        previous = vn_date(extension.previous_due) if extension.previous_due else ""
        return (
            f"Đã gia hạn nhiệm vụ số {item.id} đến ngày {vn_date(item.due)} (hạn trước "
            f"{previous}). Đơn vị sẽ nhận được thư thông báo."
        )
    return (
        f"Đã không đồng ý gia hạn nhiệm vụ số {item.id}; hạn vẫn là {vn_date(item.due)}. Đơn "
        "vị sẽ nhận được thư thông báo."
    )
