"""The office sorts out, from its page, what was held at go-live: re-open an item with a fresh
due date (`usecases.triage.reopen_held`: its opening mail goes at once) or waive it with a
reason (`waive_held`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from cchc.intake.context import Context, Id
from cchc.intake.errors import PageError
from cchc.intake.followups import after_change, deliver_soon
from cchc.intake.forms import form_date, form_text
from cchc.intake.office_routes import office_done, office_form, office_item
from schedules.dates import vn_date
from schedules.vocabulary import ItemChange
from usecases.errors import UserError
from usecases.triage import MAX_REASON, reopen_held, waive_held

router = APIRouter()
"""The office's decisions on held items."""


@router.post("/office/items/{item_id}/triage/{action}")
async def decide_held(ctx: Context, request: Request, item_id: Id, action: str):
    """`reopen` (a fresh due date, a reason if any) or `waive` (a reason) a held item."""
    at = ctx.now()
    if action not in ("reopen", "waive"):
        raise PageError(404, "Không tìm thấy trang", "Thao tác không tồn tại.")
    fields, office = await office_form(ctx, request, at)
    _item, plan = await run_in_threadpool(office_item, ctx, office, item_id)
    try:
        if action == "reopen":
            due = form_date(fields, "due", "Hạn mới")
            reason = form_text(fields, "reason", MAX_REASON, "Lý do")
            item = await run_in_threadpool(
                reopen_held, plan, ctx.engine, item_id, due, reason, at, office.actor
            )
            done = (
                f"Đã mở lại nhiệm vụ số {item_id}, hạn mới {vn_date(item.due)}. Đơn vị sẽ nhận "
                "được thư thông báo nhiệm vụ."
            )
        else:
            reason = form_text(fields, "reason", MAX_REASON, "Lý do")
            item = await run_in_threadpool(
                waive_held, plan, ctx.engine, item_id, reason, at, office.actor
            )
            done = f"Đã miễn nhiệm vụ số {item_id}; lý do: {item.waived_reason}."
    except UserError as exc:
        raise PageError(409, "Chưa thực hiện được", str(exc)) from None
    if action == "reopen":
        deliver_soon(ctx, item_id, at)
    response = office_done(ctx, office, plan, done, fields["t"], item, at)
    kind = ItemChange.RESUMED if action == "reopen" else ItemChange.WAIVED
    response.background = after_change(ctx, plan, kind, item_id, at)
    return response
