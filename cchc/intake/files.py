"""Files in and out of the intake. In: an upload received within the intake's limits
(`upload_form`), every file checked by name and content and then recorded (`hand_in`); out: a
stored file served as a download (`stored_file`). A refusal is a `PageError`, and nothing is
stored."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import FileResponse

from cchc.intake import filetypes
from cchc.intake.errors import PageError
from cchc.intake.signatures import verify
from cchc.intake.upload import (
    MAX_FILES,
    MAX_FORM_BYTES,
    ReceivedForm,
    UploadRefused,
    clean_text,
    receive_form,
)
from models.tables import Contribution, Deliverable, WorkItem
from notifications.signatures import is_signed
from usecases.errors import StorageFull, UserError
from usecases.review import MAX_NOTE, IncomingFile, submit

if TYPE_CHECKING:
    from cchc.intake.context import IntakeContext
    from schedules.plan import Plan

log = logging.getLogger("cchc.intake")


async def upload_form(ctx: IntakeContext, request: Request, back: str, title: str) -> ReceivedForm:
    """The files and fields of an upload, spooled to disk within the intake's limits; a refusal
    is a page titled `title` with a way back to `back`."""
    max_bytes = ctx.intake.max_bytes
    try:
        return await receive_form(
            request,
            ctx.incoming,
            max_file_bytes=max_bytes,
            max_files=MAX_FILES,
            max_body=max_bytes * MAX_FILES + MAX_FORM_BYTES,
            read_timeout=ctx.intake.body_timeout,
        )
    except UploadRefused as exc:
        refused = PageError(exc.status, title, exc.message, exc.headers)
        refused.back = back
        raise refused from None


def hand_in(
    ctx: IntakeContext,
    plan: Plan,
    item: WorkItem,
    unit: str,
    form: ReceivedForm,
    at: datetime,
    record=submit,
):
    """Check every file (name, then content), then record them (`submit` a version, or
    `contribute` a coordinating unit's input); PageError on any refusal, with nothing stored
    (507 when the data folder refuses the write: logged, the item as it was)."""
    if not form.files:
        raise PageError(400, "Chưa nộp được", "Chưa chọn tệp nào. Hãy chọn ít nhất một tệp.")
    try:  # every text field is checked before a byte is stored
        note = clean_text(form.fields.get("note"), MAX_NOTE, "Ghi chú")
    except UploadRefused as exc:
        raise PageError(exc.status, "Chưa nộp được", exc.message) from None
    incoming = checked_files(ctx, form, "Chưa nộp được")
    if getattr(record, "func", record) is submit:  # a version (maybe `partial(submit, ...)`)
        require_signature(plan, item, incoming)
    try:
        return record(
            plan,
            ctx.engine,
            ctx.data_dir,
            item.id,
            unit,
            incoming,
            at,
            note=note,
            max_bytes=ctx.intake.max_bytes,
        )
    except StorageFull as exc:
        log.error("item %s: files not stored: %s", item.id, exc.cause)
        raise PageError(507, "Chưa nộp được", str(exc)) from None
    except UserError as exc:
        raise PageError(409, "Chưa nộp được", str(exc)) from None


def checked_files(ctx: IntakeContext, form: ReceivedForm, title: str) -> list[IncomingFile]:
    """Every file of the upload by name, then content (one inspection budget for them all),
    and a PDF's signatures; PageError titled `title`, naming the first file refused."""
    incoming = []
    budget = filetypes.Budget()
    config_dir = ctx.settings.config_dir if ctx.settings is not None else None
    for received in form.files:
        try:
            name = filetypes.clean_name(received.filename)
            kind = filetypes.sniff(received.path, budget).kind
        except filetypes.Refused as exc:
            raise PageError(
                exc.status,
                title,
                f"{exc.message} Không có tệp nào được lưu.",
                file=received.filename,
            ) from None
        signature = verify(received.path, config_dir) if kind == "pdf" else None
        incoming.append(IncomingFile(name, received.path, kind, signature))
    return incoming


def require_signature(plan: Plan, item: WorkItem, incoming: list[IncomingFile]) -> None:
    """An obligation with `signature: refuse` takes a version only with a validly signed PDF
    (and no PDF whose signature is broken)."""
    obligation = plan.obligations.get(item.obligation)
    if obligation is None or obligation.signature != "refuse":
        return
    broken = [f.name for f in incoming if f.signature and f.signature["state"] == "invalid"]
    if broken or not any(is_signed(f.signature) for f in incoming):
        why = (
            f"chữ ký số của tệp “{broken[0]}” không hợp lệ (tệp đã bị sửa sau khi ký, hoặc chữ "
            "ký hỏng)"
            if broken
            else "không có tệp PDF nào được ký số"
        )
        raise PageError(
            422,
            "Chưa nộp được",
            f"Nhiệm vụ này yêu cầu báo cáo có chữ ký số: {why}. Hãy ký số báo cáo (tệp PDF) "
            "bằng chứng thư số của cơ quan rồi nộp lại. Không có tệp nào được lưu.",
        )


def stored_file(ctx: IntakeContext, row: Deliverable | Contribution) -> FileResponse:
    """A stored file as a download, under the name it was sent with and the type its content
    was found to be; 404 when its bytes are not in the store."""
    return served_file(ctx, row.stored_path, row.original_name, row.file_type)


def served_file(
    ctx: IntakeContext, stored_path: str | None, original_name: str, file_type: str | None
) -> FileResponse:
    """`stored_file` of any stored blob (a directive's file too)."""
    path = Path(stored_path or "").resolve()
    if not stored_path or not path.is_relative_to(ctx.blob_root) or not path.is_file():
        raise PageError(404, "Không tìm thấy tệp", "Tệp không còn trong kho lưu trữ.")
    kind = filetypes.TYPES.get(file_type or "")
    name = filetypes.display_name(original_name, kind) if kind else original_name
    return FileResponse(
        path,
        media_type=kind.mime if kind else "application/octet-stream",
        filename=name,
        content_disposition_type="attachment",
    )
