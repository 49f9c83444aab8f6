"""Directives (văn bản chỉ đạo) on the intake: the office page's form records one and opens an
item per lead unit (`usecases.directives.issue_directive`); its file, kept and checked like a
deliverable, is downloaded from the office page and, through the item's signed link, by the
units it tasks.

The form carries its file: it is a multipart upload read by `cchc.intake.files.upload_form`
within the intake's limits. Its office token is in the address, so the office is known before
a byte of the body is read (and a cross-site post, without the token, is refused unread)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from cchc.intake.auth import Office, office_auth
from cchc.intake.context import Context, Id, IntakeContext
from cchc.intake.errors import PageError
from cchc.intake.files import checked_files, served_file, upload_form
from cchc.intake.followups import after_change, deliver_soon
from cchc.intake.forms import form_date, form_text
from cchc.intake.pages import page
from cchc.intake.unit_routes import unit_item
from cchc.intake.upload import ReceivedForm
from models.db import transaction
from models.tables import Directive, saved_id
from notifications.commune_views import unit_view
from schedules.dates import vn_date
from schedules.documents import document_reference
from schedules.plan import Plan
from schedules.vocabulary import ItemChange
from usecases.directives import LIMITS, IssuedDirective, IssueDirective, issue_directive
from usecases.errors import UserError
from usecases.review import IncomingFile

TITLE = "Chưa ghi nhận được văn bản"
LABELS = {
    "issuer": "Cơ quan ban hành",
    "subject": "Trích yếu",
    "task": "Nhiệm vụ",
    "product": "Sản phẩm",
}
"""The form's text fields (`usecases.directives.LIMITS`), as its labels name them."""

router = APIRouter()
"""The office's directive form and the downloads of a directive's file."""


@router.post("/office/directives")
async def record_directive(ctx: Context, request: Request, t: str | None = None):
    """Record a directive from the office page's form, then tell its units at once."""
    at = ctx.now()
    if not t:
        raise PageError(403, "Không có quyền", "Thiếu mã xác thực của cơ quan thường trực.")
    office = office_auth(ctx, request, t, at)
    try:
        form = await upload_form(ctx, request, "", TITLE)
    except PageError as refused:
        refused.back = None  # the office's form: the browser's back button keeps its fields
        raise
    try:
        plan, issued = await run_in_threadpool(_record, ctx, office, form, at)
    finally:
        form.discard()
    ids = [saved_id(item) for item in issued.items]
    deliver_soon(ctx, ids, at)
    record = issued.directive
    units = ", ".join(f"số {i.id} ({unit_view(plan, i.unit).name})" for i in issued.items)
    message = (
        f"Đã ghi nhận {document_reference(record.number, record.issued_on, record.issuer)}; "
        f"đã giao {len(ids)} nhiệm vụ, hạn {vn_date(issued.items[0].due)}: {units}. Các đơn "
        "vị sẽ nhận được thư giao nhiệm vụ."
    )
    response = page(ctx, "done.html", plan=plan, message=message, token=t)
    response.background = after_change(ctx, plan, ItemChange.OPENED, ids, at)
    return response


def _record(
    ctx: IntakeContext, office: Office, form: ReceivedForm, at: datetime
) -> tuple[Plan, IssuedDirective]:
    """Check the form (its file by name and content, as an upload's), then record."""
    commune = office.commune or form.fields.get("commune", "")
    plan = ctx.city.plan_of(commune) if commune else None
    if plan is None or not office.sees(commune):
        raise PageError(404, TITLE, f"Hãy chọn {ctx.city.kinds} của văn bản trên trang danh sách.")
    try:
        files = checked_files(ctx, form, TITLE)
    except PageError as refused:
        refused.message = f"Tệp {refused.file}: {refused.message}"
        raise
    if len(files) > 1:
        raise PageError(400, TITLE, "Mỗi văn bản chỉ kèm một tệp. Không có tệp nào được lưu.")
    try:
        command = directive_command(form, files[0] if files else None)
        issued = issue_directive(
            plan,
            ctx.engine,
            command,
            at,
            data_dir=ctx.data_dir,
            actor=office.actor,
            max_bytes=ctx.intake.max_bytes,
        )
    except UserError as exc:
        raise PageError(409, TITLE, str(exc)) from None
    return plan, issued


def directive_command(form: ReceivedForm, incoming: IncomingFile | None) -> IssueDirective:
    """The directive the form describes; UserError for a field that is not one (a date, text
    with control characters or too long, no lead unit). The use case checks the rest."""
    fields = form.fields
    texts = {name: form_text(fields, name, LIMITS[name], label) for name, label in LABELS.items()}
    units = tuple(u for u in form.repeated.get("units", []) if u)
    if not units:
        raise UserError("Cần chọn ít nhất một đơn vị chủ trì.")
    return IssueDirective(
        number=fields.get("number", ""),
        issued_on=form_date(fields, "date", "Ngày văn bản"),
        issuer=texts["issuer"],
        subject=texts["subject"],
        due=form_date(fields, "due", "Hạn hoàn thành"),
        units=units,
        coordinators=tuple(c for c in form.repeated.get("coordinators", []) if c),
        task=texts["task"] or None,
        product=texts["product"] or None,
        file=incoming,
    )


@router.get("/office/directives/{directive_id}/file")
async def office_directive_file(
    ctx: Context, request: Request, directive_id: Id, t: str | None = None
) -> FileResponse:
    office = office_auth(ctx, request, t, ctx.now())
    with transaction(ctx.engine) as session:
        row = session.get(Directive, directive_id)
    if row is None or ctx.city.plan_of(row.commune) is None or not office.sees(row.commune):
        raise PageError(404, "Không tìm thấy tệp", f"Không có văn bản mã {directive_id}.")
    return directive_file(ctx, row)


@router.get("/items/{item_id}/{token}/directive")
async def unit_directive_file(ctx: Context, item_id: int, token: str) -> FileResponse:
    """The directive's file, for the units its item's link is for (lead or coordinating)."""
    item, _unit, _plan = await run_in_threadpool(unit_item, ctx, item_id, token, ctx.now())
    with transaction(ctx.engine) as session:
        row = session.get(Directive, item.directive_id) if item.directive_id else None
    if row is None:
        raise PageError(404, "Không tìm thấy tệp", "Nhiệm vụ này không theo văn bản chỉ đạo.")
    return directive_file(ctx, row)


def directive_file(ctx: IntakeContext, row: Directive) -> FileResponse:
    if not row.file_path or not row.file_name:
        raise PageError(404, "Không tìm thấy tệp", "Văn bản này không kèm tệp.")
    return served_file(ctx, row.file_path, row.file_name, row.file_type)
